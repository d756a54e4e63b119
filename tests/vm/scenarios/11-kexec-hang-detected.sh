#!/bin/bash
# kup-cost: 142
# kup-timeout: 1200
#
# Self-test of the bench: a guest that never comes back after a kexec must
# make a scenario FAIL within its limit, with the serial log tail printed.
# Runs the baseline with KUP_FAULT=kexec-no-root (the new kernel is told to
# mount a root device that does not exist) and a 90 s limit, and passes only
# if the baseline failed for that reason, in time, showing the serial tail.
. "$(dirname "$0")/../lib.sh"

limit=90
out=$KUP_LOG_DIR/inner.log
info "running the baseline with a kernel that cannot find its root (limit ${limit} s)"
t=$(kup_now)
set +e
KUP_FAULT=kexec-no-root KUP_KEXEC_WAIT=$limit KUP_LOG_DIR=$KUP_LOG_DIR/inner \
	KUP_SCENARIO=inner-baseline timeout -k 10 1000 \
	"$(dirname "$0")/10-baseline-kexec.sh" >"$out" 2>&1
rc=$?
set -e
took=$(kup_since "$t")
sed 's/^/    inner: /' "$out" | tail -n 30

((rc != 0)) || fail "the baseline passed although the new kernel has no root device"
((rc != 124 && rc != 137)) || fail "the baseline did not end by itself: killed by the outer limit after ${took} s"
grep -q 'FAIL: the guest did not come back within' "$out" ||
	fail "the baseline failed, but not because the guest did not come back (exit $rc)"
grep -q -- '----- serial log tail' "$out" || fail "no serial log tail printed on failure"
# The tail must be the guest's console output, not an empty log.
tail_text=$(sed -n '/----- serial log tail/,/----- end of serial log tail/p' "$out")
grep -qE '\| \[ *[0-9]+\.[0-9]+\] ' <<<"$tail_text" ||
	fail "the serial log tail shows no kernel output"
if grep -qE 'kupgrade-missing-root|Gave up waiting for root|ALERT!' <<<"$tail_text"; then
	info "the serial tail shows the new kernel missing its root device"
else
	info "the limit struck before the new kernel reached its root device (slow host)"
fi
waited=$(sed -n 's/.*within [0-9]* s (waited \([0-9.]*\) s).*/\1/p; s/.*qemu exited while waiting for ssh (after \([0-9.]*\) s).*/\1/p' "$out" | head -n1 || true)
[[ -n $waited ]] || fail "cannot read how long the baseline waited"
awk -v w="$waited" -v l="$limit" 'BEGIN { exit !(w <= l + 20) }' ||
	fail "waited ${waited} s for a hung guest, more than the ${limit} s limit"
measure hang_detected_after_s "$waited"
# The journal of the boot before the kexec, read from the stopped disk.
j=$(ls "$KUP_LOG_DIR"/inner/journal-*-fail.txt 2>/dev/null | head -n1)
[[ -n $j ]] && grep -q 'Reached target' "$j" ||
	fail "no guest journal collected after the failure (${j:-no file})"
info "guest journal collected: $j ($(wc -l <"$j") lines)"
pass "a guest that never returns fails the scenario after ${waited} s (limit ${limit} s), serial tail shown"
