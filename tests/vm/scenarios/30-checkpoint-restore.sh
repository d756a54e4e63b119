#!/bin/bash
# kup-cost: 162
# The dump and the restore every switch makes, and the rollback of a failed
# checkpoint (a restore from its own images), on one kernel with no kexec,
# where a failure can only be kupgrade's or CRIU's. Checkpoint and restore
#   - an ssh session from the host printing a counter (session-N.scope), and
#   - a TCP service (tests/vm/workloads/counter-server.py) with an
#     established client connection and in-memory state;
# then the same ssh connection (same client port) goes on, the counter has
# no gap, the client goes on with every reply checked, the service's memory
# checksum holds, no lock and no image are left. Then the same for a service
# whose processes come and go during its checkpoint (kup-churn.service).
. "$(dirname "$0")/../lib.sh"

W=$KUP_REPO/tests/vm/workloads
IMG=/run/kupgrade-test

vm_boot
vm_wait_ssh 400 || fail "no ssh"
vm_scp_to "$W"/counter-server.py "$W"/counter-client.py "$W"/counter-setup.sh \
	"$W"/counter-check.sh "$W"/tree-state.sh /usr/local/bin/ || fail "copying the workloads"
vm_ssh /usr/local/bin/counter-setup.sh 7777 || fail "workload setup"

vm_session_open ctr 'echo SCOPE=$(cut -d: -f3 /proc/self/cgroup); i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done'
log=$(vm_session_log ctr)
# The session's output as the host saw it. tsline stamps each read, so a
# line can arrive split ("t" / "ick 31"): rejoin the text after the stamps
# and read tokens from the stream.
stream() { sed 's/^[^|]*| //' "$log" | tr -d '\r\n'; }
ticks() { stream | grep -o 'tick [0-9]*' | awk '{ print $2 }'; }
last_tick() { ticks | awk '{ n = $1 } END { print n + 0 }'; }
wait_tick() { # N TIMEOUT
	local start=$SECONDS
	while ((SECONDS - start < $2)); do
		(($(last_tick) >= $1)) && return 0
		sleep 0.5
	done
	echo "wait_tick: no tick $1 within $2 s (last $(last_tick))" >&2
	return 1
}
tick_gaps() { ticks | sed '$d' | awk '{ if (p && $1 != p + 1) print p "->" $1; p = $1 }'; }
wait_tick 5 120 || fail "the session counter does not run"
scope=$(stream | grep -o 'session-[0-9]*\.scope' | head -n1)
[[ $scope == session-*.scope ]] || fail "no session scope found ($scope)"
port_before=$(vm_session_port ctr)
svc_pid=$(vm_ssh systemctl show -P MainPID kup-counter.service)
info "session $scope (client port $port_before), service PID $svc_pid"


# One guest command from checkpoint to restore: under TCG every extra ssh
# round trip adds seconds to the time the connections stay locked, and
# qemu's user-mode TCP gives up on a connection after about 100 s of drops.
t0=$(kup_now)
rc=0
vm_ssh "set -e
	t0=\$EPOCHREALTIME
	kupgrade checkpoint --unit $scope --unit kup-counter.service --to $IMG >/run/kt-checkpoint.out 2>&1
	t1=\$EPOCHREALTIME
	nft list table inet kupgrade >/run/kt-lock.out
	stat -c '%a %U' $IMG >/run/kt-mode.out
	find $IMG -type f | wc -l >/run/kt-files.out
	find $IMG -perm /077 -printf '%m %p\\n' >>/run/kt-files.out
	kupgrade inspect $IMG --json >/run/kt-manifest.json
	kupgrade inspect $IMG >/run/kt-manifest.txt
	sleep 2
	t2=\$EPOCHREALTIME
	kupgrade restore --from $IMG >/run/kt-restore.out 2>&1
	t3=\$EPOCHREALTIME
	echo \$t0 \$t1 \$t2 \$t3 >/run/kt-times" || rc=$?
