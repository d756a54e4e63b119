#!/bin/bash
# kup-timeout: 1500
# After the point of no return the restore itself is killed (SIGKILL, as
# the OOM killer would) once every tree is back but before the network is
# unlocked (KUPGRADE_BOOT_FAULT=kill:unlock-network, a test hook). What
# runs after it (kupgrade-restore.service's ExecStopPost=, 'kupgrade restore
# --finish') unlocks the connections, turns window scaling back on, wipes
# the images and writes the report: the operator's ssh session goes on, on
# the new kernel, and the next switch is not in anybody's way.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"
switch_counter_start
vm_session_send op 'export KUPGRADE_BOOT_FAULT=kill:unlock-network\n'
switch "$KV_NEW" new

res=$(vm_ssh 'systemctl show -p Result -p ExecMainStatus kupgrade-restore.service' | tr '\n' ' ')
info "kupgrade-restore.service: $res"
[[ $res == *Result=signal* ]] || fail "the restore was not killed as the fault asked: $res"
vm_ssh 'journalctl -b -u kupgrade-restore.service --no-pager' >"$KUP_LOG_DIR/restore-journal.txt" 2>&1 || true
grep -q "Killing this restore before phase 'unlock-network'" "$KUP_LOG_DIR/restore-journal.txt" ||
	fail "the restore's journal does not show the kill"
vm_ssh '
	set -e
	! nft list table inet kupgrade >/dev/null 2>&1 || { echo "the lock table remains"; exit 1; }
	[ "$(cat /proc/sys/net/ipv4/tcp_window_scaling)" = 1 ] || { echo "window scaling is off"; exit 1; }
	[ ! -e /run/kupgrade ] || { echo "images remain: $(ls -A /run/kupgrade)"; exit 1; }
	! ls /run/systemd/system/*.d/50-kupgrade-* 2>/dev/null || { echo "drop-ins remain"; exit 1; }
	[ -z "$(systemctl list-units --failed --plain --no-legend | grep -v kupgrade-restore)" ] ||
		{ echo "failed units: $(systemctl list-units --failed --plain --no-legend)"; exit 1; }
' >"$KUP_LOG_DIR/state.txt" 2>&1 || fail "state left behind by the killed restore: $(cat "$KUP_LOG_DIR/state.txt")"
outcomes=$(python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join(u["name"] + "=" + u["outcome"] for u in m["units"]))' "$KUP_LOG_DIR/status-new.json")
info "outcomes: $outcomes"
[[ $outcomes == *=restored* ]] || fail "the report shows no restored unit"
vm_session_send op 'echo "SUM=$((20+22))"\n'
vm_session_expect op 'SUM=42' 60 || fail "the restored shell stopped answering"
switch_counter_check
pass "the restore killed before the unlock: --finish unlocked and cleaned up, the session goes on ($(vm_ssh uname -r))"
