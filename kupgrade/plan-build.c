/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building the plan: fetch what systemd (bus.c), the cgroup tree (cgroup.c)
 * and /proc (proc.c, unixsock.c) say, group every process under its owner,
 * find blockers, and let the pure policy (plan.c, blockers.c) decide.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <time.h>

#include "blockers.h"
#include "bus.h"
#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "listensock.h"
#include "plan.h"
#include "proc.h"
#include "unixsock.h"

struct cg_pid {
	pid_t pid;
	char *cgroup;
};

struct sock_ref {
	uint64_t ino;
	pid_t pid;
	int fd;
	size_t unit;
};

struct build {
	struct plan *plan;
	const struct config *config;
	struct bus_unit *bus;
	size_t n_bus;
	char *mount; /* cgroup2 mount, NULL if none */
	pid_t self;
	char *self_cgroup;
	uint64_t init_mnt_ns; /* PID 1's mount namespace, 0 if unknown */

	struct cg_pid *walked; /* from the cgroup tree, sorted by pid */
	size_t n_walked, size_walked;

	struct sock_ref *socks; /* unix sockets held, sorted by inode */
	size_t n_socks, size_socks;
};

static int grow(void **array, size_t *size, size_t need, size_t elem)
{
	void *n;
	size_t s;

	if (need <= *size)
		return 0;
	s = MAX(need, *size * 2 + 16);
	n = realloc(*array, s * elem);
	if (!n)
		return -ENOMEM;
	*array = n;
	*size = s;
	return 0;
}

/* --- Owners ------------------------------------------------------------ */

