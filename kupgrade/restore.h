/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

#include "imagedir.h"
#include "manifest.h"
#include "tcp.h"

/* TRANSITIONAL: the checkpoint side includes restore.h for these. */
#include "conn.h"
#include "winscale.h"

/*
 * Restoring one unit's trees from d/<unit image_dir>/<root pid>: shared by
 * "kupgrade restore" and by the checkpoint's undo (a failed checkpoint puts
 * every tree it already dumped back in place, through the same path).
 * Records the outcome and timing in u; returns < 0 if any tree failed.
 */
/* Per-service PID and result files, boot after a switch (verb_restore_unit). */

/* m: the whole manifest (the boot-side fault it may carry). */
int restore_unit(struct imagedir *d, const Manifest *m, ManifestUnit *u);

/* One tree of u, from d/<image_dir>/<root>. */
int restore_tree(struct imagedir *d, ManifestUnit *u, uint32_t root);

/* A service on the boot that dumped it, through its own unit's start (see
 * restore.c); on failure it is started fresh. images: the images root. */
int restore_service_through_unit(const char *images, ManifestUnit *u);

/* Where the images of a switch are found on the boot after it: the RAM path
 * (/run/kupgrade, filled by the initramfs) or the disk path
 * (/var/lib/kupgrade/images); NULL when neither holds a manifest. */
const char *restore_images_dir(void);

/* Pure: the value for ns_last_pid that keeps this boot's new PIDs above the
 * checkpointed ones (max_pid_text: the images' "max-pid" file), 0 when they
 * are above already, -EINVAL when the text is not a PID. */
long restore_last_pid_target(const char *max_pid_text, long current);
