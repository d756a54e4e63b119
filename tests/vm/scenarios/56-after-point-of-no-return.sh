#!/bin/bash
# kup-cost: 162
# kup-timeout: 2400
# Failures after the point of no return, on one guest.
# (1) The restore itself is killed (SIGKILL, as the OOM killer would) once
# every tree is back but before the network is unlocked
# (KUPGRADE_BOOT_FAULT=kill:unlock-network, a test hook). What runs after it
# (kupgrade-restore.service's ExecStopPost=, 'kupgrade restore --finish')
# unlocks the connections, turns window scaling back on, wipes the images
# and writes the report: the operator's ssh session goes on, on the new
# kernel.
# (2) Then a switch back whose new kernel panics (init=/bin/false: its init
# exits), with the images on disk. kupgrade's panic= makes it reboot by
# itself; the machine comes up cold on its default kernel, where the images
# on disk are not restored (this boot lacks the switch's mark): they are
# wiped, the report says the switch did not reach its restore, the
# services this boot started run, nothing of the switch is left.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"
switch_counter_start
vm_session_send op 'export KUPGRADE_BOOT_FAULT=kill:unlock-network\n'
switch "$KV_NEW" new

res=$(vm_ssh 'systemctl show -p Result kupgrade-restore.service')
info "kupgrade-restore.service: $res"
[[ $res == Result=signal ]] || fail "the restore was not killed as the fault asked: $res"
vm_ssh 'journalctl -b -u kupgrade-restore.service --no-pager' >"$KUP_LOG_DIR/restore-journal.txt" 2>&1 || true
grep -q "Killing this restore before phase 'unlock-network'" "$KUP_LOG_DIR/restore-journal.txt" ||
	fail "the restore's journal does not show the kill"
no_leftovers() {
	vm_ssh '
		set -e
		! nft list table inet kupgrade >/dev/null 2>&1 || { echo "the lock table remains"; exit 1; }
		[ "$(cat /proc/sys/net/ipv4/tcp_window_scaling)" = 1 ] || { echo "window scaling is off"; exit 1; }
		[ ! -e /run/kupgrade ] || { echo "images remain: $(ls -A /run/kupgrade)"; exit 1; }
		[ ! -e /var/lib/kupgrade/images ] || { echo "images remain on disk"; exit 1; }
		[ ! -e /var/lib/kupgrade/pending.manifest ] || { echo "a pending report remains"; exit 1; }
		! ls /run/systemd/system/*.d/50-kupgrade-* 2>/dev/null || { echo "drop-ins remain"; exit 1; }
		systemctl is-active -q ssh.service || { echo "ssh.service is not active"; exit 1; }
	'
}
out=$(no_leftovers) || fail "state left behind by the killed restore: $out"
outcomes=$(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join(u["name"] + "=" + u["outcome"] for u in m["units"]))' "$KUP_LOG_DIR/status-new.json")
info "outcomes: $outcomes"
[[ $outcomes == *=restored* ]] || fail "the report shows no restored unit"
vm_session_send op 'echo "SUM=$((20+22))"\n'
vm_session_expect op 'SUM=42' 60 || fail "the restored shell stopped answering"
switch_counter_check
info "(1) the restore killed before the unlock: --finish unlocked and cleaned up"

# (2) A new kernel that panics after the point of no return.
vm_session_send op 'unset KUPGRADE_BOOT_FAULT\n'
id_before=$(vm_ssh 'kupgrade status --json' | python3 -c 'import json, sys; print(json.load(sys.stdin)["upgrade_id"])')
t0=$(kup_now)
vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_OLD --yes --images-on-disk --append 'console=ttyS0 root=/dev/vda rw no_timer_check init=/bin/false'; echo RC_panic=\$?\n"
waited=0
while vm_alive; do
	((waited++ < 1800)) || fail "the guest never went down after the switch into a panicking kernel"
	sleep 0.5
done
serial=$(vm_serial_log)
vm_serial_time 'Kernel panic' "$t0" >/dev/null || fail "the new kernel did not panic: $(tail -5 "$serial")"
grep -aq 'Rebooting in 10 seconds' "$serial" || fail "the panicking kernel did not reboot by itself (no panic=10)"
grep -aq "kupgrade.upgrade=" "$serial" || fail "the new kernel's command line lacks the switch's mark"
info "the new kernel panicked and rebooted after $(kup_since "$t0") s"
vm_boot_again "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot that followed the panic"
st=$(vm_ssh 'kupgrade status --json') || fail "kupgrade status failed after the panic"
echo "$st" >"$KUP_LOG_DIR/status-panic.json"
read -r id kernel_to n_back reasons < <(python3 -c 'import json, sys
m = json.load(sys.stdin)
back = [u for u in m["units"] if u["outcome"].startswith("restored")]
print(m["upgrade_id"], m["kernel_to"], len(back), ";".join(sorted({u["outcome"] + ":" + u.get("outcome_reason", "").replace(" ", "_") for u in m["units"]})))' <<<"$st")
info "report after the panic: upgrade $id to $kernel_to: $reasons"
[[ $id != "$id_before" ]] || fail "no report of the aborted switch (the last one is still $id_before)"
[[ $kernel_to == "$KV_OLD" ]] || fail "the report is not of the switch to $KV_OLD: $kernel_to"
[[ $reasons == *did_not_reach_its_restore* ]] || fail "the report does not say the switch did not reach its restore: $reasons"
((n_back == 0)) || fail "the report says $n_back unit(s) were restored: $reasons"
out=$(no_leftovers) || fail "state left behind by the aborted switch: $out"
res=$(vm_ssh 'journalctl -b -u kupgrade-restore.service --no-pager' 2>&1)
grep -q 'not for this boot\|did not reach its restore' <<<"$res" || fail "the restore unit did not report the stale images: $res"
pass "(1) a restore killed before the unlock was finished cleanly, the session went on; (2) a new kernel that panicked rebooted by itself, its images on disk were reported and wiped, not restored"
