/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
	size_t len = 0, cap = 0;

	if (fd < 0)
		return negative_errno();
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			char *b = realloc(buf, cap + 65536);

			if (!b)
				return -ENOMEM;
			buf = b;
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
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

int write_string_file(const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (k < 0 || asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	if (write(fd, text, k) != k) {
		(void)unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		k = negative_errno();
		(void)unlink(tmp);
		return k;
	}
	return 0;
}
