/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manifest.h"
#include "restore-images.h"
#include "tcp.h"

/*
 * The network lock, restore side. After a kexec the old kernel's rules are
 * gone: kupgrade-netlock.service ("kupgrade lock"), the first of kupgrade's
 * units on the boot, takes the lock again from the manifest. Each unit's
 * connections flow again as soon as it is back; the lock goes at the end of
 * the restore.
 */

/* "kupgrade lock": re-create the lock of the images in from (NULL: the ones
 * a switch left), keep this boot's new PIDs clear of the checkpointed ones
 * and, after a switch, turn TCP window scaling off (winscale.h). */
int restore_lock_run(const char *from);

/* The connections to lock again: those of every unit not yet back
 * (appended to *ret, *ret_n). -ENOMEM only. */
int restore_lock_connections(const Manifest *m, struct tcp_conn **ret, size_t *ret_n);
/* Lock again from the manifest, unless the lock is still there (a restore
 * on the kernel that took it). */
int restore_lock_ensure(const struct restore_images *ri);
/* u is back: its connections flow again (a failure is only logged). */
void restore_lock_release_unit(const struct restore_images *ri, const ManifestUnit *u);
/* Remove the lock and set TCP window scaling back; no lock is fine. */
int restore_lock_remove(const struct restore_images *ri);

/* After a kexec the restore runs while the network is being configured:
 * wait (bounded) until every connection's local address exists. */
void restore_wait_addresses(const Manifest *m);

/* Pure: the value for ns_last_pid that keeps this boot's new PIDs above the
 * checkpointed ones (max_pid_text: the images' "max-pid" file), 0 when they
 * are above already, -EINVAL when the text is not a PID. */
long restore_last_pid_target(const char *max_pid_text, long current);
