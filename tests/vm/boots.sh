#!/bin/bash
# tests/vm/boots.sh [N]: cold boot reliability of the guest (default N=5).
#
# Boots the image N times, alternating KV_OLD and KV_NEW, one VM at a time;
# each boot counts as good when ssh answers within KUP_BOOT_WAIT s (default
# 600) and the serial console shows no kernel panic or oops. Prints one line
# per boot and "boots: G of N good", saved with the date, distro and qemu -cpu
# to $KUP_CACHE/boots-<distro>.txt. Exits 1 if any boot failed.
#
# Uses lib.sh's defaults (KUP_DISTRO, KUP_QEMU_CPU: set KUP_QEMU_CPU= to try
# trixie without its -cpu flags). Run as root.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
n=${1:-5}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: boots.sh [N]" >&2; exit 64; }
export KUP_DISTRO=${KUP_DISTRO:-bookworm}
export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/boots-$(date +%Y%m%d-%H%M%S)-$KUP_DISTRO-$$}
export KUP_SCENARIO=boots
: "${KUP_BOOT_WAIT:=600}"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

good=0 lines=()
for ((i = 1; i <= n; i++)); do
	kv=$KV_OLD
	((i % 2)) || kv=$KV_NEW
	vm_boot "$kv"
	verdict=good
	if vm_wait_ssh "$KUP_BOOT_WAIT" >/dev/null 2>&1; then
		took=$(kup_since "$VM_BOOT_T0" "$VM_SSH_UP_T")
	else
		took=$(kup_since "$VM_BOOT_T0")
		verdict="no ssh"
	fi
	if grep -qE 'Kernel panic|Oops|BUG:|general protection fault|invalid opcode' "$(vm_serial_log)"; then
		verdict="${verdict/good/ssh up}, kernel error: $(grep -m1 -E 'Kernel panic|Oops|BUG:|general protection fault|invalid opcode' "$(vm_serial_log)" | cut -d'|' -f2- | cut -c1-120)"
	fi
	[[ $verdict == good ]] && good=$((good + 1))
	line="boot $i/$n $kv: $verdict after $took s (serial log $(vm_serial_log))"
	info "$line"
	lines+=("$line")
	vm_stop 60
done
summary="boots: $good of $n good ($KUP_DISTRO, -cpu ${KUP_QEMU_CPU:-qemu default}, accel $KUP_QEMU_ACCEL)"
echo "$summary"
{
	echo "date=$(date -u +%FT%TZ) host_load=$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%s\n' "${lines[@]}" "$summary"
} >>"$KUP_CACHE/boots-$KUP_DISTRO.txt"
((good == n))
