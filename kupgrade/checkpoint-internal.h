/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "checkpoint.h"
#include "imagedir.h"
#include "manifest.h"
#include "netlock.h"
#include "phase.h"
#include "plan.h"
#include "tree.h"

/*
 * What the files of the checkpoint share, and nothing outside them sees:
 * checkpoint.c (the state, the manifest), checkpoint-scan.c (plan and scan),
 * checkpoint-quiesce.c, checkpoint-lock.c, checkpoint-unit.c (the per-unit
 * dump and its undo).
 */

#define MAX_STREAMS 16

struct ckpt_tree {
	struct tree t;
	bool dumped;
	uint64_t streams[MAX_STREAMS]; /* journal stream sockets, declared external */
	size_t n_streams;
	uint64_t listens[MAX_STREAMS]; /* listening sockets shared with systemd */
	size_t n_listens;
};

struct ckpt_unit {
	struct checkpoint *c;
	const struct plan_unit *pu;
	struct ckpt_tree *trees;
	size_t n_trees;
	ManifestUnit *mu;
	char dir_name[256];
	bool locked;  /* its connections are in the lock */
	pid_t holder; /* keeps the unit's cgroup while its trees are away */
	/* Its undo could not restore it: its images are the only copy of the
	 * trees still away (dumped), kept by the prepare-images undo. */
	bool images_kept;
};

struct checkpoint {
	struct plan *plan;
	struct ckpt_unit *units;
	size_t n_units;
	struct imagedir dir;
	char *cgroup_mount; /* found by the scan; NULL: no cgroup2 */
	const struct netlock_ops *lock;
	Manifest *m;
	uint64_t est_bytes;
	struct checkpoint_options opts;
};

/* checkpoint-scan.c */
bool ckpt_unit_has_trees(const struct ckpt_unit *u);
/* The manifest's kind of a unit the plan owns as k. */
ManifestUnitKind ckpt_manifest_kind(enum owner_kind k);
/* The process has exited, or its PID now names a process outside the unit. */
bool ckpt_pid_left_unit(const struct ckpt_unit *u, pid_t pid);
/* Nothing of the unit is left to carry: recorded in the manifest. */
int ckpt_unit_ended(struct ckpt_unit *u);

/* checkpoint-quiesce.c */
bool ckpt_unit_is_service(const struct ckpt_unit *u);

/* checkpoint-lock.c: lock (add) or unlock (delete) the connections of one unit. */
int ckpt_lock_unit(struct ckpt_unit *u, bool add);

/* checkpoint-unit.c: kill and reap the holder of the unit's cgroup, if any. */
void ckpt_release_cgroup(pid_t *holder);
