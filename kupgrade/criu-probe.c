/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criu/criu.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>

#include "criu-probe.h"
#include "macro.h"

static const char *find_criu(void)
{
	static const char *const paths[] = { "/usr/sbin/criu", "/sbin/criu", "/usr/local/sbin/criu" };

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* The CHECK request of libcriu: 0, -EBADE when CRIU says no, -errno. */
static int check_rpc(const char *bin)
{
	criu_opts *opts = NULL;
	int r;

	r = criu_local_init_opts(&opts);
	if (r < 0)
		return r;
	criu_local_set_service_binary(opts, bin);
	r = criu_local_check(opts);
	criu_local_free_opts(opts);
	return r;
}

/* "criu check" on the command line; its last line of output in *ret_last. */
static int check_cli(const char *bin, char *last, size_t size)
{
	int pipefd[2], status;
	char buf[4096];
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execl(bin, bin, "check", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((k = read(pipefd[0], buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)k;
		if (n == sizeof(buf) - 1) { /* keep the tail */
			memmove(buf, buf + n / 2, n - n / 2);
			n -= n / 2;
		}
	}
	close(pipefd[0]);
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	{
		const char *tail = strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf;
		size_t len = MIN(strlen(tail), size - 1);

		memcpy(last, tail, len);
		last[len] = 0;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBADE;
}

int criu_probe(char **ret_error)
{
	const char *bin = find_criu();
	char last[512] = "";
	int r;

	*ret_error = NULL;
	if (!bin) {
		*ret_error = strdup("the criu binary is not installed (install the criu package)");
		return -EOPNOTSUPP;
	}
	r = check_rpc(bin);
	if (r == 0)
		return 0;
	/*
	 * CRIU 3.17.1's swrk answers CHECK with a failure when its checking
	 * child crashes (segfault at 0x200 in the Debian bookworm guest), a
	 * libcriu problem rather than a kernel one: ask the command line,
	 * whose verdict is the one "criu check" documents.
	 */
	r = check_cli(bin, last, sizeof(last));
	if (r == 0)
		return 1;
	if (asprintf(ret_error, "'criu check' fails: %s", last[0] ? last : "(no output)") < 0)
		*ret_error = NULL;
	return -EOPNOTSUPP;
}
