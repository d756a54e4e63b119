/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "imagedir.h"
#include "log.h"
#include "test.h"

static const char *tmpfs_base(void)
{
	struct statfs s;

	if (statfs("/dev/shm", &s) == 0 && s.f_type == TMPFS_MAGIC)
		return "/dev/shm";
	return NULL;
}

TEST(imagedir_prepare_wipe_cycle)
{
	const char *base = tmpfs_base();
	char path[128], file[160];
	struct imagedir d;
	struct stat st;
	uint64_t size;
	int fd, sub;

	log_set_max_level(LOG_EMERG);
	if (!base || geteuid() != 0)
		return; /* needs root and a tmpfs: covered in the VM otherwise */
	snprintf(path, sizeof(path), "%s/kupgrade-test-%d", base, getpid());
	ASSERT_OK(imagedir_prepare(path, false, 0, &d));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0700);
	ASSERT_OK(imagedir_mkdir_sub(&d, "a.service", "42", &sub));
	fd = openat(sub, "pages-1.img", O_WRONLY | O_CREAT, 0600);
	ASSERT_EQ(write(fd, "secret", 6), 6);
	close(fd);
	close(sub);
	ASSERT_OK(imagedir_size(&d, NULL, &size));
	ASSERT_EQ(size, 6);
	ASSERT_EQ(imagedir_open_sub(&d, "../etc", &fd), -EINVAL);
	ASSERT_OK(imagedir_wipe(&d, false));
	ASSERT_TRUE(stat(path, &st) < 0); /* we created it: gone */
	imagedir_close(&d);

	/* Non-empty directories are refused and left as they were. */
	ASSERT_OK(mkdir(path, 0755));
	snprintf(file, sizeof(file), "%s/keep", path);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ASSERT_EQ(imagedir_prepare(path, false, 0, &d), -EEXIST);
	ASSERT_OK(stat(file, &st));
	unlink(file);

	/* Too little space for the estimate. */
	ASSERT_EQ(imagedir_prepare(path, false, UINT64_MAX / 2, &d), -ENOSPC);
	rmdir(path);
}

TEST(imagedir_refuses_disk)
{
	struct statfs s;
	char path[64];
	struct imagedir d;

	log_set_max_level(LOG_EMERG);
	snprintf(path, sizeof(path), "build/imagedir-test-%d", getpid());
	if (statfs("build", &s) < 0 || s.f_type == TMPFS_MAGIC)
		return;
	ASSERT_EQ(imagedir_prepare(path, false, 0, &d), -EINVAL);
	ASSERT_TRUE(access(path, F_OK) < 0); /* nothing left behind */
}