static int add_unit(struct build *b, const char *name, enum owner_kind kind, const char *cgroup,
		    const struct bus_unit *bu, size_t *ret)
{
	struct plan *p = b->plan;
	struct plan_unit *u, *n;

	for (size_t i = 0; i < p->n_units; i++)
		if (streq(p->units[i].name, name)) {
			*ret = i;
			return 0;
		}
	n = realloc(p->units, (p->n_units + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	p->units = n;
	u = &p->units[p->n_units];
	*u = (struct plan_unit){ .kind = kind };
	u->name = strdup(name);
	u->cgroup = strdup(cgroup);
	if (bu) {
		u->main_pid = bu->main_pid;
		u->service_type = bu->service_type ? strdup(bu->service_type) : NULL;
	}
	if (!u->name || !u->cgroup || (bu && bu->service_type && !u->service_type)) {
		free(u->name);
		free(u->cgroup);
		free(u->service_type);
		return -ENOMEM;
	}
	*ret = p->n_units++;
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

static int owner_of_cgroup(struct build *b, const char *cgroup, size_t *ret)
{
	struct owner o;
	int r;

	r = resolve_owner(b, cgroup, &o);
	if (r < 0)
		return r;
	r = add_unit(b, o.name, o.kind, o.cgroup, o.bu, ret);
	owner_done(&o);
	return r;
}

static int owner_of(struct build *b, pid_t pid, const struct proc_stat *st, const char *cgroup, size_t *ret)
{
	int r;

	if (proc_is_kernel_thread(st))
		return add_unit(b, "kernel", OWNER_KERNEL, "/", NULL, ret);
	if (pid == b->self)
		return add_unit(b, "kupgrade", OWNER_SELF, cgroup, NULL, ret);
	r = owner_of_cgroup(b, cgroup, ret);
	if (r < 0)
		return r;
	/* PID 1 outside init.scope (no systemd): give it an owner of its own. */
	if (pid == 1 && b->plan->units[*ret].kind != OWNER_INIT)
		return add_unit(b, "init", OWNER_INIT, cgroup, NULL, ret);
	return 0;
}

/* --- Processes ----------------------------------------------------------- */

static int collect_walked(const char *cg, const pid_t *pids, size_t n, void *userdata)
{
	struct build *b = userdata;
	int r;

	r = grow((void **)&b->walked, &b->size_walked, b->n_walked + n, sizeof(*b->walked));
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		char *c = strdup(cg);

		if (!c)
			return -ENOMEM;
		b->walked[b->n_walked++] = (struct cg_pid){ pids[i], c };
	}
	return 0;
}

static int cmp_cg_pid(const void *a, const void *b)
{
	pid_t x = ((const struct cg_pid *)a)->pid, y = ((const struct cg_pid *)b)->pid;

	return (x > y) - (x < y);
}

static int walk_cgroups(struct build *b)
{
	int r;

	r = cgroup_find_mount(&b->mount);
	if (r < 0) {
		log_warning_errno(r, "No cgroup2 hierarchy found (%m); reading each process's cgroup instead, ignoring.");
		return 0;
	}
	r = cgroup_walk(b->mount, "/", collect_walked, b);
	if (r < 0)
		return log_error_errno(r, "Cannot walk the cgroup tree under %s: %m", b->mount);
	qsort(b->walked, b->n_walked, sizeof(*b->walked), cmp_cg_pid);
	return 0;
}

/* The cgroup of pid: from the walk, else (born or moved meanwhile) from /proc. */
static int cgroup_of(struct build *b, pid_t pid, char **ret)
{
	struct cg_pid key = { .pid = pid }, *w;
	int r;

	w = b->n_walked ? bsearch(&key, b->walked, b->n_walked, sizeof(key), cmp_cg_pid) : NULL;
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
	struct plan_process *procs, *pp;
	struct proc_stat st;
	struct plan_unit *u;
	size_t unit;
	int r;

	r = proc_read_stat(pid, &st);
	if (r == -ESRCH)
		return 0; /* exited meanwhile */
	if (r < 0)
		return log_error_errno(r, "Cannot read /proc/%d/stat: %m", pid);
	r = cgroup_of(b, pid, &cgroup);
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Cannot read the cgroup of process %d: %m", pid);
	r = owner_of(b, pid, &st, cgroup, &unit);
	if (r < 0)
		return log_oom();

	u = &b->plan->units[unit];
	procs = realloc(u->procs, (u->n_procs + 1) * sizeof(*procs));
	if (!procs)
		return log_oom();
	u->procs = procs;
	pp = &procs[u->n_procs++];
	*pp = (struct plan_process){ .pid = pid, .ppid = st.ppid, .threads = st.threads };
	memcpy(pp->comm, st.comm, sizeof(pp->comm));
	if (pid == b->self) {
		free(b->self_cgroup);
		b->self_cgroup = TAKE_PTR(cgroup);
	}
	return 0;
}

static int collect_processes(struct build *b)
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

/* The unit kupgrade runs in, if other processes share it (e.g. its ssh session). */
static int mark_self(struct build *b)
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

/* --- Blockers and externals -------------------------------------------- */

static bool has_blocker(const struct plan_unit *u, const char *reason)
{
	size_t n = strlen(reason);

	/* Same reason from another fd or process: one line is enough. */
	for (size_t i = 0; i < u->n_blockers; i++)
		if (strncmp(u->blockers[i], reason, n) == 0 && strncmp(u->blockers[i] + n, " (pid ", 6) == 0)
			return true;
	return false;
}

static int add_blocker(struct plan_unit *u, const char *reason, pid_t pid, const char *comm, int fd)
{
	char **n, *s;

	if (has_blocker(u, reason))
		return 0;
	if ((fd >= 0 ? asprintf(&s, "%s (pid %d %s, fd %d)", reason, pid, comm, fd)
		     : asprintf(&s, "%s (pid %d %s)", reason, pid, comm)) < 0)
		return -ENOMEM;
	n = realloc(u->blockers, (u->n_blockers + 1) * sizeof(char *));
	if (!n) {
		free(s);
		return -ENOMEM;
	}
	u->blockers = n;
	u->blockers[u->n_blockers++] = s;
	return 0;
}

static int add_external_path(struct plan_unit *u, const char *what, pid_t pid, int fd, uint64_t ino,
			     const char *path)
{
	struct plan_external *n;
	char *s = strdup(what), *p = path ? strdup(path) : NULL;

	if (!s || (path && !p)) {
		free(s);
		free(p);
		return -ENOMEM;
	}
	n = realloc(u->externals, (u->n_externals + 1) * sizeof(*n));
	if (!n) {
		free(s);
		free(p);
		return -ENOMEM;
	}
	u->externals = n;
	u->externals[u->n_externals++] = (struct plan_external){ .pid = pid, .fd = fd, .inode = ino, .what = s, .path = p };
	return 0;
}

static int add_external(struct plan_unit *u, const char *what, pid_t pid, int fd, uint64_t ino)
{
	return add_external_path(u, what, pid, fd, ino, NULL);
}

static int add_verdict(struct plan_unit *u, enum fd_verdict v, const char *reason, pid_t pid, const char *comm,
		       int fd, uint64_t ino)
{
	if (v == FD_BLOCKER)
		return add_blocker(u, reason, pid, comm, fd);
	if (v == FD_EXTERNAL)
		return add_external(u, reason, pid, fd, ino);
	return 0;
}

/* CRIU reopens a file by its path at restore; on a tmpfs (/run, /dev/shm)
 * the path is gone after the kexec. memfds and deleted files CRIU carries
 * in the images itself. */
static bool on_tmpfs(pid_t pid, const struct proc_fd *fd, struct stat *st)
{
	size_t n = strlen(fd->target);
	struct statfs sf;
	char path[64];

	if (!(S_ISREG(fd->mode) || S_ISDIR(fd->mode)) || fd->target[0] != '/' ||
	    strncmp(fd->target, "/memfd:", 7) == 0 || (n > 10 && streq(fd->target + n - 10, " (deleted)")))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd->fd);
	return statfs(path, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) &&
	       stat(path, st) == 0;
}

struct fd_scan {
	struct build *b;
	size_t unit;
	const char *comm;
};

static int scan_fd(pid_t pid, const struct proc_fd *fd, void *userdata)
{
	struct fd_scan *s = userdata;
	struct build *b = s->b;
	struct plan_unit *u = &b->plan->units[s->unit];
	char reason[512];
	struct stat st;
	enum fd_verdict v;
	int r;

	/* Every socket is remembered: whose peer a unix socket is, and who
	 * else holds it (systemd, for socket activation), are found later. */
	if (S_ISSOCK(fd->mode)) {
		r = grow((void **)&b->socks, &b->size_socks, b->n_socks + 1, sizeof(*b->socks));
		if (r < 0)
			return r;
		b->socks[b->n_socks++] = (struct sock_ref){ fd->ino, pid, fd->fd, s->unit };
	}
	/* Blockers matter only where a dump would happen. */
	if (u->decision != DECISION_CHECKPOINT)
		return 0;
	if (on_tmpfs(pid, fd, &st)) {
		/* Small ones (PID files, lock files) kupgrade carries itself. */
		if (S_ISDIR(st.st_mode) || st.st_size <= CARRY_MAX_BYTES)
			return add_external_path(u, CARRIED_WHAT, pid, fd->fd, fd->ino, fd->target);
		snprintf(reason, sizeof(reason), "holds %s open on a tmpfs, which is empty after the kexec, "
			 "and too large to carry (over %d KiB)", fd->target, CARRY_MAX_BYTES / 1024);
		return add_blocker(u, reason, pid, s->comm, fd->fd);
	}
	v = fd_check_file(fd, reason, sizeof(reason));
	return add_verdict(u, v, reason, pid, s->comm, fd->fd, fd->ino);
}

static int check_mount_ns(struct build *b, size_t unit, const struct plan_process *pp)
{
	struct plan_unit *u = &b->plan->units[unit];
	uint64_t ns = 0;
	char reason[256];

	if (u->decision != DECISION_CHECKPOINT || proc_read_ns(pp->pid, "mnt", &ns) < 0)
		return 0;
	if (ns_check_mount(ns, b->init_mnt_ns, reason, sizeof(reason)) == FD_OK)
		return 0;
	return add_blocker(u, reason, pp->pid, pp->comm, -1) < 0 ? log_oom() : 0;
}

static int scan_process(struct build *b, size_t unit, struct plan_process *pp)
{
	struct fd_scan s = { b, unit, pp->comm };
	struct proc_mem mem;
	int r;

	r = proc_read_mem(pp->pid, &mem);
	if (r >= 0) {
		pp->rss_bytes = mem.rss;
		pp->est_image_bytes = proc_mem_image_estimate(&mem);
	} else if (r != -ESRCH)
		log_debug_errno(r, "Cannot read the memory of process %d, ignoring: %m", pp->pid);

	if (pp->pid == b->self)
		return 0; /* our own fds are transient */
	r = check_mount_ns(b, unit, pp);
	if (r < 0)
		return r;
	r = proc_for_each_fd(pp->pid, scan_fd, &s);
	if (r == -ENOMEM)
		return log_oom();
	if (r == -ESRCH)
		return 0;
	if (r < 0 && b->plan->units[unit].decision == DECISION_CHECKPOINT) {
		/* What cannot be inspected cannot be promised. */
		char reason[128];

		snprintf(reason, sizeof(reason), "its open files cannot be inspected (%s)", strerror(-r));
		return add_blocker(&b->plan->units[unit], reason, pp->pid, pp->comm, -1) < 0 ? log_oom() : 0;
	}
	if (r < 0)
		log_debug_errno(r, "Cannot read the open files of process %d (%s), ignoring: %m", pp->pid, pp->comm);
	return 0;
}

static int cmp_sock_ref(const void *a, const void *b)
{
	uint64_t x = ((const struct sock_ref *)a)->ino, y = ((const struct sock_ref *)b)->ino;

	return (x > y) - (x < y);
}

/* First holder of a socket inode, or NULL; holders are adjacent after sorting. */
static const struct sock_ref *sock_holders(const struct build *b, uint64_t ino, size_t *ret_n)
{
	struct sock_ref key = { .ino = ino };
	const struct sock_ref *s = b->n_socks ? bsearch(&key, b->socks, b->n_socks, sizeof(key), cmp_sock_ref) : NULL;
	const struct sock_ref *end;

	if (!s)
		return NULL;
	while (s > b->socks && s[-1].ino == ino)
		s--;
	for (end = s; end < b->socks + b->n_socks && end->ino == ino; end++)
		;
	*ret_n = (size_t)(end - s);
	return s;
}

static int check_unix_peer(struct build *b, const struct unix_sock_table *t, const struct sock_ref *s)
{
	struct plan_unit *units = b->plan->units, *u = &units[s->unit];
	const struct unix_sock *us = unix_sock_find(t, s->ino), *peer;
	const struct sock_ref *holders;
	struct unix_peer_facts f = {};
	char reason[512];
	const char *comm = "?";
	size_t n = 0;

	if (!us || us->peer == 0)
		return 0; /* not connected, or not in our network namespace */
	peer = unix_sock_find(t, us->peer);
	f.type = us->type;
	f.peer_name = peer ? peer->name : NULL;
	holders = sock_holders(b, us->peer, &n);
	for (size_t i = 0; i < n; i++)
		if (holders[i].unit == s->unit)
			f.peer_same_unit = true;
	if (n > 0) {
		f.peer_unit = units[holders[0].unit].name;
		f.peer_decision = units[holders[0].unit].decision;
	}
	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i].pid == s->pid)
			comm = u->procs[i].comm;
	return add_verdict(u, fd_check_unix_peer(&f, reason, sizeof(reason)), reason, s->pid, comm, s->fd, s->ino);
}

