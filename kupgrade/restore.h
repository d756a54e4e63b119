/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

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
