/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "manifest.h"
#include "phase.h"

/*
 * The checkpoint side as phases, for "kupgrade checkpoint" and for the
 * upgrade: plan, scan, prepare-images, lock-network, then (appended by the
 * plan phase) dump:<unit>... and write-manifest, then whatever add_tail()
 * appends. Each phase gets the checkpoint as its arg, so the outer runner's
 * ctx is free for the outer orchestrator.
 */

struct checkpoint;

struct checkpoint_options {
	const char *images_path;
	bool on_disk;
	const char *transport;	/* recorded in the manifest; "local" if NULL */
	const char *kernel_to;	/* release switched to, if any */
	const char *upgrade_id; /* names the report of an upgrade */
	int (*add_tail)(struct phase_list *l, void *userdata);
	void *userdata;
};

int checkpoint_new(const struct checkpoint_options *o, struct checkpoint **ret);
int checkpoint_add_phases(struct checkpoint *c, struct phase_list *l);
void checkpoint_free(struct checkpoint *c);

Manifest *checkpoint_manifest(struct checkpoint *c);
const char *checkpoint_images_path(const struct checkpoint *c);
size_t checkpoint_n_units(const struct checkpoint *c);
/* Add the durations of finished phases not yet in the manifest. */
int checkpoint_record_timings(struct checkpoint *c);
/* (Re)write the manifest into the images directory. */
int checkpoint_write_manifest(struct checkpoint *c);
