/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "restore-lock.h"
#include "test.h"

TEST(last_pid_is_raised_above_the_checkpointed_pids_only)
{
	ASSERT_EQ(restore_last_pid_target("590\n", 250), 590);
	ASSERT_EQ(restore_last_pid_target("590", 250), 590);
	/* Never lowered: the boot is past them already. */
	ASSERT_EQ(restore_last_pid_target("590\n", 590), 0);
	ASSERT_EQ(restore_last_pid_target("590\n", 4000), 0);
	ASSERT_EQ(restore_last_pid_target("", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("59x\n", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("-5\n", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("99999999999999999999\n", 250), -EINVAL);
}
