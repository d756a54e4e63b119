/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"

void *greedy_realloc(void **p, size_t need, size_t size)
{
	size_t have = *p ? malloc_usable_size(*p) / size : 0, want;
	void *q;

	if (need <= have)
		return *p;
	if (need > SIZE_MAX / 2 / size)
		return NULL;
	want = need < 8 ? 8 : need * 2;
	q = realloc(*p, want * size);
	if (!q)
		return NULL;
	*p = q;
	return q;
}
