/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <time.h>

#include "manifest.h"
#include "paths.h"

/*
 * The report of a switch is the manifest as the restore left it: outcomes
 * and timings of both kernels filled in. Kept in REPORT_DIR as
 * "<upgrade id>.manifest" (or "<boot id>.manifest"), "last" links to the
 * newest; "kupgrade status" prints it.
 */

char *report_path_for(const char *id);
/* Saves m as the newest report: "last" points at it, and the record of a
 * failed attempt before it ("last-attempt") is dropped. */
int report_save(const Manifest *m);
/* The old kernel's last word, written by the worker just before the kexec: m
 * with the timings (stage, load-images) that come after the manifest entered the
 * images, as REPORT_PENDING. */
int report_save_pending(const Manifest *m);
int report_load_last(Manifest **ret);
/* 0 when every unit came back as it was, EXIT_SOFTWARE otherwise. */
int report_exit_code(const Manifest *m);
/* Merge the timings of the pending file into m when it belongs to m's upgrade. */
void report_merge_pending(Manifest *m);
/*
 * A switch that did not happen (rolled back by its worker, or put back by
 * the recovery after a worker that was killed) leaves no report: what the
 * worker told its client is kept as "<id>.attempt" in the reports directory
 * instead, "last-attempt" pointing at it until a switch's report supersedes
 * it. So the operator whose session dropped during that switch, or a tool
 * that did not follow it (--detach), learns from "kupgrade status" what
 * happened. The _at() forms take the directory (tests).
 */
struct report_attempt {
	char *id;
	char *kernel; /* as given to --kernel */
	char *message;
	int exit_code;
	time_t when; /* when it was recorded */
};
int report_save_attempt_at(const char *dir, const char *id, const char *kernel, int exit_code,
			   const char *message);
int report_save_attempt(const char *id, const char *kernel, int exit_code, const char *message);
/* 1 and *ret filled in when the newest thing recorded is a failed attempt,
 * 0 when there is none, -errno. */
int report_load_attempt_at(const char *dir, struct report_attempt *ret);
void report_attempt_done(struct report_attempt *a);
/* "rolled-back" (70: everything as it was) or "failed" (the undo failed). */
const char *report_attempt_outcome(const struct report_attempt *a);

/*
 * "kupgrade status --id ID [--wait]": the outcome of that switch, the report
 * when it switched (exit: report_exit_code()) or the attempt's record when
 * it did not (exit: the worker's code); with wait, up to REPORT_WAIT_S for
 * one to appear (a switch under way, a restore still running). -EAGAIN
 * when there is none (yet).
 */
#define REPORT_WAIT_S 1800
int report_print_outcome(const char *id, bool wait, bool json);

/* "kupgrade status": the last report on stdout, as text or (json) one JSON
 * document; a machine that never switched is not an error. */
int report_print_last(bool json);
