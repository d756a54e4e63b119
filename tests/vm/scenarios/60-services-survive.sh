#!/bin/bash
# kup-cost: 382
# kup-timeout: 2400
# Services survive the switch and stay systemd services: a service that came
# back outside its unit could no longer be stopped, restarted or watched by
# systemd.
#
# In the guest: kupgrade-zdtm.service (tests/vm/workloads/zdtm-service.py,
# Type=simple, Restart=always, output to the journal), nginx and lighttpd
# (Debian's packages and units; on Debian 13 lighttpd's namespace
# sandboxing is reset by a drop-in, its seccomp filters stay: see
# workloads/services-setup.sh), kupgrade-busclient.service, which holds
# a D-Bus system bus connection (planned "restart"), and
# kupgrade-sockact.service, started by its socket unit (TCP and unix), whose
# listening sockets systemd holds too: it is restored with the sockets
# systemd then holds, and counts the connections it answered. From the host,
# one TCP connection to each of the three checkpointed services exchanges
# numbered messages / keep-alive requests (workloads/stream-client.py).
#
# 1. A fault just before the point of no return (KUPGRADE_FAULT=write-manifest)
#    rolls the services back through their own units: same main PIDs, active,
#    connections alive, no drop-in left. Connections to the socket-activated
#    service meanwhile start it afresh while it is checkpointed; that
#    instance is stopped and the checkpoint restored.
# 2. The switch: every message exactly once on the same connections, the
#    zdtm self-check passes, each service active with the same main PID and
#    its journal continuing from the same PID, the Restart=always service
#    never restarted, the "restart" service fresh with the plan's reason in
#    the report; the socket-activated service answers from the same process
#    with its count going on, through the new boot's socket unit; then
#    "systemctl restart" works on each.
#
# qemu's user-mode network gives up on data it cannot deliver for about two
# minutes (a real peer retries for 15), longer than the guest is away under
# TCG: the clients send nothing from the command until the new kernel runs
# its initramfs, as switch() in switch-lib.sh does with its keystrokes.
. "$(dirname "$0")/../lib.sh"

W=$KUP_REPO/tests/vm/workloads
UNITS=(kupgrade-zdtm.service nginx.service lighttpd.service)
CTL=$KUP_LOG_DIR/clients
mkdir -p "$CTL"

KUP_VM_FWD="7000 80 8080" vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"
vm_ssh 'mkdir -p /usr/local/lib/kupgrade-tests' &&
	vm_scp_to "$W"/zdtm-service.py "$W"/sockact-service.py "$W"/sockact-poll.sh "$W"/services-setup.sh \
		/usr/local/lib/kupgrade-tests/ ||
	fail "copying the workloads"
vm_ssh 'bash /usr/local/lib/kupgrade-tests/services-setup.sh' || fail "the services did not start"

start_client() { # NAME MODE GUESTPORT [PATH]
	setsid python3 "$W/stream-client.py" "$2" "$(vm_fwd_port "$3")" "$CTL/$1" "${@:4}" </dev/null >/dev/null 2>&1 &
	echo $! >"$CTL/$1.pid"
	kup_on_exit "kill $! 2>/dev/null"
}
CLIENTS=(zdtm nginx lighttpd)
start_client zdtm line 7000
start_client nginx http 80 /kupgrade-data.txt
start_client lighttpd http 8080 /kupgrade-data.txt

