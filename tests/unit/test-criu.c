/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "criu.h"
#include "test.h"

/* A stats-dump image written by criu 3.17.1 in the bookworm guest. */
static const uint8_t stats_dump[] = {
	0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x29, 0x00, 0x00, 0x00, 0x0a, 0x27,
	0x08, 0xac, 0xf4, 0x01, 0x10, 0x91, 0xec, 0x43, 0x18, 0xd8, 0xd4, 0x0d, 0x20, 0x86,
	0xee, 0x03, 0x28, 0xb7, 0xbd, 0x01, 0x30, 0x00, 0x38, 0x90, 0x15, 0x40, 0x00, 0x48,
	0x00, 0x50, 0x08, 0x58, 0x08, 0x60, 0x00, 0x68, 0x00, 0x70, 0x00,
};

TEST(criu_parse_real_stats_dump)
{
	struct criu_dump_stats s;

	ASSERT_OK(criu_parse_dump_stats(stats_dump, sizeof(stats_dump), &s));
	ASSERT_EQ(s.freezing_usec, 31276);
	ASSERT_EQ(s.frozen_usec, 1111569);
	ASSERT_EQ(s.memdump_usec, 223832);
	ASSERT_EQ(s.memwrite_usec, 63238);
	ASSERT_EQ(s.pages_written, 2704);
}

TEST(criu_parse_stats_rejects_truncated)
{
	struct criu_dump_stats s;

	ASSERT_EQ(criu_parse_dump_stats(stats_dump, 8, &s), -EBADMSG);
	ASSERT_EQ(criu_parse_dump_stats(stats_dump, sizeof(stats_dump) - 10, &s), -EBADMSG);
}
