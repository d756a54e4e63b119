#!/bin/bash
# Guest side of the services scenario: install and start
#   kupgrade-zdtm.service     zdtm-service.py on port 7000, Type=simple,
#                             Restart=always, output to the journal
#   kupgrade-busclient.service  holds a connection to the D-Bus system bus:
#                             the plan restarts it fresh
#   kupgrade-sockact.socket   socket-activated sockact-service.py on port 7100
#                             and /run/kupgrade-sockact.sock:
#                             restored with the new boot's socket
#   nginx.service             Debian's unit, port 80, keep-alive 600 s
#   lighttpd.service          Debian's unit, port 8080, keep-alive 600 s
# and write the page both serve (/var/www/html/kupgrade-data.txt).
# Usage: services-setup.sh (workloads in /usr/local/lib/kupgrade-tests)
set -euo pipefail
lib=/usr/local/lib/kupgrade-tests

cat >/etc/systemd/system/kupgrade-zdtm.service <<EOF
[Unit]
Description=kupgrade test service in the shape of a zdtm test
After=network.target
[Service]
ExecStart=/usr/bin/python3 $lib/zdtm-service.py 7000
Restart=always
[Install]
WantedBy=multi-user.target
EOF
cat >/etc/systemd/system/kupgrade-busclient.service <<EOF
[Unit]
Description=kupgrade test service connected to the D-Bus system bus
After=dbus.service
[Service]
ExecStart=/usr/bin/busctl --system monitor org.freedesktop.DBus
[Install]
WantedBy=multi-user.target
EOF

cat >/etc/systemd/system/kupgrade-sockact.socket <<EOF
[Unit]
Description=kupgrade test socket (socket activation)
[Socket]
ListenStream=7100
ListenStream=/run/kupgrade-sockact.sock
[Install]
WantedBy=sockets.target
EOF
cat >/etc/systemd/system/kupgrade-sockact.service <<EOF
[Unit]
Description=kupgrade test service started by its socket
[Service]
ExecStart=/usr/bin/python3 $lib/sockact-service.py
EOF

# A page of known content, large enough to span several TCP segments.
python3 -c 'import random; r = random.Random(7); print("".join(r.choice("abcdefghij\n") for _ in range(200000)))' \
	>/var/www/html/kupgrade-data.txt

# A directive set twice is an error: none in nginx.conf, ours in conf.d.
sed -i '/^[[:space:]]*keepalive_\(timeout\|requests\)/d' /etc/nginx/nginx.conf
printf 'keepalive_timeout 600s;\nkeepalive_requests 100000;\n' >/etc/nginx/conf.d/kupgrade-tests.conf
# lighttpd 1.4.79 (Debian 13) takes at most 65535 keep-alive requests.
cat >/etc/lighttpd/conf-enabled/90-kupgrade-tests.conf <<'EOF'
server.max-keep-alive-idle = 600
server.max-keep-alive-requests = 65535
server.max-read-idle = 600
server.max-write-idle = 600
EOF
# Debian's lighttpd.conf sets server.port (a second one is an error).
sed -i 's/^server.port *=.*/server.port = 8080/' /etc/lighttpd/lighttpd.conf

# Debian 13's lighttpd.service sandboxes the daemon (PrivateTmp=,
# ProtectSystem=, ProtectHome=, ProtectProc=, ProtectHostname=, ...): it runs
# in its own mount and UTS namespaces, a blocker for which kupgrade plans
# "restart" (blockers.c: ns_check_mount). This scenario is about services
# that are checkpointed: the namespace-making settings are reset by a
# drop-in, only where Debian's unit has them (Debian 12's has none), and the
# daemon's namespaces are checked to be PID 1's below. Its seccomp-based
# settings (RestrictNamespaces=, SystemCallArchitectures=,
# MemoryDenyWriteExecute=, ...) stay: the restore through the unit must cope
# with them (under them CRIU's clone3() got ENOSYS: "Can't fork for PID").
if systemctl cat lighttpd.service | grep -qE '^(PrivateTmp|ProtectSystem|ProtectHome|ProtectProc|ProtectHostname|PrivateDevices)='; then
	mkdir -p /etc/systemd/system/lighttpd.service.d
	cat >/etc/systemd/system/lighttpd.service.d/50-kupgrade-tests-no-namespaces.conf <<'EOF'
[Service]
PrivateTmp=no
PrivateDevices=no
ProtectSystem=no
ProtectHome=no
ProtectProc=default
ProtectHostname=no
ProtectKernelTunables=no
ProtectKernelModules=no
ProtectKernelLogs=no
ProtectControlGroups=no
EOF
	echo "lighttpd.service: Debian's unit runs it in its own namespaces; reset by a drop-in for this scenario" >&2
fi

systemctl daemon-reload
systemctl enable --quiet kupgrade-zdtm.service kupgrade-busclient.service nginx.service lighttpd.service \
	kupgrade-sockact.socket
systemctl restart kupgrade-zdtm.service kupgrade-busclient.service nginx.service lighttpd.service \
	kupgrade-sockact.socket
# Activated: its service runs, holding systemd's listening socket.
python3 -c 'import socket; print(socket.create_connection(("127.0.0.1", 7100)).recv(100).decode().strip())'
for u in kupgrade-zdtm kupgrade-busclient nginx lighttpd kupgrade-sockact; do
	systemctl is-active --quiet "$u" || { systemctl status --no-pager "$u" >&2; exit 1; }
done
for port in 7000 80 8080; do
	for _ in $(seq 100); do
		ss -Hltn "sport = :$port" | grep -q . && break
		sleep 0.1
	done
	ss -Hltn "sport = :$port" | grep -q . || { echo "nothing listens on port $port" >&2; exit 1; }
done
# Checkpointed services must share PID 1's mount and UTS namespaces.
for u in kupgrade-zdtm nginx lighttpd; do
	pid=$(systemctl show -p MainPID --value "$u.service")
	for ns in mnt uts; do
		[[ $(readlink "/proc/$pid/ns/$ns") == "$(readlink /proc/1/ns/$ns)" ]] ||
			{ echo "$u.service (PID $pid) runs in its own $ns namespace" >&2; exit 1; }
	done
done
echo "services ready"
