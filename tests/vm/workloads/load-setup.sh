#!/bin/bash
# Guest side of the load scenario (57): services and connections.
#   kup-load-server.service   load-stream.py server on 127.0.0.1:PORT
#   kup-load-client.service   load-stream.py client: CONNS connections to it,
#                             checksummed messages both ways, never reconnects
#   kup-load-svc@1..N.service a counter each (bash, its count in memory,
#                             written to /var/lib/kup-load/svc-I every 2 s;
#                             it waits with read -t on a pipe, not sleep:
#                             under qemu's TCG every fork counts)
# Statistics and counters go to /var/lib/kup-load (on disk: a tmpfs file is
# gone after a kexec). Waits until every connection has exchanged 3 messages.
# Usage: load-setup.sh [CONNS [SERVICES [INTERVAL [PORT]]]]
#   INTERVAL: seconds between two messages of one connection (default 5)
set -euo pipefail
conns=${1:-200} nsvc=${2:-20} interval=${3:-5} port=${4:-7800}
D=/var/lib/kup-load
rm -rf "$D"
mkdir -p "$D"
cat >/etc/systemd/system/kup-load-server.service <<EOF
[Unit]
Description=kupgrade load test: checksummed streams, server side
[Service]
ExecStart=/usr/bin/python3 /usr/local/bin/load-stream.py server $port $D/server.stat
EOF
cat >/etc/systemd/system/kup-load-client.service <<EOF
[Unit]
Description=kupgrade load test: $conns checksummed streams, client side
After=kup-load-server.service
[Service]
ExecStart=/usr/bin/python3 /usr/local/bin/load-stream.py client $port $D/client.stat $conns $interval
EOF
cat >/etc/systemd/system/kup-load-svc@.service <<EOF
[Unit]
Description=kupgrade load test: counter %i
[Service]
ExecStart=/bin/bash -c 'exec 3<> <(:); n=0; while :; do n=\$\$((n+1)); echo \$\$n >$D/svc-%i.new; mv $D/svc-%i.new $D/svc-%i; read -t 2 -u 3 || :; done'
EOF
systemctl daemon-reload
systemctl start kup-load-server.service
for _ in $(seq 100); do [[ -s $D/server.stat ]] && break; sleep 0.2; done
[[ -s $D/server.stat ]] || { echo "load server did not start" >&2; exit 1; }
systemctl start kup-load-client.service
for i in $(seq "$nsvc"); do systemctl start "kup-load-svc@$i.service"; done
for _ in $(seq 600); do
	line=$(head -n1 "$D/client.stat" 2>/dev/null || true)
	min=$(sed -n 's/.* min_seq=\([0-9]*\).*/\1/p' <<<"$line")
	if [[ $line == conns=$conns\ * && ${min:-0} -ge 3 ]]; then
		echo "$line"
		exit 0
	fi
	sleep 0.5
done
echo "the load client did not get going: $(cat "$D/client.stat" 2>/dev/null)" >&2
exit 1
