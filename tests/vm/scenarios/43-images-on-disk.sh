#!/bin/bash
# kup-cost: 87
# 43-images-on-disk: the disk transport. `kupgrade stage --images-on-disk`
# copies a 0700 tree into /var/lib/kupgrade/images (0700, synced) and loads
# the other kernel with its plain initrd; after `systemctl kexec` the tree
# is there, identical (sha256, modes), and nothing came through the initrd
# (/run/kupgrade absent).
. "$(dirname "$0")/../lib.sh"
SRC=/run/kup-src/images
DISK=/var/lib/kupgrade/images
vm_boot
vm_wait_ssh 400 || fail "the guest did not come up"
from=$(vm_ssh uname -r)
to=$KV_NEW
[[ $from == "$KV_NEW" ]] && to=$KV_OLD

vm_ssh "set -e
	mkdir -p -m 0700 /run/kup-src $SRC $SRC/a.service
	head -c 8M /dev/urandom >$SRC/a.service/pages-1.img
	echo inventory >$SRC/inventory.img
	chmod 0600 $SRC/a.service/pages-1.img $SRC/inventory.img" || fail "cannot build the source tree"
# Types, modes, file sizes (directory sizes depend on the file system), sums.
list='find . -printf "%y %m %p\n" | sort; find . -type f -print0 | sort -z | xargs -0 sha256sum'
want=$(vm_ssh "cd $SRC && $list")

out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade stage --images-on-disk --json --from $SRC --kernel /boot/vmlinuz-$to") ||
	fail "stage --images-on-disk failed: $out"
info "stage: $out"
[[ $out == *'"transport":"disk"'* ]] || fail "not the disk transport: $out"
[[ $(vm_ssh stat -c %a /var/lib/kupgrade "$DISK") == $'700\n700' ]] || fail "$DISK or its parent is not 0700"
# A second stage must not mix into (or remove) the images already there.
vm_ssh "kupgrade stage --images-on-disk --from $SRC --kernel /boot/vmlinuz-$to" 2>/dev/null &&
	fail "a second stage into an existing $DISK succeeded"
[[ $(vm_ssh "cd $DISK && $list") == "$want" ]] || fail "the refused second stage changed $DISK"

t0=$(kup_now)
vm_ssh 'systemd-run --no-block --quiet systemctl kexec' || fail "cannot start systemctl kexec"
vm_serial_wait_after "Linux version $(kup_re_quote "$to")" "$t0" 600 || fail "$to did not start"
sleep 5
vm_wait_ssh 600 || fail "no ssh after the kexec"
measure kexec_to_ssh_s "$(kup_since "$t0" "$VM_SSH_UP_T")"
[[ $(vm_ssh uname -r) == "$to" ]] || fail "not running $to"
got=$(vm_ssh "cd $DISK && $list")
[[ $got == "$want" ]] || { diff <(echo "$want") <(echo "$got") || true; fail "$DISK differs after the kexec"; }
vm_ssh 'test ! -e /run/kupgrade' || fail "/run/kupgrade exists: something came through the initrd"
pass "8 MB crossed $from -> $to on disk in $DISK (0700), identical"
