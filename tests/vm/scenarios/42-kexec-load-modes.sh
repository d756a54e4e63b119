#!/bin/bash
# kup-cost: 124
# 42-kexec-load-modes: both ways kexec.c loads a kernel get there, and what
# each costs under TCG. A small directory (1 MB) crosses with
# `kupgrade stage` twice in a row (there and back):
#   - KUPGRADE_KEXEC_NO_CHECKS=1: kexec -c -i (legacy call, no purgatory
#     SHA-256), the test default;
#   - KUPGRADE_KEXEC_NO_CHECKS=0: kexec -s (kexec_file_load, what a real
#     machine uses; the kernel's purgatory checks every segment).
# Measured: "Starting new kernel" -> "Linux version" of the new kernel, per
# mode; each time the directory arrives intact in /run/kupgrade.
. "$(dirname "$0")/../lib.sh"
SRC=/root/kup-src
vm_boot
vm_wait_ssh 400 || fail "the guest did not come up"
for nochecks in 1 0; do
	cur=$(vm_ssh uname -r)
	to=$KV_NEW
	[[ $cur == "$KV_NEW" ]] && to=$KV_OLD
	vm_ssh "rm -rf $SRC && mkdir -m 0700 $SRC && head -c 1M /dev/urandom >$SRC/pages.img && echo $nochecks >$SRC/mode"
	want=$(vm_ssh "cd $SRC && sha256sum pages.img mode")
	out=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=$nochecks kupgrade stage --json --from $SRC --kernel /boot/vmlinuz-$to") ||
		fail "stage (no_checks=$nochecks) failed: $out"
	info "no_checks=$nochecks: $out"
	method=$(sed -E 's/.*"method":"([a-z_]+)".*/\1/' <<<"$out")
	if ((nochecks)); then
		[[ $method == kexec_load ]] || fail "KUPGRADE_KEXEC_NO_CHECKS=1 loaded with $method"
	else
		[[ $method == kexec_file_load ]] || fail "the default loaded with $method, not kexec_file_load"
	fi
	t0=$(kup_now)
	vm_ssh 'systemd-run --no-block --quiet systemctl kexec' || fail "cannot start systemctl kexec"
	vm_serial_wait_after "Linux version $(kup_re_quote "$to")" "$t0" 600 || fail "$to did not start ($method)"
	ts=$(vm_serial_time "kexec_core: Starting new kernel" "$t0")
	tl=$(vm_serial_time "Linux version $(kup_re_quote "$to")" "$t0")
	measure "${method}_shutdown_s" "$(kup_since "$t0" "$ts")"
	measure "${method}_start_to_linux_version_s" "$(kup_since "$ts" "$tl")"
	sleep 5
	vm_wait_ssh 600 || fail "no ssh after the kexec ($method)"
	[[ $(vm_ssh uname -r) == "$to" ]] || fail "not running $to after $method"
	got=$(vm_ssh "cd /run/kupgrade && sha256sum pages.img mode")
	[[ $got == "$want" ]] || fail "the directory did not arrive intact with $method"
	vm_ssh "umount /run/kupgrade && rmdir /run/kupgrade" || fail "cannot release /run/kupgrade"
done
pass "kexec_load -i and kexec_file_load both carried the directory there and back"
