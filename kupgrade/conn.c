/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>

#include "alloc.h"
#include "conn.h"

int unit_connections(const ManifestUnit *u, struct tcp_conn **c, size_t *n)
{
	for (size_t j = 0; j < u->n_connections; j++) {
		const Kupgrade__Connection *mc = u->connections[j];
		struct tcp_conn *nc;

		if (!GREEDY_REALLOC(*c, *n + 1))
			return -ENOMEM;
		nc = &(*c)[*n];
		*nc = (struct tcp_conn){ .family = mc->family,
					 .sport = mc->sport,
					 .dport = mc->dport };
		snprintf(nc->src, sizeof(nc->src), "%s", mc->src);
		snprintf(nc->dst, sizeof(nc->dst), "%s", mc->dst);
		(*n)++;
	}
	return 0;
}
