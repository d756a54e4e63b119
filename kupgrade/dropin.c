/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "dropin.h"
#include "fileio.h"
#include "macro.h"

#define QUIESCE_NAME "50-kupgrade-quiesce.conf"

/* Control characters, quotes and the backslash go C-escaped; % and $ are
 * doubled (specifiers, variables); a word with a space is quoted. */
char *dropin_exec_word(const char *s)
{
	bool quote = !*s || strchr(s, ' ') != NULL;
	/* At most 4 bytes ("\xNN") per byte, the quotes and the NUL. */
	char *ret = malloc(strlen(s) * 4 + 3), *p = ret;

	if (!ret)
		return NULL;
	if (quote)
		*p++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '"' || c == '\'')
			p += sprintf(p, "\\%c", c);
		else if (c == '%' || c == '$')
			p += sprintf(p, "%c%c", c, c);
		else if (c < 0x20 || c == 0x7f)
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	if (quote)
		*p++ = '"';
	*p = 0;
	return ret;
}

char *dropin_setting_value(const char *s)
{
	char *ret, *p;

	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f) {
			errno = EINVAL;
			return NULL;
		}
	ret = p = malloc(strlen(s) * 2 + 1);
	if (!ret)
		return NULL;
	for (; *s; s++) {
		if (*s == '%')
			*p++ = '%';
		*p++ = *s;
	}
	*p = 0;
	return ret;
}

int dropin_write(const char *dir, const char *unit, const char *name, const char *text)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/%s.d", dir, unit);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(path, sizeof(path), "%s/%s.d/%s", dir, unit, name);
	r = write_string_file(path, "%s", text);
	if (r >= 0)
		(void)chmod(path, 0644);
	return r;
}

int dropin_remove(const char *dir, const char *unit, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.d/%s", dir, unit, name);
	if (unlink(path) < 0 && errno != ENOENT)
		return negative_errno();
	snprintf(path, sizeof(path), "%s/%s.d", dir, unit);
	(void)rmdir(path); /* only if empty */
	return 0;
}

int dropin_write_quiesce(const char *dir, const char *unit)
{
	return dropin_write(
		dir, unit, QUIESCE_NAME,
		"# Written by kupgrade while this service is checkpointed for a kernel switch:\n"
		"# its processes end with SIGKILL at the dump and come back after the kexec.\n"
		"[Service]\n"
		"Restart=no\n"
		"SuccessExitStatus=SIGKILL\n"
		"ExecStop=\n"
		"ExecStopPost=\n");
}

int dropin_remove_quiesce(const char *dir, const char *unit)
{
	return dropin_remove(dir, unit, QUIESCE_NAME);
}

void dropin_units_free(char **units)
{
	for (char **u = units; u && *u; u++)
		free(*u);
	free(units);
}

int dropin_list_quiesced(const char *dir, char ***ret)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	char **units = NULL;
	size_t n = 0;
	struct dirent *de;

	*ret = NULL;
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char path[4096];
		struct stat st;

		if (len < 3 || !streq(de->d_name + len - 2, ".d"))
			continue;
		snprintf(path, sizeof(path), "%s/%s/" QUIESCE_NAME, dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!GREEDY_REALLOC(units, n + 2) || !(units[n] = strndup(de->d_name, len - 2))) {
			dropin_units_free(units);
			return -ENOMEM;
		}
		units[++n] = NULL;
	}
	*ret = units;
	return 0;
}
