/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dropin.h"
#include "fileio.h"
#include "macro.h"
#include "restore.h"

#define QUIESCE_NAME "50-kupgrade-quiesce.conf"
#define RESTORE_NAME "50-kupgrade-restore.conf"

static int write_dropin(const char *dir, const char *unit, const char *name, const char *text)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/%s.d", dir, unit);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s.d/%s", dir, unit, name);
	r = write_string_file(path, "%s", text);
	if (r >= 0)
		(void)chmod(path, 0644);
	return r;
}

static int remove_dropin(const char *dir, const char *unit, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.d/%s", dir, unit, name);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s.d", dir, unit);
	(void)rmdir(path); /* only if empty */
	return 0;
}

int dropin_write_quiesce(const char *dir, const char *unit)
{
	return write_dropin(dir, unit, QUIESCE_NAME,
			    "# Written by kupgrade while this service is checkpointed for a kernel switch:\n"
			    "# its processes end with SIGKILL at the dump and come back after the kexec.\n"
			    "[Service]\n"
			    "Restart=no\n"
			    "SuccessExitStatus=SIGKILL\n"
			    "ExecStop=\n"
			    "ExecStopPost=\n");
}

int dropin_write_restore(const char *dir, const char *unit, const char *images)
{
	char text[8192];

	snprintf(text, sizeof(text),
		 "# Written by kupgrade: this start restores %s from its checkpoint.\n"
		 "[Unit]\n"
		 "Wants=kupgrade-netlock.service\n"
		 "After=kupgrade-netlock.service systemd-journald.socket network.target\n"
		 "\n"
		 "[Service]\n"
		 "Type=forking\n"
		 "PIDFile=%s/%s.pid\n"
		 "GuessMainPID=no\n"
		 "ExecCondition=\n"
		 "ExecStartPre=\n"
		 "ExecStart=\n"
		 "ExecStart=/usr/sbin/kupgrade restore-unit --from %s %s\n"
		 "ExecStartPost=\n"
		 "TimeoutStartSec=300\n",
		 unit, RESTORE_SERVICE_DIR, unit, images, unit);
	return write_dropin(dir, unit, RESTORE_NAME, text);
}

int dropin_remove_quiesce(const char *dir, const char *unit)
{
	return remove_dropin(dir, unit, QUIESCE_NAME);
}

int dropin_remove_restore(const char *dir, const char *unit)
{
	return remove_dropin(dir, unit, RESTORE_NAME);
}
