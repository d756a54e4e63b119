/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "spawn-util.h"

/* In the child: make target (0, 1 or 2) what spec says. */
static int child_fd(int target, int spec, int null_fd)
{
	int fd;

	switch (spec) {
	case SPAWN_INHERIT:
		return 0;
	case SPAWN_NULL:
		fd = null_fd;
		break;
	case SPAWN_STDOUT:
		fd = STDOUT_FILENO;
		break;
	default:
		fd = spec - 1;
	}
	if (fd == target) /* dup2 of an fd onto itself keeps O_CLOEXEC */
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static _noreturn_ void child(const struct spawn *s, int in_pipe, int out_pipe)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int in = in_pipe >= 0 ? SPAWN_FD(in_pipe) : s->stdin_fd;
	int out = out_pipe >= 0 ? SPAWN_FD(out_pipe) : s->stdout_fd;
	sigset_t all;

	/* The parent may hold signals (the phase runner does): not the child. */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (null_fd < 0 || child_fd(STDIN_FILENO, in, null_fd) < 0 ||
	    child_fd(STDOUT_FILENO, out, null_fd) < 0 ||
	    child_fd(STDERR_FILENO, s->stderr_fd, null_fd) < 0)
		_exit(127);
	if (strchr(s->argv[0], '/'))
		execv(s->argv[0], (char *const *)s->argv);
	else
		execvp(s->argv[0], (char *const *)s->argv);
	_exit(127);
}

/* Feed input and collect output without either side blocking the other. */
static int pump(int in_fd, const char *input, int out_fd, char **ret_out)
{
	size_t in_len = input ? strlen(input) : 0, in_off = 0, len = 0;
	_cleanup_free_ char *buf = NULL;
	int r = 0;

	while (in_fd >= 0 || out_fd >= 0) {
		struct pollfd p[2] = { { .fd = in_fd, .events = POLLOUT },
				       { .fd = out_fd, .events = POLLIN } };
		ssize_t k;

		if (in_fd >= 0 && in_off == in_len) {
			close(in_fd);
			in_fd = p[0].fd = -1;
			continue;
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			break;
		}
		if (in_fd >= 0 && p[0].revents) {
			k = write(in_fd, input + in_off, in_len - in_off);
			if (k < 0 && errno != EINTR && errno != EAGAIN)
				in_off = in_len; /* the child stopped reading: nothing more to say */
			else if (k > 0)
				in_off += k;
		}
		if (out_fd >= 0 && p[1].revents) {
			if (!GREEDY_REALLOC(buf, len + 4096 + 1)) {
				r = -ENOMEM;
				break;
			}
			k = read(out_fd, buf + len, 4096);
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0) {
				close(out_fd);
				out_fd = -1;
				continue;
			}
			len += k;
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (r < 0 || !ret_out)
		return r;
	if (!buf && !(buf = strdup("")))
		return -ENOMEM;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = 0;
	*ret_out = TAKE_PTR(buf);
	return 0;
}

int spawn_run(const struct spawn *s)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status, r;
	pid_t pid;

	if (!s->argv || !s->argv[0])
		return -EINVAL;
	if ((s->input && pipe2(in, O_CLOEXEC) < 0) || (s->output && pipe2(out, O_CLOEXEC) < 0)) {
		r = negative_errno();
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		r = negative_errno();
		goto fail;
	}
	if (pid == 0)
		child(s, in[0], out[1]);
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (s->input) {
		/* A child that exits before reading all its input must not kill
		 * us with SIGPIPE: the write fails with EPIPE instead. */
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;

		(void)fcntl(in[1], F_SETFL, O_NONBLOCK);
		sigaction(SIGPIPE, &ign, &old);
		r = pump(in[1], s->input, out[0], s->output);
		sigaction(SIGPIPE, &old, NULL);
	} else
		r = pump(-1, NULL, out[0], s->output);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (r < 0)
		return r;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
	}
	return r;
}
