/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "bus.h"
#include "log.h"
#include "test.h"
#include "timeutil.h"

TEST(bus_wait_active_ends_by_its_timeout)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC), took;
	int r;

	/* Without systemd (a container, a build host) the state never reads:
	 * the wait ends at its timeout. With systemd the unit is not found,
	 * so "inactive" without a job: -EIO at once. */
	log_set_max_level(LOG_EMERG);
	r = bus_wait_active("kupgrade-unit-test-does-not-exist.service", 300 * 1000);
	took = now_usec(CLOCK_MONOTONIC) - t0;
	ASSERT_TRUE(r == -ETIMEDOUT || r == -EIO);
	if (r == -ETIMEDOUT)
		ASSERT_TRUE(took >= 300 * 1000);
	ASSERT_TRUE(took < 5 * 1000 * 1000);
}
