/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "netlock.h"
#include "test.h"

TEST(netlock_script_locks_both_directions)
{
	struct tcp_conn c[] = {
		{ .family = AF_INET,
		  .src = "10.0.2.15",
		  .sport = 22,
		  .dst = "10.0.2.2",
		  .dport = 51234 },
		{ .family = AF_INET6,
		  .src = "fd00::1",
		  .sport = 8080,
		  .dst = "fd00::2",
		  .dport = 40000 },
	};
	char *s;

	ASSERT_OK(netlock_nft_script("kupgrade", c, 2, &s));
	ASSERT_TRUE(strncmp(s, "create table inet kupgrade\n", 27) == 0);
	ASSERT_TRUE(strstr(s,
			   "add element inet kupgrade conns4 { 10.0.2.15 . 22 . 10.0.2.2 . 51234, "
			   "10.0.2.2 . 51234 . 10.0.2.15 . 22 }\n"));
	ASSERT_TRUE(strstr(s,
			   "add element inet kupgrade conns6 { fd00::1 . 8080 . fd00::2 . 40000, "
			   "fd00::2 . 40000 . fd00::1 . 8080 }\n"));
	ASSERT_TRUE(strstr(s, "hook input priority -300"));
	ASSERT_TRUE(strstr(s, "hook output priority -300"));
	ASSERT_TRUE(strstr(s, "add rule inet kupgrade input meta mark 0xc114 accept\n"));
	ASSERT_TRUE(strstr(
		s,
		"add rule inet kupgrade output ip saddr . tcp sport . ip daddr . tcp dport @conns4 drop\n"));
	ASSERT_TRUE(strstr(
		s,
		"add rule inet kupgrade input ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6 drop\n"));
	free(s);
}

TEST(netlock_script_no_empty_element_list)
{
	struct tcp_conn c = {
		.family = AF_INET, .src = "127.0.0.1", .sport = 1, .dst = "127.0.0.1", .dport = 2
	};
	char *s;

	ASSERT_OK(netlock_nft_script("kupgrade", &c, 1, &s));
	/* nft rejects "elements { }": an unused family gets its set and no element line. */
	ASSERT_FALSE(strstr(s, "add element inet kupgrade conns6"));
	ASSERT_TRUE(strstr(s, "add element inet kupgrade conns4"));
	ASSERT_TRUE(strstr(s, "add set inet kupgrade conns6 { type ipv6_addr"));
	free(s);
}

TEST(netlock_update_script_adds_and_deletes_one_unit)
{
	struct tcp_conn c = {
		.family = AF_INET, .src = "10.0.2.15", .sport = 22, .dst = "10.0.2.2", .dport = 5000
	};
	char *s;

	ASSERT_OK(netlock_nft_update_script("kupgrade", true, &c, 1, &s));
	ASSERT_STREQ(s, "add element inet kupgrade conns4 { 10.0.2.15 . 22 . 10.0.2.2 . 5000, "
			"10.0.2.2 . 5000 . 10.0.2.15 . 22 }\n");
	free(s);
	ASSERT_OK(netlock_nft_update_script("kupgrade", false, &c, 1, &s));
	ASSERT_TRUE(strncmp(s, "delete element inet kupgrade conns4 { ", 38) == 0);
	free(s);
	ASSERT_OK(netlock_nft_script("kupgrade", NULL, 0, &s));
	ASSERT_FALSE(strstr(s, "element"));
	ASSERT_TRUE(strstr(s, "add chain inet kupgrade output"));
	free(s);
}

/* A second line of defence behind the manifest's check: nothing but nft
 * names and addresses reaches a script. */
TEST(netlock_scripts_refuse_what_is_not_an_address)
{
	static const struct tcp_conn bad[] = {
		{ .family = AF_INET,
		  .src = "1.2.3.4; flush ruleset",
		  .sport = 22,
		  .dst = "10.0.2.2",
		  .dport = 5000 },
		{ .family = AF_INET,
		  .src = "10.0.2.15",
		  .sport = 22,
		  .dst = "10.0.2.2 }",
		  .dport = 5000 },
		{ .family = AF_INET,
		  .src = "fd00::1",
		  .sport = 22,
		  .dst = "10.0.2.2",
		  .dport = 5000 },
		{ .family = AF_INET6,
		  .src = "10.0.2.15",
		  .sport = 22,
		  .dst = "fd00::2",
		  .dport = 5000 },
		{ .family = AF_INET,
		  .src = "10.0.2.15",
		  .sport = 0,
		  .dst = "10.0.2.2",
		  .dport = 5000 },
		{ .family = AF_UNIX,
		  .src = "10.0.2.15",
		  .sport = 22,
		  .dst = "10.0.2.2",
		  .dport = 5000 },
	};
	struct tcp_conn good = {
		.family = AF_INET, .src = "10.0.2.15", .sport = 22, .dst = "10.0.2.2", .dport = 5000
	};
	char *s = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(netlock_nft_script("kupgrade", &bad[i], 1, &s), -EINVAL);
		ASSERT_EQ(netlock_nft_update_script("kupgrade", true, &bad[i], 1, &s), -EINVAL);
		ASSERT_EQ(netlock_nft_update_script("kupgrade", false, &bad[i], 1, &s), -EINVAL);
	}
	ASSERT_EQ(netlock_nft_script("kupgrade; flush ruleset", &good, 1, &s), -EINVAL);
	ASSERT_EQ(netlock_nft_script("kupgrade\n", &good, 1, &s), -EINVAL);
	ASSERT_EQ(netlock_nft_script("", &good, 1, &s), -EINVAL);
	ASSERT_EQ(netlock_nft_update_script("inet kupgrade", true, &good, 1, &s), -EINVAL);
	ASSERT_TRUE(s == NULL);
	ASSERT_OK(netlock_nft_script("kupgrade", &good, 1, &s));
	free(s);
}
