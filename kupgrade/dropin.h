/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The runtime drop-ins kupgrade gives a checkpointed service, as
 * dir/<unit>.d/<name>:
 *  - "quiesce", from its dump until the kexec (or the rollback): the dump
 *    ends its processes with SIGKILL, and systemd must neither restart it
 *    (Restart=always included), nor run its ExecStop=, nor count it failed
 *    (OnFailure=);
 *  - "restore", whose start restores its tree: written by kupgrade-generator
 *    on the boot after a switch, and by a rollback before the kexec (its
 *    text is in restore-service.c, beside the PID file it names).
 */

/* Write dir/<unit>.d/<name> (0644), creating the directories. */
int dropin_write(const char *dir, const char *unit, const char *name, const char *text);
/* Remove one (ENOENT is fine), and its directory when empty; the caller
 * reloads. */
int dropin_remove(const char *dir, const char *unit, const char *name);

int dropin_write_quiesce(const char *dir, const char *unit);
int dropin_remove_quiesce(const char *dir, const char *unit);
