/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sort.h"

int pid_compare(const void *a, const void *b)
{
	return CMP(*(const pid_t *)a, *(const pid_t *)b);
}
