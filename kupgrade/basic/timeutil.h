/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

/* The clock in microseconds (CLOCK_MONOTONIC for durations, CLOCK_REALTIME
 * for what two boots compare, CLOCK_BOOTTIME for time since the kernel started). */
static inline uint64_t now_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
