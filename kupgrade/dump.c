/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "criu.h"
#include "criu-image.h"
#include "bus.h"
#include "cgroup.h"
#include "dropin.h"
#include "dump.h"
#include "imagedir.h"
#include "inspect.h"
#include "fileio.h"
#include "log.h"
#include "timeutil.h"
#include "manifest.h"
#include "netlock.h"
#include "phase.h"
#include "plan.h"
#include "proc.h"
#include "restore.h"
#include "tcp.h"
#include "transport.h"
#include "tree.h"
#include "verbs.h"

/*
 * The checkpoint orchestrator: "kupgrade checkpoint [--unit NAME...] --to DIR".
 *
 * All or nothing. Each tree is dumped with CRIU's killing dump: CRIU closes
 * its TCP sockets in repair mode, silently, so nothing reaches the peer and
 * the 4-tuples stay free for a restore on this same kernel. (Leaving trees
 * stopped and killing them only at the end would close those sockets the
 * normal way: a FIN, and an orphan socket holding the 4-tuple that makes a
 * same-kernel restore fail; and state could change between dump and kill.)
 * So the undo of a dump is a restore from the images just written, through
 * the very path "kupgrade restore" uses: every fault test exercises it. A
 * dump that fails is rolled back by CRIU itself (tree thawed, sockets out of
 * repair, its lock removed).
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

struct checkpoint;

struct ckpt_unit {
	struct checkpoint *c;
	const struct plan_unit *pu;
	struct ckpt_tree *trees;
	size_t n_trees;
	ManifestUnit *mu;
	char dir_name[256];
	bool locked; /* its connections are in the lock */
	pid_t holder; /* keeps the unit's cgroup while its trees are away */
};

struct checkpoint {
	struct plan *plan;
	struct ckpt_unit *units;
	size_t n_units;
	struct imagedir dir;
	const struct netlock_ops *lock;
	Manifest *m;
	uint64_t est_bytes;
	struct phase_list *phases;
	struct checkpoint_options opts;
};

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

static int add_unit(struct checkpoint *c, const struct plan_unit *pu)
{
	const struct plan_external *ext;
	struct ckpt_unit *n, *u;

	if (pu->n_roots == 0)
		return log_error_errno(-ESRCH, "Unit %s has no processes: nothing to checkpoint.", pu->name);
	/* Refused here, before anything is frozen, with the plan's reasons. */
	for (size_t i = 0; i < pu->n_blockers; i++)
		log_error("Unit %s: %s", pu->name, pu->blockers[i]);
	if (pu->n_blockers > 0)
		return log_error_errno(-EOPNOTSUPP, "Unit %s cannot be checkpointed as it stands (see "
						    "'kupgrade plan').", pu->name);
	/* The logind FIFOs and a service's journal streams are handed back. */
	ext = plan_unit_unsupported_external(pu);
	if (ext)
		return log_error_errno(-EOPNOTSUPP, "Unit %s: PID %d %s: kupgrade cannot hand that back at restore.",
				       pu->name, (int)ext->pid, ext->what);
	n = realloc(c->units, (c->n_units + 1) * sizeof(*n));
	if (!n)
		return log_oom();
	c->units = n;
	u = &n[c->n_units];
	*u = (struct ckpt_unit){ .c = c, .pu = pu };
	dir_name_for(pu->name, u->dir_name, sizeof(u->dir_name));
	u->mu = manifest_add_unit(c->m, pu->name, owner_kind_to_string(pu->kind), u->dir_name);
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
		if (bus_unit_property(pu->name, "org.freedesktop.systemd1.Service", "PIDFile", &pid_file) >= 0 &&
		    !isempty(pid_file) && manifest_set_string(&u->mu->pid_file, pid_file) < 0)
			return log_oom();
	}
	c->est_bytes += pu->est_image_bytes;
	c->n_units++;
	return 0;
}

static int phase_dump_unit(void *ctx, void *arg);
static int undo_dump_unit(void *ctx, void *arg);
static int phase_manifest(void *ctx, void *arg);

