/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dropin.h"
#include "fileio.h"
#include "macro.h"

#define QUIESCE_NAME "50-kupgrade-quiesce.conf"

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
