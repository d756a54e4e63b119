/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "macro.h"

int read_small_file(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, size - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	return (int)n;
}

int read_full_file_str(const char *path, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (fd < 0)
		return negative_errno();
	for (;;) {
		ssize_t n;

		/* Room for a 64 KiB read and the NUL. */
		if (!GREEDY_REALLOC(buf, len + 65536 + 1))
			return -ENOMEM;
		n = read(fd, buf + len, 65536);
		if (n < 0)
			return negative_errno();
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = 0;
	*ret = TAKE_PTR(buf);
	return 0;
}

int read_one_line_file(const char *path, char **ret)
{
	int r = read_full_file_str(path, ret);

	if (r < 0)
		return r;
	(*ret)[strcspn(*ret, "\n")] = 0;
	return 0;
}

/* Write text to path: atomically (a temporary file renamed over it, 0600)
 * or in place into an existing file (sysfs, cgroupfs). */
static int write_text(const char *path, const char *text, bool in_place)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t n = strlen(text);
	int r;

	if (in_place)
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	else if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	else
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	r = write(fd, text, n) == (ssize_t)n ? 0 : negative_errno();
	if (in_place)
		return r;
	if (r == 0 && rename(tmp, path) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

#define WRITE_FORMATTED(path, fmt, in_place)                          \
	({                                                            \
		_cleanup_free_ char *_text = NULL;                    \
		va_list _ap;                                          \
		int _k;                                               \
                                                                      \
		va_start(_ap, fmt);                                   \
		_k = vasprintf(&_text, fmt, _ap);                     \
		va_end(_ap);                                          \
		_k < 0 ? -ENOMEM : write_text(path, _text, in_place); \
	})

int write_string_file(const char *path, const char *fmt, ...)
{
	return WRITE_FORMATTED(path, fmt, false);
}

int write_string_file_in_place(const char *path, const char *fmt, ...)
{
	return WRITE_FORMATTED(path, fmt, true);
}

int read_boot_id(char *buf, size_t size)
{
	int r = read_small_file("/proc/sys/kernel/random/boot_id", buf, size);

	if (r < 0)
		return r;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return negative_errno();
		*s = '/';
	}
	return 0;
}

int statfs_nearest(const char *path, struct statfs *ret)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (;;) {
		if (statfs(p, ret) >= 0)
			return 0;
		if (errno != ENOENT || streq(p, "/"))
			return negative_errno();
		/* dirname() may return a static "." or "/" instead of p. */
		char *d = dirname(p);
		if (d != p)
			memmove(p, d, strlen(d) + 1);
	}
}

int opendir_fd(int dir_fd, DIR **ret)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return negative_errno();
	*ret = fdopendir(fd);
	if (!*ret) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	return 0;
}

/* One step of open_parent_nofollow(): dir_fd/name, a directory reached
 * without following a symlink, created when missing if asked. */
static int open_dir_step(int dir_fd, const char *name, unsigned flags, uid_t owner)
{
	const int oflags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	struct stat st;
	int fd, r;

	fd = openat(dir_fd, name, oflags);
	if (fd < 0 && errno == ENOENT && (flags & WALK_MKDIR)) {
		if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		fd = openat(dir_fd, name, oflags);
	}
	if (fd < 0) {
		r = negative_errno();
		/* O_DIRECTORY reports a symlink as ENOTDIR: tell them apart. */
		if ((r == -ENOTDIR || r == -ELOOP) &&
		    fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return -ELOOP;
		return r;
	}
	if ((flags & WALK_CHECK_OWNER) && fstat(fd, &st) < 0) {
		r = negative_errno();
		close(fd);
		return r;
	}
	if ((flags & WALK_CHECK_OWNER) && st.st_uid != 0 && st.st_uid != owner) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int open_parent_nofollow(const char *path, unsigned flags, uid_t owner, const char **ret_name,
			 char **ret_bad)
{
	_cleanup_close_ int fd = -EBADF;
	const char *p, *last;
	char name[NAME_MAX + 1];
	size_t n = 1;
	int r;

	if (ret_bad)
		*ret_bad = NULL;
	if (!path || path[0] != '/')
		return -EINVAL;
	last = strrchr(path, '/') + 1;
	if (!*last || streq(last, ".") || streq(last, ".."))
		return -EINVAL;
	/* "/" itself: opened like any other directory, and checked. */
	p = path;
	r = fd = open_dir_step(AT_FDCWD, "/", flags & ~WALK_MKDIR, owner);
	while (r >= 0) {
		while (*p == '/')
			p++;
		if (p == last) {
			*ret_name = last;
			return TAKE_FD(fd);
		}
		n = strcspn(p, "/");
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		if (streq(name, ".") || streq(name, ".."))
			return -EINVAL;
		r = open_dir_step(fd, name, flags, owner);
		if (r >= 0) {
			close(fd);
			fd = r;
			p += n;
		}
	}
	if (ret_bad && !(*ret_bad = strndup(path, (size_t)(p - path) + n)))
		return -ENOMEM;
	return r;
}

int write_string_file_exclusive(const char *path, mode_t mode, const char *fmt, ...)
{
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	const char *name;
	va_list ap;
	size_t n;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	dir_fd = open_parent_nofollow(path, 0, 0, &name, NULL);
	if (dir_fd < 0)
		return dir_fd;
	fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
		    mode);
	if (fd < 0)
		return negative_errno();
	n = strlen(text);
	r = write(fd, text, n) == (ssize_t)n ? 0 : negative_errno();
	if (r < 0)
		(void)unlinkat(dir_fd, name, 0);
	return r;
}
