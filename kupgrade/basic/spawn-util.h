/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/*
 * The one way to run a child program (like CRIU's cr_system() or systemd's
 * safe_fork_full()): fork, set up the three standard fds, exec, wait.
 *
 * argv[0] is looked up in PATH unless it holds a '/'. Standard fds:
 *   SPAWN_NULL     /dev/null (the default for all three: zero-initialised)
 *   SPAWN_INHERIT  the caller's own
 *   SPAWN_STDOUT   (stderr only) wherever stdout goes
 *   fd >= 0        that fd
 * input:  when set, written to the child's stdin through a pipe (stdin_fd is
 *         then ignored), closed after the last byte.
 * output: when set, the child's stdout is captured into a NUL-terminated
 *         malloc'd string (stdout_fd is then ignored; stderr too goes there
 *         with SPAWN_STDOUT); trailing newlines are dropped.
 *
 * Returns the exit status (0..255; 127 when the program could not be
 * executed), 128 + signal number when it was killed, or a negative errno when
 * it could not be started or waited for.
 */
enum {
	SPAWN_NULL = 0,
	SPAWN_INHERIT = -1,
	SPAWN_STDOUT = -2,
};
#define SPAWN_FD(fd) ((fd) + 1) /* a real fd, offset so that 0 keeps meaning SPAWN_NULL */

struct spawn {
	const char *const *argv;
	int stdin_fd, stdout_fd,
		stderr_fd; /* SPAWN_NULL, SPAWN_INHERIT, SPAWN_STDOUT or SPAWN_FD(fd) */
	const char *input;
	char **output;
};

int spawn_run(const struct spawn *s);
