/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Growing the plan's units while it is built, and its sums. Pure: no I/O. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "macro.h"
#include "plan-unit.h"
#include "sort.h"

int plan_ensure_unit(struct plan *p, const char *name, enum owner_kind kind, const char *cgroup,
		     size_t *ret)
{
	struct plan_unit *u;

	for (size_t i = 0; i < p->n_units; i++)
		if (streq(p->units[i].name, name)) {
			*ret = i;
			return 0;
		}
	if (!GREEDY_REALLOC(p->units, p->n_units + 1))
		return -ENOMEM;
	u = &p->units[p->n_units];
	*u = (struct plan_unit){ .kind = kind };
	u->name = strdup(name);
	u->cgroup = strdup(cgroup);
	if (!u->name || !u->cgroup) {
		free(u->name);
		free(u->cgroup);
		return -ENOMEM;
	}
	*ret = p->n_units++;
	return 1;
}

static bool has_blocker(const struct plan_unit *u, const char *reason)
{
	size_t n = strlen(reason);

	/* Same reason from another fd or process: one line is enough. */
	for (size_t i = 0; i < u->n_blockers; i++)
		if (strncmp(u->blockers[i], reason, n) == 0 &&
		    strncmp(u->blockers[i] + n, " (pid ", 6) == 0)
			return true;
	return false;
}

int plan_unit_add_blocker(struct plan_unit *u, const char *reason, pid_t pid, const char *comm,
			  int fd)
{
	char *s;

	if (has_blocker(u, reason))
		return 0;
	if ((fd >= 0 ? asprintf(&s, "%s (pid %d %s, fd %d)", reason, pid, comm, fd)
		     : asprintf(&s, "%s (pid %d %s)", reason, pid, comm)) < 0)
		return -ENOMEM;
	if (!GREEDY_REALLOC(u->blockers, u->n_blockers + 1)) {
		free(s);
		return -ENOMEM;
	}
	u->blockers[u->n_blockers++] = s;
	return 0;
}

int plan_unit_add_external(struct plan_unit *u, const struct plan_external *e)
{
	struct plan_external c = *e;

	c.what = strdup(e->what);
	c.path = e->path ? strdup(e->path) : NULL;
	c.listen = e->listen ? strdup(e->listen) : NULL;
	if (!c.what || (e->path && !c.path) || (e->listen && !c.listen) ||
	    !GREEDY_REALLOC(u->externals, u->n_externals + 1)) {
		free(c.what);
		free(c.path);
		free(c.listen);
		return -ENOMEM;
	}
	u->externals[u->n_externals++] = c;
	return 0;
}

/* Roots: processes whose parent is outside the unit; CRIU dumps one tree per root. */
static int find_roots(struct plan_unit *u)
{
	_cleanup_free_ pid_t *pids = malloc(MAX(u->n_procs, 1u) * sizeof(pid_t));

	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < u->n_procs; i++)
		pids[i] = u->procs[i].pid;
	qsort(pids, u->n_procs, sizeof(pid_t), pid_compare);
	u->roots = malloc(MAX(u->n_procs, 1u) * sizeof(pid_t));
	if (!u->roots)
		return -ENOMEM;
	for (size_t i = 0; i < u->n_procs; i++) {
		pid_t ppid = u->procs[i].ppid;

		if (ppid == 0 || !bsearch(&ppid, pids, u->n_procs, sizeof(pid_t), pid_compare))
			u->roots[u->n_roots++] = u->procs[i].pid;
	}
	return 0;
}

static int finish_unit(struct plan *p, struct plan_unit *u)
{
	for (size_t i = 0; i < u->n_procs; i++) {
		u->n_threads += u->procs[i].threads;
		u->rss_bytes += u->procs[i].rss_bytes;
		u->est_image_bytes += u->procs[i].est_image_bytes;
	}
	p->n_processes += u->n_procs;
	p->n_threads += u->n_threads;
	p->rss_bytes += u->rss_bytes;
	/* The total is what would be written: checkpointed units only. */
	if (u->decision == DECISION_CHECKPOINT)
		p->est_image_bytes += u->est_image_bytes;
	return find_roots(u);
}

static int unit_compare(const void *a, const void *b)
{
	const struct plan_unit *x = a, *y = b;

	if (x->kind != y->kind)
		return CMP(x->kind, y->kind);
	return strcmp(x->name, y->name);
}

int plan_finish(struct plan *p)
{
	for (size_t i = 0; i < p->n_units; i++) {
		/* struct plan_process starts with its pid. */
		qsort(p->units[i].procs, p->units[i].n_procs, sizeof(struct plan_process),
		      pid_compare);
		if (finish_unit(p, &p->units[i]) < 0)
			return -ENOMEM;
	}
	qsort(p->units, p->n_units, sizeof(*p->units), unit_compare);
	return 0;
}
