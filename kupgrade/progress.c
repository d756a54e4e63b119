/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "poll-util.h"
#include "progress.h"

int progress_new_id(char *buf, size_t size)
{
	_cleanup_free_ char *uuid = NULL;
	size_t k = 0;
	int r;

	r = read_one_line_file("/proc/sys/kernel/random/uuid", &uuid);
	if (r < 0)
		return r;
	for (const char *p = uuid; *p && k + 1 < size; p++)
		if (*p != '-')
			buf[k++] = *p;
	buf[k] = 0;
	return progress_id_valid(buf) ? 0 : -EIO;
}

bool progress_id_valid(const char *id)
{
	size_t n = 0;

	for (const char *p = id; *p; p++, n++)
		if (!strchr("0123456789abcdef", *p))
			return false;
	return n >= 8 && n <= 64;
}

int progress_prepare_dir(void)
{
	struct stat st;

	if (mkdir(PROGRESS_DIR, 0700) < 0 && errno != EEXIST)
		return log_error_errno(negative_errno(), "Cannot create %s: %m", PROGRESS_DIR);
	if (lstat(PROGRESS_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 077))
		return log_error_errno(-EPERM,
				       "%s is not a root-only directory; remove it and retry.",
				       PROGRESS_DIR);
	return 0;
}

void progress_path(char *buf, size_t size, const char *id, const char *what)
{
	snprintf(buf, size, "%s/%s.%s", PROGRESS_DIR, id, what);
}

static int append_line(const char *path, const char *line)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	size_t n = strlen(line);

	if (fd < 0)
		return negative_errno();
	/* One write per line: a reader never sees half of one. */
	if (write(fd, line, n) != (ssize_t)n)
		return -EIO;
	return 0;
}

int progress_emit(const char *id, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	char path[256];
	va_list ap;
	int k;

	if (!id)
		return 0;
	va_start(ap, fmt);
	k = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	progress_path(path, sizeof(path), id, "progress");
	return append_line(path, line);
}

int progress_write_file(const char *id, const char *what, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	char path[256];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	progress_path(path, sizeof(path), id, what);
	/* Appears whole or not at all: the reader only stat()s for it. */
	return write_string_file(path, "%s", text);
}

bool progress_file_exists(const char *id, const char *what)
{
	char path[256];
	struct stat st;

	progress_path(path, sizeof(path), id, what);
	return stat(path, &st) == 0;
}

struct wait_file {
	const char *id, *what;
};

static int file_appeared(void *userdata)
{
	const struct wait_file *w = userdata;

	return progress_file_exists(w->id, w->what);
}

bool progress_wait_file(const char *id, const char *what, unsigned timeout_ms)
{
	return poll_until(file_appeared, &(struct wait_file){ id, what }, timeout_ms, 20) > 0;
}

void progress_remove_file(const char *id, const char *what)
{
	char path[256];

	progress_path(path, sizeof(path), id, what);
	(void)unlink(path);
}

void progress_remove(const char *id)
{
	static const char *const whats[] = { "progress", "quiet", "result",
					     "pid",	 "phase", "handed-over" };
	char path[256];

	for (size_t i = 0; i < ELEMENTSOF(whats); i++) {
		progress_path(path, sizeof(path), id, whats[i]);
		(void)unlink(path);
	}
}

int progress_read_new(const char *id, off_t *pos, char **ret)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	char path[256];
	struct stat st;
	ssize_t n;

	*ret = NULL;
	progress_path(path, sizeof(path), id, "progress");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (st.st_size <= *pos)
		return 0;
	buf = malloc(st.st_size - *pos + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, st.st_size - *pos, *pos);
	if (n < 0)
		return negative_errno();
	/* Hand out whole lines only; a partial tail is read next time. */
	while (n > 0 && buf[n - 1] != '\n')
		n--;
	buf[n] = 0;
	*pos += n;
	*ret = n > 0 ? TAKE_PTR(buf) : NULL;
	return 0;
}

int progress_read_file(const char *id, const char *what, char **ret)
{
	char path[256];

	progress_path(path, sizeof(path), id, what);
	return read_full_file_str(path, ret);
}
