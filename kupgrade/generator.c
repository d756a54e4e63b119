/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "paths.h"
#include "dropin.h"
#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "restore.h"
#include "verbs.h"

/*
 * kupgrade-generator (a link to kupgrade in /lib/systemd/system-generators):
 * on the boot after a switch, when the initramfs left a manifest in
 * /run/kupgrade (or the disk transport one in /var/lib/kupgrade/images), it pulls in the lock and restore units and gives every
 * checkpointed service a drop-in whose start restores its tree: systemd
 * keeps owning the service, and orders the restores by the services' own
 * dependencies. Generators run before any unit and may only write units,
 * drop-ins and links.
 */



static int link_unit(const char *dir, const char *target, const char *unit, const char *unit_path)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.wants", dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	snprintf(path, sizeof(path), "%s/%s.wants/%s", dir, target, unit);
	if (symlink(unit_path, path) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

int verb_generator(int argc, char **argv)
{
	const char *normal = argc > 1 ? argv[1] : "/tmp", *images = restore_images_dir();
	Manifest *m = NULL;
	char path[256];
	int r;

	log_set_journal_prefix(false);
	if (!images)
		return 0;
	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, images);
	r = manifest_read_file(path, &m);
	if (r < 0) {
		/* Nothing is restored: the lock and restore units report it. */
		log_error_errno(r, "Cannot read %s, not generating restore drop-ins: %m", path);
		r = 0;
	} else
		for (size_t i = 0; i < m->n_units; i++) {
			const ManifestUnit *u = m->units[i];
			char unit_path[4096];

			if (!streq(u->kind, "service") || manifest_unit_planned_restart(u))
				continue;
			snprintf(unit_path, sizeof(unit_path), SYSTEM_UNIT_DIR "/%s", u->name);
			if (dropin_write_restore(normal, u->name, images) < 0 ||
			    link_unit(normal, "multi-user.target", u->name, unit_path) < 0)
				log_error("Cannot generate the restore of %s; it starts fresh.", u->name);
		}
	manifest_free(m);
	if (link_unit(normal, "sysinit.target", "kupgrade-netlock.service",
		      SYSTEM_UNIT_DIR "/kupgrade-netlock.service") < 0 ||
	    link_unit(normal, "multi-user.target", "kupgrade-restore.service",
		      SYSTEM_UNIT_DIR "/kupgrade-restore.service") < 0)
		log_error("Cannot pull in the kupgrade units; nothing will be restored.");
	return 0;
}
