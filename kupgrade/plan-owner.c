/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which unit owns a process: the unit systemd says owns its cgroup (listed
 * over D-Bus), else the unit its cgroup path names, else the slice it sits
 * in; kernel threads, PID 1 and kupgrade itself apart.
 */
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cgroup.h"
#include "log.h"
#include "plan-build.h"
#include "plan-unit.h"
#include "proc.h"

int plan_fetch_units(struct build *b)
{
	int r = bus_list_units(&b->bus, &b->n_bus);

	if (r < 0) {
		b->bus = NULL;
		b->n_bus = 0;
		log_warning_errno(r, "Cannot list units from systemd over D-Bus (%m); "
				     "owners are named after their cgroups, ignoring.");
	}
	return 0;
}

/* The unit systemd says owns this cgroup: the deepest unit cgroup above it. */
static const struct bus_unit *bus_owner(struct build *b, const char *cgroup)
{
	const struct bus_unit *best = NULL;

	for (size_t i = 0; i < b->n_bus; i++)
		if (cgroup_is_below(cgroup, b->bus[i].cgroup) &&
		    (!best || strlen(b->bus[i].cgroup) > strlen(best->cgroup)))
			best = &b->bus[i];
	return best;
}

/* Name and cgroup of the unit owning a cgroup, and systemd's record of it if any. */
struct owner {
	char *name;
	char *cgroup;
	enum owner_kind kind;
	const struct bus_unit *bu;
};

static void owner_done(struct owner *o)
{
	free(o->name);
	free(o->cgroup);
}

static int resolve_owner(struct build *b, const char *cgroup, struct owner *ret)
{
	const struct bus_unit *bu = bus_owner(b, cgroup);
	size_t name_len, prefix_len;
	const char *n;

	*ret = (struct owner){ .bu = bu };
	if (bu) {
		ret->name = strdup(bu->name);
		ret->cgroup = strdup(bu->cgroup);
	} else if ((n = cgroup_path_unit(cgroup, &name_len, &prefix_len))) {
		/* Not (or no longer) known to systemd: its cgroup names the unit. */
		ret->name = strndup(n, name_len);
		ret->cgroup = strndup(cgroup, prefix_len);
	} else {
		/* Directly in a slice or the root cgroup. */
		ret->name = strdup(cgroup);
		ret->cgroup = strdup(cgroup);
	}
	if (!ret->name || !ret->cgroup) {
		owner_done(ret);
		return -ENOMEM;
	}
	ret->kind = owner_kind_from_unit(ret->name, ret->cgroup);
	return 0;
}

/* The plan's unit for this owner, with systemd's MainPID and Type when it is new. */
static int ensure_owner_unit(struct build *b, const struct owner *o, size_t *ret)
{
	struct plan_unit *u;
	int r;

	r = plan_ensure_unit(b->plan, o->name, o->kind, o->cgroup, ret);
	if (r <= 0 || !o->bu)
		return r;
	u = &b->plan->units[*ret];
	u->main_pid = o->bu->main_pid;
	if (o->bu->service_type && !(u->service_type = strdup(o->bu->service_type)))
		return -ENOMEM;
	return 0;
}

static int owner_of_cgroup(struct build *b, const char *cgroup, size_t *ret)
{
	struct owner o;
	int r;

	r = resolve_owner(b, cgroup, &o);
	if (r < 0)
		return r;
	r = ensure_owner_unit(b, &o, ret);
	owner_done(&o);
	return r;
}

/* The unit (index in plan->units) of pid, added if new; >= 0, or -ENOMEM. */
int plan_owner_of(struct build *b, pid_t pid, const struct proc_stat *st, const char *cgroup,
		  size_t *ret)
{
	int r;

	if (proc_is_kernel_thread(st))
		return plan_ensure_unit(b->plan, "kernel", OWNER_KERNEL, "/", ret);
	if (pid == b->self)
		return plan_ensure_unit(b->plan, "kupgrade", OWNER_SELF, cgroup, ret);
	r = owner_of_cgroup(b, cgroup, ret);
	if (r < 0)
		return r;
	/* PID 1 outside init.scope (no systemd): give it an owner of its own. */
	if (pid == 1 && b->plan->units[*ret].kind != OWNER_INIT)
		return plan_ensure_unit(b->plan, "init", OWNER_INIT, cgroup, ret);
	return 0;
}

/* The unit kupgrade runs in, if other processes share it (e.g. its ssh session). */
int plan_mark_self(struct build *b)
{
	struct plan_unit *u;
	struct owner o;
	int r;

	if (!b->self_cgroup)
		return 0;
	r = resolve_owner(b, b->self_cgroup, &o);
	if (r < 0)
		return log_oom();
	u = plan_find_unit(b->plan, o.name);
	if (u && u->kind != OWNER_SELF && u->kind != OWNER_KERNEL)
		u->contains_self = true;
	owner_done(&o);
	return 0;
}
