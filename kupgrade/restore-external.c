/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "alloc.h"
#include "listensock.h"
#include "log.h"
#include "plan.h"
#include "restore-external.h"

/*
 * A file declared external at dump comes back as a fresh object of the same
 * type and mode: CRIU checks both. FIFOs (the pam_systemd session FIFO of ssh
 * sessions) and journal streams are handed back, and a socket-activated
 * service's listening sockets as the ones systemd holds; the checkpoint
 * refuses anything else. The fds are opened without O_CLOEXEC: "criu swrk" is our
 * child and must inherit them.
 */
static int make_fifo(int dir_fd, const Kupgrade__ExternalFile *e, unsigned idx, int *ret_fd)
{
	char name[32];
	int fd;

	if (!e->has_mode || !S_ISFIFO(e->mode))
		return log_error_errno(-EOPNOTSUPP,
				       "External file %s (%s) is not a FIFO: cannot hand it back.",
				       e->path, e->key);
	snprintf(name, sizeof(name), "external-%u.fifo", idx);
	(void)unlinkat(dir_fd, name, 0);
	if (mkfifoat(dir_fd, name, e->mode & 07777) < 0)
		return log_error_errno(negative_errno(), "Cannot create a FIFO for %s: %m",
				       e->path);
	(void)fchmodat(dir_fd, name, e->mode & 07777, 0); /* past the umask */
	fd = openat(dir_fd, name, O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		int r = negative_errno();

		(void)unlinkat(dir_fd, name, 0);
		return log_error_errno(r, "Cannot open the FIFO for %s: %m", e->path);
	}
	(void)unlinkat(dir_fd, name, 0);
	*ret_fd = fd;
	return 0;
}

/*
 * A service's stdout/stderr stream to journald: a fresh stream, with the
 * header systemd itself sends for a service (identifier, unit, priority,
 * level prefix, no forwarding), so its lines keep their unit and name.
 */
static int make_journal_stream(const ManifestUnit *u, const Kupgrade__ExternalFile *e, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *header = NULL;
	_cleanup_close_ int fd = -EBADF;
	const char *ident = !isempty(e->identifier) ? e->identifier : u->name;
	int k;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return log_error_errno(negative_errno(), "%s: cannot create a journal stream: %m",
				       u->name);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return log_error_errno(negative_errno(),
				       "%s: cannot connect a journal stream to %s: %m", u->name,
				       e->path);
	(void)shutdown(fd, SHUT_RD);
	k = asprintf(&header, "%s\n%s\n%d\n1\n0\n0\n0\n", ident, u->name, LOG_INFO);
	if (k < 0)
		return log_oom();
	if (write(fd, header, (size_t)k) != k)
		return log_error_errno(-EIO, "%s: cannot send the journal stream header: %m",
				       u->name);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* A listening socket the service shared with systemd: the one systemd holds
 * now on the same address, started by the same socket unit. */
static int find_systemd_socket(const ManifestUnit *u, const Kupgrade__ExternalFile *e, int *ret_fd)
{
	int r = listen_sock_find_in_init(e->path, ret_fd);

	if (r == -ENOENT)
		return log_error_errno(
			r,
			"%s: systemd does not listen on %s in this boot (is the service's socket "
			"unit running?); its listening socket cannot be handed back.",
			u->name, e->path);
	if (r < 0)
		return log_error_errno(r, "%s: cannot take systemd's listening socket %s: %m",
				       u->name, e->path);
	log_info("%s: hands back systemd's listening socket %s.", u->name, e->path);
	return 0;
}

static int make_external(int dir_fd, const ManifestUnit *u, const Kupgrade__ExternalFile *e,
			 unsigned idx, int *ret_fd)
{
	if (e->has_systemd_socket && e->systemd_socket)
		return find_systemd_socket(u, e, ret_fd);
	if (e->has_mode && S_ISSOCK(e->mode) && streq_ptr(e->path, JOURNAL_STREAM_SOCKET))
		return make_journal_stream(u, e, ret_fd);
	return make_fifo(dir_fd, e, idx, ret_fd);
}

int restore_externals_open(int dir_fd, const ManifestUnit *u, struct restore_externals *ret)
{
	*ret = (struct restore_externals){};
	for (size_t i = 0; i < u->n_externals; i++) {
		int fd, r;

		if (!GREEDY_REALLOC(ret->inherit, ret->n + 1)) {
			restore_externals_close(ret);
			return log_oom();
		}
		r = make_external(dir_fd, u, u->externals[i], i, &fd);
		if (r < 0) {
			restore_externals_close(ret);
			return r;
		}
		ret->inherit[ret->n++] = (struct criu_inherit){ .fd = fd,
								.key = u->externals[i]->key };
	}
	return 0;
}

void restore_externals_close(struct restore_externals *x)
{
	for (size_t i = 0; i < x->n; i++)
		close(x->inherit[i].fd);
	free(x->inherit);
	*x = (struct restore_externals){};
}
