/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "dirwalk.h"
#include "exit-status.h"
#include "fileio.h"
#include "log.h"
#include "test.h"

TEST(log_returns_negative_errno)
{
	log_set_max_level(LOG_EMERG); /* quiet */
	ASSERT_EQ(log_error_errno(-ENOENT, "x"), -ENOENT);
	ASSERT_EQ(log_error_errno(EPERM, "positive is normalised"), -EPERM);
	ASSERT_EQ(log_info("no error"), 0);
}

TEST(exit_codes_are_distinct)
{
	ASSERT_EQ(exit_code_from_errno(-EINVAL), EXIT_USAGE);
	ASSERT_EQ(exit_code_from_errno(-ENOENT), EXIT_NOINPUT);
	ASSERT_EQ(exit_code_from_errno(-EPERM), EXIT_NOPERM);
	ASSERT_EQ(exit_code_from_errno(-EFAULT), EXIT_SOFTWARE);
}

TEST(dir_measure_counts_regular_files_below_an_fd)
{
	char dir[] = "/tmp/kup-test-measure-XXXXXX", cmd[512];
	uint64_t bytes;
	unsigned files;
	int fd;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p a/b empty && printf 12345 > a/b/x && "
		 "printf 1 > a/y && : > z",
		 dir);
	ASSERT_EQ(system(cmd), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(dir_measure_at(fd, ".", &bytes, &files));
	ASSERT_EQ(bytes, 6);
	ASSERT_EQ(files, 3);
	ASSERT_OK(dir_measure_at(fd, "a", &bytes, NULL));
	ASSERT_EQ(bytes, 6);
	ASSERT_EQ(dir_measure_at(fd, "missing", &bytes, NULL), -ENOENT);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
}

TEST(mkdir_parents_makes_the_parents_only)
{
	char dir[] = "/tmp/kup-test-mkdir-XXXXXX", path[256];
	struct stat st;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/b/pidfile", dir);
	ASSERT_OK(mkdir_parents(path, 0700));
	ASSERT_OK(mkdir_parents(path, 0700)); /* again: they exist */
	snprintf(path, sizeof(path), "%s/a/b", dir);
	ASSERT_OK(stat(path, &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/pidfile", dir);
	ASSERT_TRUE(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ASSERT_EQ(system(path), 0);
}
