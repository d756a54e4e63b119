/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <time.h>

#include "poll-util.h"
#include "timeutil.h"

void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int poll_until(int (*check)(void *userdata), void *userdata, uint64_t timeout_ms,
	       uint64_t interval_ms)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_ms * 1000;

	for (;;) {
		int r = check(userdata);
		uint64_t now;

		if (r != 0)
			return r;
		now = now_usec(CLOCK_MONOTONIC);
		if (now >= deadline)
			return -ETIMEDOUT;
		sleep_ms(interval_ms < (deadline - now) / 1000 ? interval_ms
							       : (deadline - now + 999) / 1000);
	}
}
