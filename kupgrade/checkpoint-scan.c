/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "bus.h"
#include "cgroup.h"
#include "checkpoint-internal.h"
#include "fileio.h"
#include "log.h"
#include "proc.h"
#include "tcp.h"

/*
 * The plan and the scan. The plan picks the units to checkpoint and refuses,
 * before anything is frozen, a unit it cannot carry. The scan reads each
 * unit's trees: processes come and go between the plan and the dumps, so a
 * root that has exited is left out and processes the plan did not see become
 * trees of their own.
 */

/* Unit names become directory names; a cgroup path must not nest. */
static void dir_name_for(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '_';
	if (buf[0] == '.' || buf[0] == 0)
		buf[0] = '_';
}

static int ckpt_add_unit(struct checkpoint *c, const struct plan_unit *pu)
{
	const struct plan_external *ext;
	struct ckpt_unit *u;

	if (pu->n_roots == 0)
		return log_error_errno(-ESRCH, "Unit %s has no processes: nothing to checkpoint.",
				       pu->name);
	/* Refused here, before anything is frozen, with the plan's reasons. */
	for (size_t i = 0; i < pu->n_blockers; i++)
		log_error("Unit %s: %s", pu->name, pu->blockers[i]);
	if (pu->n_blockers > 0)
		return log_error_errno(-EOPNOTSUPP,
				       "Unit %s cannot be checkpointed as it stands (see "
				       "'kupgrade plan').",
				       pu->name);
	/* The logind FIFOs and a service's journal streams are handed back. */
	ext = plan_unit_unsupported_external(pu);
	if (ext)
		return log_error_errno(-EOPNOTSUPP,
				       "Unit %s: PID %d %s: kupgrade cannot hand that back at restore.",
				       pu->name, (int)ext->pid, ext->what);
	if (!GREEDY_REALLOC(c->units, c->n_units + 1))
		return log_oom();
	u = &c->units[c->n_units];
	*u = (struct ckpt_unit){ .c = c, .pu = pu };
	dir_name_for(pu->name, u->dir_name, sizeof(u->dir_name));
	u->mu = manifest_add_unit(c->m, pu->name, ckpt_manifest_kind(pu->kind), u->dir_name);
	if (!u->mu)
		return log_oom();
	if (pu->cgroup && manifest_set_string(&u->mu->cgroup, pu->cgroup) < 0)
		return log_oom();
	if (pu->service_type && manifest_set_string(&u->mu->service_type, pu->service_type) < 0)
		return log_oom();
	u->mu->has_main_pid = pu->main_pid > 0;
	u->mu->main_pid = pu->main_pid;
	if (pu->kind == OWNER_SERVICE) {
		_cleanup_free_ char *pid_file = NULL;

		/* Written again at restore: /run is new after the kexec, and the
		 * service's own ExecReload= or ExecStop= may read it. */
		if (bus_unit_property(pu->name, "org.freedesktop.systemd1.Service", "PIDFile",
				      &pid_file) >= 0 &&
		    !isempty(pid_file) && manifest_set_string(&u->mu->pid_file, pid_file) < 0)
			return log_oom();
	}
	c->est_bytes += pu->est_image_bytes;
	c->n_units++;
	return 0;
}

int checkpoint_phase_plan(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	int r;

	r = plan_build(c->opts.config, &c->plan);
	if (r < 0)
		return r;
	if (c->opts.units) {
		for (char *const *name = c->opts.units; *name; name++) {
			struct plan_unit *pu = plan_find_unit(c->plan, *name);

			if (!pu)
				return log_error_errno(
					-ENOENT,
					"Unit %s not found; 'kupgrade plan' lists the units.",
					*name);
			r = ckpt_add_unit(c, pu);
			if (r < 0)
				return r;
		}
	} else
		for (size_t i = 0; i < c->plan->n_units; i++) {
			if (c->plan->units[i].decision != DECISION_CHECKPOINT)
				continue;
			r = ckpt_add_unit(c, &c->plan->units[i]);
			if (r < 0)
				return r;
		}
	if (c->n_units == 0)
		return log_error_errno(-ENOENT,
				       "Nothing to checkpoint: no unit is planned for checkpoint.");
	return 0;
}

static bool tree_has_socket(const struct tree *t, uint64_t ino)
{
	for (size_t i = 0; i < t->n_sockets; i++)
		if (t->sockets[i] == ino)
			return true;
	return false;
}

/* Sockets of this tree handed back at restore (restore.c): its journal
 * streams (stdout/stderr), declared external at dump (CRIU: unix[ino]) and
 * restored as fresh streams of the same unit; and the listening sockets it
 * shares with systemd, rewritten in the images after the dump
 * (criu-image.h) and restored as the socket systemd then holds. */
