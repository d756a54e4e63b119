/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "checkpoint-internal.h"
#include "log.h"
#include "conn.h"
#include "winscale.h"
#include "tcp.h"

/*
 * The lock-network phase: the network lock (netlock.c) drops the packets of
 * the checkpointed TCP connections, unit by unit, so that nothing moves on
 * the wire while a tree is away.
 */

/* The table goes up empty; each dump phase adds its unit's connections
 * right before that unit freezes, so a connection is held only while its
 * own tree is away. */
int checkpoint_phase_lock_network(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < c->n_units; i++)
		n += c->units[i].mu->n_connections;
	if (n == 0) {
		log_info("No established TCP connection to lock.");
		return manifest_set_string(&c->m->lock_method, "none");
	}
	c->lock = netlock_get(NULL);
	if (!c->lock)
		return log_error_errno(-EOPNOTSUPP,
				       "No network lock backend works here: install nftables.");
	r = c->lock->lock(NULL, 0);
	if (r < 0)
		return r;
	/* For the restores of a rollback, of "kupgrade restore" and after the
	 * kexec (set there again). */
	window_scaling_off(c->m);
	if (manifest_set_string(&c->m->lock_method, c->lock->name) < 0 ||
	    manifest_set_string(&c->m->lock_table, c->lock->table_desc()) < 0)
		return log_oom();
	return 0;
}

/* Lock (add) or unlock (delete) the connections of one unit. */
int ckpt_lock_unit(struct ckpt_unit *u, bool add)
{
	_cleanup_free_ struct tcp_conn *conns = NULL;
	size_t n = 0;

	if (!u->c->lock || u->mu->n_connections == 0)
		return 0;
	if (unit_connections(u->mu, &conns, &n) < 0)
		return log_oom();
	return u->c->lock->update(add, conns, n);
}

int checkpoint_undo_lock_network(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	window_scaling_back();
	return c->lock ? c->lock->unlock() : 0;
}
