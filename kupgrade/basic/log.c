/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* One line, one write(2): stderr is unbuffered, and a line written in pieces
 * ("kupgrade: ", then the message) interleaves with whatever else writes to
 * the same terminal, such as a job in the operator's shell. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
{
	int saved = errno;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	va_list ap;

	if (error > 0)
		error = -error;
	if (level > max_level)
		return error;

	f = open_memstream(&buf, &len);
	if (!f)
		f = stderr; /* out of memory: in pieces, then */

	if (journal_prefix)
		fprintf(f, "<%d>", level);
	else if (program)
		fprintf(f, "%s: ", program);
	if (max_level >= LOG_DEBUG)
		fprintf(f, "(%s:%d) ", file, line);

	/* glibc's "%m" prints strerror(errno): make it the error we were given. */
	errno = error < 0 ? -error : saved;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);

	if (f != stderr && fclose(f) == 0) {
		fwrite(buf, 1, len, stderr);
		fflush(stderr);
	}
	free(buf);

	errno = saved;
	return error;
}
