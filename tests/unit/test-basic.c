/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"
#include "test.h"
#include "verbs.h"

TEST(log_returns_negative_errno)
{
	log_set_max_level(LOG_EMERG); /* quiet */
	ASSERT_EQ(log_error_errno(-ENOENT, "x"), -ENOENT);
	ASSERT_EQ(log_error_errno(EPERM, "positive is normalised"), -EPERM);
	ASSERT_EQ(log_info("no error"), 0);
}

TEST(exit_codes_are_distinct)
{
	ASSERT_EQ(exit_code_from_errno(-EINVAL), EXIT_USAGE);
	ASSERT_EQ(exit_code_from_errno(-ENOENT), EXIT_NOINPUT);
	ASSERT_EQ(exit_code_from_errno(-EPERM), EXIT_NOPERM);
	ASSERT_EQ(exit_code_from_errno(-EFAULT), EXIT_SOFTWARE);
}
