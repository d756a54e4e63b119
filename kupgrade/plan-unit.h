/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "plan.h"

/*
 * Growing a plan while it is built (plan-build.h): owners, their blockers and
 * external files, and the sums at the end. Pure, no I/O; every function
 * returns 0 or -ENOMEM unless it says otherwise.
 */

/* The unit of p named name, added with kind and cgroup if p has none yet; its
 * index in *ret. Returns 1 when it was added, 0 when it was there. */
int plan_ensure_unit(struct plan *p, const char *name, enum owner_kind kind, const char *cgroup,
		     size_t *ret);

/* "reason (pid N comm, fd F)", or without ", fd F" when fd < 0. A reason the
 * unit already has (from another fd or process) is not added again. */
int plan_unit_add_blocker(struct plan_unit *u, const char *reason, pid_t pid, const char *comm,
			  int fd);

/* A copy of e, its strings duplicated. */
int plan_unit_add_external(struct plan_unit *u, const struct plan_external *e);

/* Sorts each unit's processes by pid and the units by kind and name, finds
 * each unit's roots, and sums threads, memory and the image estimate. */
int plan_finish(struct plan *p);
