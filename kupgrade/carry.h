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
 * dir_name: the unit's directory in d.
 */
int carry_files(const struct plan_unit *pu, ManifestUnit *mu, struct imagedir *d,
		const char *dir_name);

/*
 * The restore's half: each carried file is put back where CRIU will reopen
 * it; left alone where it still exists (a restore on the same boot).
 */
int carry_put_back(struct imagedir *d, const ManifestUnit *u);
