/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

/*
 * The runtime drop-ins kupgrade gives a checkpointed service:
 *  - "quiesce", from its dump until the kexec (or the rollback): the dump
 *    ends its processes with SIGKILL, and systemd must neither restart it
 *    (Restart=always included), nor run its ExecStop=, nor count it failed
 *    (OnFailure=);
 *  - "restore", whose start restores its tree: written by kupgrade-generator
 *    on the boot after a switch, and by a rollback before the kexec.
 */


int dropin_write_quiesce(const char *dir, const char *unit);
int dropin_write_restore(const char *dir, const char *unit, const char *images);
/* Remove one (ENOENT is fine); the caller reloads. */
int dropin_remove_quiesce(const char *dir, const char *unit);
int dropin_remove_restore(const char *dir, const char *unit);
