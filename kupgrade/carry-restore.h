/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "imagedir.h"
#include "manifest.h"

/*
 * Carried files, the restore's half: what a unit held open on the old
 * boot's tmpfs (the checkpoint copied it into the images, see carry_files())
 * is put back where CRIU will reopen it; left alone where it still exists (a
 * restore on the same boot).
 */
int carry_put_back(struct imagedir *d, const ManifestUnit *u);
