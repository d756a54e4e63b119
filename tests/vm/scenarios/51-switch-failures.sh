#!/bin/bash
# kup-cost: 374
# kup-timeout: 3000
# A switch that fails must cost nothing before the point of no return, and
# only what failed after it. (1) KUPGRADE_FAULT at each phase before the
# point of no return: the old kernel keeps running, every process alive and
# unfrozen, no lock, no kernel loaded, no image left; the message names the
# phase. (2) A fault in one tree's restore after the kexec: that tree is
# reported failed, the others are restored.
. "$(dirname "$0")/../lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

vm_session_open op
log=$(vm_session_log op)
vm_session_send op 'n=0; while :; do n=$((n+1)); echo "tick $n"; sleep 0.5; done &\n'
vm_session_expect op 'tick 3$' 60 || fail "the counter did not start"

# Every phase of the phase table, as --dry-run lists them ("dump:<unit>" is
# faulted as "dump": the first unit's dump).
phases=$(vm_ssh "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_NEW --dry-run 2>&1 >/dev/null" |
	sed -n '/^Would switch to Linux/,/^$/s/^ *[0-9]*\. \([^ :]*\).*/\1/p')
[[ $phases == check*kexec ]] || fail "kupgrade --dry-run listed no phases: $phases"
info "phases: $(echo $phases)"
for f in $phases; do
	before=$(grep -ac ' tick ' "$log")
	vm_session_send op "KUPGRADE_FAULT=$f KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_NEW --yes; echo \"RC_$f=\$?\"\n"
	vm_session_expect op "RC_$f=[0-9]" 600 || fail "kupgrade never returned with KUPGRADE_FAULT=$f"
	rc=$(grep -a "RC_$f=[0-9]" "$log" | tail -1 | sed 's/.*RC_[a-z-]*=//')
	[[ $rc != 0 ]] || fail "KUPGRADE_FAULT=$f: kupgrade exited 0"
	grep -aq "phase '$f" "$log" || fail "KUPGRADE_FAULT=$f: the message does not name the phase"
	[[ $(vm_ssh uname -r) == "$KV_OLD" ]] || fail "KUPGRADE_FAULT=$f: the kernel changed"
	out=$(vm_nothing_left) || fail "KUPGRADE_FAULT=$f left state behind: $out"
	sleep 2
	(( $(grep -ac ' tick ' "$log") > before )) || fail "KUPGRADE_FAULT=$f: the counter stopped"
	info "KUPGRADE_FAULT=$f: exit $rc, rolled back cleanly"
done

# A fault in one tree's restore on the new kernel: a second session is
# sacrificed, the operator's session comes back.
vm_session_open victim
vm_session_send victim 'echo "SCOPE=$(grep -o "session-[0-9]*.scope" /proc/self/cgroup)"\n'
vm_session_expect victim 'SCOPE=session-[0-9]' 60 || fail "no scope for the second session"
scope=$(grep -ao 'SCOPE=session-[0-9]*.scope' "$(vm_session_log victim)" | tail -1 | cut -d= -f2)
boot0=$(vm_boot_id)
vm_session_send op "KUPGRADE_BOOT_FAULT=restore-tree:$scope KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$KV_NEW --yes; echo \"RC_boot=\$?\"\n"
vm_session_expect op 'RC_boot=[0-9]' 1500 || fail "kupgrade never returned in the surviving session"
vm_wait_ssh 600 "$boot0" || fail "no ssh after the switch"
grep -aq 'RC_boot=70' "$log" || fail "kupgrade should exit 70 when a unit failed: $(grep -a 'RC_boot=' "$log" | tail -1)"
vm_session_send op 'echo "UNAME=$(uname -r)"\n'
vm_session_expect op "UNAME=$(kup_re_quote "$KV_NEW")" 60 || fail "the surviving session is not on the new kernel"
st=$(vm_ssh kupgrade status --json)
echo "$st" >"$KUP_LOG_DIR/status.json"
outcomes=$(python3 -c 'import json,sys; m=json.load(sys.stdin); print(" ".join(u["name"]+"="+u["outcome"] for u in m["units"]))' <<<"$st") ||
	fail "kupgrade status --json is not JSON"
info "outcomes: $outcomes"
[[ " $outcomes " == *" $scope=failed "* ]] || fail "the report does not show $scope as failed"
[[ $outcomes == *=restored* ]] || fail "the report shows no restored unit"
pass "$(wc -w <<<"$phases") faults before the point of no return rolled back; a failed restore after the kexec was reported, the rest restored"
