/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Established TCP connections held by a set of sockets, read from
 * /proc/PID/net/tcp{,6} (the process's network namespace). IPv4-mapped IPv6
 * connections are reported as IPv4: that is what crosses the wire, and what
 * a lock must match (CRIU does the same).
 */

struct tcp_conn {
	int family; /* AF_INET or AF_INET6 */
	char src[INET6_ADDRSTRLEN];
	uint16_t sport;
	char dst[INET6_ADDRSTRLEN];
	uint16_t dport;
	uint64_t inode;
};

/* One line of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6).
 * Returns 1 and fills *ret for an ESTABLISHED socket, 0 for any other state
 * or the header line, -EBADMSG for a line that does not parse. */
int tcp_parse_proc_line(const char *line, int family, struct tcp_conn *ret);

/* The established connections of pid's network namespace whose socket inode
 * is in inodes[]; appended to *conns. */
int tcp_collect(pid_t pid, const uint64_t *inodes, size_t n_inodes, struct tcp_conn **conns,
		size_t *n_conns);