vm_ssh "cat /run/kt-checkpoint.out /run/kt-manifest.txt /run/kt-restore.out" || true
[[ $rc == 0 ]] || fail "checkpoint, inspect or restore failed (exit $rc)"
read -r g0 g1 g2 g3 < <(vm_ssh cat /run/kt-times)
measure checkpoint_s "$(kup_since "$g0" "$g1")"
measure restore_s "$(kup_since "$g2" "$g3")"
measure cycle_s "$(kup_since "$t0")"
frozen_at=$(last_tick)

vm_ssh "grep -q conns4 /run/kt-lock.out" || fail "no lock table while checkpointed"
vm_ssh "cat /run/kt-mode.out" | grep -q '^700 root' || fail "image dir not 0700 root"
# The images hold the processes' memory: every file and directory root's
# alone, not only the top directory.
files=$(vm_ssh "cat /run/kt-files.out")
[[ $(head -n1 <<<"$files") -gt 5 && $(wc -l <<<"$files") == 1 ]] ||
	fail "images open to group or others (count, then mode and path): $(tr '\n' ' ' <<<"$files")"
vm_scp_from /run/kt-manifest.json "$KUP_LOG_DIR/manifest.json" || fail "no manifest JSON"
python3 - "$KUP_LOG_DIR/manifest.json" "$scope" <<'PY' || fail "manifest content"
import json, sys
m = json.load(open(sys.argv[1]))
units = {u["name"]: u for u in m["units"]}
assert m["format_version"] == 2 and m["lock_method"] == "nftables", m
assert set(units) == {sys.argv[2], "kup-counter.service"}, units.keys()
s, c = units[sys.argv[2]], units["kup-counter.service"]
assert s["kind"] == "session" and c["kind"] == "service", (s["kind"], c["kind"])
assert any(x["sport"] == 22 for x in s["connections"]), s["connections"]
assert any(x["sport"] == 7777 for x in c["connections"]), c["connections"]
assert s["externals"] and s["externals"][0]["path"].endswith(".ref"), s["externals"]
for u in (s, c):
    t = u["timings_usec"]
    print("MEASURE %s_dump_s=%.2f frozen_s=%.2f image_mib=%.1f" % (u["name"], t["dump"] / 1e6,
          t.get("criu-frozen", 0) / 1e6, u["image_bytes"] / 1048576))
PY

wait_tick $((frozen_at + 15)) 180 || fail "the session counter did not resume"
# The longest silence between two ticks, seen by the host: the session's downtime.
measure session_gap_s "$(tr -d '\r' <"$log" | awk '$(NF-1) == "tick" { if (p && $1 - p > m) m = $1 - p; p = $1 } END { printf "%.1f", m }')"
gaps=$(tick_gaps)
[[ -z $gaps ]] || fail "counter numbers lost: $gaps"
vm_session_alive ctr || fail "the ssh client died"
[[ $(vm_session_port ctr) == "$port_before" ]] || fail "the ssh connection changed"
[[ $(ss -Htn state established "( sport = :$port_before )" | wc -l) -eq 1 ]] ||
	fail "client port $port_before has no established connection"

n_before=$(vm_ssh "tail -n1 /var/log/kup-client.log" | awk '{ print $2 }')
res=$(vm_ssh "counter-check.sh $((n_before + 10)) 90") || fail "service client: $res"
info "service client after restore: $res"
vm_ssh "tree-state.sh $svc_pid" || fail "service process not running"
# Restored through its own unit: systemd tracks it again.
[[ $(vm_ssh "systemctl show -P MainPID kup-counter.service; systemctl is-active kup-counter.service" | xargs) == "$svc_pid active" ]] ||
	fail "kup-counter.service is not active with main PID $svc_pid: $(vm_ssh 'systemctl show -p MainPID -p ActiveState kup-counter.service' | xargs)"
vm_ssh "nft list tables" | grep -Eq 'kupgrade|CRIU' && fail "a lock table is left: $(vm_ssh nft list tables)"
vm_ssh "test ! -e $IMG" || fail "images left in $IMG"
info "ssh session $scope and kup-counter.service checkpointed and restored on one kernel"

