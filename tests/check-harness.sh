#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The VM harness's own verdicts, checked on the host in seconds with fake
# scenarios that boot nothing: tests/vm/run.sh must print one result line for
# every scenario and exit 1 when one failed, whatever way it failed. (A
# failed scenario whose consoles held no TCG crash once made run.sh itself
# die under set -e: the suite saw "no result line" and no reason.)
#
# Usage: tests/check-harness.sh   (as root, like run.sh)

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "check-harness: skipped, run.sh needs root"; exit 0; }

T=$(mktemp -d /tmp/kupgrade-harness.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/run/image"
echo KUP_DISTRO=bookworm >"$T/run/image/image.env"

# fake NAME BODY: a scenario that runs BODY (with KUP_LOG_DIR set).
fake() { printf '%s\n' "$2" >"$T/$1.sh"; }
fake 91-pass 'echo "PASS: fine"'
fake 92-fail 'mkdir -p "$KUP_LOG_DIR/vm.A"; echo "booted" >"$KUP_LOG_DIR/vm.A/serial.log"
echo "FAIL: it broke"; exit 1'
fake 93-dies 'false'
# Crashes under TCG the first time (a console line as the guest prints it),
# passes the second time.
fake 94-tcg-once 'if [[ -e '"$T"'/tried ]]; then echo "PASS: second"; exit 0; fi
touch '"$T"'/tried; mkdir -p "$KUP_LOG_DIR/vm.A"
echo "[    2.1] | Oops: int3: 0000 [#1] PREEMPT SMP NOPTI" >"$KUP_LOG_DIR/vm.A/serial.log"
echo "FAIL: qemu died"; exit 1'
fake 95-skip 'echo "SKIP: not here"; exit 77'

fails=0
expect() { # WHAT PATTERN: OUT must hold a line matching PATTERN
	if grep -qE "$2" "$T/out"; then
		echo "ok    $1"
	else
		echo "FAIL  $1: no line matching '$2' in run.sh's output"
		fails=$((fails + 1))
	fi
}
rc=0
KUP_RUN_DIR=$T/run KUP_KEEP_IMAGE=1 "$HERE/vm/run.sh" "$T"/9*.sh >"$T/out" 2>&1 || rc=$?
expect "a passing scenario passes" '^PASS 91-pass \[bookworm\]'
expect "a failed scenario says why" '^FAIL 92-fail \[bookworm\] \(it broke\)'
expect "a scenario that died says its exit status" '^FAIL 93-dies \[bookworm\] \(exit status 1\)'
expect "a TCG crash runs the scenario again" '^RETRY 94-tcg-once '
expect "and its result says so" '^PASS 94-tcg-once \[bookworm\] \([0-9]+ s; run twice: .*Oops: int3'
expect "a skipped scenario is counted apart" '^SKIP 95-skip \[bookworm\] \(not here\)'
expect "the why block names the failed ones" '^=== why 92-fail failed'
expect "the summary counts them" '^2 passed, 2 failed, 1 skipped$'
if [[ $rc == 1 ]]; then echo "ok    run.sh exits 1"; else echo "FAIL  run.sh exited $rc, not 1"; fails=$((fails + 1)); fi
((fails == 0)) || { sed 's/^/      /' "$T/out"; exit 1; }
