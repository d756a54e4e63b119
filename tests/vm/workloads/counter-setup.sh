#!/bin/bash
# Guest side: install and start the counter workload.
#   kup-counter.service  counter-server.py on 127.0.0.1:PORT (stdout to a
#                        file on disk: one on a tmpfs is gone after a kexec)
#   kup-client.service   counter-client.py, one connection, checks every reply,
#                        log in /var/log/kup-client.log
# Usage: counter-setup.sh [PORT]
set -euo pipefail
port=${1:-7777}
cat >/etc/systemd/system/kup-counter.service <<EOF2
[Unit]
Description=kupgrade test workload: TCP counter with in-memory state
[Service]
ExecStart=/usr/bin/python3 /usr/local/bin/counter-server.py $port
StandardOutput=append:/var/log/kup-counter.log
StandardError=inherit
EOF2
systemctl daemon-reload
rm -f /var/log/kup-counter.log
systemctl start kup-counter.service
for _ in $(seq 50); do
	grep -q ready /var/log/kup-counter.log 2>/dev/null && break
	sleep 0.2
done
grep -q ready /var/log/kup-counter.log || { echo "counter-server did not start" >&2; exit 1; }
rm -f /var/log/kup-client.log
systemd-run --quiet --unit kup-client.service -p StandardOutput=null \
	/usr/bin/python3 /usr/local/bin/counter-client.py "$port" /var/log/kup-client.log 0.2
for _ in $(seq 50); do
	grep -q '^ok 3 ' /var/log/kup-client.log 2>/dev/null && exit 0
	sleep 0.2
done
echo "counter-client made no progress" >&2
exit 1
