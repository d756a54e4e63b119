#!/bin/bash
# kup-cost: 700
# kup-timeout: 3000
# The upgrade worker killed (kill -9) or stopped (systemctl stop) at every
# phase before the point of no return: afterwards the old kernel runs on,
# every process that ran before runs (the operator's shell with its counter,
# its memory intact), nothing is frozen, no kernel is loaded, no lock table,
# no image, no staged initrd, no quiesce drop-in is left, and the next switch
# is not refused. The worker holds before the phase (KUPGRADE_PAUSE, a test
# hook); a watcher the plan leaves alone (kupgrade.conf: leave) kills it
# there, as sshd itself may be dumped by then. sshd is left alone here
# (kupgrade.conf: leave): dumped and restored in place at every phase, the
# 13th dump of its listener failed ("Can't create memfd in victim: Too many
# open files"), which is not what this scenario is about; a service of its
# own, a counter, is checkpointed and recovered instead.
# Last, the ssh session that typed kupgrade hangs up mid-switch (SIGHUP to
# its shell and to kupgrade, as when its connection drops): the switch
# happens all the same, and 'kupgrade status' reports it.
. "$(dirname "$0")/../lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

# The watcher: when the worker says it holds, do what /run/kup-kill-mode says.
vm_ssh '
	printf "[plan]\nleave = kup-killer.service ssh.service\ncheckpoint = kup54-counter.service\n" >/etc/kupgrade-test54.conf
	cat >/etc/systemd/system/kup54-counter.service <<"EOF"
[Service]
ExecStart=/bin/bash -c "n=0; while :; do n=$$((n+1)); echo $$n >/run/kup54-counter.new; mv /run/kup54-counter.new /run/kup54-counter; sleep 0.5; done"
EOF
	systemctl daemon-reload
	systemctl start kup54-counter.service
	cat >/usr/local/sbin/kup-killer <<"EOF"
#!/bin/sh
while :; do
	if [ -e /run/kupgrade-test-paused ] && [ -e /run/kup-kill-mode ]; then
		mode=$(cat /run/kup-kill-mode); rm -f /run/kup-kill-mode
		read -r phase pid </run/kupgrade-test-paused
		# A worker killed while it held leaves the file: not read twice.
		rm -f /run/kupgrade-test-paused
		echo "$mode $phase pid=$pid" >>/run/kup-killer.log
		case $mode in
		kill) kill -9 "$pid" ;;
		stop) systemctl stop kupgrade-upgrade.service ;;
		esac
		echo "done $mode $phase" >>/run/kup-killer.log
	fi
	# "hup": once the client has gone quiet (the worker is past its
	# quiet-client phase, planning and dumping), what a dropped ssh
	# connection does to the session that typed kupgrade: the tty hangs
	# up, SIGHUP to its shell (the session leader) and to the foreground
	# job. The worker is left to go on.
	if [ "$(cat /run/kup-kill-mode 2>/dev/null)" = hup ] && ls /run/kupgrade-upgrade/*.quiet >/dev/null 2>&1; then
		rm -f /run/kup-kill-mode
		for c in $(pgrep -x kupgrade); do
			tr "\0" "\n" </proc/$c/environ 2>/dev/null | grep -qx KUP54_HUP=1 || continue
			echo "client $c" >>/run/kup-killer.log
			sid=$(ps -o sid= -p "$c" | tr -d " ")
			pg=$(ps -o pgid= -p "$c" | tr -d " ")
			env kill -HUP "$sid"
			env kill -HUP -- "-$pg"
		done
		echo "done hup" >>/run/kup-killer.log
	fi
	sleep 0.2
done
EOF
	chmod 755 /usr/local/sbin/kup-killer
	systemd-run --unit kup-killer.service /usr/local/sbin/kup-killer
' || fail "cannot start the watcher"

vm_session_open op
log=$(vm_session_log op)
vm_session_send op 'n=0; while :; do n=$((n+1)); echo "tick $n"; sleep 0.5; done &\n'
vm_session_expect op 'tick 3$' 60 || fail "the counter did not start"

# After each kill, in one login: nothing left (vm_nothing_left), the
# services run and none failed, the watcher acted at the phase, the kernel
# is the old one; then the watcher is armed for the next kill (MODE).
check_and_arm() { # PHASE MODE NEXT_MODE
	vm_ssh "set -e
		$VM_NOTHING_LEFT_SH
		systemctl is-active -q ssh.service || { echo 'ssh.service is not active'; exit 1; }
		systemctl is-active -q kup54-counter.service || { echo 'kup54-counter.service is not active'; exit 1; }
		c=\$(cat /run/kup54-counter)
		[ \"\$c\" -gt \"\$(cat /run/kup54-last 2>/dev/null || echo 0)\" ] || { echo \"the service counter went back to \$c\"; exit 1; }
		echo \"\$c\" >/run/kup54-last
		failed=\$(systemctl list-units --failed --plain --no-legend | grep -v kupgrade-upgrade || true)
		[ -z \"\$failed\" ] || { echo \"failed units: \$failed\"; exit 1; }
		grep -q '^$2 $1\\(:[^ ]*\\)\\? pid=[0-9]' /run/kup-killer.log || { echo 'the watcher never acted (the worker did not hold before $1)'; exit 1; }
		[ \"\$(uname -r)\" = $KV_OLD ] || { echo 'the kernel changed'; exit 1; }
		st=\$(kupgrade status)
		printf '%s\\n' \"\$st\" | grep -q '^The last switch did not happen (rolled-back):' &&
			printf '%s\\n' \"\$st\" | grep -q \"^  message: .* phase '$1[':]\" ||
			{ echo \"kupgrade status does not report this attempt: \$st\"; exit 1; }
		rm -f /run/kupgrade-test-paused
		[ -z '$3' ] || echo '$3' >/run/kup-kill-mode"
}

phases=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_NEW --dry-run 2>&1 >/dev/null" |
	sed -n '/^Would switch to Linux/,/^$/s/^ *[0-9]*\. \([^ :]*\).*/\1/p')
