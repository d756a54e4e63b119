/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "manifest.h"
#include "paths.h"

/*
 * The report of a switch is the manifest as the restore left it: outcomes
 * and timings of both kernels filled in. Kept in REPORT_DIR as
 * "<upgrade id>.manifest" (or "<boot id>.manifest"), "last" links to the
 * newest; "kupgrade status" prints it.
 */

char *report_path_for(const char *id);
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
/* "kupgrade status": the last report on stdout, as text or (json) one JSON
 * document; a machine that never switched is not an error. */
int report_print_last(bool json);
