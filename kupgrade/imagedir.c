/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>

#include "dirwalk.h"
#include "fileio.h"
#include "imagedir.h"
#include "log.h"

static int dir_is_empty(int fd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = opendir_fd(fd, &d);

	if (r < 0)
		return r;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			return 0;
	return 1;
}

int imagedir_prepare(const char *path, bool on_disk, uint64_t need_bytes, struct imagedir *ret)
{
	struct imagedir d = { .fd = -EBADF };
	struct statfs sfs;
	struct stat st;
	int r;

	if (mkdir(path, 0700) == 0)
		d.created = true;
	else if (errno != EEXIST)
		return log_error_errno(negative_errno(), "Cannot create image directory %s: %m",
				       path);
	d.fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (d.fd < 0) {
		r = log_error_errno(negative_errno(),
				    "Cannot open %s: %m (it must be a directory, not a symlink)",
				    path);
		goto fail;
	}
	if (!d.created) {
		r = dir_is_empty(d.fd);
		if (r <= 0) {
			r = log_error_errno(r < 0 ? r : -EEXIST,
					    "%s is not empty: refusing to mix images with existing files. "
					    "Choose a new directory.",
					    path);
			goto fail;
		}
	}
	if (fstatfs(d.fd, &sfs) < 0 || fstat(d.fd, &st) < 0) {
		r = log_error_errno(negative_errno(), "Cannot stat %s: %m", path);
		goto fail;
	}
	if (!on_disk && sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC) {
		r = log_error_errno(-EINVAL,
				    "%s is not on a tmpfs: process images are secrets and must "
				    "stay in memory. Use a tmpfs directory (e.g. under /run), or "
				    "--images-on-disk to accept a disk.",
				    path);
		goto fail;
	}
	if (fchown(d.fd, 0, 0) < 0 || fchmod(d.fd, 0700) < 0) {
		r = log_error_errno(negative_errno(), "Cannot make %s root-only (0700): %m", path);
		goto fail;
	}
	if (need_bytes > 0 && (uint64_t)sfs.f_bavail * sfs.f_bsize < need_bytes) {
		r = log_error_errno(-ENOSPC,
				    "%s has %llu MiB free, the images need about %llu MiB: "
				    "free memory or enlarge the tmpfs.",
				    path,
				    (unsigned long long)((uint64_t)sfs.f_bavail * sfs.f_bsize /
							 MiB),
				    (unsigned long long)(need_bytes / MiB));
		goto fail;
	}
	d.path = strdup(path);
	if (!d.path) {
		r = log_oom();
		goto fail;
	}
	*ret = d;
	return 0;
fail:
	if (d.fd >= 0)
		close(d.fd);
	if (d.created)
		(void)rmdir(path);
	return r;
}

int imagedir_open(const char *path, struct imagedir *ret)
{
	struct imagedir d = {};

	d.fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (d.fd < 0)
		return log_error_errno(negative_errno(), "Cannot open image directory %s: %m",
				       path);
	d.path = strdup(path);
	if (!d.path) {
		close(d.fd);
		return log_oom();
	}
	*ret = d;
	return 0;
}

