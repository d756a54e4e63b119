/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdlib.h>
#include <sys/types.h>

/* Three-way comparison of two scalars: -1, 0 or 1. */
#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b) ? 1 : 0)

/* qsort/bsearch comparator for arrays of pid_t (and of structs whose first
 * member is a pid_t). */
int pid_compare(const void *a, const void *b);
