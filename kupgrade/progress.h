/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

#include <stdbool.h>
#include <sys/types.h>

/*
 * How the upgrade worker (a transient service) and the client (the command
 * the operator typed, checkpointed with its ssh session) talk: through files
 * in a root-only directory on /run, never through a held fd or a socket, so
 * that the client holds nothing CRIU would have to carry across the kexec.
 *
 *   <id>.progress  lines the worker appends: "P text" (progress for people),
 *                  "Q" (the client is about to be frozen: go quiet)
 *   <id>.quiet     the client's answer to "Q": it opens nothing from now on
 *   <id>.result    written once, after every undo ran: "<exit code> <message>"
 *   <id>.pid       the worker's PID, to notice a worker that died
 *
 * After the kexec /run is new; the client notices the boot id changed and
 * waits for the report named after <id> under /var/lib/kupgrade/reports.
 */

/* A fresh id: 32 hex digits from the kernel's random UUID. */
int progress_new_id(char *buf, size_t size);
/* Valid ids only: they become file names. */
bool progress_id_valid(const char *id);

int progress_prepare_dir(void);
/* Paths: "<PROGRESS_DIR>/<id>.<what>" into buf. */
void progress_path(char *buf, size_t size, const char *id, const char *what);

/* Worker side. */
int progress_emit(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int progress_write_file(const char *id, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Wait up to timeout_ms for <id>.<what> to appear. */
bool progress_wait_file(const char *id, const char *what, unsigned timeout_ms);
/* Remove every file of id. */
void progress_remove(const char *id);
void progress_remove_file(const char *id, const char *what);

/* Client side: read the lines appended since *pos (opened and closed here). */
int progress_read_new(const char *id, off_t *pos, char **ret);
/* stat() only: no fd is opened. */
bool progress_file_exists(const char *id, const char *what);
int progress_read_file(const char *id, const char *what, char **ret);