static int check_unix_peers(struct build *b)
{
	struct unix_sock_table t;
	int r;

	r = unix_sock_table_load(&t);
	if (r < 0) {
		log_warning_errno(r, "Cannot list unix sockets via sock_diag (%m); "
				     "connections between units are not checked, ignoring.");
		return 0;
	}
	qsort(b->socks, b->n_socks, sizeof(*b->socks), cmp_sock_ref);
	for (size_t i = 0; i < b->n_socks; i++) {
		if (b->plan->units[b->socks[i].unit].decision != DECISION_CHECKPOINT)
			continue;
		r = check_unix_peer(b, &t, &b->socks[i]);
		if (r < 0)
			break;
	}
	unix_sock_table_done(&t);
	return r < 0 ? log_oom() : 0;
}

/*
 * A socket-activated service shares its listening sockets with PID 1. CRIU
 * would create them anew at restore, where the new boot's socket unit
 * already listens. A listening TCP or unix stream socket of a service is
 * declared external instead: the restore hands CRIU the one systemd then
 * holds on the same address (listensock.h). Any other socket shared with
 * systemd blocks the dump. b->socks is sorted (check_unix_peers).
 */
static int check_socket_activation(struct build *b)
{
	struct plan_unit *units = b->plan->units;

	for (size_t i = 0; i < b->n_socks; i++) {
		const struct sock_ref *s = &b->socks[i], *holders;
		struct plan_unit *u = &units[s->unit];
		char name[128], what[256];
		const char *comm = "?";
		size_t n = 0;
		bool by_init = false;
		int fd, r;

		if (u->decision != DECISION_CHECKPOINT)
			continue;
		holders = sock_holders(b, s->ino, &n);
		for (size_t j = 0; j < n; j++)
			by_init = by_init || units[holders[j].unit].kind == OWNER_INIT;
		if (!by_init)
			continue;
		r = -EOPNOTSUPP;
		if (u->kind == OWNER_SERVICE && proc_dup_fd(s->pid, s->fd, false, &fd) == 0) {
			r = listen_sock_name(fd, name, sizeof(name));
			close(fd);
		}
		if (r == 0) {
			snprintf(what, sizeof(what), "%s %s, handed back at restore", LISTEN_SOCKET_WHAT, name);
			if (add_external(u, what, s->pid, s->fd, s->ino) < 0 ||
			    !(u->externals[u->n_externals - 1].listen = strdup(name)))
				return log_oom();
			continue;
		}
		for (size_t j = 0; j < u->n_procs; j++)
			if (u->procs[j].pid == s->pid)
				comm = u->procs[j].comm;
		if (add_blocker(u, "shares a socket with systemd (socket activation) that is not a listening TCP "
				   "or unix stream socket, which the new boot's socket unit holds instead",
				s->pid, comm, s->fd) < 0)
			return log_oom();
	}
	return 0;
}