[[ $phases == check*kexec ]] || fail "kupgrade --dry-run listed no phases: $phases"
info "phases: $(echo $phases)"
n=0
t0=$EPOCHREALTIME
vm_ssh "rm -f /run/kupgrade-test-paused; echo kill >/run/kup-kill-mode" || fail "cannot arm the watcher"
# (KUP_FROM_PHASE=NAME, by hand: start the loop at that phase.)
runs=()
for f in $phases; do
	[[ -n ${KUP_FROM_PHASE:-} && $f != "$KUP_FROM_PHASE" ]] && continue
	KUP_FROM_PHASE=
	runs+=("$f kill" "$f stop")
done
for ((i = 0; i < ${#runs[@]}; i++)); do
	read -r f mode <<<"${runs[i]}"
	next=$(cut -d' ' -f2 <<<"${runs[i + 1]:-}")
	tag="${f}_$mode"
	before=$(grep -ac ' tick ' "$log")
	last=$(grep -a ' tick ' "$log" | tail -1 | sed 's/.*tick //')
	from=$(($(wc -l <"$log") + 1))
	vm_session_send op "KUPGRADE_PAUSE=$f KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --config /etc/kupgrade-test54.conf --kernel /boot/vmlinuz-$KV_NEW --yes; echo \"RC_$tag=\$?\"\n"
	vm_session_expect op "RC_$tag=[0-9]" 900 || fail "$tag: kupgrade never returned"
	rc=$(grep -a "RC_$tag=[0-9]" "$log" | tail -1 | sed 's/.*RC_[a-z_-]*=//')
	[[ $rc != 0 ]] || fail "$tag: kupgrade exited 0"
	said=$(tail -n "+$from" "$log" | grep -a 'kupgrade: ')
	case $mode in
	kill) grep -q "killed by SIGKILL in phase '$f[':].*recovered, still on Linux $(kup_re_quote "$KV_OLD")" <<<"$said" ||
		fail "$tag: the result does not say the worker was killed in '$f' and all recovered: $said" ;;
	stop) grep -q "Upgrade failed in phase '$f[':].*rolled back" <<<"$said" ||
		fail "$tag: the result does not say the switch was rolled back in '$f': $said" ;;
	esac
	out=$(check_and_arm "$f" "$mode" "$next") || fail "$tag left state behind: $out"
	(($(grep -ac ' tick ' "$log") > before)) || fail "$tag: the counter stopped"
	now=$(grep -a ' tick ' "$log" | tail -1 | sed 's/.*tick //')
	((now > last)) || fail "$tag: the counter went back ($last -> $now): the shell lost its memory"
	n=$((n + 1))
	info "$tag: exit $rc, recovered cleanly (counter $last -> $now)"
done
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
measure worker_kills_survived "$n"
measure worker_kills_seconds "$secs"
info "$n kills and stops of the worker recovered, in $secs s"

# The ssh session that typed kupgrade hangs up once the worker is past its
# quiet-client phase (its connection dropped: SIGHUP to the shell and to
# kupgrade): the switch goes on all the same. The operator's other session comes back on
# the new kernel with its counter, the service with its own, and
# 'kupgrade status' reports the switch the hung-up client started.
vm_session_open hup
hlog=$(vm_session_log hup)
vm_ssh "rm -f /run/kupgrade-test-paused /run/kupgrade-upgrade/*.quiet; echo hup >/run/kup-kill-mode" ||
	fail "cannot arm the watcher for the hangup"
last=$(grep -a ' tick ' "$log" | tail -1 | sed 's/.*tick //')
svc_last=$(vm_ssh cat /run/kup54-counter)
boot0=$(vm_boot_id)
vm_session_send hup "KUP54_HUP=1 KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --config /etc/kupgrade-test54.conf --kernel /boot/vmlinuz-$KV_NEW --yes; echo RC_hup=\$?\n"
vm_wait_ssh 900 "$boot0" || fail "hup: no new boot after the client hung up: $(tail -n 8 "$hlog" | tr -d '\r' | tr '\n' '|')"
id=$(grep -ao 'Switching to Linux [^ ]* (upgrade [0-9a-f]*' "$hlog" | sed 's/.*upgrade //')
[[ -n $id ]] || fail "hup: the client never said it started a switch: $(tail -n 8 "$hlog" | tr -d '\r' | tr '\n' '|')"
vm_session_send op 'echo "UNAME=$(uname -r)"\n'
vm_session_expect op "UNAME=$(kup_re_quote "$KV_NEW")" 120 || fail "hup: the operator's shell does not print the new uname -r"
now=$(grep -a ' tick ' "$log" | tail -1 | sed 's/.*tick //')
((now > last)) || fail "hup: the operator's counter went back ($last -> $now)"
out=$(vm_ssh "set -e
	c=\$(cat /run/kup54-counter)
	[ \"\$c\" -gt $svc_last ] || { echo \"the service counter went back: $svc_last -> \$c\"; exit 1; }
	failed=\$(systemctl list-units --failed --plain --no-legend)
	[ -z \"\$failed\" ] || { echo \"failed units: \$failed\"; exit 1; }
	kupgrade status --json | grep -q '\"upgrade_id\": *\"$id\"' || { echo \"the report is not the switch $id's: \$(kupgrade status 2>&1 | head -n 5)\"; exit 1; }
	kupgrade status | grep -q '^  kernel: .* -> $KV_NEW\$' || { echo 'the report does not name the new kernel'; exit 1; }") ||
	fail "hup: $out"
# Not hung up, the client would have been checkpointed with its session and
# would print its exit status in it now.
vm_session_alive hup && fail "hup: the session that was hung up still runs: $(tail -n 5 "$hlog" | tr -d '\r' | tr '\n' '|')"
! grep -aq 'RC_hup=[0-9]' "$hlog" || fail "hup: the hung-up shell ran on: $(grep -a 'RC_hup=[0-9]' "$hlog")"
pass "$n kills and stops of the worker (kill -9 and systemctl stop at each of $(wc -w <<<"$phases") phases) recovered, in $secs s; a client hung up mid-switch changed nothing (switched to $KV_NEW, operator's counter $last -> $now)"
