/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Unix sockets of this network namespace and their peers, from NETLINK_SOCK_DIAG. */

struct unix_sock {
	uint64_t ino;
	uint64_t peer; /* inode of the peer, 0 if not connected */
	int type;      /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	int state;     /* TCP_ESTABLISHED, TCP_LISTEN... as in unix_diag */
	char *name;    /* bound path, "@name" for abstract, NULL if unbound */
};

struct unix_sock_table {
	struct unix_sock *socks; /* sorted by ino */
	size_t n;
};

int unix_sock_table_load(struct unix_sock_table *ret);
void unix_sock_table_done(struct unix_sock_table *t);
const struct unix_sock *unix_sock_find(const struct unix_sock_table *t, uint64_t ino);