static int add_sockets(struct ckpt_unit *u, struct ckpt_tree *ct)
{
	for (size_t i = 0; i < u->pu->n_externals; i++) {
		const struct plan_external *e = &u->pu->externals[i];
		bool stream = plan_external_is_journal_stream(e),
		     listen = plan_external_is_listen_socket(e);
		uint64_t *list = stream ? ct->streams : ct->listens;
		size_t *n = stream ? &ct->n_streams : &ct->n_listens;
		char key[64], comm[64] = "", path[64];
		Kupgrade__ExternalFile *ext;
		bool seen = false;

		if ((!stream && !listen) || !tree_contains(&ct->t, e->pid) ||
		    !tree_has_socket(&ct->t, e->inode))
			continue;
		for (size_t j = 0; j < *n; j++)
			seen = seen || list[j] == e->inode;
		if (seen)
			continue;
		if (*n == MAX_STREAMS)
			return log_error_errno(-E2BIG, "Unit %s: too many sockets to hand back.",
					       u->mu->name);
		list[(*n)++] = e->inode;
		snprintf(key, sizeof(key), "socket:[%" PRIu64 "]", e->inode);
		if (manifest_unit_add_external(u->mu, key,
					       stream ? JOURNAL_STREAM_SOCKET : e->listen, S_IFSOCK,
					       e->pid, e->fd) < 0)
			return log_oom();
		ext = u->mu->externals[u->mu->n_externals - 1];
		if (listen) {
			ext->has_systemd_socket = ext->systemd_socket = true;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)e->pid);
		if (read_small_file(path, comm, sizeof(comm)) >= 0) {
			comm[strcspn(comm, "\n")] = 0;
			if (manifest_set_string(&ext->identifier, comm) < 0)
				return log_oom();
		}
	}
	return 0;
}

/* The process has exited, or its PID now names a process outside the unit. */
bool ckpt_pid_left_unit(const struct ckpt_unit *u, pid_t pid)
{
	_cleanup_free_ char *cg = NULL;
	int r;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	if (isempty(u->pu->cgroup))
		return false;
	r = proc_read_cgroup(pid, &cg);
	if (r == -ENODATA)
		return false; /* no cgroup2 line: cannot tell */
	return r < 0 || !cgroup_is_below(cg, u->pu->cgroup);
}

/* -ESRCH: the root exited since the plan (nothing of it to carry). */
static int scan_tree(struct ckpt_unit *u, struct ckpt_tree *ct, pid_t root)
{
	_cleanup_free_ struct tcp_conn *conns = NULL;
	size_t n_conns = 0;
	ManifestUnit *mu = u->mu;
	int r;

	if (ckpt_pid_left_unit(u, root))
		return -ESRCH;
	r = tree_scan(root, &ct->t);
	if (r < 0 && ckpt_pid_left_unit(u, root))
		return -ESRCH;
	if (r < 0)
		return log_error_errno(r, "Unit %s: cannot read process tree of PID %d: %m",
				       mu->name, (int)root);
	if (tree_contains(&ct->t, getpid()))
		return log_error_errno(-EDEADLK,
				       "Unit %s contains kupgrade itself (PID %d): a process cannot "
				       "dump its own tree. Run kupgrade from another unit "
				       "(e.g. systemd-run --pipe --wait kupgrade ...).",
				       mu->name, (int)getpid());
	if (ct->t.problem)
		return log_error_errno(-EOPNOTSUPP,
				       "Unit %s cannot be checkpointed as it stands: %s.", mu->name,
				       ct->t.problem);
	r = tcp_collect(root, ct->t.sockets, ct->t.n_sockets, &conns, &n_conns);
	if (r < 0 && ckpt_pid_left_unit(u, root))
		return -ESRCH;
	if (r < 0)
		return log_error_errno(r, "Unit %s: cannot list TCP connections: %m", mu->name);
	if (manifest_unit_add_root(mu, root) < 0)
		return log_oom();
	for (size_t i = 0; i < n_conns; i++)
		if (manifest_unit_add_connection(mu, conns[i].family, conns[i].src, conns[i].sport,
						 conns[i].dst, conns[i].dport) < 0)
			return log_oom();
	for (size_t i = 0; i < ct->t.n_externals; i++) {
		const struct tree_file *e = &ct->t.externals[i];

		if (manifest_unit_add_external(mu, e->key, e->path, e->mode, e->pid, e->fd) < 0)
			return log_oom();
	}
	r = add_sockets(u, ct);
	if (r < 0)
		return r;
	mu->n_processes += ct->t.n_pids;
	mu->has_n_processes = true;
	/* One flag per unit in the manifest: any tree needing it sets it. */
	mu->has_shell_job = true;
	mu->shell_job = mu->shell_job || ct->t.shell_job;
	return 0;
}

