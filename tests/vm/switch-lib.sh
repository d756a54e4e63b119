# shellcheck shell=bash
# tests/vm/switch-lib.sh: the operator's side of a switch, shared by the
# switch scenarios (50-53). Source it after lib.sh, once a guest is up:
#
#   . "$(dirname "$0")/../switch-lib.sh"
#   switch_counter_start              session "op" with a counter in its shell
#   switch "$KV_NEW" new [ARGS...]    "kupgrade --kernel ... --yes ARGS" typed
#                                     into that shell; checks it came back
#   out=$(check_counter) || fail ...  every tick once and in order, "GAP s LAST n"
#   switch_counter_check              that, failing the scenario, and the pause
#                                     measured (pause_seen_by_client_s)
#
# After switch_counter_start: SW_LOG (the session's log), SW_PORT0 (its
# client port). After switch: $KUP_LOG_DIR/status-TAG.txt (kupgrade status)
# and status-TAG.json (kupgrade status --json).

# The operator's ssh session, with a counter in its shell every 0.5 s, numbered.
switch_counter_start() {
	vm_session_open op
	SW_PORT0=$(vm_session_port op)
	SW_LOG=$(vm_session_log op)
	vm_session_send op 'n=0; while :; do n=$((n+1)); echo "tick $n"; sleep 0.5; done &\n'
	vm_session_expect op 'tick 3$' 60 || fail "the counter did not start"
}

# switch TO TAG [KUPGRADE ARGS...]: one switch, typed into the operator's
# shell, and keystrokes typed while it is away (SW_TYPE_AT: init, once the
# new kernel runs its initramfs, the default; ssh, once ssh answers). With --images-on-disk the images must be gone from the disk after
# the restore; without, they must never have been there. Either way nothing
# is left in /run/kupgrade.
switch() {
	local to=$1 tag=$2 boot0 t0 on_disk=
	local args="${*:3}"
	[[ " $args " == *" --images-on-disk "* ]] && on_disk=1
	boot0=$(vm_boot_id)
	t0=$(kup_now)
	vm_session_send op "KUPGRADE_KEXEC_NO_CHECKS=1 kupgrade --kernel /boot/vmlinuz-$to --yes${args:+ $args}; echo \"RC_$tag=\$?\"\n"
	# Typed while the machine is away, once the new kernel runs its initramfs
	# (typed earlier, qemu's user-mode TCP would give up retransmitting it
	# to a guest that is not there, about 2 minutes, and reset the
	# connection): must arrive exactly once.
	local waited=0
	until vm_serial_time 'Run /init as init process' "$t0" >/dev/null; do
		((waited++ < 1800)) || fail "the new kernel never started ($tag): the session's last lines: $(tail -n 5 "$SW_LOG" | tr -d '\r' | tr '\n' '|')"
		vm_alive || fail "qemu died ($tag)"
		# kupgrade came back without a switch: say what it printed now
		# rather than wait out the limit.
		grep -aq "RC_$tag=[0-9]" "$SW_LOG" &&
			fail "kupgrade returned before the new kernel started ($tag): $(grep -a -B8 "RC_$tag=" "$SW_LOG" | tr -d '\r' | tr '\n' '|')"
		sleep 0.5
	done
	# SW_TYPE_AT=ssh: typed once the new boot's ssh answers, after the
	# restore. Under load the restore outlasts those 2 minutes of qemu's.
	if [[ ${SW_TYPE_AT:-init} == ssh ]]; then
		vm_wait_ssh 1500 "$boot0" || fail "no ssh after the switch ($tag)"
	fi
	vm_session_send op "echo TYPED_$tag\$((6*7))\n"
	vm_session_expect op "RC_$tag=[0-9]" 1500 || fail "kupgrade never returned in the session ($tag)"
	grep -q "RC_$tag=0" "$SW_LOG" || fail "kupgrade exited non-zero ($tag): $(grep -a "RC_$tag=" "$SW_LOG" | tail -1)"
	vm_wait_ssh 600 "$boot0" || fail "no ssh after the switch ($tag)"
	measure "switch_${tag}_total_s" "$(kup_since "$t0")"
	vm_session_send op 'echo "UNAME=$(uname -r)"\n'
	vm_session_expect op "UNAME=$(kup_re_quote "$to")" 120 || fail "the same shell does not print the new uname -r ($tag)"
	vm_session_expect op "TYPED_${tag}42" 60 || fail "keystrokes typed during the pause were lost ($tag)"
	[[ $(grep -ac "TYPED_${tag}42" "$SW_LOG") == 1 ]] || fail "keystrokes typed during the pause arrived more than once ($tag)"
	vm_session_alive op || fail "the ssh client died ($tag)"
	[[ $(vm_session_port op) == "$SW_PORT0" ]] || fail "the session's client port changed ($tag)"
	if [[ -n $on_disk ]]; then
		# The images are secrets: wiped from the disk once restored.
		vm_ssh 'test -z "$(ls -A /var/lib/kupgrade/images 2>/dev/null)"' ||
			fail "images are left on disk in /var/lib/kupgrade/images after restore ($tag)"
	else
		# The RAM path: no image on the disk.
		vm_ssh 'test ! -e /var/lib/kupgrade/images' || fail "images were written to disk ($tag)"
	fi
	vm_ssh 'test -z "$(ls -A /run/kupgrade 2>/dev/null)"' || fail "/run/kupgrade is not empty after restore ($tag)"
	vm_ssh 'kupgrade status' >"$KUP_LOG_DIR/status-$tag.txt" 2>&1 || fail "kupgrade status failed ($tag)"
	vm_ssh 'kupgrade status --json' >"$KUP_LOG_DIR/status-$tag.json" 2>/dev/null || fail "kupgrade status --json failed ($tag)"
	info "report ($tag):"; cat "$KUP_LOG_DIR/status-$tag.txt" >&2
	grep -q "^  kernel: .* -> $to\$" "$KUP_LOG_DIR/status-$tag.txt" || fail "the report does not name the kernel switched to ($tag)"
}

