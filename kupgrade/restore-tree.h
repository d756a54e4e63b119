/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "imagedir.h"
#include "manifest.h"

/*
 * Restoring one unit's trees from d/<unit image_dir>/<root pid>: shared by
 * "kupgrade restore", "kupgrade restore-unit" and the checkpoint's undo (a
 * failed checkpoint puts every tree it already dumped back in place, through
 * the same path).
 */

/* u is back (restored, or started fresh), as its recorded outcome says: a
 * restore never takes it again. */
bool restore_unit_done(const ManifestUnit *u);

/* Every tree of u not back yet, after its carried files are back: the trees
 * go in root_pids' order and stop at the first that fails, so restored_pids
 * are those of the first root_pids, and a later run (the manifest records
 * them) takes the rest. Records the outcome and timing in u; returns < 0 if
 * any tree failed. m: the whole manifest (the boot-side fault it may
 * carry). */
int restore_unit_trees(struct imagedir *d, const Manifest *m, ManifestUnit *u);

/* One tree of u, from d/<image_dir>/<root>: with its own PIDs, or in a PID
 * namespace of its own when they are taken; then back into u's cgroup. */
int restore_tree(struct imagedir *d, ManifestUnit *u, uint32_t root);