/* Scans the tree of root into a new entry of u->trees; a root that exited
 * since the plan is left out, and said so. */
static int scan_root(struct ckpt_unit *u, pid_t root)
{
	struct ckpt_tree *ct;
	int r;

	if (!GREEDY_REALLOC(u->trees, u->n_trees + 1))
		return log_oom();
	ct = &u->trees[u->n_trees];
	*ct = (struct ckpt_tree){};
	r = scan_tree(u, ct, root);
	if (r == -ESRCH) {
		tree_done(&ct->t);
		log_notice("Unit %s: PID %d exited since the plan; nothing of it to carry.",
			   u->mu->name, (int)root);
		return 0;
	}
	u->n_trees++; /* freed with the unit, also when r < 0 */
	return r;
}

/*
 * Processes of the unit that no scanned tree holds and whose parent is
 * outside the unit: started since the plan, or orphaned by a root that
 * exited. Each becomes a tree of its own: left out, it would die with the
 * old kernel unnoticed. One pass: a unit that keeps starting new trees
 * (daemonizing children) is never still; what starts after this pass is
 * what starts between any scan and its freeze. -ENOENT: the unit is gone.
 */
static int scan_new_roots(struct ckpt_unit *u, const char *mount)
{
	_cleanup_free_ pid_t *pids = NULL, *ppids = NULL, *covered = NULL, *roots = NULL;
	size_t n = 0, n_covered = 0, n_roots;
	int r;

	r = cgroup_pids_recursive(mount, u->pu->cgroup, &pids, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Unit %s: cannot list the processes of %s: %m",
				       u->mu->name, u->pu->cgroup);
	for (size_t j = 0; j < u->n_trees; j++)
		n_covered += u->trees[j].t.n_pids;
	ppids = calloc(MAX(n, 1u), sizeof(pid_t));
	roots = calloc(MAX(n, 1u), sizeof(pid_t));
	covered = calloc(MAX(n_covered, 1u), sizeof(pid_t));
	if (!ppids || !roots || !covered)
		return log_oom();
	n_covered = 0;
	for (size_t j = 0; j < u->n_trees; j++) {
		memcpy(covered + n_covered, u->trees[j].t.pids,
		       u->trees[j].t.n_pids * sizeof(pid_t));
		n_covered += u->trees[j].t.n_pids;
	}
	for (size_t i = 0; i < n; i++) {
		struct proc_stat st;

		ppids[i] = proc_read_stat(pids[i], &st) < 0 ? 0 : st.ppid;
	}
	n_roots = tree_uncovered_roots(pids, ppids, n, covered, n_covered, roots);
	for (size_t i = 0; i < n_roots; i++) {
		log_notice("Unit %s: PID %d was not in the plan (started or orphaned since); its tree is "
			   "checkpointed too.",
			   u->mu->name, (int)roots[i]);
		r = scan_root(u, roots[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Nothing of the unit is left to carry: the new boot starts it (a service)
 * or it is simply gone (a scope), and the report says why. */
int ckpt_unit_ended(struct ckpt_unit *u)
{
	log_notice("Unit %s: all its processes exited before the checkpoint; nothing to carry.",
		   u->mu->name);
	u->mu->has_outcome = true;
	u->mu->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	return manifest_set_string(&u->mu->outcome_reason,
				   "its processes exited before the checkpoint") < 0
		       ? log_oom()
		       : 0;
}

bool ckpt_unit_has_trees(const struct ckpt_unit *u)
{
	return u->mu->n_root_pids > 0;
}

int checkpoint_phase_scan(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	int r;

	r = cgroup_find_mount(&c->cgroup_mount);
	if (r < 0 && r != -ENOMEDIUM)
		return log_error_errno(r, "Cannot find the cgroup2 mount: %m");
	for (size_t i = 0; i < c->n_units; i++) {
		struct ckpt_unit *u = &c->units[i];

		for (size_t j = 0; j < u->pu->n_roots; j++) {
			r = scan_root(u, u->pu->roots[j]);
			if (r < 0)
				return r;
		}
		if (c->cgroup_mount && !isempty(u->pu->cgroup)) {
			r = scan_new_roots(u, c->cgroup_mount);
			if (r < 0)
				return r;
		}
		if (!ckpt_unit_has_trees(u) && (r = ckpt_unit_ended(u)) < 0)
			return r;
	}
	return 0;
}
