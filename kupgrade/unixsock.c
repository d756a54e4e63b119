/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "alloc.h"
#include "log.h"
#include "sort.h"
#include "unixsock.h"

static int send_dump_request(int fd)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.req = {
			.sdiag_family = AF_UNIX,
			.udiag_states = (uint32_t)-1,
			.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER,
		},
	};
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

	return RET_NERRNO(sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nl, sizeof(nl)));
}

static int add_sock(struct unix_sock_table *t, const struct unix_diag_msg *m, size_t len)
{
	struct unix_sock s = { .ino = m->udiag_ino,
			       .type = m->udiag_type,
			       .state = m->udiag_state };
	struct rtattr *a = (struct rtattr *)(m + 1);
	size_t rest = len - NLMSG_ALIGN(sizeof(*m));

	for (; RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
		size_t plen = RTA_PAYLOAD(a);

		if (a->rta_type == UNIX_DIAG_PEER && plen >= sizeof(uint32_t))
			s.peer = *(uint32_t *)RTA_DATA(a);
		else if (a->rta_type == UNIX_DIAG_NAME && plen > 0) {
			const char *p = RTA_DATA(a);

			/* Abstract names start with a NUL; show them as "@name". */
			if (p[0] == 0) {
				if (asprintf(&s.name, "@%.*s", (int)plen - 1, p + 1) < 0)
					s.name = NULL;
			} else
				s.name = strndup(p, plen);
			if (!s.name)
				return -ENOMEM;
		}
	}
	if (!GREEDY_REALLOC(t->socks, t->n + 1)) {
		free(s.name);
		return -ENOMEM;
	}
	t->socks[t->n++] = s;
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	return CMP(((const struct unix_sock *)a)->ino, ((const struct unix_sock *)b)->ino);
}

static int receive_dump(int fd, struct unix_sock_table *t)
{
	static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int r;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -EIO;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error < 0 ? e->error : -EIO;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct unix_diag_msg)))
				continue;
			r = add_sock(t, NLMSG_DATA(h), h->nlmsg_len - NLMSG_LENGTH(0));
			if (r < 0)
				return r;
		}
	}
}

int unix_sock_table_load(struct unix_sock_table *ret)
{
	_cleanup_close_ int fd = -EBADF;
	struct unix_sock_table t = {};
	int r;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return negative_errno();
	r = send_dump_request(fd);
	if (r >= 0)
		r = receive_dump(fd, &t);
	if (r < 0) {
		unix_sock_table_done(&t);
		return r;
	}
	qsort(t.socks, t.n, sizeof(*t.socks), cmp_ino);
	*ret = t;
	return 0;
}

void unix_sock_table_done(struct unix_sock_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->socks[i].name);
	free(t->socks);
	*t = (struct unix_sock_table){};
}

const struct unix_sock *unix_sock_find(const struct unix_sock_table *t, uint64_t ino)
{
	struct unix_sock key = { .ino = ino };

	return t->n ? bsearch(&key, t->socks, t->n, sizeof(*t->socks), cmp_ino) : NULL;
}
