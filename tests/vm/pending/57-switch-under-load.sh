#!/bin/bash
# kup-cost: 600
# kup-timeout: 3000
# One switch under load, against one switch of a quiet machine in the same
# run. First the operator's session alone (its counter in its shell) switches
# to the new kernel: the pause it sees is the reference. Then, on the new
# kernel, the load:
#   - 30 more ssh sessions, each a shell holding a mark in its memory and a
#     child process (sleep);
#   - 200 TCP connections inside the guest between two services,
#     kup-load-server and kup-load-client (workloads/load-stream.py), every
#     connection carrying numbered, checksummed messages both ways, one
#     every 5 s (40 a second in all: more starves a TCG guest), checked byte
#     for byte at both ends;
#   - 20 services (kup-load-svc@1..20), a counter each, besides those two;
# and the switch back to the first kernel. Afterwards every session has its
# connection (same client port), its shell (same mark, the old kernel's
# uname -r) and its child; every service runs with the same main PID and its
# counter went on; all 200 connections are the same ones (same local ports),
# every one of them exchanged messages after the switch, and neither end
# saw a byte lost, doubled or changed. The pause under load is printed next
# to the quiet one.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

W=$KUP_REPO/tests/vm/workloads
NSESS=30 NCONN=200 NSVC=20

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"
vm_scp_to "$W"/load-stream.py "$W"/load-setup.sh /usr/local/bin/ || fail "copying the workloads"

# The pause the operator sees in a gap of the counter, from line FROM of the
# session's log on.
pause_since() { # FROM
	local part=$KUP_LOG_DIR/op-from-$1.log out
	tail -n "+$1" "$SW_LOG" >"$part"
	out=$(SW_LOG=$part check_counter) || fail "the counter lost or repeated numbers: $out"
	awk '/^GAP/ { print $2 }' <<<"$out"
}

# --- the quiet switch ---------------------------------------------------------
switch_counter_start
from=$(wc -l <"$SW_LOG")
switch "$KV_NEW" quiet
sleep 2
quiet=$(pause_since "$from")
measure pause_quiet_s "$quiet"
info "quiet switch: the operator's counter paused $quiet s"
# On the newest kernel, "--kernel newest" has nothing to do (exit 3).
rc=0
out=$(vm_ssh kupgrade --kernel newest --yes 2>&1) || rc=$?
[[ $rc == 3 && $out == *"Nothing to do: no kernel in /boot is newer than the running one, $KV_NEW"* ]] ||
	fail "kupgrade --kernel newest on the newest kernel: exit $rc, $out"

# --- the load -----------------------------------------------------------------
vm_ssh "load-setup.sh $NCONN $NSVC" >"$KUP_LOG_DIR/load-setup.txt" 2>&1 ||
	fail "the load did not start: $(tail -n 3 "$KUP_LOG_DIR/load-setup.txt")"
info "load: $(cat "$KUP_LOG_DIR/load-setup.txt")"

# The sessions, five logins at a time (sshd's MaxStartups drops some of more
# than ten at once).
t=$SECONDS
for ((i = 1; i <= NSESS; i += 5)); do
	pids=()
	for ((j = i; j < i + 5 && j <= NSESS; j++)); do
		vm_session_open "s$j" >"$KUP_LOG_DIR/session-s$j.open" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || fail "an ssh session did not open: $(cat "$KUP_LOG_DIR"/session-s*.open | grep -v '^\[' | tail -n 5)"; done
done
for ((j = 1; j <= NSESS; j++)); do
	vm_session_send "s$j" "M=mark-$j-\$RANDOM\$RANDOM; sleep 1000000 & echo \"SET \$M\"\n" || fail "session s$j closed"
done
declare -A mark lport
for ((j = 1; j <= NSESS; j++)); do
	vm_session_expect "s$j" 'SET mark-' 60 || fail "session s$j did not take its mark"
	mark[$j]=$(grep -ao "SET mark-$j-[0-9]*" "$(vm_session_log "s$j")" | tail -n1 | cut -d' ' -f2)
	lport[$j]=$(vm_session_port "s$j")
done
info "$NSESS sessions opened in $((SECONDS - t)) s, each with a mark and a child"

