/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"


/* --dry-run: the phases and the plan, nothing changed. */
int upgrade_print_dry_run(const char *release);
