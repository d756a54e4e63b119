#!/bin/bash
# kup-cost: 112
# 40-images-cross-kexec: a directory crosses a kexec in RAM.
#
# In the guest: a 0700 tree with 50 MB of random data and small files, in a
# tmpfs; `kupgrade stage --from DIR --kernel OTHER` (the test verb: the
# same transport and kexec load as the upgrade, minus the checkpoint)
# appends it to a copy of the other kernel's initrd and loads that kernel;
# `systemctl kexec`. After the switch: the other kernel runs, /run/kupgrade
# is a 0700 tmpfs holding exactly the same files (sha256, modes), the
# initramfs script logged its copy, no failure marker, and the stage wrote
# (almost) nothing to the disk.
# KUPGRADE_KEXEC_NO_CHECKS=1 (kexec -c -i): purgatory's SHA-256 of the
# segments costs tens of seconds under TCG; set KUP_KEXEC_CHECKS=1 to keep it.
. "$(dirname "$0")/../lib.sh"
SRC=/run/kup-src/images
PAYLOAD_MB=${KUP_PAYLOAD_MB:-50}

vm_boot
vm_wait_ssh 300 || fail "the guest did not come up"
from=$(vm_ssh uname -r)
to=$KV_NEW
[[ $from == "$KV_NEW" ]] && to=$KV_OLD
info "switching $from -> $to with $PAYLOAD_MB MB of images"

# The source tree lives in a tmpfs, like checkpoint images.
vm_ssh "set -e
	mkdir -p /run/kup-src
	mount -t tmpfs -o size=$((PAYLOAD_MB + 64))m,mode=0700 kup-src /run/kup-src
	mkdir -m 0700 $SRC $SRC/ssh.service $SRC/session-3.scope
	head -c ${PAYLOAD_MB}M /dev/urandom >$SRC/ssh.service/pages-1.img
	head -c 4097 /dev/urandom >$SRC/ssh.service/pagemap-1.img
	echo inventory >$SRC/inventory.img
	: >$SRC/session-3.scope/empty.img
	head -c 3 /dev/urandom >'$SRC/session-3.scope/name with spaces.img'
	chmod 0600 $SRC/ssh.service/* $SRC/inventory.img
	chmod 0640 $SRC/session-3.scope/*
	chmod 0750 $SRC/session-3.scope" || fail "cannot build the source tree"
# Types, modes, file sizes (directory sizes depend on the file system), sums.
list='find . -printf "%y %m %p\n" | sort; find . -type f -print0 | sort -z | xargs -0 sha256sum'
want=$(vm_ssh "cd $SRC && $list")
[[ -n $want ]] || fail "cannot list the source tree"

nochecks=1
[[ -z ${KUP_KEXEC_CHECKS:-} ]] || nochecks=0
writes0=$(vm_ssh "awk '{ print \$7 }' /sys/block/vda/stat")
out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=$nochecks kupgrade stage --json --from $SRC --kernel /boot/vmlinuz-$to") ||
	fail "kupgrade stage failed: $out"
writes1=$(vm_ssh "awk '{ print \$7 }' /sys/block/vda/stat")
info "stage: $out"
[[ $out == *'"transport":"initrd"'* ]] || fail "the images did not take the initrd transport: $out"
[[ $(vm_ssh cat /sys/kernel/kexec_loaded) == 1 ]] || fail "no kernel loaded after stage"
[[ -z $(vm_ssh 'ls /run/kupgrade-stage 2>/dev/null; findmnt -n /run/kupgrade-stage') ]] ||
	fail "the staging tmpfs was not released after the load"
written_kb=$(((writes1 - writes0) / 2))
measure stage_disk_writes_kb "$written_kb"
((written_kb < PAYLOAD_MB * 1024 / 10)) ||
	fail "$written_kb KiB written to the disk while staging $PAYLOAD_MB MB: images touched the disk"
stage_s=$(sed -E 's/.*"stage_seconds":([0-9.]+).*/\1/' <<<"$out")
load_s=$(sed -E 's/.*"load_seconds":([0-9.]+).*/\1/' <<<"$out")
measure stage_seconds "$stage_s"
measure load_seconds "$load_s"

t0=$(kup_now)
vm_ssh 'systemd-run --no-block --quiet systemctl kexec' || fail "cannot start systemctl kexec"
vm_serial_wait_after "Linux version $(kup_re_quote "$to")" "$t0" 300 || fail "the new kernel did not start"
t_kernel=$(vm_serial_time "Linux version $(kup_re_quote "$to")" "$t0")
vm_serial_wait_after "kupgrade: (carried|ERROR)" "$t0" 300 || fail "the initramfs script said nothing"
sleep 5
vm_wait_ssh 300 || fail "no ssh after the kexec"
measure kexec_to_new_kernel_s "$(kup_since "$t0" "$t_kernel")"
measure kexec_to_ssh_s "$(kup_since "$t0" "$VM_SSH_UP_T")"

[[ $(vm_ssh uname -r) == "$to" ]] || fail "running $(vm_ssh uname -r), not $to"
carried=$(grep -oE 'kupgrade: (carried|ERROR).*' "$(vm_serial_log)" | tail -1)
info "initramfs: $carried"
[[ $carried == *carried* ]] || fail "the initramfs script failed: $carried"
measure carry_seconds "$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$carried")"
vm_ssh 'test ! -e /run/kupgrade-carry.failed' || fail "failure marker: $(vm_ssh cat /run/kupgrade-carry.failed)"
[[ $(vm_ssh findmnt -n -o FSTYPE /run/kupgrade) == tmpfs ]] || fail "/run/kupgrade is not a tmpfs"
[[ $(vm_ssh stat -c %a /run/kupgrade) == 700 ]] || fail "/run/kupgrade is not 0700"
got=$(vm_ssh "cd /run/kupgrade && $list")
if [[ $got != "$want" ]]; then
	diff <(echo "$want") <(echo "$got") || true
	fail "/run/kupgrade differs from the source tree"
fi
vm_ssh 'test ! -e /var/lib/kupgrade/images' || fail "images found on disk"
vm_ssh "dmesg | grep -q 'Initramfs unpacking failed'" && fail "the kernel could not unpack the initrd"
pass "$PAYLOAD_MB MB crossed $from -> $to in RAM: same files, sha256 and modes in /run/kupgrade (0700 tmpfs)"
