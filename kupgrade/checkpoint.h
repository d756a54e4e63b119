/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"
#include "phase.h"

/*
 * The checkpoint: the state the checkpoint's phases share, for "kupgrade
 * checkpoint" and for the upgrade. The phases below are listed, in order,
 * in the one phase table (upgrade.c). Each gets the checkpoint as its arg (a
 * dump:<unit> phase gets its unit, checkpoint_unit()) and leaves the
 * runner's ctx to the outer orchestrator.
 */

struct checkpoint;
struct ckpt_unit;

struct checkpoint_options {
	const char *images_path;
	bool on_disk;
	const char *config;	/* the plan's configuration file */
	char *const *units;	/* the units asked for (NULL-terminated); NULL: those planned */
	const char *transport;	/* recorded in the manifest; "local" if NULL */
	const char *kernel_to;	/* release switched to, if any */
	const char *upgrade_id; /* names the report of an upgrade */
	const struct phase_list
		*phases; /* the run's: its finished phases' durations go into the manifest */
};

int checkpoint_new(const struct checkpoint_options *o, struct checkpoint **ret);
void checkpoint_free(struct checkpoint *c);

Manifest *checkpoint_manifest(struct checkpoint *c);
const char *checkpoint_images_path(const struct checkpoint *c);
/* The units to checkpoint, known once the plan phase has run: the i-th (NULL
 * past the end) is the arg of its dump phase. */
size_t checkpoint_n_units(const struct checkpoint *c);
struct ckpt_unit *checkpoint_unit(struct checkpoint *c, size_t i);
const char *checkpoint_unit_name(const struct checkpoint *c, size_t i);
/* Add the durations of finished phases not yet in the manifest. */
int checkpoint_record_timings(struct checkpoint *c);
/* (Re)write the manifest into the images directory. */
int checkpoint_write_manifest(struct checkpoint *c);
/* The manifest of the trees away (dumped, not yet restored) alone: kept
 * current by the dump phases and their undos, for a recovery. */
int checkpoint_write_away_manifest(struct checkpoint *c);

/* The phases, in their order; plan, scan and criu-check change nothing. */
int checkpoint_phase_plan(void *ctx, void *arg);
int checkpoint_phase_scan(void *ctx, void *arg);
int checkpoint_phase_criu_check(void *ctx, void *arg);
int checkpoint_phase_prepare_images(void *ctx, void *arg);
int checkpoint_undo_prepare_images(void *ctx, void *arg);
int checkpoint_phase_quiesce(void *ctx, void *arg);
int checkpoint_undo_quiesce(void *ctx, void *arg);
int checkpoint_phase_lock_network(void *ctx, void *arg);
int checkpoint_undo_lock_network(void *ctx, void *arg);
/* arg: the unit (checkpoint_unit()). */
int checkpoint_phase_dump_unit(void *ctx, void *arg);
int checkpoint_undo_dump_unit(void *ctx, void *arg);
int checkpoint_phase_write_manifest(void *ctx, void *arg);
