#!/bin/bash
# kup-cost: 130
# kup-timeout: 1800
# A PID clash on the new boot: whatever starts before the restore may take
# the PID of a checkpointed tree, which seldom happens by chance, so this
# scenario makes it happen. A test-only unit, ordered before
# kupgrade-restore.service, reads the manifest the initramfs carried into
# /run/kupgrade and occupies the root PID of the operator's session tree
# with a sleeper (ns_last_pid = PID-1, then fork). The restore must find the
# PID taken and bring the tree back in a new PID namespace: the same ssh
# connection, shell and counter survive, the shell prints the new uname -r,
# the report says restored-new-pidns with a reason, and the sleeper held
# the PID all along.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../switch-lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

# The squatter: runs only on a boot with a manifest in /run/kupgrade (the
# boot after a switch), before the restore. Its record goes to /run/kup-squatter.
vm_ssh 'cat >/usr/local/sbin/kup-pid-squatter' <<'EOF' || fail "cannot install the squatter"
#!/bin/bash
set -u
rec=/run/kup-squatter
# The root PID of the one session unit with a TCP connection (the operator's).
want=$(kupgrade inspect --json /run/kupgrade | python3 -c '
import json, sys
units = [u for u in json.load(sys.stdin)["units"] if u["kind"] == "session" and u["connections"]]
print(units[0]["root_pids"][0] if len(units) == 1 else "")')
[[ $want =~ ^[0-9]+$ ]] || { echo "no single session tree in the manifest" >"$rec.failed"; exit 1; }
[[ -e /proc/$want ]] && { echo "PID $want already taken by $(cat /proc/$want/comm)" >"$rec.failed"; exit 1; }
last=$(cat /proc/sys/kernel/ns_last_pid)
got=
for try in $(seq 1 50); do
	# echo is a builtin: the next fork of the system is the sleeper's,
	# unless early boot forks in between; then try again.
	echo $((want - 1)) >/proc/sys/kernel/ns_last_pid
	sleep infinity &
	got=$!
	[[ $got == "$want" ]] && break
	kill "$got"
	got=
done
# Give the rest of the boot back the PIDs above the checkpointed ones.
now=$(cat /proc/sys/kernel/ns_last_pid)
((now < last)) && echo "$last" >/proc/sys/kernel/ns_last_pid
[[ -n $got ]] || { echo "could not get PID $want in 50 tries" >"$rec.failed"; exit 1; }
echo "$got" >"$rec.pid"
echo "want=$want got=$got comm=$(cat /proc/$got/comm) tries=$try ns_last_pid_before=$last" >"$rec.log"
EOF
vm_ssh 'chmod 0755 /usr/local/sbin/kup-pid-squatter && cat >/etc/systemd/system/kup-pid-squatter.service' <<'EOF' || fail "cannot install the squatter unit"
# Test only (scenario 52): takes the root PID of the session tree before
# kupgrade restores it.
[Unit]
Description=kupgrade test: occupy the PID of a checkpointed tree
DefaultDependencies=no
ConditionPathExists=/run/kupgrade/manifest
After=local-fs.target kupgrade-netlock.service
Before=kupgrade-restore.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=forking
ExecStart=/usr/local/sbin/kup-pid-squatter
PIDFile=/run/kup-squatter.pid

[Install]
WantedBy=multi-user.target
EOF
vm_ssh 'systemctl daemon-reload && systemctl enable kup-pid-squatter.service' >/dev/null 2>&1 ||
	fail "cannot enable the squatter"
vm_ssh 'systemctl is-active kup-pid-squatter.service' >/dev/null && fail "the squatter runs on a boot without a switch"

switch_counter_start
switch "$KV_NEW" new

# The sleeper held the PID, in this boot's (the host's) PID namespace.
vm_ssh 'cat /run/kup-squatter.failed' 2>/dev/null && fail "the squatter failed: $(vm_ssh 'cat /run/kup-squatter.failed')"
sq=$(vm_ssh 'cat /run/kup-squatter.log') || fail "the squatter left no record"
info "squatter: $sq"
want=$(sed -n 's/.*want=\([0-9]*\).*/\1/p' <<<"$sq")
roots=$(unit_field new root_pids)
[[ -n $want && $want == "$roots" ]] || fail "the squatter took PID '$want', the session tree's root is '$roots'"
[[ $(vm_ssh "cat /proc/$want/comm") == sleep ]] || fail "PID $want is not the sleeper any more"
[[ $(vm_ssh 'systemctl show -P MainPID kup-pid-squatter.service') == "$want" ]] ||
	fail "the squatter unit's main PID is not $want"

# The report: the session unit came back in a new PID namespace, and why.
outcome=$(unit_field new outcome)
reason=$(unit_field new outcome_reason)
[[ $outcome == restored-new-pidns ]] || fail "the session unit's outcome is '$outcome', not restored-new-pidns"
[[ -n $reason ]] || fail "restored-new-pidns without a reason"
info "outcome: $outcome: $reason"
grep -qF "reason:     $reason" "$KUP_LOG_DIR/status-new.txt" || fail "kupgrade status does not show the reason"
vm_ssh 'journalctl -b -u kupgrade-restore --no-pager' >"$KUP_LOG_DIR/restore-journal.txt" 2>&1 || true
grep -q "PID $want is taken by sleep" "$KUP_LOG_DIR/restore-journal.txt" ||
	fail "the restore did not log that PID $want was taken"

# The restored shell lives in another PID namespace than the boot's, where
# PID $want is still its session's root (sshd), and it still runs commands.
hostns=$(vm_ssh 'readlink /proc/1/ns/pid')
vm_session_send op "echo \"PIDNS=\$(readlink /proc/self/ns/pid) SH=\$\$ ROOT=\$(cat /proc/$want/comm)\"\n"
vm_session_expect op 'PIDNS=pid:' 60 || fail "the restored shell does not run commands"
line=$(grep -a 'PIDNS=pid:' "$SW_LOG" | tail -n1)
info "restored shell: $line (boot: $hostns)"
[[ $line != *"PIDNS=$hostns "* ]] || fail "the restored shell is in the boot's PID namespace"
[[ $line == *" ROOT=sshd"* ]] || fail "PID $want in the restored shell's namespace is not its sshd"
# Adopted by host PIDs: the namespace's init (the restored PID the report
# gives) and the tree under it share a scope of their own, all in that
# namespace; nothing was left in kupgrade-restore.service to be killed.
# (A process that ends while listed, the counter's sleep, is skipped.)
scope=kupgrade-$(unit_field new name)
init=$(unit_field new restored_pids)
procs=$(vm_ssh "cg=\$(systemctl show -P ControlGroup $scope); [ -n \"\$cg\" ] || exit 1
	for p in \$(cat /sys/fs/cgroup\$cg/cgroup.procs); do
		ns=\$(readlink /proc/\$p/ns/pid 2>/dev/null) && c=\$(cat /proc/\$p/comm 2>/dev/null) && echo \"\$p \$ns \$c\"
	done; true") ||
	fail "no scope $scope"
info "$scope:"; echo "$procs" >&2
ns=$(sed -n 's/.*PIDNS=\(pid:\[[0-9]*\]\).*/\1/p' <<<"$line")
[[ -n $ns ]] || fail "no PID namespace in the shell's answer"
inscope() { awk -v ns="$ns" -v comm="$1" '$2 == ns && $3 ~ ("^" comm "$") { print $1 }' <<<"$procs"; }
[[ $(inscope kupgrade-pidns) == "$init" ]] || fail "the namespace's init $init is not in $scope"
# (OpenSSH 9.8 and later, Debian 13: a session's process is sshd-session.)
[[ -n $(inscope 'sshd(-session)?') ]] || fail "the session's sshd is not in $scope"
[[ -n $(inscope bash) ]] || fail "the shell is not in $scope"
awk -v ns="$ns" '$2 != ns { bad = 1 } END { exit !bad }' <<<"$procs" && fail "$scope holds processes of another PID namespace"
vm_session_send op 'echo "SUM=$((20+22))"\n'
vm_session_expect op 'SUM=42' 60 || fail "the restored shell stopped answering"

switch_counter_check
pass "PID $want taken on the new boot: the session came back in a new PID namespace ($outcome), same client port $SW_PORT0, counter unbroken, $(vm_ssh uname -r)"
