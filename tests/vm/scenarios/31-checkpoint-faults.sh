#!/bin/bash
# kup-cost: 431
# kup-timeout: 1800
# A checkpoint is all or nothing: wherever it fails, the operator goes on
# working on the same kernel, so it must leave the system as it found it.
# With KUPGRADE_FAULT at each checkpoint
# phase in turn, then with a real failure (a tmpfs too small for the images)
# and a SIGTERM to kupgrade mid-run: every process runs afterwards with its
# PID, nothing is stopped or frozen, no lock table (kupgrade's or CRIU's) is
# left, no image is left, the exit code is 70 and the message names the phase.
# Between runs the session counter and the service client must keep going.
. "$(dirname "$0")/../lib.sh"

W=$KUP_REPO/tests/vm/workloads
IMG=/run/kupgrade-test

vm_boot
vm_wait_ssh 400 || fail "no ssh"
vm_scp_to "$W"/counter-server.py "$W"/counter-client.py "$W"/counter-setup.sh \
	"$W"/counter-check.sh "$W"/tree-state.sh /usr/local/bin/ || fail "copying the workloads"
vm_ssh /usr/local/bin/counter-setup.sh 7777 || fail "workload setup"

vm_session_open ctr 'echo SCOPE=$(cut -d: -f3 /proc/self/cgroup); echo PIDS $PPID $$; i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done'
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
read -r sshd_pid bash_pid < <(stream | grep -o 'PIDS [0-9]* [0-9]*' | head -n1 | cut -d' ' -f2-)
svc_pid=$(vm_ssh systemctl show -P MainPID kup-counter.service)
pids="$sshd_pid $bash_pid $svc_pid"
port_before=$(vm_session_port ctr)
info "session $scope (sshd $sshd_pid, bash $bash_pid), service PID $svc_pid"

# The units holding the two trees now: a session goes back into its scope on
# a rollback, a service into its own unit (taken afresh before each run all
# the same).
unit_of() { # PID; retried: under a loaded TCG host sshd can miss the banner timeout
	local u i
	for i in 1 2 3; do
		u=$(vm_ssh "cut -d: -f3 /proc/$1/cgroup" | sed 's,.*/,,') && [[ -n $u ]] && break
		sleep 5
	done
	echo "$u"
}
find_units() {
	u1=$(unit_of "$sshd_pid") u2=$(unit_of "$svc_pid")
	[[ -n $u1 && -n $u2 ]] || fail "cannot find the units of PIDs $sshd_pid and $svc_pid"
	units="--unit $u1 --unit $u2"
}


# everything_as_before WHAT: the invariants after a failed checkpoint.
everything_as_before() {
	local what=$1 st t n
	st=$(vm_ssh "tree-state.sh $pids") || fail "$what: a process is gone, stopped or frozen: $st"
	[[ $(unit_of "$sshd_pid") == "$scope" ]] || fail "$what: the session is not back in $scope: $st"
	[[ $(vm_ssh "systemctl show -P MainPID kup-counter.service; systemctl is-active kup-counter.service" | xargs) == "$svc_pid active" ]] ||
		fail "$what: kup-counter.service is not active with main PID $svc_pid: $(vm_ssh 'systemctl show -p MainPID -p ActiveState kup-counter.service' | xargs)"
	vm_ssh '! ls /run/systemd/system/*.d/50-kupgrade-* 2>/dev/null' || fail "$what: kupgrade's drop-ins are left"
	vm_ssh "nft list tables" | grep -Eq 'kupgrade|CRIU' &&
		fail "$what: a lock table is left: $(vm_ssh nft list tables | xargs)"
	vm_ssh "test ! -e $IMG" || fail "$what: images left in $IMG"
	t=$(last_tick)
	wait_tick $((t + 3)) 120 || fail "$what: the session counter stopped"
	[[ -z $(tick_gaps) ]] || fail "$what: session counter numbers lost: $(tick_gaps | xargs)"
	n=$(vm_ssh "tail -n1 /var/log/kup-client.log" | awk '{ print $2 }')
	vm_ssh "counter-check.sh $((n + 3)) 120" >/dev/null || fail "$what: the service client stopped"
	vm_session_alive ctr && [[ $(vm_session_port ctr) == "$port_before" ]] ||
		fail "$what: the ssh connection was lost"
}

# expect_rollback WHAT PHASE RC OUT
expect_rollback() {
	[[ $3 == 70 ]] || fail "$1: exit code $3, want 70; output: $4"
	grep -q "Checkpoint failed in phase '$2'" <<<"$4" || fail "$1: message does not name phase $2: $4"
	everything_as_before "$1"
	info "$1: rolled back, exit 70, phase $2 named"
}

n_phases=0
for ph in plan scan criu-check prepare-images quiesce-services lock-network dump:1 dump:2 write-manifest; do
	find_units
	case $ph in
	dump:1) ph=dump:$u1 ;;
	dump:2) ph=dump:$u2 ;;
	esac
	rc=0
	out=$(vm_ssh "KUPGRADE_FAULT=$ph kupgrade checkpoint $units --to $IMG" 2>&1) || rc=$?
	grep -q "fault injected by KUPGRADE_FAULT=$ph" <<<"$out" || fail "fault $ph: no injection message: $out"
	expect_rollback "KUPGRADE_FAULT=$ph" "$ph" "$rc" "$out"
	n_phases=$((n_phases + 1))
done
measure fault_phases_passed "$n_phases"

# A real failure half-way: a tmpfs that holds the session's images, not the
# service's (the session is dumped first, so it must be restored in place).
vm_ssh "mkdir -p /run/kup-small && mount -t tmpfs -o size=4m,mode=0700 kup-small /run/kup-small" ||
	fail "mounting a small tmpfs"
find_units
rc=0
out=$(vm_ssh "kupgrade checkpoint $units --to /run/kup-small/img" 2>&1) || rc=$?
echo "$out"
IMG=/run/kup-small/img expect_rollback "full tmpfs" "[^']*" "$rc" "$out"
vm_ssh "umount /run/kup-small"

# A signal to kupgrade while CRIU dumps the first unit: held until that dump
# returns, then the run stops and the dumped session is restored in place.
find_units
rc=0
out=$(vm_ssh "kupgrade checkpoint $units --to $IMG & k=\$!
	for i in \$(seq 1200); do [ -d $IMG/$u1 ] && break; sleep 0.05; done
	kill -TERM \$k; wait \$k" 2>&1) || rc=$?
echo "$out"
grep -q "Interrupted by SIGTERM" <<<"$out" || fail "SIGTERM: no interruption message: $out"
expect_rollback "SIGTERM" "[^']*" "$rc" "$out"

pass "every checkpoint phase and a full tmpfs and SIGTERM roll back completely"
