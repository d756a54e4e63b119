#!/bin/bash
# tests/vm/suite.sh [--all] [DISTRO:SCENARIO...]: VM scenarios on both Debian
# releases, KUP_JOBS (default 1, at most 2) at a time. One at a time is the
# default because it is faster on 2 CPUs: a TCG guest with -smp 2 already
# keeps 1.5 CPUs busy, and scenario 52 took 287 s beside another VM against
# 126-130 s alone.
#
# Without arguments, the CI set (`make check`): every scenario on Debian 12
# (bookworm), and on Debian 13 (trixie) as well the plan (20), the preflight
# (41), the headline switch (50) and the services scenario (60). --all
# (`make check-all`): every scenario on both.
# A job is DISTRO:SCENARIO, SCENARIO as run.sh takes it (a number will do).
#
# Both guest images are built at once first (tests/vm/image.sh, each into
# the suite's images/DISTRO), then the jobs run (two at a time: the longest
# first, by the "# kup-cost: SECONDS" line of each scenario), each through run.sh in a run
# directory of its own that shares its distribution's image. A job's output
# is printed whole when it ends, so outputs never interleave; at the end the
# reasons of the failures, then one line per job: "PASS name [distro] (N s)".
# Exits 1 if anything failed. Logs: $KUP_SUITE_DIR (default
# /var/tmp/kupgrade-tests/runs/suite-<time>-<pid>).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "suite.sh: must run as root (image build uses chroot and mounts)" >&2; exit 77; }

# The CI set: what `make check` runs. Every scenario runs on at least one
# release; the switch and the services scenario run on both.
CI_BOTH=(20 41 50 60)

all=
jobs=()
for a in "$@"; do
	case $a in
	--all) all=1 ;;
	bookworm:* | trixie:*) jobs+=("$a") ;;
	*) echo "suite.sh: '$a': give DISTRO:SCENARIO (bookworm or trixie) or --all" >&2; exit 64 ;;
	esac
