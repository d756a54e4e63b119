/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "options.h"
#include "paths.h"

/*
 * The one phase table of the checkpoint and the upgrade (upgrade.c): the
 * runs of "kupgrade checkpoint" and of the upgrade worker, --dry-run's list
 * and kupgrade(8)'s list all come from it.
 */

enum {
	UPGRADE_PHASE_CHECKPOINT = 1
				   << 0, /* run by "kupgrade checkpoint" too; arg: the checkpoint */
	UPGRADE_PHASE_PER_UNIT = 1 << 1, /* one phase "<name>:<unit>" per unit; arg: the unit */
};

struct upgrade_phase {
	const char *name;
	int (*run)(void *ctx, void *arg);
	int (*undo)(void *ctx, void *arg); /* NULL: nothing to undo */
	unsigned flags;			   /* UPGRADE_PHASE_* */
	const char *description;	   /* what it does, for --dry-run */
};

/* The table, in the order the phases run. */
const struct upgrade_phase *upgrade_phases(size_t *ret_n);

/*
 * "kupgrade checkpoint": the checkpoint's phases alone, images into o->to.
 * Returns 0, a negative errno when refused before any phase ran, or
 * EXIT_SOFTWARE (failed, rolled back) or EXIT_OSERR (an undo failed too).
 */
int upgrade_checkpoint(const struct kupgrade_options *o);

/*
 * "kupgrade upgrade-worker": every phase, up to the kexec. Started by the
 * client (upgrade-client.c) as a transient service; writes its outcome into
 * the progress state of o->id. Returns as upgrade_checkpoint().
 */
int upgrade_worker(const struct kupgrade_options *o);

/*
 * "kupgrade upgrade-recover": the worker's ExecStopPost=. When the worker of
 * o->id ended without a result and before the kexec (killed), does its undos
 * from what it left on disk (upgrade-recover.c) and writes the result.
 */
int upgrade_recover(const struct kupgrade_options *o);

/* --dry-run: every phase of the table, in order, with what it does. */
void upgrade_print_phases(FILE *f, const char *release);
