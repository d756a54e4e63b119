/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every process that /proc lists, once, under its owner; and the process
 * trees that cross from one unit into another, which CRIU cannot split.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cgroup.h"
#include "log.h"
#include "plan-build.h"
#include "plan-unit.h"
#include "proc.h"
#include "sort.h"

static int collect_walked(const char *cg, const pid_t *pids, size_t n, void *userdata)
{
	struct build *b = userdata;

	if (!GREEDY_REALLOC(b->walked, b->n_walked + n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char *c = strdup(cg);

		if (!c)
			return -ENOMEM;
		b->walked[b->n_walked++] = (struct cg_pid){ pids[i], c };
	}
	return 0;
}

static int walk_cgroups(struct build *b)
{
	int r;

	r = cgroup_find_mount(&b->mount);
	if (r < 0) {
		log_warning_errno(
			r,
			"No cgroup2 hierarchy found (%m); reading each process's cgroup instead, ignoring.");
		return 0;
	}
	r = cgroup_walk(b->mount, "/", collect_walked, b);
	if (r < 0)
		return log_error_errno(r, "Cannot walk the cgroup tree under %s: %m", b->mount);
	qsort(b->walked, b->n_walked, sizeof(*b->walked), pid_compare);
	return 0;
}

/* The cgroup of pid: from the walk, else (born or moved meanwhile) from /proc. */
static int walked_cgroup_of(struct build *b, pid_t pid, char **ret)
{
	struct cg_pid key = { .pid = pid }, *w;
	int r;

	w = b->n_walked ? bsearch(&key, b->walked, b->n_walked, sizeof(key), pid_compare) : NULL;
	if (w) {
		*ret = strdup(w->cgroup);
		return *ret ? 0 : -ENOMEM;
	}
	r = proc_read_cgroup(pid, ret);
	if (r == -ENODATA) {
		*ret = strdup("/");
		return *ret ? 0 : -ENOMEM;
	}
	return r;
}

static int add_process(struct build *b, pid_t pid)
{
	_cleanup_free_ char *cgroup = NULL;
	struct plan_process *pp;
	struct proc_stat st;
	struct plan_unit *u;
	size_t unit;
	int r;

	r = proc_read_stat(pid, &st);
	if (r == -ESRCH)
		return 0; /* exited meanwhile */
	if (r < 0)
		return log_error_errno(r, "Cannot read /proc/%d/stat: %m", pid);
	r = walked_cgroup_of(b, pid, &cgroup);
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Cannot read the cgroup of process %d: %m", pid);
	r = plan_owner_of(b, pid, &st, cgroup, &unit);
	if (r < 0)
		return log_oom();

	u = &b->plan->units[unit];
	if (!GREEDY_REALLOC(u->procs, u->n_procs + 1))
		return log_oom();
	pp = &u->procs[u->n_procs++];
	*pp = (struct plan_process){ .pid = pid, .ppid = st.ppid, .threads = st.threads };
	memcpy(pp->comm, st.comm, sizeof(pp->comm));
	if (pid == b->self) {
		free(b->self_cgroup);
		b->self_cgroup = TAKE_PTR(cgroup);
	}
	return 0;
}

int plan_collect_processes(struct build *b)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n;
	int r;

	r = walk_cgroups(b);
	if (r < 0)
		return r;
	/* /proc is what ps lists: every process in it gets exactly one owner. */
	r = proc_list_pids(&pids, &n);
	if (r < 0)
		return log_error_errno(r, "Cannot list /proc: %m");
	for (size_t i = 0; i < n; i++) {
		r = add_process(b, pids[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Where a process is in the plan. */
struct pid_unit {
	pid_t pid; /* first: sorted and searched with pid_compare */
	size_t unit, proc;
};

/* CRIU dumps a process with all its descendants: a unit whose process has a
 * child in another unit (sshd's listener and the login sessions it forked)
 * cannot be dumped on its own. */
int plan_check_children_elsewhere(struct build *b)
{
	struct plan *p = b->plan;
	_cleanup_free_ struct pid_unit *all = NULL;
	size_t n = 0;

	for (size_t i = 0; i < p->n_units; i++)
		n += p->units[i].n_procs;
	all = malloc(MAX(n, 1u) * sizeof(*all));
	if (!all)
		return log_oom();
	n = 0;
	for (size_t i = 0; i < p->n_units; i++)
		for (size_t j = 0; j < p->units[i].n_procs; j++)
			all[n++] = (struct pid_unit){ p->units[i].procs[j].pid, i, j };
	qsort(all, n, sizeof(*all), pid_compare);
	for (size_t i = 0; i < p->n_units; i++)
		for (size_t j = 0; j < p->units[i].n_procs; j++) {
			const struct plan_process *child = &p->units[i].procs[j];
			struct pid_unit key = { .pid = child->ppid };
			const struct pid_unit *parent = bsearch(&key, all, n, sizeof(*all),
								pid_compare);
			struct plan_unit *pu;
			char reason[512];

			/* kupgrade itself is never dumped, whoever its parent. */
			if (!parent || parent->unit == i || p->units[i].kind == OWNER_SELF)
				continue;
			pu = &p->units[parent->unit];
			if (pu->decision != DECISION_CHECKPOINT)
				continue;
			snprintf(reason, sizeof(reason),
				 "has a child process in %s, which a dump of this unit would take along",
				 p->units[i].name);
			if (plan_unit_add_blocker(pu, reason, parent->pid,
						  pu->procs[parent->proc].comm, -1) < 0)
				return log_oom();
		}
	return 0;
}
