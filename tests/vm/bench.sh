#!/bin/bash
# tests/vm/bench.sh (make bench): run the baseline scenario and print the two
# reference figures from that real run:
#   cold boot:  qemu start -> ssh answering
#   bare kexec: `kexec -e` issued -> ssh answering again on the new kernel
# They are saved to $KUP_CACHE/bench.txt (default /var/cache/kupgrade-tests)
# as name=value lines, for later scenarios to compare with.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KUP_CACHE:-/var/cache/kupgrade-tests}
export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/bench-$(date +%Y%m%d-%H%M%S)-$$}

"$HERE/run.sh" 10-baseline-kexec
m=$KUP_RUN_DIR/logs/10-baseline-kexec/measure.txt
[[ -f $m ]] || { echo "bench.sh: no measurements in $m" >&2; exit 1; }
get() { sed -n "s/^$1=//p" "$m" | tail -n1; }
{
	cat "$m"
	grep -E '^KV_(OLD|NEW)=' "$KUP_RUN_DIR/image/image.env"
	echo "date=$(date -u +%FT%TZ)"
	echo "host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "host_qemu_count=$(pgrep -c qemu-system || true)"
} >"$CACHE/bench.txt.new"
mv "$CACHE/bench.txt.new" "$CACHE/bench.txt"
echo
echo "cold boot: $(get cold_boot_s) s"
echo "bare kexec: $(get bare_kexec_s) s"
echo "  (kexec -e -> last old-kernel line $(get kexec_shutdown_s) s, purgatory+decompress $(get kexec_purgatory_s) s,"
echo "   new kernel to /init $(get kexec_kernel_s) s (cold: $(get cold_kernel_s) s), /init to ssh $(get kexec_userspace_to_ssh_s) s (cold: $(get cold_userspace_to_ssh_s) s))"
echo "saved to $CACHE/bench.txt (host load $(cut -d' ' -f1-3 /proc/loadavg): other VMs on the host slow TCG down)"