/* The plan decides which dump phases exist: they follow lock-network. */
static int add_dump_phases(struct checkpoint *c)
{
	int r = 0;

	for (size_t i = 0; i < c->n_units && r == 0; i++) {
		char name[300];

		snprintf(name, sizeof(name), "dump:%s", c->units[i].mu->name);
		r = phase_list_add(c->phases, name, phase_dump_unit, undo_dump_unit, &c->units[i]);
	}
	r = r ?: phase_list_add(c->phases, "write-manifest", phase_manifest, NULL, c);
	/* An outer orchestrator's phases follow the manifest (upgrade.c). */
	if (r == 0 && c->opts.add_tail)
		r = c->opts.add_tail(c->phases, c->opts.userdata);
	return r < 0 ? log_oom() : 0;
}

static int phase_plan(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	int r;

	r = plan_build(arg_config, &c->plan);
	if (r < 0)
		return r;
	if (arg_units) {
		for (char **name = arg_units; *name; name++) {
			struct plan_unit *pu = plan_find_unit(c->plan, *name);

			if (!pu)
				return log_error_errno(-ENOENT, "Unit %s not found; 'kupgrade plan' lists the units.",
						       *name);
			r = add_unit(c, pu);
			if (r < 0)
				return r;
		}
	} else
		for (size_t i = 0; i < c->plan->n_units; i++) {
			if (c->plan->units[i].decision != DECISION_CHECKPOINT)
				continue;
			r = add_unit(c, &c->plan->units[i]);
			if (r < 0)
				return r;
		}
	if (c->n_units == 0)
		return log_error_errno(-ENOENT, "Nothing to checkpoint: no unit is planned for checkpoint.");
	return add_dump_phases(c);
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
		bool stream = plan_external_is_journal_stream(e), listen = plan_external_is_listen_socket(e);
		uint64_t *list = stream ? ct->streams : ct->listens;
		size_t *n = stream ? &ct->n_streams : &ct->n_listens;
		char key[64], comm[64] = "", path[64];
		Kupgrade__ExternalFile *ext;
		bool seen = false;

		if ((!stream && !listen) || !tree_contains(&ct->t, e->pid) || !tree_has_socket(&ct->t, e->inode))
			continue;
		for (size_t j = 0; j < *n; j++)
			seen = seen || list[j] == e->inode;
		if (seen)
			continue;
		if (*n == MAX_STREAMS)
			return log_error_errno(-E2BIG, "Unit %s: too many sockets to hand back.", u->mu->name);
		list[(*n)++] = e->inode;
		snprintf(key, sizeof(key), "socket:[%" PRIu64 "]", e->inode);
		if (manifest_unit_add_external(u->mu, key, stream ? JOURNAL_STREAM_SOCKET : e->listen, S_IFSOCK,
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
static bool pid_left_unit(const struct ckpt_unit *u, pid_t pid)
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

	if (pid_left_unit(u, root))
		return -ESRCH;
	r = tree_scan(root, &ct->t);
	if (r < 0 && pid_left_unit(u, root))
		return -ESRCH;
	if (r < 0)
		return log_error_errno(r, "Unit %s: cannot read process tree of PID %d: %m", mu->name, (int)root);
	if (tree_contains(&ct->t, getpid()))
		return log_error_errno(-EDEADLK, "Unit %s contains kupgrade itself (PID %d): a process cannot "
						 "dump its own tree. Run kupgrade from another unit "
						 "(e.g. systemd-run --pipe --wait kupgrade ...).",
				       mu->name, (int)getpid());
	if (ct->t.problem)
		return log_error_errno(-EOPNOTSUPP, "Unit %s cannot be checkpointed as it stands: %s.", mu->name,
				       ct->t.problem);
	r = tcp_collect(root, ct->t.sockets, ct->t.n_sockets, &conns, &n_conns);
	if (r < 0 && pid_left_unit(u, root))
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
	struct ckpt_tree *trees = realloc(u->trees, (u->n_trees + 1) * sizeof(*trees));
	int r;

	if (!trees)
		return log_oom();
	u->trees = trees;
	trees[u->n_trees] = (struct ckpt_tree){};
	r = scan_tree(u, &trees[u->n_trees], root);
	if (r == -ESRCH) {
		tree_done(&trees[u->n_trees].t);
		log_notice("Unit %s: PID %d exited since the plan; nothing of it to carry.", u->mu->name, (int)root);
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
		return log_error_errno(r, "Unit %s: cannot list the processes of %s: %m", u->mu->name, u->pu->cgroup);
	for (size_t j = 0; j < u->n_trees; j++)
		n_covered += u->trees[j].t.n_pids;
	ppids = calloc(MAX(n, 1u), sizeof(pid_t));
	roots = calloc(MAX(n, 1u), sizeof(pid_t));
	covered = calloc(MAX(n_covered, 1u), sizeof(pid_t));
	if (!ppids || !roots || !covered)
		return log_oom();
	n_covered = 0;
	for (size_t j = 0; j < u->n_trees; j++) {
		memcpy(covered + n_covered, u->trees[j].t.pids, u->trees[j].t.n_pids * sizeof(pid_t));
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
static int unit_ended(struct ckpt_unit *u)
{
	log_notice("Unit %s: all its processes exited before the checkpoint; nothing to carry.", u->mu->name);
	u->mu->has_outcome = true;
	u->mu->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	return manifest_set_string(&u->mu->outcome_reason, "its processes exited before the checkpoint") < 0
		       ? log_oom()
		       : 0;
}

static bool unit_has_trees(const struct ckpt_unit *u)
{
	return u->mu->n_root_pids > 0;
}

static int phase_scan(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	_cleanup_free_ char *mount = NULL;
	int r;

	r = cgroup_find_mount(&mount);
	if (r < 0 && r != -ENOMEDIUM)
		return log_error_errno(r, "Cannot find the cgroup2 mount: %m");
	for (size_t i = 0; i < c->n_units; i++) {
		struct ckpt_unit *u = &c->units[i];

		for (size_t j = 0; j < u->pu->n_roots; j++) {
			r = scan_root(u, u->pu->roots[j]);
			if (r < 0)
				return r;
		}
		if (mount && !isempty(u->pu->cgroup)) {
			r = scan_new_roots(u, mount);
			if (r < 0)
				return r;
		}
		if (!unit_has_trees(u) && (r = unit_ended(u)) < 0)
			return r;
	}
	return 0;
}

/* "criu check" also fills CRIU's kernel-feature cache (/run/criu.kdat):
 * done here, before anything is locked or frozen, it takes seconds off the
 * first dump and refuses a kernel CRIU cannot work with. */
static int phase_criu_check(void *ctx, void *arg)
{
	return criu_check_kernel();
}

static int phase_prepare_images(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	/* 10% over the estimate: page-aligned images and CRIU's metadata. */
	return imagedir_prepare(c->opts.images_path, c->opts.on_disk, c->est_bytes + c->est_bytes / 10, &c->dir);
}

static int undo_prepare_images(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	return imagedir_wipe(&c->dir, false);
}

static bool is_service(const struct ckpt_unit *u)
{
	return u->pu->kind == OWNER_SERVICE;
}

/* A service with trees to dump is held still until the kexec. */
static bool quiesced(const struct ckpt_unit *u)
{
	return is_service(u) && unit_has_trees(u);
}

static int undo_quiesce(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < c->n_units; i++) {
		if (!quiesced(&c->units[i]))
			continue;
		any = true;
		if (dropin_remove_quiesce(RUNTIME_UNIT_DIR, c->units[i].mu->name) < 0)
			r = log_error_errno(-EIO, "Cannot remove kupgrade's drop-in of %s in %s.",
					    c->units[i].mu->name, RUNTIME_UNIT_DIR);
	}
	return any ? bus_reload() ?: r : r;
}

/*
 * Between its dump (which ends its processes with SIGKILL) and the kexec, a
 * service must not be restarted by systemd, nor have its ExecStop= run, nor
 * count as failed: a runtime drop-in says so for each, before any dump.
 */
static int phase_quiesce(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	bool any = false;

	for (size_t i = 0; i < c->n_units; i++) {
		int r;

		if (!quiesced(&c->units[i]))
			continue;
		any = true;
		r = dropin_write_quiesce(RUNTIME_UNIT_DIR, c->units[i].mu->name);
		if (r < 0) {
			log_error_errno(r, "Cannot write kupgrade's drop-in for %s in %s: %m", c->units[i].mu->name,
					RUNTIME_UNIT_DIR);
			(void)undo_quiesce(ctx, arg);
			return r;
		}
	}
	if (!any)
		return 0;
	return bus_reload();
}

/* The table goes up empty; each dump phase adds its unit's connections
 * right before that unit freezes, so a connection is held only while its
 * own tree is away. */
static int phase_lock_network(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < c->n_units; i++)
		n += c->units[i].mu->n_connections;
	if (n == 0) {
		log_info("No established TCP connection to lock.");
		return manifest_set_string(&c->m->lock_method, "none");
	}
	c->lock = netlock_get(NULL);
	if (!c->lock)
		return log_error_errno(-EOPNOTSUPP, "No network lock backend works here: install nftables.");
	r = c->lock->lock(NULL, 0);
	if (r < 0)
		return r;
	/* For the restores of a rollback, of "kupgrade restore" and after the
	 * kexec (set there again). */
	window_scaling_off(c->m);
	if (manifest_set_string(&c->m->lock_method, c->lock->name) < 0 ||
	    manifest_set_string(&c->m->lock_table, c->lock->table_desc()) < 0)
		return log_oom();
	return 0;
}

/* Lock (add) or unlock (delete) the connections of one unit. */
static int lock_unit(struct ckpt_unit *u, bool add)
{
	_cleanup_free_ struct tcp_conn *conns = NULL;
	size_t n = 0;

	if (!u->c->lock || u->mu->n_connections == 0)
		return 0;
	if (unit_connections(u->mu, &conns, &n) < 0)
		return log_oom();
	return u->c->lock->update(add, conns, n);
}

static int undo_lock_network(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	window_scaling_back();
	return c->lock ? c->lock->unlock() : 0;
}

/*
 * A killing dump empties the unit's cgroup, and systemd then removes an empty
 * scope (a login session's, say): a restore in place would have nowhere to go
 * back to. A holder process (a child of ours that only waits, and dies with
 * us) sits in the cgroup while the trees are away. Not for services: systemd
 * stops a service whose main process is gone and would kill whatever sits in
 * its cgroup, holder and restored tree alike (issue 5 quiesces services).
 */
static pid_t hold_cgroup(const char *cgroup)
{
	char path[4096];
	FILE *f;
	pid_t pid;

	if (isempty(cgroup))
		return 0;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", cgroup);
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	f = fopen(path, "we");
	if (!f || (fprintf(f, "%d\n", (int)pid), fclose(f)) != 0) {
		log_debug("Cannot hold cgroup %s, ignoring.", cgroup);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 0;
	}
	return pid;
}

static void release_cgroup(pid_t *holder)
{
	if (*holder <= 0)
		return;
	kill(*holder, SIGKILL);
	(void)waitpid(*holder, NULL, 0);
	*holder = 0;
}

/* A service is restored through its unit, as after a switch. restore-unit
 * reads the manifest: what is known so far is written first. */
static int undo_dump_service(struct ckpt_unit *u)
{
	int r = checkpoint_write_manifest(u->c);

	if (r >= 0)
		r = restore_service_through_unit(u->c->dir.path, u->mu);
	if (r < 0)
		return r;
	for (size_t j = 0; j < u->n_trees; j++)
		u->trees[j].dumped = false;
	return 0;
}

/* Restore, newest first, the trees of u already dumped. */
static int undo_dump_unit(void *ctx, void *arg)
{
	struct ckpt_unit *u = arg;
	bool any = false;
	int r = 0;

	for (size_t j = 0; j < u->n_trees; j++)
		any = any || u->trees[j].dumped;
	if (any && is_service(u) && undo_dump_service(u) < 0)
		r = log_error_errno(-EIO, "Unit %s could not be restored in place; its images are kept in %s/%s.",
				    u->mu->name, u->c->dir.path, u->dir_name);
	for (size_t j = u->n_trees; r == 0 && j-- > 0;) {
		struct ckpt_tree *ct = &u->trees[j];

		if (!ct->dumped)
			continue;
		log_info("Restoring %s (PID %d) in place...", u->mu->name, (int)ct->t.root);
		if (restore_tree(&u->c->dir, u->mu, ct->t.root) < 0)
			r = log_error_errno(-EIO, "Unit %s: tree %d could not be restored in place; its images "
						  "are kept in %s/%s.",
					    u->mu->name, (int)ct->t.root, u->c->dir.path, u->dir_name);
		else
			ct->dumped = false;
	}
	if (r == 0) {
		(void)imagedir_wipe_sub(&u->c->dir, u->dir_name);
		if (u->locked && lock_unit(u, false) == 0)
			u->locked = false;
		release_cgroup(&u->holder); /* the trees are back in it */
	}
	return r;
}

/* Files the unit holds open on a tmpfs, copied into <unit>/carried/<n> right
 * before its dump: once its main process is gone systemd deletes its
 * PIDFile=, and CRIU records the size a file must have at restore. */
static int carry_files(struct ckpt_unit *u)
{
	_cleanup_close_ int dir_fd = -EBADF;
	unsigned n = 0;

	for (size_t i = 0; i < u->pu->n_externals; i++) {
		const struct plan_external *e = &u->pu->externals[i];
		_cleanup_close_ int in = -EBADF, out = -EBADF;
		char image[32], name[16];
		bool seen = false;
		struct stat st;
		int r;

		if (!e->path)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq_ptr(u->pu->externals[j].path, e->path);
		if (seen)
			continue;
		in = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (in < 0 || fstat(in, &st) < 0)
			return log_error_errno(-errno, "Unit %s: cannot read %s to carry it: %m", u->mu->name, e->path);
		if (S_ISDIR(st.st_mode)) {
			if (manifest_unit_add_carried(u->mu, e->path, NULL, st.st_mode, st.st_uid, st.st_gid) < 0)
				return log_oom();
			continue;
		}
		if (dir_fd < 0) {
			r = imagedir_mkdir_sub(&u->c->dir, u->dir_name, "carried", &dir_fd);
			if (r < 0)
				return log_error_errno(r, "Unit %s: cannot create its carried files directory: %m",
						       u->mu->name);
		}
		snprintf(name, sizeof(name), "%u", n);
		snprintf(image, sizeof(image), "carried/%u", n++);
		out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0 || transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
			return log_error_errno(-EIO, "Unit %s: cannot copy %s into the images: %m", u->mu->name,
					       e->path);
		if (manifest_unit_add_carried(u->mu, e->path, image, st.st_mode, st.st_uid, st.st_gid) < 0)
			return log_oom();
		log_info("Unit %s: carrying %s (%lld bytes).", u->mu->name, e->path, (long long)st.st_size);
	}
	return 0;
}

static void record_stats(struct ckpt_unit *u)
{
	struct criu_dump_stats s;

	if (criu_read_dump_stats(&s) < 0)
		return;
	(void)manifest_unit_add_timing(u->mu, "criu-freezing", s.freezing_usec);
	(void)manifest_unit_add_timing(u->mu, "criu-frozen", s.frozen_usec);
	(void)manifest_unit_add_timing(u->mu, "criu-memdump", s.memdump_usec);
	(void)manifest_unit_add_timing(u->mu, "criu-memwrite", s.memwrite_usec);
}

/* Every process the scan found in ct has exited (or left the unit): the
 * dump failed for want of anything to dump. */
static bool tree_ended(const struct ckpt_unit *u, const struct ckpt_tree *ct)
{
	for (size_t i = 0; i < ct->t.n_pids; i++)
		if (!pid_left_unit(u, ct->t.pids[i]))
			return false;
	return true;
}

static int drop_ended_tree(struct ckpt_unit *u, struct ckpt_tree *ct, const char *sub)
{
	char rel[300];

	log_notice("Unit %s: the tree of PID %d exited before its dump; nothing of it to carry.", u->mu->name,
		   (int)ct->t.root);
	snprintf(rel, sizeof(rel), "%s/%s", u->dir_name, sub);
	(void)imagedir_wipe_sub(&u->c->dir, rel);
	manifest_unit_remove_root(u->mu, ct->t.root);
	u->mu->n_processes -= MIN(u->mu->n_processes, (uint32_t)ct->t.n_pids);
	return unit_has_trees(u) ? 0 : unit_ended(u);
}

static int phase_dump_unit(void *ctx, void *arg)
{
	struct ckpt_unit *u = arg;
	uint64_t t0 = now_usec(CLOCK_MONOTONIC), bytes = 0;
	int r;

	if (!unit_has_trees(u))
		return 0; /* its processes exited before the scan (unit_ended) */
	/* Before the freeze: CRIU reads TCP state in repair mode, and nothing
	 * may move on the wire after that. */
	r = lock_unit(u, true);
	if (r < 0)
		return r;
	u->locked = true;
	if (u->pu->kind != OWNER_SERVICE)
		u->holder = hold_cgroup(u->mu->cgroup);
	if (u->mu->n_connections > 0)
		log_info("Locked %zu TCP connection%s of %s.", u->mu->n_connections,
			 u->mu->n_connections == 1 ? "" : "s", u->mu->name);
	r = carry_files(u);
	for (size_t j = 0; j < u->n_trees && r == 0; j++) {
		struct ckpt_tree *ct = &u->trees[j];
		const char *keys[64];
		char stream_keys[MAX_STREAMS][32];
		size_t n_keys = 0;
		_cleanup_close_ int fd = -EBADF;
		char sub[16], log_name[300];

		if (ct->t.n_externals + ct->n_streams > ELEMENTSOF(keys)) {
			r = log_error_errno(-E2BIG, "Unit %s: too many external files.", u->mu->name);
			break;
		}
		for (size_t k = 0; k < ct->t.n_externals; k++)
			keys[n_keys++] = ct->t.externals[k].key;
		for (size_t k = 0; k < ct->n_streams; k++) {
			snprintf(stream_keys[k], sizeof(stream_keys[k]), "unix[%" PRIu64 "]", ct->streams[k]);
			keys[n_keys++] = stream_keys[k];
		}
		snprintf(sub, sizeof(sub), "%d", (int)ct->t.root);
		r = imagedir_mkdir_sub(&u->c->dir, u->dir_name, sub, &fd);
		if (r < 0) {
			log_error_errno(r, "Unit %s: cannot create %s/%s/%s: %m", u->mu->name, u->c->dir.path,
					u->dir_name, sub);
			break;
		}
		snprintf(log_name, sizeof(log_name), "%s-%d-dump.log", u->mu->name, (int)ct->t.root);
		r = criu_dump_tree(&(struct criu_dump_req){ .pid = ct->t.root,
							    .images_fd = fd,
							    .log_name = log_name,
							    .shell_job = ct->t.shell_job,
							    .externals = keys,
							    .n_externals = n_keys });
		if (r < 0 && tree_ended(u, ct)) {
			r = drop_ended_tree(u, ct, sub);
			continue;
		}
		if (r < 0) {
			log_error("Unit %s: dump of tree %d failed.", u->mu->name, (int)ct->t.root);
			break;
		}
		for (size_t k = 0; k < ct->n_listens && r >= 0; k++) {
			r = criu_image_inherit_listen_socket(fd, ct->listens[k]);
			if (r < 0)
				log_error_errno(r, "Unit %s: cannot mark systemd's listening socket %" PRIu64
						   " as inherited in the images of tree %d: %m",
						u->mu->name, ct->listens[k], (int)ct->t.root);
		}
		ct->dumped = true;
		if (r < 0)
			break;
		record_stats(u);
		if (u->c->lock && netlock_drop_criu_table(ct->t.root) < 0)
			log_warning("Unit %s: CRIU's own lock table for PID %d stays, ignoring.", u->mu->name,
				    (int)ct->t.root);
	}
	if (r < 0) {
		/* This phase's own undo will not run: put back what it did. */
		int k = undo_dump_unit(u->c, u);

		return k < 0 ? k : r;
	}
	(void)manifest_unit_add_timing(u->mu, "dump", now_usec(CLOCK_MONOTONIC) - t0);
	if (imagedir_size(&u->c->dir, u->dir_name, &bytes) == 0) {
		u->mu->has_image_bytes = true;
		u->mu->image_bytes = bytes;
	}
	log_info("Dumped %s: %u process%s, %.1f MiB in %.2f s.", u->mu->name, u->mu->n_processes,
		 u->mu->n_processes == 1 ? "" : "es", bytes / 1048576.0, (now_usec(CLOCK_MONOTONIC) - t0) / 1e6);
	return 0;
}

/* The report also names each service the plan restarts, and why. */
static int add_planned_restarts(struct checkpoint *c)
{
	if (arg_units)
		return 0;
	for (size_t i = 0; i < c->plan->n_units; i++) {
		const struct plan_unit *pu = &c->plan->units[i];
		ManifestUnit *mu;

		if (pu->kind != OWNER_SERVICE || pu->decision != DECISION_RESTART)
			continue;
		mu = manifest_add_unit(c->m, pu->name, owner_kind_to_string(pu->kind), "");
		if (!mu)
			return -ENOMEM;
		mu->has_outcome = true;
		mu->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		if (manifest_set_string(&mu->outcome_reason, pu->reason ?: "planned") < 0)
			return -ENOMEM;
	}
	return 0;
}

static int phase_manifest(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	struct timespec ts;
	char v[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	c->m->has_created_realtime_usec = true;
	c->m->created_realtime_usec = (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (criu_version_string(v, sizeof(v)) == 0 && manifest_set_string(&c->m->criu_version, v) < 0)
		return log_oom();
	if (checkpoint_record_timings(c) < 0 || add_planned_restarts(c) < 0)
		return log_oom();
	return checkpoint_write_manifest(c);
}

static bool has_timing(const Manifest *m, const char *phase)
{
	for (size_t i = 0; i < m->n_timings; i++)
		if (streq(m->timings[i]->phase, phase))
			return true;
	return false;
}

int checkpoint_record_timings(struct checkpoint *c)
{
	for (size_t i = 0; i < c->phases->n; i++) {
		const struct phase *p = &c->phases->phases[i];

		/* Per-unit dump times live in the unit's own timings. */
		if (!p->done || strncmp(p->name, "dump:", 5) == 0 || has_timing(c->m, p->name))
			continue;
		if (manifest_add_timing(c->m, p->name, p->usec) < 0)
			return -ENOMEM;
	}
	return 0;
}

int checkpoint_write_manifest(struct checkpoint *c)
{
	int r = manifest_write_at(c->dir.fd, c->m);

	if (r < 0)
		return log_error_errno(r, "Cannot write the manifest in %s: %m", c->dir.path);
	return 0;
}

int checkpoint_add_phases(struct checkpoint *c, struct phase_list *l)
{
	int r = 0;

	c->phases = l;
	/* Plan and scan change nothing: every refusal comes before anything is frozen. */
	r = r ?: phase_list_add(l, "plan", phase_plan, NULL, c);
	r = r ?: phase_list_add(l, "scan", phase_scan, NULL, c);
	r = r ?: phase_list_add(l, "criu-check", phase_criu_check, NULL, c);
	r = r ?: phase_list_add(l, "prepare-images", phase_prepare_images, undo_prepare_images, c);
	r = r ?: phase_list_add(l, "quiesce-services", phase_quiesce, undo_quiesce, c);
	r = r ?: phase_list_add(l, "lock-network", phase_lock_network, undo_lock_network, c);
	/* "dump:<unit>"... and "write-manifest" are appended by the plan phase. */
	return r;
}

int checkpoint_new(const struct checkpoint_options *o, struct checkpoint **ret)
{
	struct checkpoint *c;
	char boot_id[64];
	struct utsname u;

	if (read_boot_id(boot_id, sizeof(boot_id)) < 0 || uname(&u) < 0)
		return log_error_errno(-EIO, "Cannot read the boot id or the kernel release.");
	c = calloc(1, sizeof(*c));
	if (!c)
		return log_oom();
	c->dir.fd = -EBADF;
	c->opts = *o;
	c->m = manifest_new(boot_id, u.release);
	if (!c->m || manifest_set_string(&c->m->transport, o->transport ?: "local") < 0 ||
	    (o->upgrade_id && manifest_set_string(&c->m->upgrade_id, o->upgrade_id) < 0) ||
	    (o->kernel_to && manifest_set_string(&c->m->kernel_to, o->kernel_to) < 0)) {
		checkpoint_free(c);
		return log_oom();
	}
	*ret = c;
	return 0;
}

Manifest *checkpoint_manifest(struct checkpoint *c)
{
	return c->m;
}

const char *checkpoint_images_path(const struct checkpoint *c)
{
	return c->dir.path ?: c->opts.images_path;
}

size_t checkpoint_n_units(const struct checkpoint *c)
{
	return c->n_units;
}

void checkpoint_free(struct checkpoint *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_units; i++) {
		release_cgroup(&c->units[i].holder);
		for (size_t j = 0; j < c->units[i].n_trees; j++)
			tree_done(&c->units[i].trees[j].t);
		free(c->units[i].trees);
	}
	free(c->units);
	manifest_free(c->m);
	plan_free(c->plan);
	imagedir_close(&c->dir);
	free(c);
}

int verb_checkpoint(int argc, char **argv)
{
	struct checkpoint *c = NULL;
	struct phase_list l = {};
	struct phase_result res = {};
	int r;

	if (!arg_to)
		return log_error_errno(-EINVAL, "Missing --to DIR: where to write the images (on a tmpfs).");
	if (geteuid() != 0)
		return log_error_errno(-EPERM, "kupgrade checkpoint must run as root.");
	r = checkpoint_new(&(struct checkpoint_options){ .images_path = arg_to,
							 .on_disk = arg_images_on_disk,
							 .transport = "local" },
			   &c);
	if (r < 0)
		return r;

	r = checkpoint_add_phases(c, &l);
	if (r < 0) {
		r = log_oom();
		goto out;
	}
	r = phase_run(&l, NULL, &res);
	if (r < 0) {
		if (res.undo_failures)
			log_error("Checkpoint failed in phase '%s', and %u undo step%s failed: the system is NOT "
				  "as it was, see the messages above.",
				  res.failed_phase, res.undo_failures, res.undo_failures == 1 ? "" : "s");
		else
			log_error("Checkpoint failed in phase '%s'%s: rolled back, every process runs as before, "
				  "no lock and no image left.",
				  res.failed_phase, res.injected ? " (KUPGRADE_FAULT)" : "");
		r = res.undo_failures ? EXIT_OSERR : EXIT_SOFTWARE;
		goto out;
	}
	log_info("Checkpoint complete: %zu unit%s in %s; restore with 'kupgrade restore --from %s'.",
		 c->n_units, c->n_units == 1 ? "" : "s", c->dir.path, c->dir.path);
	if (arg_json)
		inspect_print_json(stdout, c->m);
out:
	phase_list_free(&l);
	checkpoint_free(c);
	return r;
}
