/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "macro.h"
#include "poll-util.h"
#include "sort.h"
#include "spawn-util.h"
#include "test.h"

TEST(greedy_realloc_grows_and_keeps_contents)
{
	_cleanup_free_ int *v = NULL;
	size_t n = 0;

	for (int i = 0; i < 1000; i++) {
		ASSERT_TRUE(GREEDY_REALLOC(v, n + 1));
		v[n++] = i;
	}
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(v[i], i);
	/* Room already there: the same block comes back. */
	int *same = v;
	ASSERT_TRUE(GREEDY_REALLOC(v, 10) == same);
}

TEST(pid_compare_sorts_pids)
{
	pid_t p[] = { 30, 1, 200, 7 };

	qsort(p, ELEMENTSOF(p), sizeof(p[0]), pid_compare);
	ASSERT_EQ(p[0], 1);
	ASSERT_EQ(p[1], 7);
	ASSERT_EQ(p[2], 30);
	ASSERT_EQ(p[3], 200);
}

static int count_to_three(void *userdata)
{
	int *n = userdata;

	return ++*n >= 3 ? 42 : 0;
}

static int never(void *userdata)
{
	++*(int *)userdata;
	return 0;
}

static int fails(void *userdata)
{
	return -EXDEV;
}

TEST(poll_until_returns_the_condition_timeout_or_error)
{
	int n = 0;

	ASSERT_EQ(poll_until(count_to_three, &n, 5000, 1), 42);
	ASSERT_EQ(n, 3);
	n = 0;
	ASSERT_EQ(poll_until(never, &n, 30, 10), -ETIMEDOUT);
	ASSERT_TRUE(n >= 2); /* once at the start, once at the deadline */
	ASSERT_EQ(poll_until(fails, NULL, 1000, 1), -EXDEV);
}

TEST(spawn_reports_exit_status_and_signals)
{
	ASSERT_EQ(spawn_run(&(struct spawn){ .argv = (const char *[]){ "true", NULL } }), 0);
	ASSERT_EQ(spawn_run(&(struct spawn){
			  .argv = (const char *[]){ "sh", "-c", "exit 3", NULL } }),
		  3);
	ASSERT_EQ(spawn_run(&(struct spawn){
			  .argv = (const char *[]){ "sh", "-c", "kill -TERM $$", NULL } }),
		  128 + SIGTERM);
	ASSERT_EQ(spawn_run(
			  &(struct spawn){ .argv = (const char *[]){ "/nonexistent/prog", NULL } }),
		  127);
	ASSERT_EQ(spawn_run(&(struct spawn){ .argv = (const char *[]){ NULL } }), -EINVAL);
}

TEST(spawn_feeds_input_and_captures_output)
{
	_cleanup_free_ char *out = NULL, *both = NULL;
	static char big[256 * 1024];

	ASSERT_EQ(spawn_run(&(struct spawn){ .argv = (const char *[]){ "tr", "a-z", "A-Z", NULL },
					     .input = "hello\n\n",
					     .output = &out }),
		  0);
	ASSERT_STREQ(out, "HELLO");
	ASSERT_EQ(spawn_run(&(struct spawn){
			  .argv = (const char *[]){ "sh", "-c", "echo out; echo err >&2", NULL },
			  .stderr_fd = SPAWN_STDOUT,
			  .output = &both }),
		  0);
	ASSERT_STREQ(both, "out\nerr");

	/* More input than a pipe holds, to a child that reads none of it and
	 * exits: no deadlock, no SIGPIPE. */
	memset(big, 'x', sizeof(big) - 1);
	ASSERT_EQ(spawn_run(&(struct spawn){ .argv = (const char *[]){ "true", NULL },
					     .input = big }),
		  0);
	/* And to one that reads it all while writing as much back. */
	_cleanup_free_ char *echo = NULL;
	ASSERT_EQ(spawn_run(&(struct spawn){
			  .argv = (const char *[]){ "cat", NULL }, .input = big, .output = &echo }),
		  0);
	ASSERT_EQ(strlen(echo), sizeof(big) - 1);
}

TEST(spawn_hands_over_an_fd)
{
	char path[] = "/tmp/kupgrade-test-spawn-XXXXXX", buf[64] = {};
	_cleanup_close_ int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0);
	unlink(path);
	ASSERT_EQ(spawn_run(&(struct spawn){ .argv = (const char *[]){ "echo", "to-file", NULL },
					     .stdout_fd = SPAWN_FD(fd) }),
		  0);
	ASSERT_EQ(pread(fd, buf, sizeof(buf) - 1, 0), 8);
	ASSERT_STREQ(buf, "to-file\n");
}
