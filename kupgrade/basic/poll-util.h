/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/*
 * The one poll loop: call check(userdata) every interval_ms until it returns
 * non-zero or timeout_ms has passed (CLOCK_MONOTONIC). check returns > 0 when
 * the condition holds, 0 to keep waiting, or a negative errno to stop.
 * Returns check's last positive or negative value, or -ETIMEDOUT. check is
 * always called at least once, and once more at the deadline.
 */
int poll_until(int (*check)(void *userdata), void *userdata, uint64_t timeout_ms,
	       uint64_t interval_ms);

/* Sleep for ms milliseconds (restarted when a signal interrupts it). */
void sleep_ms(uint64_t ms);
