#!/bin/bash
# tests/vm/demo.sh (make demo): the main job, shown in a VM.
# For now: the baseline, a bare kexec between two Debian kernels with
# kexec-tools alone, narrated. (A later issue makes this the live kernel
# switch with kupgrade, where the ssh session survives.)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/demo-$(date +%Y%m%d-%H%M%S)-$$}

cat <<'TXT'
kupgrade demo (baseline)
  A Debian 12 guest with two kernel packages is built (or taken from the
  cache), booted under qemu on the older kernel, an interactive ssh session is
  opened from this host, and the guest jumps into the newer kernel with a bare
  `kexec -e`: no checkpoint, so every process and connection is lost. This is
  the reference that kupgrade improves on.

TXT
rc=0
"$HERE/run.sh" 10-baseline-kexec || rc=$?
m=$KUP_RUN_DIR/logs/10-baseline-kexec/measure.txt
get() { sed -n "s/^$1=//p" "$m" 2>/dev/null | tail -n1; }
. "$KUP_RUN_DIR/image/image.env" 2>/dev/null || true
echo
if ((rc == 0)); then
	cat <<-TXT
		What happened:
		  1. booted the guest on ${KV_OLD:-?}: ssh answered $(get cold_boot_s) s after qemu started;
		  2. opened an interactive ssh session from the host and ran a command in it;
		  3. loaded ${KV_NEW:-?} with kexec-tools ($(get kexec_load_s) s) and ran kexec -e;
		  4. ssh answered again on ${KV_NEW:-?} $(get bare_kexec_s) s after kexec -e;
		  5. the interactive session died with the old kernel: that is what kupgrade
		     is for (checkpoint, carry across kexec, restore).
		Logs (serial consoles with host timestamps, session transcripts): $KUP_RUN_DIR/logs
	TXT
else
	echo "The demo failed; logs are in $KUP_RUN_DIR/logs"
fi
exit "$rc"
