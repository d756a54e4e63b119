/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "generator.h"
#include "kexec.h"
#include "log.h"
#include "manifest.h"
#include "paths.h"
#include "restore-images.h"
#include "restore-service.h"

/*
 * When the initramfs left a manifest in /run/kupgrade (or the disk
 * transport one in /var/lib/kupgrade/images), systemd keeps owning every
 * checkpointed service, and orders the restores by the services' own
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

#define LATE_IMAGES_UNIT "kupgrade-late-images.service"

/* Does the command line carry a switch's mark (kexec.h)? */
static bool booted_by_switch(void)
{
	_cleanup_free_ char *line = NULL, *mark = NULL;

	if (read_one_line_file("/proc/cmdline", &line) < 0)
		return false;
	mark = kexec_cmdline_mark(line);
	return mark != NULL;
}

static void generate_restore_dropins(const char *normal, const char *images)
{
	Manifest *m = NULL;
	char path[256];
	int r;

	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, images);
	r = manifest_read_file(path, &m);
	if (r < 0) {
		/* Nothing is restored: the lock and restore units report it. */
		log_error_errno(r, "Cannot read %s, not generating restore drop-ins: %m", path);
		return;
	}
	/* A boot the switch did not start: its services start as they are,
	 * and the restore unit reports the switch as aborted. */
	if (restore_images_stale(m, NULL)) {
		log_notice("The images in %s are not for this boot: nothing restored.", images);
		manifest_free(m);
		return;
	}
	for (size_t i = 0; i < m->n_units; i++) {
		const ManifestUnit *u = m->units[i];
		char unit_path[4096];

		if (!manifest_unit_restores_through_unit(u))
			continue;
		snprintf(unit_path, sizeof(unit_path), SYSTEM_UNIT_DIR "/%s", u->name);
		if (restore_service_write_dropin(normal, u->name, images) < 0 ||
		    link_unit(normal, "multi-user.target", u->name, unit_path) < 0)
			log_error("Cannot generate the restore of %s; it starts fresh.", u->name);
	}
	manifest_free(m);
}

int generator_run(const char *normal_dir)
{
	const char *images = restore_images_dir();

	/* No images, but the pending report of a switch that never reached its
	 * restore: the restore unit reports it aborted. */
	if (!images && access(REPORT_PENDING, F_OK) == 0) {
		if (link_unit(normal_dir, "multi-user.target", "kupgrade-restore.service",
			      SYSTEM_UNIT_DIR "/kupgrade-restore.service") < 0)
			log_error(
				"Cannot pull in kupgrade-restore.service to report the aborted switch.");
		return 0;
	}
	/* A boot a switch started, no images seen: they may be on a file
	 * system mounted later (a separate /var). Once it is, a unit reloads
	 * systemd, and this runs again and sees them. */
	if (!images && booted_by_switch()) {
		if (link_unit(normal_dir, "sysinit.target", LATE_IMAGES_UNIT,
			      SYSTEM_UNIT_DIR "/" LATE_IMAGES_UNIT) < 0)
			log_error("Cannot pull in %s: images on a late file system will not be "
				  "restored.",
				  LATE_IMAGES_UNIT);
		return 0;
	}
	if (!images)
		return 0;
	generate_restore_dropins(normal_dir, images);
	if (link_unit(normal_dir, "sysinit.target", "kupgrade-netlock.service",
		      SYSTEM_UNIT_DIR "/kupgrade-netlock.service") < 0 ||
	    link_unit(normal_dir, "multi-user.target", "kupgrade-restore.service",
		      SYSTEM_UNIT_DIR "/kupgrade-restore.service") < 0)
		log_error("Cannot pull in the kupgrade units; nothing will be restored.");
	return 0;
}