/* --- Totals ---------------------------------------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* Roots: processes whose parent is outside the unit; CRIU dumps one tree per root. */
static int find_roots(struct plan_unit *u)
{
	_cleanup_free_ pid_t *pids = malloc(MAX(u->n_procs, 1u) * sizeof(pid_t));

	if (!pids)
		return -ENOMEM;
	for (size_t i = 0; i < u->n_procs; i++)
		pids[i] = u->procs[i].pid;
	qsort(pids, u->n_procs, sizeof(pid_t), cmp_pid);
	u->roots = malloc(MAX(u->n_procs, 1u) * sizeof(pid_t));
	if (!u->roots)
		return -ENOMEM;
	for (size_t i = 0; i < u->n_procs; i++) {
		pid_t ppid = u->procs[i].ppid;

		if (ppid == 0 || !bsearch(&ppid, pids, u->n_procs, sizeof(pid_t), cmp_pid))
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

static int cmp_proc(const void *a, const void *b)
{
	return cmp_pid(&((const struct plan_process *)a)->pid, &((const struct plan_process *)b)->pid);
}

static int cmp_unit(const void *a, const void *b)
{
	const struct plan_unit *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* --- The whole ------------------------------------------------------------- */

static int decide_all(struct build *b)
{
	for (size_t i = 0; i < b->plan->n_units; i++)
		if (plan_decide(&b->plan->units[i], b->config) < 0)
			return log_oom();
	return 0;
}

static int fetch_units(struct build *b)
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

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Each phase logs its duration at debug level (-v): the plan runs before
 * anything is frozen, but it should stay quick. */
#define PHASE(name, expr)                                                            \
	({                                                                           \
		double _t0 = now_ms();                                               \
		int _r = (expr);                                                     \
		log_debug("plan: %s took %.1f ms", name, now_ms() - _t0);            \
		_r;                                                                  \
	})

static int scan_all(struct build *b)
{
	struct plan *p = b->plan;
	int r;

	for (size_t i = 0; i < p->n_units; i++)
		for (size_t j = 0; j < p->units[i].n_procs; j++) {
			if (p->units[i].kind == OWNER_KERNEL)
				continue;
			r = scan_process(b, i, &p->units[i].procs[j]);
			if (r < 0)
				return r;
		}
	return 0;
}

static int finish_all(struct build *b)
{
	struct plan *p = b->plan;

	for (size_t i = 0; i < p->n_units; i++) {
		qsort(p->units[i].procs, p->units[i].n_procs, sizeof(struct plan_process), cmp_proc);
		if (finish_unit(p, &p->units[i]) < 0)
			return log_oom();
	}
	qsort(p->units, p->n_units, sizeof(*p->units), cmp_unit);
	return 0;
}

struct pid_unit {
	pid_t pid;
	size_t unit, proc;
};

static int cmp_pid_unit(const void *a, const void *b)
{
	pid_t x = ((const struct pid_unit *)a)->pid, y = ((const struct pid_unit *)b)->pid;

	return (x > y) - (x < y);
}

/* CRIU dumps a process with all its descendants: a unit whose process has a
 * child in another unit (sshd's listener and the login sessions it forked)
 * cannot be dumped on its own. */
static int check_children_elsewhere(struct build *b)
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
	qsort(all, n, sizeof(*all), cmp_pid_unit);
	for (size_t i = 0; i < p->n_units; i++)
		for (size_t j = 0; j < p->units[i].n_procs; j++) {
			const struct plan_process *child = &p->units[i].procs[j];
			struct pid_unit key = { .pid = child->ppid };
			const struct pid_unit *parent = bsearch(&key, all, n, sizeof(*all), cmp_pid_unit);
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
			if (add_blocker(pu, reason, parent->pid, pu->procs[parent->proc].comm, -1) < 0)
				return log_oom();
		}
	return 0;
}

static int build_plan(struct build *b)
{
	int r;

	r = PHASE("listing units over D-Bus", fetch_units(b));
	if (r >= 0)
		r = PHASE("collecting processes", collect_processes(b));
	if (r >= 0)
		r = mark_self(b);
	/* A first decision says where blockers matter; the final one counts them. */
	if (r >= 0)
		r = decide_all(b);
	if (r >= 0 && proc_read_ns(1, "mnt", &b->init_mnt_ns) < 0)
		log_debug("Cannot read PID 1's mount namespace; not comparing namespaces.");
	if (r >= 0)
		r = PHASE("reading memory and open files", scan_all(b));
	if (r >= 0)
		r = PHASE("checking unix socket peers", check_unix_peers(b));
	if (r >= 0)
		r = check_socket_activation(b);
	if (r >= 0)
		r = check_children_elsewhere(b);
	if (r >= 0)
		r = decide_all(b);
	if (r >= 0)
		r = finish_all(b);
	return r;
}

static void build_done(struct build *b)
{
	bus_units_free(b->bus, b->n_bus);
	for (size_t i = 0; i < b->n_walked; i++)
		free(b->walked[i].cgroup);
	free(b->walked);
	free(b->socks);
	free(b->mount);
	free(b->self_cgroup);
}

int plan_build(const char *config_path, struct plan **ret)
{
	struct config config = {};
	struct build b = { .self = getpid() };
	int r;

	if (config_path) {
		r = config_load(config_path, &config);
		if (r < 0)
			return r;
	}
	b.config = &config;
	b.plan = calloc(1, sizeof(struct plan));
	if (!b.plan) {
		config_done(&config);
		return log_oom();
	}
	r = build_plan(&b);
	build_done(&b);
	config_done(&config);
	if (r < 0) {
		plan_free(b.plan);
		return r;
	}
	*ret = b.plan;
	return 0;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_units; i++) {
		struct plan_unit *u = &p->units[i];

		free(u->name);
		free(u->cgroup);
		free(u->service_type);
		free(u->reason);
		free(u->procs);
		free(u->roots);
		for (size_t j = 0; j < u->n_blockers; j++)
			free(u->blockers[j]);
		free(u->blockers);
		for (size_t j = 0; j < u->n_externals; j++) {
			free(u->externals[j].what);
			free(u->externals[j].path);
			free(u->externals[j].listen);
		}
		free(u->externals);
	}
	free(p->units);
	free(p);
}

struct plan_unit *plan_find_unit(struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_units; i++)
		if (streq(p->units[i].name, name))
			return &p->units[i];
	return NULL;
}
