/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "tcp.h"
#include "test.h"

TEST(tcp_parse_ipv4_established)
{
	/* 10.0.2.15:22 <-> 10.0.2.2:51234, state 01, inode 20543 (x86: little-endian words). */
	struct tcp_conn c;
	uint32_t l = inet_addr("10.0.2.15"), r = inet_addr("10.0.2.2");
	char line[256];

	snprintf(line, sizeof(line),
		 "   3: %08X:0016 %08X:C822 01 00000000:00000000 02:000A7F1B 00000000     0        0 20543 4 0000000000000000 20 4 29 10 -1\n",
		 l, r);
	ASSERT_EQ(tcp_parse_proc_line(line, AF_INET, &c), 1);
	ASSERT_EQ(c.family, AF_INET);
	ASSERT_STREQ(c.src, "10.0.2.15");
	ASSERT_EQ(c.sport, 22);
	ASSERT_STREQ(c.dst, "10.0.2.2");
	ASSERT_EQ(c.dport, 51234);
	ASSERT_EQ(c.inode, 20543);
}

TEST(tcp_parse_skips_listen_and_header)
{
	struct tcp_conn c;

	ASSERT_EQ(tcp_parse_proc_line(
			  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
			  AF_INET, &c),
		  0);
	ASSERT_EQ(tcp_parse_proc_line(
			  "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17000 1 0000000000000000 100 0 0 10 0\n",
			  AF_INET, &c),
		  0);
	ASSERT_EQ(tcp_parse_proc_line("garbage\n", AF_INET, &c), -EBADMSG);
}

TEST(tcp_parse_ipv6_and_mapped)
{
	struct tcp_conn c;
	struct in6_addr a, b;
	const uint32_t *wa = (const uint32_t *)&a, *wb = (const uint32_t *)&b;
	char line[300];

	inet_pton(AF_INET6, "fd00::1", &a);
	inet_pton(AF_INET6, "fd00::2", &b);
	snprintf(line, sizeof(line),
		 "   1: %08X%08X%08X%08X:1F90 %08X%08X%08X%08X:D431 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1\n",
		 wa[0], wa[1], wa[2], wa[3], wb[0], wb[1], wb[2], wb[3]);
	ASSERT_EQ(tcp_parse_proc_line(line, AF_INET6, &c), 1);
	ASSERT_EQ(c.family, AF_INET6);
	ASSERT_STREQ(c.src, "fd00::1");
	ASSERT_STREQ(c.dst, "fd00::2");
	ASSERT_EQ(c.sport, 8080);

	inet_pton(AF_INET6, "::ffff:127.0.0.1", &a);
	inet_pton(AF_INET6, "::ffff:127.0.0.2", &b);
	snprintf(line, sizeof(line),
		 "   1: %08X%08X%08X%08X:1F90 %08X%08X%08X%08X:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0000000000000000 20 4 30 10 -1\n",
		 wa[0], wa[1], wa[2], wa[3], wb[0], wb[1], wb[2], wb[3]);
	ASSERT_EQ(tcp_parse_proc_line(line, AF_INET6, &c), 1);
	ASSERT_EQ(c.family, AF_INET);
	ASSERT_STREQ(c.src, "127.0.0.1");
	ASSERT_STREQ(c.dst, "127.0.0.2");
}

TEST(tcp_collect_finds_own_loopback_connection)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct tcp_conn *conns = NULL;
	size_t n = 0;
	struct stat st;
	uint64_t ino;
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_OK(bind(l, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(listen(l, 1));
	ASSERT_OK(getsockname(l, (struct sockaddr *)&a, &alen));
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_OK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	s = accept(l, NULL, NULL);
	ASSERT_TRUE(s >= 0);
	ASSERT_OK(fstat(s, &st));
	ino = st.st_ino;
	ASSERT_OK(tcp_collect(getpid(), &ino, 1, &conns, &n));
	ASSERT_EQ(n, 1);
	ASSERT_EQ(conns[0].sport, ntohs(a.sin_port));
	ASSERT_STREQ(conns[0].dst, "127.0.0.1");
	free(conns);
}
