/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
