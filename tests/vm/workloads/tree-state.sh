#!/bin/bash
# Guest side: the state of the processes given, one line each:
#   <pid> <State letter> <cgroup.freeze or -> <cgroup>
# and "gone <pid>" for a process that no longer exists. Exits 1 if any is
# gone, stopped (T/t) or in a frozen cgroup.
# Usage: tree-state.sh PID...
bad=0
for pid in "$@"; do
	if [[ ! -r /proc/$pid/status ]]; then
		echo "gone $pid"
		bad=1
		continue
	fi
	st=$(awk '/^State:/ { print $2 }' "/proc/$pid/status")
	cg=$(cut -d: -f3 "/proc/$pid/cgroup")
	fr=$(cat "/sys/fs/cgroup$cg/cgroup.freeze" 2>/dev/null || echo -)
	echo "$pid $st $fr $cg"
	[[ $st == [Tt] || $fr == 1 ]] && bad=1
done
exit $bad
