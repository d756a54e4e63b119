#!/bin/bash
# tests/vm/run.sh [SCENARIO...]: run VM scenarios (default: all of
# tests/vm/scenarios/*.sh; a name may omit the directory and .sh, or be
# just the number: 52).
#
# Prepares the guest image once for the run (tests/vm/image.sh: cached base,
# this work tree installed), then runs each scenario under a hard time limit
# (KUP_SCENARIO_TIMEOUT, default 900 s, or a "# kup-timeout: N" line in the
# scenario; "# kup-cost: N", what it took in CI on Debian 12, orders
# suite.sh's jobs), printing "PASS name" / "FAIL name (reason)" and at the end
# "N passed, N failed". Exits 1 if any scenario failed.
# Logs: $KUP_RUN_DIR (default /var/tmp/kupgrade-tests/runs/<time>-<distro>-<pid>).
# KUP_DISTRO=bookworm|trixie: the guest's Debian release (default bookworm;
# see image.sh); it is in the run directory's name, the log's head and every
# PASS/FAIL line.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "run.sh: must run as root (image build uses chroot and mounts)" >&2; exit 77; }

scenarios=()
if (($#)); then
	for a in "$@"; do
		for f in "$a" "$HERE/scenarios/$a" "$HERE/scenarios/$a.sh" "$HERE/scenarios/$a"-*.sh; do
			[[ -f $f ]] && { scenarios+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); continue 2; }
		done
		echo "run.sh: no scenario '$a' (have: $(cd "$HERE/scenarios" && ls *.sh | tr '\n' ' '))" >&2
		exit 64
	done
else
	scenarios=("$HERE"/scenarios/*.sh)
fi

export KUP_DISTRO=${KUP_DISTRO:-bookworm}
case $KUP_DISTRO in
bookworm | trixie) ;;
*) echo "run.sh: KUP_DISTRO=$KUP_DISTRO: unknown (bookworm or trixie)" >&2; exit 64 ;;
esac
export KUP_RUN_DIR=${KUP_RUN_DIR:-/var/tmp/kupgrade-tests/runs/$(date +%Y%m%d-%H%M%S)-$KUP_DISTRO-$$}
mkdir -p "$KUP_RUN_DIR/logs"
echo "run directory: $KUP_RUN_DIR"
echo "distro: $KUP_DISTRO (Debian guest; KUP_DISTRO=bookworm|trixie)"

# Old runs: logs kept for 12 hours (runs of other users may still be going).
find /var/tmp/kupgrade-tests/runs -mindepth 1 -maxdepth 1 -type d -mmin +720 \
	-exec rm -rf --one-file-system {} + 2>/dev/null || true

kill_left_vms() { # DIR: VMs a scenario left running (killed with SIGKILL, trap skipped)
	local pg
	for pg in "$1"/vm.*/pgid "$1"/*/vm.*/pgid; do
		[[ -f $pg ]] && kill -KILL -- "-$(cat "$pg")" 2>/dev/null || true
	done
}
cleanup() {
	kill_left_vms "$KUP_RUN_DIR/logs"
	find "$KUP_RUN_DIR/logs" -name disk.qcow2 -delete 2>/dev/null || true
	[[ -n ${KUP_KEEP_IMAGE:-} ]] || rm -f "$KUP_RUN_DIR/image/disk.img"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
if [[ ! -f $KUP_RUN_DIR/image/image.env ]]; then
	timeout --foreground -k 30 "${KUP_IMAGE_TIMEOUT:-1800}" "$HERE/image.sh" "$KUP_RUN_DIR/image" ||
		{ echo "FAIL image (guest image build failed or timed out)"; echo "0 passed, 1 failed"; exit 1; }
fi
img_distro=$(sed -n 's/^KUP_DISTRO=//p' "$KUP_RUN_DIR/image/image.env")
[[ ${img_distro:-bookworm} == "$KUP_DISTRO" ]] ||
	{ echo "run.sh: this run's image is ${img_distro:-bookworm}, not KUP_DISTRO=$KUP_DISTRO" >&2; exit 64; }
echo "guest image ready in $((SECONDS - t0)) s: $KUP_DISTRO $(grep -E '^KV_(OLD|NEW)=' "$KUP_RUN_DIR/image/image.env" | tr '\n' ' ')"

# Guest kernel crashes that are qemu TCG's, not kupgrade's (FACTS.md): an
# int3 left in kernel text that another vCPU patched (a stale translation;
# seen once in a kexec'd 6.12 at 2 s, in sched_clock_cpu), SLUB's cmpxchg16b
# path, a debug exception in the kernel. Prints the first such line of a
# scenario's consoles.
tcg_crash() { # LOGDIR
	grep -h -m1 -E 'Oops: int3|RIP: 0010:__kmalloc_noprof|exc_debug_kernel' "$1"/vm.*/serial.log 2>/dev/null |
		head -n1 | sed 's/^.* | //' || true # none found is no error (set -e, pipefail)
}

passed=0 failed=0 skipped=0 results=()
for s in "${scenarios[@]}"; do
	name=$(basename "$s" .sh)
	log=$KUP_RUN_DIR/logs/$name.log
	limit=$(sed -n 's/^# kup-timeout: *\([0-9]\+\).*/\1/p' "$s" | head -n1)
	limit=${KUP_SCENARIO_TIMEOUT:-${limit:-900}}
	st=$SECONDS
	again=
	# A scenario whose guest kernel crashed under TCG runs once more, and
	# its result says so; its first logs are kept beside (NAME.tcg-crash).
	for attempt in 1 2; do
		echo "=== $name on $KUP_DISTRO (limit ${limit} s)${again:+, again after a TCG crash}"
		set +e
		KUP_SCENARIO=$name KUP_LOG_DIR=$KUP_RUN_DIR/logs/$name \
			timeout -k 20 "$limit" bash "$s" </dev/null 2>&1 | tee "$log" | sed -u 's/^/    /'
		rc=${PIPESTATUS[0]}
		set -e
		kill_left_vms "$KUP_RUN_DIR/logs/$name"
		[[ $rc != 0 && $rc != 77 && $attempt == 1 ]] || break
		crash=$(tcg_crash "$KUP_RUN_DIR/logs/$name")
		[[ -n $crash ]] || break
		again="the guest kernel crashed under TCG: $crash"
		echo "RETRY $name [$KUP_DISTRO] ($again)"
		mv "$KUP_RUN_DIR/logs/$name" "$KUP_RUN_DIR/logs/$name.tcg-crash"
		mv "$log" "$KUP_RUN_DIR/logs/$name.tcg-crash.log"
	done
	took=$((SECONDS - st))
	case $rc in
	0) line="PASS $name [$KUP_DISTRO] (${took} s${again:+; run twice: $again})"; passed=$((passed + 1)) ;;
	77) line="SKIP $name [$KUP_DISTRO] ($(grep -m1 '^SKIP: ' "$log" | cut -c7-))"; skipped=$((skipped + 1)) ;;
	124 | 137) line="FAIL $name [$KUP_DISTRO] (timed out after ${limit} s)"; failed=$((failed + 1)) ;;
	*)
		# A scenario can die without a FAIL line (set -e): grep finds none.
		reason=$(grep '^FAIL: ' "$log" | tail -n1 | cut -c7- || true)
		line="FAIL $name [$KUP_DISTRO] (${reason:-exit status $rc}${again:+; run twice: $again})"
		failed=$((failed + 1))
		;;
	esac
	echo "$line"
	results+=("$line")
done

# Why each failed scenario failed, just above the results: the end of a long
# output is what a CI log keeps. What the scenario did last, and the end of
# what fail() printed (the guest's console and journal).
for line in "${results[@]}"; do
	[[ $line == FAIL* ]] || continue
	name=${line#FAIL }
	name=${name%% *}
	echo "=== why $name failed (whole log: $KUP_RUN_DIR/logs/$name.log)"
	awk '/^FAIL: / && !f { f = NR; for (i = NR - 10; i < NR; i++) if (i > 0) print l[i % 10] } { l[NR % 10] = $0 }' \
		"$KUP_RUN_DIR/logs/$name.log" 2>/dev/null | cut -c1-200 || true
	tail -n 16 "$KUP_RUN_DIR/logs/$name.log" 2>/dev/null | cut -c1-200 || true
done

echo "=== results on $KUP_DISTRO (logs in $KUP_RUN_DIR)"
printf '%s\n' "${results[@]}"
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