# At the end of a scenario: the counter checked, and the longest gap it saw
# measured as the pause the operator saw.
switch_counter_check() {
	local out
	sleep 2
	out=$(check_counter) || fail "the counter lost or repeated numbers: $out"
	info "$out"
	SW_PAUSE=$(awk '/^GAP/ {print $2}' <<<"$out")
	measure pause_seen_by_client_s "$SW_PAUSE"
}

# Counter: every number once, in order; the largest gap is the pause the
# operator saw. tsline flushes a partial line after 1 s without input, so a
# tick can arrive in two pieces ("t", "ick 62"; after a prompt, "...:~# t",
# "ick 71"): they are joined first.
check_counter() {
	python3 - "$SW_LOG" <<'PY'
import re, sys
rows = []
for raw in open(sys.argv[1], encoding="utf-8", errors="replace"):
    head, sep, text = raw.rstrip("\n").partition(" | ")
    if sep:
        rows.append([float(head.split()[0]), text])
joined, i = [], 0
while i < len(rows):
    t, text = rows[i]
    while i + 1 < len(rows) and (re.search(r"(?:^|[^a-z])t(i(c(k ?)?)?)?$", text) or
                                 (re.search(r"tick \d+$", text) and re.fullmatch(r"\d+", rows[i + 1][1]))):
        i += 1
        text += rows[i][1]
    joined.append((t, text))
    i += 1
# A tick may follow a prompt or an echoed command on the same line.
ticks = [(t, int(m.group(1))) for t, x in joined for m in [re.search(r"tick (\d+)$", x)] if m]
bad, gap = 0, 0.0
for (t0, a), (t1, b) in zip(ticks, ticks[1:]):
    if b != a + 1:
        print(f"counter jumped from {a} to {b}")
        bad = 1
    gap = max(gap, t1 - t0)
if len(ticks) < 2:
    print("fewer than two ticks in the log")
    bad = 1
print(f"GAP {gap:.1f} LAST {ticks[-1][1] if ticks else 0}")
sys.exit(bad)
PY
}

# unit_field TAG FIELD: FIELD of the report's (status-TAG.json) session unit
# that holds a TCP connection (the operator's session); "" if none.
unit_field() {
	python3 - "$KUP_LOG_DIR/status-$1.json" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
units = [u for u in m["units"] if u["kind"] == "session" and u["connections"]]
v = units[0].get(sys.argv[2], "") if len(units) == 1 else ""
print(v if not isinstance(v, list) else " ".join(map(str, v)))
PY
}

# The pause next to a bare kexec: this run's own (10-baseline-kexec, under the
# same host load) when it ran, else the cached bench with its date and load.
switch_compare_bare_kexec() {
	local bare
	bare=$(sed -n 's/^bare_kexec_s=//p' "$KUP_RUN_DIR/logs/10-baseline-kexec/measure.txt" 2>/dev/null | tail -n1 || true)
	if [[ -n $bare && -n ${SW_PAUSE:-} ]]; then
		info "pause seen by the client ${SW_PAUSE} s; bare kexec in this run (10-baseline-kexec) ${bare} s"
		measure pause_over_bare_kexec "$(awk -v p="$SW_PAUSE" -v b="$bare" 'BEGIN { printf "%.2f", p / b }')"
	elif [[ -f $KUP_CACHE/bench.txt ]]; then
		info "pause seen by the client ${SW_PAUSE:-?} s; bench (bare kexec, cached, another time and load): $(tr '\n' ' ' <"$KUP_CACHE/bench.txt")"
	fi
}
