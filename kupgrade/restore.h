/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "manifest.h"
#include "options.h"

/*
 * "kupgrade restore": every tree of the images in o->from (NULL: the images
 * a switch left), each unit's connections unlocked as it comes back, then
 * the lock and the images removed. Reports every unit's outcome (o->json:
 * the manifest as JSON on stdout). Returns 0; a negative errno when the
 * images cannot be read (logged); EXIT_SOFTWARE when a phase or a unit
 * failed (the report says which).
 */
int restore_run(const struct kupgrade_options *o);
/* The same, failing the phase that fault names instead of running it (for
 * tests in any build: restore_run() takes it from the KUPGRADE_FAULT test hook). */
int restore_run_fault(const struct kupgrade_options *o, const char *fault);

/* What a run of "kupgrade restore" does with one unit of the manifest. */
enum restore_action {
	RESTORE_ACTION_TREES,	     /* its trees, restored by this run */
	RESTORE_ACTION_THROUGH_UNIT, /* a service on the boot that dumped it: its own start */
	RESTORE_ACTION_BY_SYSTEMD,   /* a service after a switch: systemd's start; collected */
	RESTORE_ACTION_NONE,	     /* the plan restarted it: nothing was dumped */
	RESTORE_ACTION_DONE,	     /* back already, by an earlier run: not again */
};

/* Pure: the action for u; after_switch: the images are another boot's. A
 * run records each unit's outcome in the images' manifest as it goes, so a
 * run after one that stopped part-way takes only what is not back. */
enum restore_action restore_unit_action(const ManifestUnit *u, bool after_switch);
