/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "listensock.h"
#include "macro.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int listen_sock_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type = 0, listening = 0, proto = 0;
	socklen_t l1 = sizeof(type), l2 = sizeof(listening), l3 = sizeof(proto);
	char addr[INET6_ADDRSTRLEN];

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l2) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l3) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return negative_errno();
	if (type != SOCK_STREAM || !listening)
		return -EOPNOTSUPP;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);

		if (len <= offsetof(struct sockaddr_un, sun_path) || n > sizeof(un->sun_path))
			return -EOPNOTSUPP; /* unnamed */
		if (un->sun_path[0])
			snprintf(buf, size, "unix %.*s", (int)strnlen(un->sun_path, n),
				 un->sun_path);
		else
			snprintf(buf, size, "unix @%.*s", (int)n - 1, un->sun_path + 1);
		return 0;
	}
	if (proto != IPPROTO_TCP)
		return -EOPNOTSUPP;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
		snprintf(buf, size, "tcp %s:%u", addr, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
		snprintf(buf, size, "tcp6 [%s]:%u", addr, ntohs(in6->sin6_port));
	} else
		return -EOPNOTSUPP;
	return 0;
}

int proc_dup_fd(pid_t pid, int fd, bool inheritable, int *ret_fd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int copy;

	if (pidfd < 0)
		return negative_errno();
	copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (copy < 0)
		return negative_errno();
	if (inheritable && fcntl(copy, F_SETFD, 0) < 0) {
		int r = negative_errno();

		close(copy);
		return r;
	}
	*ret_fd = copy;
	return 0;
}

int listen_sock_find_in_init(const char *name, int *ret_fd)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/1/fd");
	struct dirent *de;

	if (!d)
		return negative_errno();
	while ((de = readdir(d))) {
		char link[300], target[64], have[128];
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/1/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (strncmp(target, "socket:", 7) != 0)
			continue;
		if (proc_dup_fd(1, atoi(de->d_name), true, &fd) < 0)
			continue;
		if (listen_sock_name(fd, have, sizeof(have)) == 0 && strcmp(have, name) == 0) {
			*ret_fd = fd;
			return 0;
		}
		close(fd);
	}
	return -ENOENT;
}
