/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/*
 * Grow an array so that it holds at least `need` elements: the one way to
 * grow an array in this tree. The capacity is what malloc says the block
 * holds (malloc_usable_size), so no separate "allocated" count is kept;
 * growth is geometric. Returns the (possibly moved) array, or NULL with the
 * array untouched when out of memory.
 *
 *	if (!GREEDY_REALLOC(v, n + 1))
 *		return -ENOMEM;
 *	v[n++] = x;
 */
void *greedy_realloc(void **p, size_t need, size_t size);
#define GREEDY_REALLOC(p, need) greedy_realloc((void **)&(p), (need), sizeof((p)[0]))