done
if ((${#jobs[@]} == 0)); then
	for s in "$HERE"/scenarios/*.sh; do
		n=$(basename "$s" .sh)
		jobs+=("bookworm:$n")
		if [[ -n $all || " ${CI_BOTH[*]} " == *" ${n%%-*} "* ]]; then
			jobs+=("trixie:$n")
		fi
	done
fi

# Every job by its scenario's whole name.
for i in "${!jobs[@]}"; do
	d=${jobs[i]%%:*} s=${jobs[i]#*:}
	f=
	for f in "$HERE/scenarios/$s.sh" "$HERE/scenarios/$s"-*.sh ""; do [[ -f $f ]] && break; done
	[[ -n $f ]] || { echo "suite.sh: no scenario '$s' (have: $(cd "$HERE/scenarios" && ls *.sh | tr '\n' ' '))" >&2; exit 64; }
	jobs[i]=$d:$(basename "$f" .sh)
done

njobs=${KUP_JOBS:-1}
((njobs > 2)) && njobs=2
((njobs >= 1)) || njobs=1
SUITE=${KUP_SUITE_DIR:-/var/tmp/kupgrade-tests/runs/suite-$(date +%Y%m%d-%H%M%S)-$$}
mkdir -p "$SUITE/images" "$SUITE/out"
echo "suite directory: $SUITE"
echo "jobs: ${jobs[*]} ($njobs at a time)"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
	# The job running in the foreground (one at a time): run.sh stops its VM.
	pkill -TERM -P $$ 2>/dev/null || true
	wait 2>/dev/null || true
	[[ -n ${KUP_KEEP_IMAGE:-} ]] || rm -f "$SUITE"/images/*/disk.img
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the images, both at once ---------------------------------------------
t0=$SECONDS
distros=$(printf '%s\n' "${jobs[@]}" | cut -d: -f1 | sort -u)
declare -A img_pid
for d in $distros; do
	KUP_DISTRO=$d timeout --foreground -k 30 "${KUP_IMAGE_TIMEOUT:-1800}" \
		"$HERE/image.sh" "$SUITE/images/$d" >"$SUITE/out/image-$d.log" 2>&1 &
	img_pid[$d]=$!
done
declare -A img_ok
for d in $distros; do
	if wait "${img_pid[$d]}"; then
		img_ok[$d]=1
		echo "=== $d guest image ready in $((SECONDS - t0)) s: $(grep -E '^KV_(OLD|NEW)=' "$SUITE/images/$d/image.env" | tr '\n' ' ')"
	else
		echo "=== $d guest image FAILED (log: $SUITE/out/image-$d.log)"
		tail -n 30 "$SUITE/out/image-$d.log" | sed 's/^/    /'
	fi
done

# --- the jobs, the longest first --------------------------------------------
cost() { # SCENARIO NAME: its "# kup-cost:" seconds (150 when it has none)
	local c
	c=$(sed -n 's/^# kup-cost: *\([0-9]\+\).*/\1/p' "$HERE"/scenarios/"$1"*.sh 2>/dev/null | head -n1)
	echo "${c:-150}"
}
# One at a time, in the order given (Debian 12's scenarios first).
((njobs == 1)) ||
	mapfile -t jobs < <(for j in "${jobs[@]}"; do echo "$(cost "${j#*:}") $j"; done | sort -k1,1nr -s | cut -d' ' -f2)

results=()
declare -A job_of
result() { # JOB RC: its result line, kept for the summary
	local j=$1 rc=$2 out line
	out=$SUITE/out/${j/:/-}.log
	line=$(grep -E '^(PASS|FAIL|SKIP) ' "$out" | tail -n1 || true)
	[[ -n $line ]] || line="FAIL ${j#*:} [${j%%:*}] (run.sh exit status $rc, no result line)"
	results+=("$line")
	echo "$line"
}
finish() { # PID RC: a job in the background ended; print its output whole
	local j=${job_of[$1]}
	echo "=== ${j#*:} on ${j%%:*}: output"
	sed 's/^/  /' "$SUITE/out/${j/:/-}.log"
	result "$j" "$2"
}
job_dir() { # JOB: its run directory, sharing its distribution's image
	local d=${1%%:*} s=${1#*:}
	mkdir -p "$SUITE/$d-${s%%-*}"
	ln -sfn "$SUITE/images/$d" "$SUITE/$d-${s%%-*}/image"
	echo "$SUITE/$d-${s%%-*}"
}
start() { # JOB
	local j=$1 d=${1%%:*} s=${1#*:} dir
	dir=$(job_dir "$j")
	if [[ -z ${img_ok[$d]:-} ]]; then
		echo "FAIL $s [$d] (no guest image)" >"$SUITE/out/${j/:/-}.log"
		(exit 1) &
	else
		# setsid: a job is a process group of its own, killed whole on exit.
		KUP_DISTRO=$d KUP_RUN_DIR=$dir KUP_KEEP_IMAGE=1 \
			setsid "$HERE/run.sh" "$s" >"$SUITE/out/${j/:/-}.log" 2>&1 </dev/null &
	fi
	pids+=($!)
	job_of[$!]=$j
}
run_here() { # JOB: one at a time, its output shown as it comes
	local j=$1 d=${1%%:*} s=${1#*:} dir out rc
	dir=$(job_dir "$j")
	out=$SUITE/out/${j/:/-}.log
	if [[ -z ${img_ok[$d]:-} ]]; then
		echo "FAIL $s [$d] (no guest image)" >"$out"
		rc=1
	else
		set +e
		KUP_DISTRO=$d KUP_RUN_DIR=$dir KUP_KEEP_IMAGE=1 \
			"$HERE/run.sh" "$s" </dev/null 2>&1 | tee "$out" | sed -u 's/^/  /'
		rc=${PIPESTATUS[0]}
		set -e
	fi
	result "$j" "$rc"
}
running=0
for j in "${jobs[@]}"; do
	if ((njobs == 1)); then
		run_here "$j"
		continue
	fi
	while ((running >= njobs)); do
		wait -n -p done_pid && rc=0 || rc=$?
		finish "$done_pid" "$rc"
		running=$((running - 1))
	done
	start "$j"
	running=$((running + 1))
done
while ((running > 0)); do
	wait -n -p done_pid && rc=0 || rc=$?
	finish "$done_pid" "$rc"
	running=$((running - 1))
done

# --- the summary: why, then what ---------------------------------------------
passed=0 failed=0
for line in "${results[@]}"; do
	case $line in
	PASS*) passed=$((passed + 1)) ;;
	FAIL*)
		failed=$((failed + 1))
		j=${line#FAIL }
		n=${j%% *}
		d=${j#* [}
		d=${d%%]*}
		# run.sh's own "why" block, between its "=== why" and "=== results".
		sed -n '/^=== why /,/^=== results /p' "$SUITE/out/$d-$n.log" 2>/dev/null | sed '$d' || true
		;;
	esac
done
echo "=== results (logs in $SUITE; took $((SECONDS - t0)) s)"
printf '%s\n' "${results[@]}" | sort -t'[' -k2,2 -s
echo "$passed passed, $failed failed"
((failed == 0))
