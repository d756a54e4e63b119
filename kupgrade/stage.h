/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "options.h"

/*
 * "kupgrade stage": carry o->from across the next kexec into o->kernel the
 * way the upgrade carries its images (transport picked, staged, kernel
 * loaded), checkpointing nothing. o->kernel and o->from are set. With
 * o->dry_run, only say what would happen; with o->json, one JSON line on
 * stdout once loaded.
 */
int stage_run(const struct kupgrade_options *o);
