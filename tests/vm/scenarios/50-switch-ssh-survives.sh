#!/bin/bash
# kup-timeout: 2400
# Issue 4: an ssh session printing a counter runs "kupgrade --kernel" for the
# other kernel; the same connection, shell and counter survive, and the same
# shell then prints the new "uname -r". Then back again to the first kernel.
. "$(dirname "$0")/../lib.sh"

vm_boot "$KV_OLD"
vm_wait_ssh 900 || fail "no ssh after the cold boot"

vm_session_open op
port0=$(vm_session_port op)
log=$(vm_session_log op)
# A counter in the operator's shell, every 0.5 s, numbered.
vm_session_send op 'n=0; while :; do n=$((n+1)); echo "tick $n"; sleep 0.5; done &\n'
vm_session_expect op 'tick 3$' 60 || fail "the counter did not start"

# One switch, typed into that very shell: $1 the kernel to go to.
switch() {
	local to=$1 tag=$2 boot0 t0
	boot0=$(vm_boot_id)
	t0=$(kup_now)
	vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$to --yes; echo \"RC_$tag=\$?\"\n"
	# Typed while the machine is paused: must arrive exactly once.
	sleep 20
	vm_session_send op "echo TYPED_$tag\$((6*7))\n"
	vm_session_expect op "RC_$tag=[0-9]" 1500 || fail "kupgrade never returned in the session ($tag)"
	grep -q "RC_$tag=0" "$log" || fail "kupgrade exited non-zero ($tag): $(grep -a "RC_$tag=" "$log" | tail -1)"
	vm_wait_ssh 600 "$boot0" || fail "no ssh after the switch ($tag)"
	measure "switch_${tag}_total_s" "$(kup_since "$t0")"
	vm_session_send op 'echo "UNAME=$(uname -r)"\n'
	vm_session_expect op "UNAME=$to" 120 || fail "the same shell does not print the new uname -r ($tag)"
	vm_session_expect op "TYPED_${tag}42" 60 || fail "keystrokes typed during the pause were lost ($tag)"
	[[ $(grep -ac "TYPED_${tag}42" "$log") == 1 ]] || fail "keystrokes typed during the pause arrived more than once ($tag)"
	vm_session_alive op || fail "the ssh client died ($tag)"
	[[ $(vm_session_port op) == "$port0" ]] || fail "the session's client port changed ($tag)"
	# The RAM path: no image on the disk, nothing left in /run/kupgrade.
	vm_ssh 'test ! -e /var/lib/kupgrade/images' || fail "images were written to disk ($tag)"
	vm_ssh 'test -z "$(ls -A /run/kupgrade 2>/dev/null)"' || fail "/run/kupgrade is not empty after restore ($tag)"
	vm_ssh 'kupgrade status' >"$KUP_LOG_DIR/status-$tag.txt" 2>&1 || fail "kupgrade status failed ($tag)"
	info "report ($tag):"; cat "$KUP_LOG_DIR/status-$tag.txt" >&2
}

# Counter: every number once, in order; the largest gap is the pause the
# operator saw.
check_counter() {
	awk '/ tick [0-9]+\r?$/ { sub(/\r$/, ""); n = $NF; t = $1;
		if (last && n != last + 1) { printf "counter jumped from %d to %d\n", last, n; bad = 1 }
		if (last && t - lt > gap) gap = t - lt; last = n; lt = t }
		END { printf "GAP %.1f LAST %d\n", gap, last; exit bad }' "$log"
}

switch "$KV_NEW" new
switch "$KV_OLD" back
sleep 2
out=$(check_counter) || fail "the counter lost or repeated numbers: $out"
info "$out"
measure pause_seen_by_client_s "$(awk '/^GAP/ {print $2}' <<<"$out")"
[[ -f $KUP_CACHE/bench.txt ]] && info "bench (bare kexec): $(cat "$KUP_CACHE/bench.txt" | tr '\n' ' ')"
pass "ssh session, shell and counter survived two switches ($KV_OLD -> $KV_NEW -> $KV_OLD), same client port $port0"
