/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "test.h"

static void run(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), fmt, a, b);
	if (system(cmd) != 0)
		test_fail("command failed: %s", cmd);
}

static char *slurp(const char *path, size_t *ret_size)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		test_fail("short read of %s", path);
	buf[n] = 0;
	fclose(f);
	*ret_size = (size_t)n;
	return buf;
}

TEST(cpio_round_trip_through_system_cpio)
{
	char dir[] = "/tmp/kupgrade-cpio-XXXXXX", archive[512], path[512];
	struct cpio_writer w;
	struct stat st;
	char big[300001]; /* not a multiple of 4: exercises data padding */
	size_t n;
	char *got;
	int fd, tmp;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(archive, sizeof(archive), "%s/a.cpio", dir);
	fd = open(archive, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_TRUE(fd >= 0);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);

	ASSERT_OK(cpio_writer_init(&w, fd, 1700000000));
	ASSERT_OK(cpio_write_directory(&w, "imgs", 0700));
	ASSERT_OK(cpio_write_directory(&w, "imgs/ssh.service", 0750));
	ASSERT_OK(cpio_write_file_data(&w, "imgs/a", 0600, "abc", 3));
	ASSERT_OK(cpio_write_file_data(&w, "imgs/empty", 0644, "", 0));
	ASSERT_OK(cpio_write_file_data(&w, "imgs/ssh.service/big", 0400, big, sizeof(big)));

	/* From an fd, at its current position. */
	tmp = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	ASSERT_TRUE(tmp >= 0);
	ASSERT_EQ(write(tmp, "skip-this:payload", 17), 17);
	ASSERT_EQ(lseek(tmp, 10, SEEK_SET), 10);
	ASSERT_OK(cpio_write_file_fd(&w, "imgs/ssh.service/fromfd", 0640, tmp, 7));
	ASSERT_OK(cpio_write_trailer(&w));
	close(fd);

	ASSERT_EQ(stat(archive, &st), 0);
	ASSERT_EQ(st.st_size % 4, 0);
	ASSERT_EQ((uint64_t)st.st_size, w.offset);

	run("cd %s && mkdir out && cd out && cpio -idm --quiet < %s", dir, archive);

	snprintf(path, sizeof(path), "%s/out/imgs/a", dir);
	got = slurp(path, &n);
	ASSERT_TRUE(got);
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(got, "abc");
	free(got);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0600);
	ASSERT_EQ(st.st_mtime, 1700000000);

	snprintf(path, sizeof(path), "%s/out/imgs/ssh.service/big", dir);
	got = slurp(path, &n);
	ASSERT_TRUE(got);
	ASSERT_EQ(n, sizeof(big));
	ASSERT_TRUE(memcmp(got, big, sizeof(big)) == 0);
	free(got);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0400);

	snprintf(path, sizeof(path), "%s/out/imgs/ssh.service/fromfd", dir);
	got = slurp(path, &n);
	ASSERT_TRUE(got);
	ASSERT_STREQ(got, "payload");
	free(got);

	snprintf(path, sizeof(path), "%s/out/imgs/empty", dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_size, 0);

	snprintf(path, sizeof(path), "%s/out/imgs/ssh.service", dir);
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0750);

	/* Ownership as listed by cpio itself: root, whoever wrote it. */
	run("cd %s && cpio -tv --quiet < %s > list && ! grep -v ' root *root ' list", dir, archive);

	run("rm -rf %s%s", dir, "");
	close(tmp);
}

TEST(cpio_short_source_fails)
{
	char path[] = "/tmp/kupgrade-cpio-XXXXXX";
	struct cpio_writer w;
	int fd = mkstemp(path), src;

	ASSERT_TRUE(fd >= 0);
	unlink(path);
	src = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_OK(cpio_writer_init(&w, fd, 0));
	ASSERT_EQ(cpio_write_file_fd(&w, "f", 0600, src, 10), -EIO);
	ASSERT_EQ(cpio_write_file_fd(&w, "g", 0600, src, 0x100000000ULL), -EFBIG);
	ASSERT_EQ(cpio_write_directory(&w, "/abs", 0700), -EINVAL);
	ASSERT_EQ(cpio_write_directory(&w, "", 0700), -EINVAL);
	close(src);
	close(fd);
}

TEST(cpio_appended_archive_is_aligned)
{
	char path[] = "/tmp/kupgrade-cpio-XXXXXX";
	struct cpio_writer w;
	char buf[64];
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "12345", 5), 5); /* an "initrd" of odd length */
	ASSERT_OK(cpio_writer_init(&w, fd, 0));
	ASSERT_OK(cpio_write_file_data(&w, "x", 0600, "y", 1));
	ASSERT_OK(cpio_write_trailer(&w));
	ASSERT_EQ(lseek(fd, 0, SEEK_END), 8 + (off_t)w.offset);
	ASSERT_EQ(pread(fd, buf, 9, 0), 9);
	/* Zero padding, then the magic on the boundary. */
	ASSERT_TRUE(memcmp(buf,
			   "12345\0\0\0"
			   "0",
			   9) == 0);
	ASSERT_EQ(pread(fd, buf, 6, 8), 6);
	ASSERT_TRUE(memcmp(buf, "070701", 6) == 0);
	/* The second header starts aligned as well: 110 + 2 ("x\0") -> 112, + 1 -> 116. */
	ASSERT_EQ(pread(fd, buf, 6, 8 + 116), 6);
	ASSERT_TRUE(memcmp(buf, "070701", 6) == 0);
	close(fd);
	unlink(path);
}

/* A source over newc's 4 GiB (sparse: nothing real written) is refused
 * before a byte of its entry: never a header promising a cut size. */
TEST(cpio_refuses_an_entry_over_4_gib_before_writing)
{
	char path[] = "/tmp/kupgrade-cpio-XXXXXX";
	struct cpio_writer w;
	int fd = mkstemp(path), src;

	ASSERT_TRUE(fd >= 0);
	unlink(path);
	src = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	ASSERT_TRUE(src >= 0);
	ASSERT_EQ(ftruncate(src, (off_t)CPIO_NEWC_MAX_FILE + 1), 0);
	ASSERT_OK(cpio_writer_init(&w, fd, 0));
	ASSERT_OK(cpio_write_file_data(&w, "before", 0600, "x", 1));
	ASSERT_EQ(cpio_write_file_fd(&w, "huge", 0600, src, CPIO_NEWC_MAX_FILE + 1), -EFBIG);
	ASSERT_EQ(lseek(fd, 0, SEEK_END), (off_t)w.offset);
	ASSERT_EQ(w.offset, 124); /* "before" alone: 110 + 7 -> 120, + 1 of data -> 124 */
	ASSERT_EQ(lseek(src, 0, SEEK_CUR), 0);
	close(src);
	close(fd);
}
