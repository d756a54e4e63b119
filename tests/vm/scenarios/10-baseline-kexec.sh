#!/bin/bash
# kup-cost: 76
# kup-timeout: 1800
#
# Baseline: a bare kexec from KV_OLD to KV_NEW with kexec-tools alone (no
# checkpoint). Measures the two figures a switch's pause is judged against
# (switch_compare_bare_kexec in switch-lib.sh):
#   cold_boot_s   qemu start -> ssh answering
#   bare_kexec_s  `kexec -e` issued -> ssh answering again on the new kernel
# plus where the time goes (from the host-timestamped serial log).
#
# Knobs:
#   KUP_BOOT_WAIT=S        limit for ssh to answer after qemu starts (default 600)
#   KUP_KEXEC_WAIT=S       limit for ssh to answer after kexec -e (default 600;
#                          a kexec'd kernel boots several times slower than a
#                          cold one under TCG, and other VMs on the host slow
#                          everything down)
#   KUP_KEXEC_LOAD="-s -l" how to load (default; kexec_file_load). "-l -i":
#                          legacy kexec_load without purgatory's checksum
#   KUP_FAULT=kexec-no-root  kexec into a command line whose root device does
#                          not exist: the guest never comes back, and this
#                          scenario must fail within KUP_KEXEC_WAIT with the
#                          serial log tail (see 11-kexec-hang-detected.sh)
. "$(dirname "$0")/../lib.sh"

: "${KUP_BOOT_WAIT:=600}" "${KUP_KEXEC_WAIT:=600}" "${KUP_KEXEC_LOAD:=-s -l}"
append=
if [[ ${KUP_FAULT:-} == kexec-no-root ]]; then
	append="root=/dev/kupgrade-missing-root rootdelay=10 panic=5"
	info "fault injected: the new kernel gets '$append'"
fi

info "step 1: cold boot of $KV_OLD"
vm_boot "$KV_OLD"
vm_wait_ssh "$KUP_BOOT_WAIT" || fail "cold boot: ssh did not answer within $KUP_BOOT_WAIT s"
measure cold_boot_s "$(kup_since "$VM_BOOT_T0" "$VM_SSH_UP_T")"
kv=$(vm_ssh uname -r)
[[ $kv == "$KV_OLD" ]] || fail "booted $kv, expected $KV_OLD"
old_boot=$(vm_boot_id)
cold_linux=$(vm_serial_time 'Linux version') || fail "no 'Linux version' on the serial console"
cold_init=$(vm_serial_time 'Run /init as init process') || fail "no 'Run /init' on the serial console"
measure cold_kernel_s "$(kup_since "$cold_linux" "$cold_init")"
measure cold_userspace_to_ssh_s "$(kup_since "$cold_init" "$VM_SSH_UP_T")"

info "step 2: an interactive ssh session from the host"
vm_session_open s1
vm_session_send s1 'echo "marker $((6 * 7))"\n'
vm_session_expect s1 'marker 42' 30 || fail "interactive session does not answer"
info "session s1 uses local port $(vm_session_port s1)"

info "step 3: kexec -e into $KV_NEW ($KUP_KEXEC_LOAD)"
t=$(kup_now)
# shellcheck disable=SC2086 # KUP_KEXEC_LOAD holds options
vm_ssh kexec $KUP_KEXEC_LOAD "/boot/vmlinuz-$KV_NEW" "--initrd=/boot/initrd.img-$KV_NEW" \
	--reuse-cmdline ${append:+"--append=$append"} || fail "kexec load failed"
[[ $(vm_ssh cat /sys/kernel/kexec_loaded) == 1 ]] || fail "kexec load returned 0 but nothing is loaded"
measure kexec_load_s "$(kup_since "$t")"

t_exec=$(kup_now)
# The connection dies with the old kernel: the client ends on its own.
VM_SSH_TIMEOUT=40 vm_ssh 'sync; kexec -e' >/dev/null 2>&1 &
kup_on_exit "kill $! 2>/dev/null"
vm_wait_ssh "$KUP_KEXEC_WAIT" "$old_boot" ||
	fail "the guest did not come back within ${KUP_KEXEC_WAIT} s after kexec -e"
measure bare_kexec_s "$(kup_since "$t_exec" "$VM_SSH_UP_T")"

kv=$(vm_ssh uname -r)
[[ $kv == "$KV_NEW" ]] || fail "after kexec: running $kv, expected $KV_NEW"
info "ssh answers on $kv, boot id $(vm_boot_id) (was $old_boot)"

# Where the time went, from the serial log (host clock).
last_old=$(awk -v a="$t_exec" '$1 + 0 > a + 0' "$(vm_serial_log)" | grep -m1 -E 'kvm: exiting hardware virtualization|kexec_core: Starting new kernel' |
	cut -d' ' -f1) || true
new_linux=$(vm_serial_time 'Linux version' "$t_exec") || fail "no 'Linux version' from the new kernel on the serial console"
new_init=$(vm_serial_time 'Run /init as init process' "$t_exec") || fail "no 'Run /init' from the new kernel"
[[ -n $last_old ]] && measure kexec_shutdown_s "$(kup_since "$t_exec" "$last_old")" &&
	measure kexec_purgatory_s "$(kup_since "$last_old" "$new_linux")"
measure kexec_kernel_s "$(kup_since "$new_linux" "$new_init")"
measure kexec_userspace_to_ssh_s "$(kup_since "$new_init" "$VM_SSH_UP_T")"
vm_ssh systemd-analyze 2>/dev/null | head -n1 | sed 's/^/    guest: /' || true
# The largest silence on the serial console after the kexec shows stalls
# (under TCG a kexec'd kernel boots slower than a cold one).
awk -v a="$new_linux" '$1 + 0 >= a + 0 { if (p && $1 - p > gap) { gap = $1 - p; l = $0 } p = $1 }
	END { if (gap) printf "    largest serial silence after kexec: %.1f s, before: %s\n", gap, substr(l, 1, 140) }' \
	"$(vm_serial_log)"

info "step 4: the old session"
# A bare kexec cannot keep connections: the client must see its end.
vm_session_send s1 'echo still-here\n' || true
for ((i = 0; i < 60; i++)); do
	vm_session_alive s1 || break
	sleep 0.5
done
vm_session_alive s1 && fail "the ssh session survived a bare kexec: this baseline cannot tell kupgrade's work apart"
grep -qE '\| still-here$' "$(vm_session_log s1)" && fail "old session answered after a bare kexec"
info "session s1 ended with the old kernel, as expected without a checkpoint"

vm_stop
pass "bare kexec $KV_OLD -> $KV_NEW"
