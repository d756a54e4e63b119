/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define UPGRADE_WORKER_UNIT "kupgrade-upgrade.service"
/* Where the old kernel's images are written before they cross. */
#define UPGRADE_IMAGES_DIR "/run/kupgrade-images"

/* --dry-run: the phases and the plan, nothing changed. */
int upgrade_print_dry_run(const char *release);
