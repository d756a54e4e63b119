/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus.h"
#include "checkpoint-internal.h"
#include "dropin.h"
#include "log.h"

/*
 * The quiesce-services phase: between its dump (which ends its processes
 * with SIGKILL) and the kexec, a checkpointed service is held still by a
 * runtime drop-in (dropin.c).
 */

bool ckpt_unit_is_service(const struct ckpt_unit *u)
{
	return u->pu->kind == OWNER_SERVICE;
}

/* A service with trees to dump is held still until the kexec. */
static bool quiesced(const struct ckpt_unit *u)
{
	return ckpt_unit_is_service(u) && ckpt_unit_has_trees(u);
}

int checkpoint_undo_quiesce(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < c->n_units; i++) {
		if (!quiesced(&c->units[i]))
			continue;
		any = true;
		if (dropin_remove_quiesce(RUNTIME_UNIT_DIR, c->units[i].mu->name) < 0)
			r = log_error_errno(-EIO, "Cannot remove kupgrade's drop-in of %s in %s.",
					    c->units[i].mu->name, RUNTIME_UNIT_DIR);
	}
	return any ? bus_reload() ?: r : r;
}

/*
 * Between its dump (which ends its processes with SIGKILL) and the kexec, a
 * service must not be restarted by systemd, nor have its ExecStop= run, nor
 * count as failed: a runtime drop-in says so for each, before any dump.
 */
int checkpoint_phase_quiesce(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	bool any = false;

	for (size_t i = 0; i < c->n_units; i++) {
		int r;

		if (!quiesced(&c->units[i]))
			continue;
		any = true;
		r = dropin_write_quiesce(RUNTIME_UNIT_DIR, c->units[i].mu->name);
		if (r < 0) {
			log_error_errno(r, "Cannot write kupgrade's drop-in for %s in %s: %m",
					c->units[i].mu->name, RUNTIME_UNIT_DIR);
			(void)checkpoint_undo_quiesce(ctx, arg);
			return r;
		}
	}
	if (!any)
		return 0;
	return bus_reload();
}