int imagedir_mkdir_sub(struct imagedir *d, const char *name, const char *sub, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	int fd2;

	if (mkdirat(d->fd, name, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	fd = openat(d->fd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	if (!sub) {
		*ret_fd = TAKE_FD(fd);
		return 0;
	}
	if (mkdirat(fd, sub, 0700) < 0)
		return negative_errno();
	fd2 = openat(fd, sub, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd2 < 0)
		return negative_errno();
	*ret_fd = fd2;
	return 0;
}

static int open_sub(struct imagedir *d, const char *rel, int flags, int *ret_fd)
{
	int fd;

	if (rel[0] == '/' || strstr(rel, ".."))
		return -EINVAL; /* the manifest may not point outside the root */
	fd = openat(d->fd, rel, flags | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	*ret_fd = fd;
	return 0;
}

int imagedir_open_sub(struct imagedir *d, const char *rel, int *ret_fd)
{
	return open_sub(d, rel, O_DIRECTORY, ret_fd);
}

int imagedir_open_file(struct imagedir *d, const char *rel, int *ret_fd)
{
	return open_sub(d, rel, 0, ret_fd);
}

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(name, list[i]))
			return true;
	return false;
}

/* Overwrite and unlink every regular file below dir_fd, remove the rest;
 * the entries of dir_fd named in keep[] stay as they are. */
static int wipe_except(int dir_fd, const char *const *keep, size_t n_keep)
{
	static const char zeros[65536];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = opendir_fd(dir_fd, &d);

	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
		    in_list(de->d_name, keep, n_keep))
			continue;
		if (fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return negative_errno();
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dir_fd, de->d_name,
							 O_DIRECTORY | O_RDONLY | O_CLOEXEC |
								 O_NOFOLLOW);

			if (sub < 0)
				return negative_errno();
			r = wipe_except(sub, NULL, 0);
			if (r < 0)
				return r;
			if (unlinkat(dir_fd, de->d_name, AT_REMOVEDIR) < 0)
				return negative_errno();
			continue;
		}
		if (S_ISREG(st.st_mode) && st.st_size > 0) {
			_cleanup_close_ int f = openat(dir_fd, de->d_name,
						       O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

			for (off_t off = 0; f >= 0 && off < st.st_size;) {
				ssize_t k = pwrite(f, zeros,
						   MIN((off_t)sizeof(zeros), st.st_size - off),
						   off);

				if (k <= 0)
					break;
				off += k;
			}
		}
		if (unlinkat(dir_fd, de->d_name, 0) < 0)
			return negative_errno();
	}
	return 0;
}

static int wipe(int dir_fd)
{
	return wipe_except(dir_fd, NULL, 0);
}

int imagedir_size(struct imagedir *d, const char *rel, uint64_t *ret)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	*ret = 0;
	if (!rel)
		return dir_measure_at(d->fd, ".", ret, NULL);
	r = imagedir_open_sub(d, rel, &fd);
	return r < 0 ? r : dir_measure_at(fd, ".", ret, NULL);
}

int imagedir_wipe_sub(struct imagedir *d, const char *rel)
{
	_cleanup_close_ int fd = -EBADF;
	int r = imagedir_open_sub(d, rel, &fd);

	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = wipe(fd);
	if (r < 0)
		return r;
	return unlinkat(d->fd, rel, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
}

int imagedir_wipe(struct imagedir *d, bool remove_root)
{
	int r = wipe(d->fd);

	if (r < 0)
		return log_error_errno(r, "Cannot wipe images in %s: %m", d->path);
	if (!(d->created || remove_root))
		return 0;
	/* After a switch the images root is the tmpfs the initramfs mounted:
	 * empty now, it goes with its mount. */
	if (rmdir(d->path) < 0 && errno == EBUSY && umount2(d->path, MNT_DETACH) >= 0)
		(void)rmdir(d->path);
	if (access(d->path, F_OK) == 0)
		return log_error_errno(-EBUSY, "Cannot remove %s: %m", d->path);
	return 0;
}

int imagedir_wipe_except(struct imagedir *d, const char *const *keep, size_t n_keep)
{
	return wipe_except(d->fd, keep, n_keep);
}

int imagedir_move_aside(struct imagedir *d, const char *what)
{
	size_t len = strlen(d->path);
	char stamp[32];
	struct tm tm;
	time_t t = time(NULL);

	while (len > 1 && d->path[len - 1] == '/')
		len--;
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&t, &tm));
	for (unsigned i = 0; i < 100; i++) {
		_cleanup_free_ char *to = NULL;
		int k = i == 0 ? asprintf(&to, "%.*s.%s-%s", (int)len, d->path, what, stamp)
			       : asprintf(&to, "%.*s.%s-%s.%u", (int)len, d->path, what, stamp, i);

		if (k < 0)
			return -ENOMEM;
		/* Never over what is there: a name in the parent is not ours until
		 * we made it. */
		if (renameat2(AT_FDCWD, d->path, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
			free(d->path);
			d->path = TAKE_PTR(to);
			return 0;
		}
		if (errno != EEXIST)
			return negative_errno();
	}
	return -EEXIST;
}

void imagedir_close(struct imagedir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	*d = (struct imagedir){ .fd = -EBADF };
}
