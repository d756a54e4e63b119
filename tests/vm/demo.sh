#!/bin/bash
# tests/vm/demo.sh (make demo): the main job, shown in a VM: a live kernel
# switch under an open ssh session, with kupgrade.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian 13 (trixie), today's stable release, unless KUP_DISTRO=bookworm.
export KUP_DISTRO=${KUP_DISTRO:-trixie}
case $KUP_DISTRO in
bookworm) release="Debian 12 (bookworm)" ;;
trixie) release="Debian 13 (trixie)" ;;
*) echo "demo.sh: KUP_DISTRO=$KUP_DISTRO: unknown (bookworm or trixie)" >&2; exit 64 ;;
esac
export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/demo-$(date +%Y%m%d-%H%M%S)-$KUP_DISTRO-$$}

cat <<TXT
kupgrade demo: change the running kernel without losing the ssh session
  A $release guest with two kernel packages is built (or taken from the
  cache) with kupgrade installed from this work tree, and booted under qemu
  on the older kernel. An interactive ssh session is opened from this host;
  a counter ticks in its shell every 0.5 s. In that same shell we type
      kupgrade --kernel /boot/vmlinuz-<newer> --yes
  kupgrade checkpoints the session (TCP connection included) with CRIU,
  carries the images across a kexec inside the new initrd, and restores
  them early in the new boot. The same shell then prints the new uname -r,
  and we switch back again.

TXT
rc=0
"$HERE/run.sh" 50-switch-ssh-survives || rc=$?
d=$KUP_RUN_DIR/logs/50-switch-ssh-survives
m=$d/measure.txt
get() { sed -n "s/^$1=//p" "$m" 2>/dev/null | tail -n1; }
. "$KUP_RUN_DIR/image/image.env" 2>/dev/null || true
echo
if ((rc == 0)); then
	cat <<-TXT
		What happened:
		  1. booted the $release guest on ${KV_OLD:-?} and opened an ssh session from the host;
		  2. typed 'kupgrade --kernel /boot/vmlinuz-${KV_NEW:-?} --yes' into it: the
		     session, its shell, its counter and its TCP connection came back on
		     ${KV_NEW:-?} ($(get switch_new_total_s) s from the command to ssh answering);
		  3. the same shell printed the new uname -r; keystrokes typed during the
		     pause arrived once; then the same again back to ${KV_OLD:-?} ($(get switch_back_total_s) s);
		  4. the longest pause the host's ssh client saw: $(get pause_seen_by_client_s) s.
		The reports (kupgrade status) are in $d/status-*.txt.
		Session transcript: $(ls "$d"/vm.*/session-op/log 2>/dev/null | head -1)
	TXT
	cat "$d"/status-new.txt 2>/dev/null || true
else
	echo "The demo failed; logs are in $KUP_RUN_DIR/logs"
fi
exit "$rc"