# Before: each service's main PID and counter, the client's statistics.
state() {
	vm_ssh 'for u in kup-load-server kup-load-client $(seq -f "kup-load-svc@%g" '"$NSVC"'); do
		echo "$u $(systemctl show -P MainPID "$u.service") $(systemctl is-active "$u.service") $(cat /var/lib/kup-load/svc-${u#kup-load-svc@} 2>/dev/null || echo -)"
	done
	echo "client $(head -n1 /var/lib/kup-load/client.stat)"
	echo "server $(head -n1 /var/lib/kup-load/server.stat)"'
}
stat_field() { # STATE_TEXT SIDE KEY
	sed -n "s/^$2 .*\\b$3=\\([^ ]*\\).*/\\1/p" <<<"$1"
}
before=$(state) || fail "cannot read the load's state"
echo "$before" >"$KUP_LOG_DIR/state-before.txt"
grep -v '^client\|^server' <<<"$before" | grep -v ' active ' && fail "a load service is not active before the switch"

# --- the switch under load ----------------------------------------------------
from=$(wc -l <"$SW_LOG")
# The keystrokes typed during the pause go once ssh answers: restoring this
# much takes longer than qemu's user-mode TCP retransmits what it cannot
# deliver (about 2 minutes; a real peer retries for 15).
SW_TYPE_AT=ssh switch "$KV_OLD" load
sleep 2
loaded=$(pause_since "$from")
measure pause_under_load_s "$loaded"

# Every session: same connection, same shell, its child.
for ((j = 1; j <= NSESS; j++)); do
	vm_session_alive "s$j" || fail "session s$j: its ssh client died"
	[[ $(vm_session_port "s$j") == "${lport[$j]}" ]] || fail "session s$j: the client port changed"
	vm_session_send "s$j" 'echo "CHK $M $(uname -r) $(kill -0 $! 2>/dev/null && echo child-alive)"\n' || fail "session s$j closed"
done
for ((j = 1; j <= NSESS; j++)); do
	vm_session_expect "s$j" "CHK ${mark[$j]} $(kup_re_quote "$KV_OLD") child-alive" 120 ||
		fail "session s$j lost its shell, its mark or its child: $(grep -a 'CHK mark' "$(vm_session_log "s$j")" | tail -n1)"
done

# Every service: same main PID, active, its counter went on. Every
# connection: exchanged messages after the switch, none failed, the same
# local ports.
after=
for ((k = 0; k < 60; k++)); do
	after=$(state) || fail "cannot read the load's state after the switch"
	min=$(stat_field "$after" client min_seq)
	((${min:-0} > $(stat_field "$before" client max_seq))) && break
	sleep 2
done
echo "$after" >"$KUP_LOG_DIR/state-after.txt"
while read -r u pid act cnt; do
	[[ $u == client || $u == server ]] && continue
	read -r _ pid2 act2 cnt2 < <(grep "^$u " <<<"$after")
	[[ $act2 == active ]] || fail "$u is $act2 after the switch"
	[[ $pid2 == "$pid" ]] || fail "$u: main PID $pid before, $pid2 after (started afresh?)"
	[[ $cnt == - ]] || ((cnt2 > cnt)) || fail "$u: its counter went from $cnt to $cnt2"
done <<<"$before"
for side in client server; do
	[[ $(stat_field "$after" $side fails) == 0 ]] ||
		fail "the $side saw failures: $(vm_ssh "tail -n +2 /var/lib/kup-load/$side.stat | head -n 5")"
	[[ $(stat_field "$after" $side conns) == "$NCONN" ]] || fail "the $side has $(stat_field "$after" $side conns) connections, not $NCONN"
done
[[ $(stat_field "$after" client lports) == "$(stat_field "$before" client lports)" ]] ||
	fail "the client's connections are not the same ones (their local ports differ)"
min=$(stat_field "$after" client min_seq)
((min > $(stat_field "$before" client max_seq))) ||
	fail "not every connection exchanged messages after the switch: the least advanced is at $min, it was up to $(stat_field "$before" client max_seq) before"
switch_counter_check

msgs=$(stat_field "$after" client msgs) bytes=$(stat_field "$after" client bytes)
measure load_sessions "$NSESS"
measure load_connections "$NCONN"
measure load_services "$((NSVC + 2))"
measure load_messages_checked "$msgs"
measure load_bytes_checked "$bytes"
measure load_bytes_lost 0
ratio=$(awk -v a="$loaded" -v b="$quiet" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
measure pause_load_over_quiet "$ratio"
pass "under load ($NSESS sessions, $NCONN connections, $((NSVC + 2)) services) everything survived the switch: $msgs messages, $bytes bytes checked at both ends, none lost or doubled; pause $loaded s under load against $quiet s quiet (x$ratio)"
