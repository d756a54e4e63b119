/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "log.h"
#include "test.h"
#include "tree.h"

TEST(tree_parse_mountinfo_ids)
{
	const char *mi = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
			 "23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw\n"
			 "1043 22 0:27 / /run rw shared:5 - tmpfs tmpfs rw\n";
	uint32_t *ids;
	size_t n;

	ASSERT_OK(tree_parse_mount_ids(mi, &ids, &n));
	ASSERT_EQ(n, 3);
	ASSERT_EQ(ids[0], 22);
	ASSERT_EQ(ids[2], 1043);
	free(ids);
	ASSERT_EQ(tree_parse_mount_ids("x y\n", &ids, &n), -EBADMSG);
}

TEST(tree_parse_fdinfo)
{
	uint32_t id;

	ASSERT_OK(tree_parse_fdinfo_mnt_id("pos:\t0\nflags:\t0100001\nmnt_id:\t43\nino:\t1234\n",
					   &id));
	ASSERT_EQ(id, 43);
	ASSERT_EQ(tree_parse_fdinfo_mnt_id("pos:\t0\nflags:\t02\n", &id), -ENOENT);
}

TEST(tree_scan_finds_children_sockets_and_session)
{
	int sv[2], ready[2];
	struct tree t;
	pid_t child;
	char c;

	log_set_max_level(LOG_EMERG);
	ASSERT_OK(pipe(ready));
	child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		/* A session leader with a grandchild holding a socket pair. */
		setsid();
		if (fork() == 0) {
			socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
			write(ready[1], "x", 1);
			pause();
			_exit(0);
		}
		pause();
		_exit(0);
	}
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	ASSERT_OK(tree_scan(child, &t));
	ASSERT_EQ(t.n_pids, 2);
	ASSERT_EQ(t.pids[0], child);
	ASSERT_EQ(t.n_sockets, 2);
	ASSERT_FALSE(t.shell_job);
	ASSERT_EQ(t.n_externals, 0);
	ASSERT_TRUE(t.problem == NULL);
	kill(t.pids[1], SIGKILL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	tree_done(&t);
}

TEST(tree_scan_flags_shell_job_outside_session)
{
	struct tree t;
	pid_t child = fork();

	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	/* The child shares our session and process group: both outside its tree. */
	ASSERT_OK(tree_scan(child, &t));
	ASSERT_TRUE(t.shell_job);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	tree_done(&t);
}

/* A session leader holding a pty slave and, if own_master, its master. */
static pid_t child_with_pty(bool own_master, int *ret_ready)
{
	int ready[2], m, sl;
	pid_t pid;

	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return -1;
	sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (sl < 0 || pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		setsid();
		if (!own_master)
			close(m);
		close(ready[0]);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(m);
	close(sl);
	close(ready[1]);
	*ret_ready = ready[0];
	return pid;
}

static void scan_pty_child(bool own_master, struct tree *t)
{
	pid_t child;
	int ready;
	char c;

	child = child_with_pty(own_master, &ready);
	ASSERT_TRUE(child > 0);
	ASSERT_EQ(read(ready, &c, 1), 1);
	close(ready);
	ASSERT_OK(tree_scan(child, t));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

TEST(tree_scan_pty_master_inside_is_fine)
{
	struct tree t;

	scan_pty_child(true, &t);
	ASSERT_TRUE(t.problem == NULL);
	tree_done(&t);
}

TEST(tree_scan_pty_master_outside_is_refused)
{
	struct tree t;

	scan_pty_child(false, &t);
	ASSERT_TRUE(t.problem != NULL);
	ASSERT_TRUE(strstr(t.problem, "terminal master is outside the tree"));
	tree_done(&t);
}

TEST(tree_uncovered_roots_finds_new_and_orphaned_trees)
{
	/* 10 and 11 were scanned; 20 is a new root (parent 1, outside the
	 * unit) with child 21; 30 lost its root and was reparented to 1; 40
	 * was forked by covered 11 after the scan (CRIU finds it); 50 is gone. */
	const pid_t pids[] = { 10, 11, 20, 21, 30, 40, 50 };
	const pid_t ppids[] = { 1, 10, 1, 20, 1, 11, 0 };
	const pid_t covered[] = { 10, 11 };
	pid_t roots[7];

	ASSERT_EQ(tree_uncovered_roots(pids, ppids, 7, covered, 2, roots), 2);
	ASSERT_EQ(roots[0], 20);
	ASSERT_EQ(roots[1], 30);
	ASSERT_EQ(tree_uncovered_roots(pids, ppids, 2, covered, 2, roots), 0);
}
