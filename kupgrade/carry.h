/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "imagedir.h"
#include "manifest.h"
#include "plan.h"

/*
 * Files a unit holds open on a tmpfs, copied into <unit>/carried/<n> of the
 * images right before its dump and recorded in its manifest entry (mu): once
 * its main process is gone systemd deletes its PIDFile=, and CRIU records the
 * size a file must have at restore. A directory is recorded, not copied.
 * dir_name: the unit's directory in d. Each file must still be the one the
 * plan saw (pu->externals: its inode, a regular file or a directory, reached
 * without a symlink, at most CARRY_MAX_BYTES): else the unit is refused
 * before its dump, and nothing else (a FIFO swapped in) is ever opened.
 */
int carry_files(const struct plan_unit *pu, ManifestUnit *mu, struct imagedir *d,
		const char *dir_name);

/*
 * The restore's half: each carried file is put back where CRIU will reopen
 * it, with its owner and mode; left alone where it still exists as what was
 * carried (a restore on the same boot). The path is walked from "/" without
 * following a symlink, missing directories made (root, 0755); a symlink on
 * the way, a directory owned by anyone but root and the file's owner, or
 * something else at the path refuses the unit's restore.
 */
int carry_put_back(struct imagedir *d, const ManifestUnit *u);
