/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "imagedir.h"
#include "manifest.h"
#include "netlock.h"

/*
 * What a restore works from ("kupgrade restore", "lock", "restore-unit"):
 * an images root, its manifest, and the network lock backend the manifest
 * names.
 */
struct restore_images {
	struct imagedir dir;
	Manifest *m;
	const struct netlock_ops *lock; /* NULL: the checkpoint took no lock */
};

/* Where the images of a switch are found on the boot after it: the RAM path
 * (/run/kupgrade, filled by the initramfs) or the disk path
 * (/var/lib/kupgrade/images); NULL when neither holds a manifest. */
const char *restore_images_dir(void);

/* Open from (NULL: restore_images_dir()) and read its manifest; logs why
 * not. On failure nothing stays open. */
int restore_images_open(const char *from, struct restore_images *ret);
void restore_images_close(struct restore_images *ri);

/* Images written by another boot: the switch happened, systemd restores the
 * services (kupgrade-generator's drop-ins) and "kupgrade restore" the rest. */
bool restore_images_after_switch(const Manifest *m);

/*
 * Images of a switch for a boot the switch did not start: the new kernel was
 * reset or panicked and the machine booted again (the images on disk are
 * still there), so this boot's command line lacks the switch's mark
 * (kexec.h KEXEC_MARK_PARAM). They are never restored: their processes'
 * world is gone, and the services of this boot run already.
 * cmdline: the kernel command line (NULL: /proc/cmdline).
 */
bool restore_images_stale(const Manifest *m, const char *cmdline);
