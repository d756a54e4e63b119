/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

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
/* The units with a quiesce drop-in in dir, NULL-terminated (NULL: none);
 * free with dropin_units_free(). */
int dropin_list_quiesced(const char *dir, char ***ret);
void dropin_units_free(char **units);

/*
 * Pure: s written into unit text so that systemd reads back exactly s.
 *
 * dropin_exec_word(): s as one argument of an Exec*= line. systemd expands
 * specifiers (%) and variables ($) in it, splits it at whitespace, unquotes
 * and C-unescapes each word: unescaped, the unit name "foo\x2dbar.service"
 * would reach the process as "foo-bar.service". NULL: out of memory.
 *
 * dropin_setting_value(): s as the value of a plain setting (PIDFile=):
 * only specifiers are expanded there. NULL with errno EINVAL for a value
 * that cannot be written (a control character, which would end the line),
 * ENOMEM when out of memory.
 */
char *dropin_exec_word(const char *s);
char *dropin_setting_value(const char *s);
