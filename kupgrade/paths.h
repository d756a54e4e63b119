/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Every path kupgrade itself owns, in one place. docs/ARCHITECTURE.md and
 * kupgrade(8) list the same ones. Kernel and systemd interfaces
 * (/proc/..., /sys/...) stay at their one call site.
 */

/* Configuration. */
#define CONFIG_FILE "/etc/kupgrade.conf"

/* Before the switch (the old kernel). */
#define UPGRADE_IMAGES_DIR "/run/kupgrade-images" /* root-only tmpfs the dump writes into */
#define PROGRESS_DIR "/run/kupgrade-upgrade"	  /* client <-> worker state, per upgrade id */
#define TRANSPORT_STAGE_DIR "/run/kupgrade-stage" /* the combined initrd (tmpfs) */
#define TRANSPORT_STAGED_INITRD "initrd.img"	  /* its name in there */
#define CRIU_LOG_DIR "/run/log/kupgrade"	  /* CRIU's logs, per unit */
#define RUNTIME_UNIT_DIR "/run/systemd/system"	  /* quiesce and restore drop-ins */
#define SWITCH_LOCK_FILE "/run/kupgrade.lock"	  /* one switch or checkpoint at a time */

/* Crossing the kexec. */
#define TRANSPORT_ARCHIVE_DIR "kupgrade-images"	      /* in the initramfs root */
#define TRANSPORT_RUN_DIR "/run/kupgrade"	      /* the images after the switch (tmpfs) */
#define TRANSPORT_DISK_DIR "/var/lib/kupgrade/images" /* the images with --images-on-disk */
#define MANIFEST_FILE "manifest"		      /* inside an images directory */
#define MAX_PID_FILE "max-pid" /* inside an images directory: for ns_last_pid */

/* After the switch. */
#define RESTORE_SERVICE_DIR "/run/kupgrade-services" /* restore-unit's PID and result files */
#define STATE_DIR "/var/lib/kupgrade"
#define REPORT_DIR STATE_DIR "/reports"
#define REPORT_PENDING STATE_DIR "/pending.manifest" /* the old kernel's timings */

/* Installed files. */
#define SYSTEM_UNIT_DIR "/lib/systemd/system"
#define GENERATOR_PATH "/lib/systemd/system-generators/kupgrade-generator"
#define CARRIER_SCRIPT "usr/lib/kupgrade/carry-images" /* inside an initrd */
#define CARRY_FAILED_FILE "/run/kupgrade-carry.failed" /* its reason, when it failed */

/* Units. */
#define UPGRADE_WORKER_UNIT "kupgrade-upgrade.service"

/* Test builds only: where KUPGRADE_PAUSE says which phase it holds before,
 * and which process holds ("<phase> <pid>"). */
#define PHASE_PAUSED_FILE "/run/kupgrade-test-paused"
