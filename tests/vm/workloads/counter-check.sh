#!/bin/bash
# Guest side: verify the counter workload. Prints "n=<last> lport=<port>".
# Fails if the client logged a FAIL, stopped advancing within WAIT seconds
# past AFTER, or the server's memory check fails.
# Usage: counter-check.sh [AFTER [WAIT [PORT]]]
set -euo pipefail
after=${1:-0} wait=${2:-60} port=${3:-7777}
log=/var/log/kup-client.log
for ((i = 0; i < wait * 5; i++)); do
	grep -q '^FAIL' "$log" && { grep '^FAIL' "$log" >&2; exit 1; }
	n=$(tail -n 1 "$log" | awk '{ print $2 }')
	((n > after)) && break
	sleep 0.2
done
((n > after)) || { echo "client stuck at $n (wanted > $after)" >&2; exit 1; }
if [[ $(awk '{ print $3 }' "$log" | sort -u | wc -l) -ne 1 ]]; then
	echo "client changed connection (local ports: $(awk '{ print $3 }' "$log" | sort -u | xargs))" >&2
	exit 1
fi
check=$(python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $port), timeout=30)
s.sendall(b'CHECK\n')
print(s.makefile().readline().strip())")
[[ $check == "CHECK ok "* ]] || { echo "server check: $check" >&2; exit 1; }
echo "n=$n lport=$(tail -n 1 "$log" | awk '{ print $3 }')"
