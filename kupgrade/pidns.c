/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "log.h"
#include "pidns.h"

static void write_int(int fd, int v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(1);
}

static int read_int(int fd, int *v)
{
	ssize_t n;

	do
		n = read(fd, v, sizeof(*v));
	while (n < 0 && errno == EINTR);
	return n == sizeof(*v) ? 0 : -EIO;
}

/* PID 1 of the new namespace: run fn, report, then reap until alone. */
static _noreturn_ void run_init(int (*fn)(void *), void *userdata, int out)
{
	int r;

	(void)prctl(PR_SET_NAME, "kupgrade-pidns");
	/* A /proc of this namespace: CRIU reads its own PIDs there. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		r = negative_errno();
	else
		r = fn(userdata);
	write_int(out, r);
	close(out);
	if (r < 0)
		_exit(1);
	/* Stdio of the restoring service must not keep it waiting. */
	(void)setsid();
	for (;;)
		if (wait(NULL) < 0 && errno == ECHILD)
			_exit(0);
}

int pidns_run(int (*fn)(void *userdata), void *userdata, pid_t *ret_init)
{
	/* Two pipes: the init's PID (from its parent) and fn's result (from
	 * the init) are written by two processes, in no set order. */
	int pid_pipe[2], res_pipe[2], init_pid = 0, result = -EIO, status;
	pid_t c;

	if (pipe2(pid_pipe, O_CLOEXEC) < 0)
		return negative_errno();
	if (pipe2(res_pipe, O_CLOEXEC) < 0) {
		close(pid_pipe[0]);
		close(pid_pipe[1]);
		return negative_errno();
	}
	c = fork();
	if (c == 0) {
		pid_t init;

		close(pid_pipe[0]);
		close(res_pipe[0]);
		if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			_exit(2);
		init = fork();
		if (init < 0)
			_exit(3);
		if (init == 0) {
			close(pid_pipe[1]);
			run_init(fn, userdata, res_pipe[1]);
		}
		write_int(pid_pipe[1], init);
		_exit(0);
	}
	close(pid_pipe[1]);
	close(res_pipe[1]);
	if (c < 0) {
		result = negative_errno();
		goto out;
	}
	(void)waitpid(c, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		result = log_error_errno(-EPERM, "Cannot create a PID namespace (step %d).",
					 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		goto out;
	}
	if (read_int(pid_pipe[0], &init_pid) < 0 || read_int(res_pipe[0], &result) < 0)
		result = -EIO;
	*ret_init = init_pid;
out:
	close(pid_pipe[0]);
	close(res_pipe[0]);
	return result;
}
