/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "checkpoint.h"
#include "kexec.h"
#include "options.h"
#include "phase.h"
#include "transport.h"

/*
 * One run of the phase table (upgrade.c), every phase's ctx: the upgrade
 * worker's, or "kupgrade checkpoint"'s (which uses o, ckpt and phases only).
 */
struct upgrade {
	const struct kupgrade_options *o;
	const char *id;	      /* the upgrade id client and worker share; NULL: none */
	bool checkpoint_only; /* "kupgrade checkpoint": the checkpoint's phases alone */
	struct phase_list phases;
	struct checkpoint *ckpt;
	char *release, *initrd;
	struct transport t;
	const struct transport_ops *ops;
	enum kexec_method method;
	bool loaded;
};

/* The end of a switch that did not happen, CODE (exit-status.h) and MSG: the
 * result for the client that follows it, and the attempt's record for
 * 'kupgrade status' (report.h). Nothing without an id. */
void upgrade_result(const char *id, const char *kernel, int code, const char *msg);

/* The upgrade's own phases (upgrade-phases.c), around the checkpoint's. */
int upgrade_phase_check(void *ctx, void *arg);
int upgrade_phase_load(void *ctx, void *arg);
int upgrade_undo_load(void *ctx, void *arg);
int upgrade_phase_quiet_client(void *ctx, void *arg);
int upgrade_phase_stage(void *ctx, void *arg);
int upgrade_undo_stage(void *ctx, void *arg);
int upgrade_phase_load_images(void *ctx, void *arg);
int upgrade_phase_save_pending(void *ctx, void *arg);
int upgrade_undo_save_pending(void *ctx, void *arg);
int upgrade_phase_kexec(void *ctx, void *arg);
