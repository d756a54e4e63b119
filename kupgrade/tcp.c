/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "tcp.h"

#define TCP_STATE_ESTABLISHED 1

static int parse_addr(const char *hex, int family, void *ret)
{
	size_t words = family == AF_INET ? 1 : 4;
	uint32_t *out = ret;

	if (strlen(hex) != words * 8)
		return -EBADMSG;
	/* The kernel prints each 32-bit word of the network-order address as a
	 * native integer: reading it back natively gives the original bytes. */
	for (size_t i = 0; i < words; i++) {
		char word[9];

		memcpy(word, hex + 8 * i, 8);
		word[8] = 0;
		out[i] = (uint32_t)strtoul(word, NULL, 16);
	}
	return 0;
}

static bool v4_mapped(const struct in6_addr *a)
{
	return IN6_IS_ADDR_V4MAPPED(a);
}

static int format_addr(int family, const void *addr, char *buf, int *ret_family)
{
	if (family == AF_INET6 && v4_mapped(addr)) {
		family = AF_INET;
		addr = (const uint8_t *)addr + 12;
	}
	if (!inet_ntop(family, addr, buf, INET6_ADDRSTRLEN))
		return negative_errno();
	*ret_family = family;
	return 0;
}

int tcp_parse_proc_line(const char *line, int family, struct tcp_conn *ret)
{
	char lhex[33], rhex[33];
	unsigned lport, rport, state;
	unsigned long long inode;
	struct in6_addr la = {}, ra = {};
	struct tcp_conn c = {};
	int n, r;

	n = sscanf(line,
		   " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x %*x:%*x %*x:%*x %*x %*u %*d %llu",
		   lhex, &lport, rhex, &rport, &state, &inode);
	if (n == 0 && strstr(line, "local_address"))
		return 0; /* the header */
	if (n != 6 || lport > 0xffff || rport > 0xffff)
		return -EBADMSG;
	if (parse_addr(lhex, family, &la) < 0 || parse_addr(rhex, family, &ra) < 0)
		return -EBADMSG;
	if (state != TCP_STATE_ESTABLISHED)
		return 0;
	r = format_addr(family, &la, c.src, &c.family);
	if (r == 0)
		r = format_addr(family, &ra, c.dst, &c.family);
	if (r < 0)
		return -EBADMSG;
	c.sport = lport;
	c.dport = rport;
	c.inode = inode;
	*ret = c;
	return 1;
}

static bool inode_in(uint64_t ino, const uint64_t *inodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (inodes[i] == ino)
			return true;
	return false;
}

static int collect_file(const char *path, int family, const uint64_t *inodes, size_t n_inodes,
			struct tcp_conn **conns, size_t *n_conns)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return errno == ENOENT ? 0 : negative_errno(); /* no IPv6 in this kernel */
	while (getline(&line, &cap, f) > 0) {
		struct tcp_conn c;
		int r = tcp_parse_proc_line(line, family, &c);

		if (r < 0)
			return log_error_errno(r, "Cannot parse a line of %s: %s", path, line);
		if (r == 0 || !inode_in(c.inode, inodes, n_inodes))
			continue;
		if (!GREEDY_REALLOC(*conns, *n_conns + 1))
			return -ENOMEM;
		(*conns)[(*n_conns)++] = c;
	}
	return 0;
}

int tcp_collect(pid_t pid, const uint64_t *inodes, size_t n_inodes, struct tcp_conn **conns,
		size_t *n_conns)
{
	char path[64];
	int r;

	if (n_inodes == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/net/tcp", (int)pid);
	r = collect_file(path, AF_INET, inodes, n_inodes, conns, n_conns);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/net/tcp6", (int)pid);
	return collect_file(path, AF_INET6, inodes, n_inodes, conns, n_conns);
}