client_last() { grep -a '^ok ' "$CTL/$1.log" 2>/dev/null | tail -n1 | awk '{ print $2 }'; }
clients_ok() { # all alive and past message N
	local c n
	for c in "${CLIENTS[@]}"; do
		grep -aq '^FAIL' "$CTL/$c.log" 2>/dev/null && fail "client $c: $(grep -a '^FAIL' "$CTL/$c.log")"
		kill -0 "$(cat "$CTL/$c.pid")" 2>/dev/null || fail "client $c died: $(tail -n 3 "$CTL/$c.log")"
		n=$(client_last "$c")
		((${n:-0} >= $1)) || return 1
	done
}
wait_clients() { # N TIMEOUT
	local t=$SECONDS
	until clients_ok "$1"; do
		((SECONDS - t < $2)) || fail "the clients did not get past message $1 in $2 s: $(tail -qn1 "$CTL"/*.log | tr '\n' ' ')"
		sleep 0.5
	done
}
pause_clients() {
	local c
	for c in "${CLIENTS[@]}"; do touch "$CTL/$c.pause"; done
	for c in "${CLIENTS[@]}"; do
		for _ in $(seq 100); do grep -aq '^paused' "$CTL/$c.log" && break; sleep 0.2; done
	done
}
resume_clients() { rm -f "$CTL"/*.pause; }
# Each client's messages: 1..N in order, once each, all on one connection.
check_client() { # NAME
	awk -v name="$1" '
		/^connected/ { conns++; port = $2 }
		/^ok / { if ($2 != n + 1) { printf "%s: message %d after %d\n", name, $2, n; bad = 1 }
		         if ($3 != port) { printf "%s: message %d on port %s, not %s\n", name, $2, $3, port; bad = 1 }
		         n = $2 }
		END { if (conns != 1) { printf "%s: %d connections\n", name, conns; bad = 1 }
		      printf "%s: %d messages on port %s\n", name, n, port; exit bad }' "$CTL/$1.log"
}
zdtm_check() { # TAG: the service checks its own state
	rm -f "$CTL/zdtm.log.check"
	touch "$CTL/zdtm.check"
	for _ in $(seq 600); do [[ -e $CTL/zdtm.check ]] || break; sleep 0.2; done
	local line
	line=$(grep -a '^check ' "$CTL/zdtm.log" | tail -n1)
	[[ $line == "check CHECK OK"* ]] || fail "zdtm self-check ($1): ${line:-no answer}"
	info "zdtm self-check ($1): ${line#check }"
}
main_pids() {
	local u
	for u in "${UNITS[@]}" kupgrade-busclient.service; do
		vm_ssh "systemctl show -p MainPID --value $u"
	done | tr '\n' ' '
}
# The socket-activated service's answer, on its TCP port or with "unix" on
# its unix socket: "sockact <pid> <connections answered>".
sockact() {
	if [[ ${1:-} == unix ]]; then
		vm_ssh "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"/run/kupgrade-sockact.sock\"); print(s.recv(100).decode().strip())'"
	else
		vm_ssh "python3 -c 'import socket; print(socket.create_connection((\"127.0.0.1\", 7100)).recv(100).decode().strip())'"
	fi
}
# Same process as before, one more connection answered on each of its two
# sockets: sockact_next PID N TAG
sockact_next() {
	local a b
	a=$(sockact) || fail "the socket-activated service does not answer on TCP ($3)"
	b=$(sockact unix) || fail "the socket-activated service does not answer on its unix socket ($3)"
	[[ $a == "sockact $1 $(($2 + 1))" && $b == "sockact $1 $(($2 + 2))" ]] ||
		fail "the socket-activated service ($3) answered \"$a\" and \"$b\", not \"sockact $1 $(($2 + 1))\" and \"sockact $1 $(($2 + 2))\""
	[[ $(vm_ssh 'systemctl show -p MainPID --value kupgrade-sockact.service') == "$1" ]] ||
		fail "kupgrade-sockact.service ($3): main PID $(vm_ssh 'systemctl show -p MainPID --value kupgrade-sockact.service'), not $1"
	vm_ssh 'systemctl is-active --quiet kupgrade-sockact.socket' || fail "kupgrade-sockact.socket not active ($3)"
	info "socket-activated service ($3): \"$a\" on TCP, \"$b\" on its unix socket"
	sa_n=$(($2 + 2))
}
states() {
	local u
	for u in "${UNITS[@]}"; do vm_ssh "systemctl is-active $u"; done | tr '\n' ' '
}

wait_clients 5 120
zdtm_check "before"
pids0=$(main_pids)
nginx_tree0=$(vm_ssh 'pgrep -x nginx | sort -n | tr "\n" " "')
read -r _ sa_pid sa_n <<<"$(sockact)"
[[ -n $sa_n ]] || fail "the socket-activated service does not answer"
sockact_next "$sa_pid" "$sa_n" "before"
info "main PIDs before: $pids0 (nginx processes: $nginx_tree0)"

# The plan restarts busclient for its D-Bus connection (on Debian 13 its
# busctl also holds a pidfd of the bus daemon, outside its tree: listed too)
# and names the CRIU it judged for.
vm_ssh 'kupgrade plan --json' >"$KUP_LOG_DIR/plan.json" || fail "kupgrade plan --json failed"
python3 - "$KUP_LOG_DIR/plan.json" <<'PY' || fail "the plan is not as expected (see above)"
import json, sys
p = json.load(open(sys.argv[1]))
u = [u for u in p["units"] if u["name"] == "kupgrade-busclient.service"]
if not u or u[0]["decision"] != "restart" or not any("D-Bus" in b for b in u[0]["blockers"]):
    print("plan: kupgrade-busclient.service: %s" % (u and {k: u[0][k] for k in ("decision", "blockers")}))
    sys.exit(1)
print("plan: kupgrade-busclient.service restarts: %s" % "; ".join(u[0]["blockers"]))
if not p["totals"].get("criu_version"):
    print("plan: no criu_version in the totals"); sys.exit(1)
PY

vm_session_open op
log=$(vm_session_log op)

# --- 1. rollback before the point of no return ----------------------------------
# Meanwhile a guest process connects to the socket-activated service five
# times a second: while it is checkpointed, systemd starts it afresh, and
# that instance must give way to the checkpoint in the rollback.
vm_ssh 'setsid bash /usr/local/lib/kupgrade-tests/sockact-poll.sh </dev/null >/dev/null 2>&1 &'
n=$(client_last zdtm)
vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 KUPGRADE_FAULT=write-manifest kupgrade --kernel /boot/vmlinuz-$KV_NEW --yes; echo \"RC_fault=\$?\"\n"
vm_session_expect op 'RC_fault=[0-9]' 900 || fail "kupgrade never returned (fault)"
grep -aq 'RC_fault=70' "$log" || fail "the fault did not give exit 70: $(grep -a 'RC_fault=' "$log" | tail -1)"
[[ $(main_pids) == "$pids0" ]] || fail "main PIDs changed in the rollback: $(main_pids), were $pids0"
[[ $(states) == "active active active " ]] || fail "services not active after the rollback: $(states)"
vm_ssh '! ls /run/systemd/system/*.d/50-kupgrade-* 2>/dev/null' ||
	fail "drop-ins left after the rollback: $(vm_ssh 'ls /run/systemd/system/*.d/')"
vm_ssh 'systemctl show -p Restart --value kupgrade-zdtm.service' | grep -qx always ||
	fail "kupgrade-zdtm.service lost its Restart=always"
# A clean rollback says nothing alarming: each connection leaves the lock once.
nft_err=$(vm_ssh 'journalctl -b -o cat | grep -a "nft cannot" || true')
[[ -z $nft_err ]] || fail "the rollback logged nft errors: $nft_err"
wait_clients $((n + 5)) 600
zdtm_check "after the rollback"
vm_ssh 'touch /run/kupgrade-poll.stop; sleep 1; cat /run/kupgrade-poll.log' >"$KUP_LOG_DIR/sockact-poll.log"
window=$(awk -v p="$sa_pid" '$2 != p { print $2 }' "$KUP_LOG_DIR/sockact-poll.log" | sort -u | paste -sd ' ')
[[ -n $window ]] || fail "race not met: no connection reached a fresh instance of kupgrade-sockact.service while it was checkpointed ($(wc -l <"$KUP_LOG_DIR/sockact-poll.log") answers, all from PID $sa_pid)"
info "socket-activated service: started afresh while checkpointed as PID $window; it gave way to the checkpoint"
read -r _ p sa_n <<<"$(sockact)"
[[ $p == "$sa_pid" ]] || fail "kupgrade-sockact.service answers from PID $p after the rollback, not $sa_pid"
sockact_next "$sa_pid" "$sa_n" "after the rollback"
info "rollback: same main PIDs, connections alive"

# --- 2. the switch ------------------------------------------------------------------
boot0=$(vm_boot_id)
pause_clients
t0=$(kup_now)
vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_NEW --yes; echo \"RC_new=\$?\"\n"
waited=0
until vm_serial_time 'Run /init as init process' "$t0" >/dev/null; do
	((waited++ < 3600)) || fail "the new kernel never started"
	vm_alive || fail "qemu died"
	sleep 0.5
done
resume_clients
vm_session_expect op 'RC_new=[0-9]' 1500 || fail "kupgrade never returned in the session"
grep -aq 'RC_new=0' "$log" || fail "kupgrade exited non-zero: $(grep -a 'RC_new=' "$log" | tail -1)"
vm_wait_ssh 600 "$boot0" || fail "no ssh after the switch"
measure switch_total_s "$(kup_since "$t0")"
[[ $(vm_ssh 'uname -r') == "$KV_NEW" ]] || fail "not on $KV_NEW after the switch"
n=$(client_last zdtm)
wait_clients $((n + 10)) 900
measure first_reply_after_switch_s "$(kup_since "$t0")"

pids1=$(main_pids)
read -r -a p0 <<<"$pids0"
read -r -a p1 <<<"$pids1"
for i in 0 1 2; do
	[[ ${p1[i]} == "${p0[i]}" ]] || fail "${UNITS[i]}: main PID ${p1[i]} after the switch, ${p0[i]} before"
done
[[ ${p1[3]} != "${p0[3]}" && ${p1[3]} != 0 ]] || fail "kupgrade-busclient.service was not started fresh (${p0[3]} -> ${p1[3]})"
[[ $(states) == "active active active " ]] || fail "services not active after the switch: $(states)"
[[ $(vm_ssh 'pgrep -x nginx | sort -n | tr "\n" " "') == "$nginx_tree0" ]] ||
	fail "nginx's processes changed: $(vm_ssh 'pgrep -x nginx | tr "\n" " "'), were $nginx_tree0"
zdtm_check "after the switch"
# Restart=always: the old boot never restarted it between its dump and the kexec.
vm_ssh "journalctl -b -1 -o cat -u kupgrade-zdtm.service" >"$KUP_LOG_DIR/zdtm-old-boot.txt" || true
grep -q 'Scheduled restart' "$KUP_LOG_DIR/zdtm-old-boot.txt" && fail "systemd restarted kupgrade-zdtm.service in the window"
# Its journal goes on from the same process.
zpid=${p0[0]}
vm_ssh "journalctl -b 0 -o cat _PID=$zpid _SYSTEMD_UNIT=kupgrade-zdtm.service" | grep -q '^message ' ||
	fail "no journal line from PID $zpid of kupgrade-zdtm.service in the new boot"
vm_ssh 'kupgrade status' >"$KUP_LOG_DIR/status.txt" 2>&1 || fail "kupgrade status failed"
vm_ssh 'kupgrade status --json' >"$KUP_LOG_DIR/status.json" 2>&1 || fail "kupgrade status --json failed"
info "report:"; cat "$KUP_LOG_DIR/status.txt" >&2
python3 - "$KUP_LOG_DIR/status.json" <<'PY' || fail "the report is not as expected (see above)"
import json, sys
r = json.load(open(sys.argv[1]))
units = {u["name"]: u for u in r["units"]}
bad = 0
for name in ("kupgrade-zdtm.service", "nginx.service", "lighttpd.service", "kupgrade-sockact.service"):
    u = units.get(name)
    if not u or u.get("outcome") != "restored":
        print("report: %s is %s" % (name, u and u.get("outcome"))); bad = 1
    elif "criu-frozen" not in u.get("timings_usec", {}):
        print("report: no frozen time for %s" % name); bad = 1
socks = sorted(e["path"] for e in (units.get("kupgrade-sockact.service") or {}).get("externals", [])
               if e.get("systemd_socket"))
if socks != ["tcp6 [::]:7100", "unix /run/kupgrade-sockact.sock"]:
    print("report: kupgrade-sockact.service handed back %s" % socks); bad = 1
for name, why in (("kupgrade-busclient.service", "cannot be checkpointed as it stands"),):
    b = units.get(name)
    if not b or b.get("outcome") != "restarted-fresh" or why not in (b.get("outcome_reason") or ""):
        print("report: %s: %s" % (name, b)); bad = 1
sys.exit(bad)
PY

# The socket-activated service: same process, its count going on, on the
# new boot's sockets.
sockact_next "$sa_pid" "$sa_n" "after the switch"

# Every message once, in order, on one connection each.
resume_clients
for c in "${CLIENTS[@]}"; do
	out=$(check_client "$c") || fail "$out"
	info "$out"
done

# Still systemd services: restart works, and gives new processes.
for u in "${UNITS[@]}"; do
	vm_ssh "systemctl restart $u && systemctl is-active $u" >/dev/null || fail "systemctl restart $u failed"
done
vm_ssh 'systemctl restart kupgrade-sockact.service' || fail "systemctl restart kupgrade-sockact.service failed"
sa=$(sockact) || fail "the socket-activated service does not answer after its restart"
[[ $sa == "sockact "*" 1" && $sa != "sockact $sa_pid "* ]] || fail "kupgrade-sockact.service after its restart: \"$sa\""
[[ $(sockact unix) == "${sa% 1} 2" ]] || fail "kupgrade-sockact.service after its restart: \"$(sockact unix)\" on its unix socket"
info "socket-activated service after systemctl restart: $sa"
pids2=$(main_pids)
read -r -a p2 <<<"$pids2"
for i in 0 1 2; do
	[[ ${p2[i]} != "${p1[i]}" && ${p2[i]} != 0 ]] || fail "${UNITS[i]}: systemctl restart kept PID ${p1[i]}"
done
vm_session_send op 'echo "UNAME=$(uname -r)"\n'
vm_session_expect op "UNAME=$(kup_re_quote "$KV_NEW")" 120 || fail "the operator's shell does not print the new uname -r"
pass "services restored as themselves under systemd (main PIDs ${p1[*]:0:3}, socket-activated $sa_pid), clients kept their connections, busclient restarted fresh"