# A unit whose processes come and go while it is checkpointed.
# kup-churn.service keeps a counter in its shell and, ten times a second,
# starts a short-lived daemonized process: its parent is PID 1, so each is a
# root of its own tree in the plan, gone a moment later. The roots the plan
# listed have exited by the scan or the dump: the checkpoint leaves them out
# and says so (it used to roll everything back with "cannot read process
# tree of PID N"), takes the roots started since, dumps the shell, and the
# restore brings the shell back with its counter, in its unit.
vm_ssh "cat >/etc/systemd/system/kup-churn.service <<'EOF'
[Unit]
Description=kupgrade test: a shell that keeps starting short-lived daemons

[Service]
ExecStart=/bin/bash -c 'i=0; while :; do i=\$((i+1)); echo \$i >/run/kup-churn.count; (sleep 0.3 &); sleep 0.1; done'
EOF
systemctl daemon-reload && systemctl start kup-churn.service" || fail "cannot start kup-churn.service"
sleep 3
main_pid=$(vm_ssh systemctl show -P MainPID kup-churn.service)
roots=$(vm_ssh "kupgrade plan --json" | python3 -c '
import json, sys
p = json.load(sys.stdin)
u = [u for u in p["units"] if u["name"] == "kup-churn.service"][0]
print(u["decision"], len(u["roots"]))') || fail "no plan for kup-churn.service"
info "kup-churn.service: main PID $main_pid, plan: $roots"
[[ $roots == checkpoint\ * && ${roots#* } -ge 2 ]] ||
	fail "the plan does not list kup-churn.service for checkpoint with its short-lived roots: $roots"

rc=0
vm_ssh "set -e
	cat /run/kup-churn.count >/run/kt-count-before
	kupgrade checkpoint --unit kup-churn.service --to $IMG >/run/kt-checkpoint.out 2>&1
	kupgrade inspect $IMG >/run/kt-manifest.txt
	cat /run/kup-churn.count >/run/kt-count-frozen
	kupgrade restore --from $IMG >/run/kt-restore.out 2>&1" || rc=$?
vm_ssh "cat /run/kt-checkpoint.out /run/kt-manifest.txt /run/kt-restore.out" 2>&1 | sed 's/^/    /'
((rc == 0)) || fail "checkpoint, inspect or restore failed (exit $rc)"

out=$(vm_ssh cat /run/kt-checkpoint.out)
grep -qE 'PID [0-9]+ exited since the plan|tree of PID [0-9]+ exited before its dump' <<<"$out" ||
	fail "no root vanished between plan and dump: the race this scenario is for was not met"
n_gone=$(grep -cE 'exited since the plan|exited before its dump' <<<"$out")
n_new=$(grep -c 'was not in the plan' <<<"$out" || true)
measure roots_gone "$n_gone"
measure roots_new "$n_new"

# The shell is back in its unit, with its own PID and its counter.
sleep 2
read -r before frozen after < <(vm_ssh 'echo $(cat /run/kt-count-before /run/kt-count-frozen /run/kup-churn.count)')
info "counter: $before before the checkpoint, $frozen while dumped, $after after the restore"
((after > frozen && frozen >= before)) || fail "the counter did not go on from $frozen (now $after)"
state=$(vm_ssh "systemctl show -P MainPID kup-churn.service; systemctl is-active kup-churn.service" | xargs)
[[ $state == "$main_pid active" ]] || fail "kup-churn.service is not active with main PID $main_pid: $state"
vm_ssh "test ! -e $IMG" || fail "images left in $IMG"
vm_ssh "ls /run/systemd/system/kup-churn.service.d 2>/dev/null" | grep -q . &&
	fail "a kupgrade drop-in is left: $(vm_ssh ls /run/systemd/system/kup-churn.service.d)"
vm_ssh "systemctl stop kup-churn.service" || true
pass "ssh session $scope and kup-counter.service checkpointed and restored on one kernel; kup-churn.service too while its short-lived roots came and went ($n_gone gone, $n_new new)"
