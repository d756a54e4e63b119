/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_prefix;
static const char *program;

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

void log_set_journal_prefix(bool on)
{
	journal_prefix = on;
}

void log_set_program(const char *name)
{
	program = name;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (error > 0)
		error = -error;
	if (level > max_level)
		return error;

	if (journal_prefix)
		fprintf(stderr, "<%d>", level);
	else if (program)
		fprintf(stderr, "%s: ", program);
	if (max_level >= LOG_DEBUG)
		fprintf(stderr, "(%s:%d) ", file, line);

	/* glibc's "%m" prints strerror(errno): make it the error we were given. */
	errno = error < 0 ? -error : saved;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);

	errno = saved;
	return error;
}
