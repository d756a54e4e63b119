/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "kexec.h"
#include "log.h"
#include "paths.h"
#include "restore-images.h"

const char *restore_images_dir(void)
{
	static const char *const dirs[] = { TRANSPORT_RUN_DIR, TRANSPORT_DISK_DIR };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, dirs[i]);
		if (access(path, F_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

static int read_manifest(const char *from, struct restore_images *ri)
{
	char path[4096];
	int r;

	/* Without --from: the images a switch left for this boot. */
	if (!from)
		from = restore_images_dir();
	if (!from)
		return log_error_errno(-EINVAL,
				       "Missing --from DIR: the directory a checkpoint wrote "
				       "(no switch left images in " TRANSPORT_RUN_DIR
				       " or " TRANSPORT_DISK_DIR ").");
	r = imagedir_open(from, &ri->dir);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, from);
	r = manifest_read_file(path, &ri->m);
	if (r < 0)
		return r;
	if (!isempty(ri->m->lock_method) && !streq(ri->m->lock_method, "none")) {
		ri->lock = netlock_get(ri->m->lock_method);
		if (!ri->lock)
			return log_error_errno(-EOPNOTSUPP,
					       "The manifest's lock method '%s' is unknown here.",
					       ri->m->lock_method);
	}
	return 0;
}

int restore_images_open(const char *from, struct restore_images *ret)
{
	int r;

	*ret = (struct restore_images){ .dir.fd = -EBADF };
	r = read_manifest(from, ret);
	if (r < 0)
		restore_images_close(ret);
	return r;
}

void restore_images_close(struct restore_images *ri)
{
	manifest_free(ri->m);
	imagedir_close(&ri->dir);
	*ri = (struct restore_images){ .dir.fd = -EBADF };
}

bool restore_images_stale(const Manifest *m, const char *cmdline)
{
	_cleanup_free_ char *line = NULL, *mark = NULL;

	if (!m->boot_marked || !m->upgrade_id || !restore_images_after_switch(m))
		return false;
	if (!cmdline) {
		if (read_one_line_file("/proc/cmdline", &line) < 0)
			return false; /* cannot tell: as before marks */
		cmdline = line;
	}
	mark = kexec_cmdline_mark(cmdline);
	return !mark || !streq(mark, m->upgrade_id);
}

bool restore_images_after_switch(const Manifest *m)
{
	char now[64];

	return read_boot_id(now, sizeof(now)) >= 0 && !streq(now, m->boot_id);
}
