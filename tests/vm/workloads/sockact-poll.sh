#!/bin/bash
# Connects to the socket-activated test service (port 7100) five times a
# second and logs each answer ("sockact <pid> <n>") to /run/kupgrade-poll.log,
# until /run/kupgrade-poll.stop exists. Run in the guest during a rollback: a
# connection while the service is checkpointed activates it afresh.
rm -f /run/kupgrade-poll.stop /run/kupgrade-poll.log
until [[ -e /run/kupgrade-poll.stop ]]; do
	if exec 3<>/dev/tcp/127.0.0.1/7100; then
		read -r -t 20 line <&3 && echo "$line" >>/run/kupgrade-poll.log
		exec 3<&-
	fi 2>/dev/null
	sleep 0.2
done
