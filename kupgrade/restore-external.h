/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "criu.h"
#include "manifest.h"

/*
 * The files a tree held that the checkpoint declared external, handed back
 * to CRIU at restore as fresh objects of the same type and mode: FIFOs,
 * journal streams, and a socket-activated service's listening sockets.
 */

/* As many as the checkpoint declared: no limit of its own here, or a unit
 * could dump and then never restore. */
struct restore_externals {
	struct criu_inherit *inherit;
	size_t n;
};

/* One fd for each of u's externals, keyed as CRIU expects them. dir_fd: the
 * tree's images, where FIFOs are made. On failure nothing stays open (nor
 * allocated); else restore_externals_close() closes and frees. */
int restore_externals_open(int dir_fd, const ManifestUnit *u, struct restore_externals *ret);
void restore_externals_close(struct restore_externals *x);
