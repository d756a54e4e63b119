/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "criu.h"
#include "inspect.h"
#include "log.h"
#include "netlock.h"
#include "phase.h"
#include "restore.h"
#include "tree.h"
#include "verbs.h"

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * A file declared external at dump comes back as a fresh object of the same
 * type and mode: CRIU checks both. Only FIFOs are handed back (the pam_systemd
 * session FIFO of ssh sessions); the checkpoint refuses anything else. The
 * fd is opened without O_CLOEXEC: "criu swrk" is our child and must inherit it.
 */
static int make_fifo(int dir_fd, const Kupgrade__ExternalFile *e, unsigned idx, int *ret_fd)
{
	char name[32];
	int fd;

	if (!e->has_mode || !S_ISFIFO(e->mode))
		return log_error_errno(-EOPNOTSUPP, "External file %s (%s) is not a FIFO: cannot hand it back.",
				       e->path, e->key);
	snprintf(name, sizeof(name), "external-%u.fifo", idx);
	(void)unlinkat(dir_fd, name, 0);
	if (mkfifoat(dir_fd, name, e->mode & 07777) < 0)
		return log_error_errno(-errno, "Cannot create a FIFO for %s: %m", e->path);
	(void)fchmodat(dir_fd, name, e->mode & 07777, 0); /* past the umask */
	fd = openat(dir_fd, name, O_RDWR | O_NONBLOCK);
	(void)unlinkat(dir_fd, name, 0);
	if (fd < 0)
		return log_error_errno(-errno, "Cannot open the FIFO for %s: %m", e->path);
	*ret_fd = fd;
	return 0;
}

/* Put the restored tree back into the unit's cgroup when it still exists
 * (CRIU runs with manage_cgroups=ignore, as the old cgroup may be gone). */
static void rehome(const ManifestUnit *u, pid_t root)
{
	char path[4096];
	struct tree t;

	if (isempty(u->cgroup))
		return;
	/* systemd stops a service whose main process went away, killing what
	 * is in its cgroup; a restarted one is another instance. Issue 5 hands
	 * services back to their unit; until then they stay beside it. */
	if (streq_ptr(u->kind, "service")) {
		log_info("%s: the restored tree stays in kupgrade's cgroup, beside the unit.", u->name);
		return;
	}
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", u->cgroup);
	if (access(path, W_OK) < 0) {
		log_info("%s: cgroup %s is gone, the restored tree stays in kupgrade's cgroup.", u->name,
			 u->cgroup);
		return;
	}
	if (tree_scan(root, &t) < 0)
		return;
	for (size_t i = 0; i < t.n_pids; i++) {
		FILE *f = fopen(path, "we");

		if (!f || (fprintf(f, "%d\n", (int)t.pids[i]), fclose(f)) != 0)
			log_debug("Cannot move PID %d into %s, ignoring.", (int)t.pids[i], u->cgroup);
	}
	tree_done(&t);
}

int restore_tree(struct imagedir *d, ManifestUnit *u, uint32_t root)
{
	struct criu_inherit inherit[16];
	int fds[16], n = 0, r;
	_cleanup_close_ int fd = -EBADF;
	char rel[4096], log_name[300];
	pid_t pid = 0;

	snprintf(rel, sizeof(rel), "%s/%u", u->image_dir, root);
	r = imagedir_open_sub(d, rel, &fd);
	if (r < 0)
		return log_error_errno(r, "%s: cannot open images %s/%s: %m", u->name, d->path, rel);
	if (u->n_externals > ELEMENTSOF(fds))
		return log_error_errno(-E2BIG, "%s: too many external files.", u->name);
	for (size_t i = 0; i < u->n_externals; i++) {
		r = make_fifo(fd, u->externals[i], i, &fds[n]);
		if (r < 0)
			goto out;
		inherit[n] = (struct criu_inherit){ .fd = fds[n], .key = u->externals[i]->key };
		n++;
	}
	snprintf(log_name, sizeof(log_name), "%s-%u-restore.log", u->name, root);
	r = criu_restore_tree(&(struct criu_restore_req){ .images_fd = fd,
							  .log_name = log_name,
							  .shell_job = u->has_shell_job && u->shell_job,
							  .inherit = inherit,
							  .n_inherit = n },
			      &pid);
	if (r < 0)
		goto out;
	if ((uint32_t)pid != root)
		log_warning("%s: tree %u came back as PID %d.", u->name, root, (int)pid);
	rehome(u, pid);
out:
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return r;
}

int restore_unit(struct imagedir *d, ManifestUnit *u)
{
	uint64_t t0 = now_usec();
	int r = 0;

	for (size_t i = 0; i < u->n_root_pids; i++) {
		int k = restore_tree(d, u, u->root_pids[i]);

		if (k < 0 && r == 0)
			r = k;
	}
	u->has_outcome = true;
	u->outcome = r < 0 ? KUPGRADE__UNIT_OUTCOME__FAILED : KUPGRADE__UNIT_OUTCOME__RESTORED;
	(void)manifest_unit_add_timing(u, "restore", now_usec() - t0);
	if (r < 0)
		return r;
	log_info("Restored %s (%zu tree%s) in %.2f s.", u->name, u->n_root_pids,
		 u->n_root_pids == 1 ? "" : "s", (now_usec() - t0) / 1e6);
	return 0;
}

/* --- the restore orchestrator: "kupgrade restore --from DIR" --- */

struct restore {
	struct imagedir dir;
	Manifest *m;
	const struct netlock_ops *lock;
	unsigned failed;
};

static void restore_done(struct restore *rs)
{
	manifest_free(rs->m);
	imagedir_close(&rs->dir);
}

static int read_manifest(const char *from, struct restore *rs)
{
	char path[4096];
	int r;

	rs->dir.fd = -EBADF;
	if (!from)
		return log_error_errno(-EINVAL, "Missing --from DIR: the directory a checkpoint wrote.");
	r = imagedir_open(from, &rs->dir);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, from);
	r = manifest_read_file(path, &rs->m);
	if (r < 0)
		return r;
	if (!isempty(rs->m->lock_method) && !streq(rs->m->lock_method, "none")) {
		rs->lock = netlock_get(rs->m->lock_method);
		if (!rs->lock)
			return log_error_errno(-EOPNOTSUPP, "The manifest's lock method '%s' is unknown here.",
					       rs->m->lock_method);
	}
	return 0;
}

int unit_connections(const ManifestUnit *u, struct tcp_conn **c, size_t *n)
{
	for (size_t j = 0; j < u->n_connections; j++) {
		const Kupgrade__Connection *mc = u->connections[j];
		struct tcp_conn *nc = realloc(*c, (*n + 1) * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		*c = nc;
		nc[*n] = (struct tcp_conn){ .family = mc->family, .sport = mc->sport, .dport = mc->dport };
		snprintf(nc[*n].src, sizeof(nc[*n].src), "%s", mc->src);
		snprintf(nc[*n].dst, sizeof(nc[*n].dst), "%s", mc->dst);
		(*n)++;
	}
	return 0;
}

static int collect_connections(const Manifest *m, struct tcp_conn **ret, size_t *ret_n)
{
	for (size_t i = 0; i < m->n_units; i++)
		if (unit_connections(m->units[i], ret, ret_n) < 0)
			return -ENOMEM;
	return 0;
}

/* After a kexec the old kernel's rules are gone: lock again from the manifest.
 * On the same kernel the checkpoint's lock is still there. */
static int ensure_lock(struct restore *rs)
{
	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;
	int r;

	if (!rs->lock)
		return 0;
	r = rs->lock->exists();
	if (r > 0)
		return 0;
	r = collect_connections(rs->m, &c, &n);
	if (r < 0)
		return log_oom();
	r = rs->lock->lock(c, n);
	if (r < 0)
		return r;
	log_info("Locked %zu connection%s again (%s %s).", n, n == 1 ? "" : "s", rs->lock->name,
		 rs->lock->table_desc());
	return 0;
}

static int phase_lock(void *ctx, void *arg)
{
	return ensure_lock(ctx);
}

static int phase_restore_unit(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	ManifestUnit *u = arg;

	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;

	/* A unit that fails is reported; the others are still restored. */
	if (restore_unit(&rs->dir, u) < 0) {
		manifest_set_string(&u->outcome_reason, "CRIU restore failed, see " CRIU_LOG_DIR);
		rs->failed++;
		return 0;
	}
	/* Its connections flow again now, not when the last unit is back. */
	if (rs->lock && unit_connections(u, &c, &n) == 0 && rs->lock->update(false, c, n) < 0)
		log_warning("%s: its connections stay locked until the end of the restore.", u->name);
	return 0;
}

static int phase_unlock(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	int r;

	if (!rs->lock)
		return 0;
	r = rs->lock->unlock();
	return r == -ENOENT ? 0 : r;
}

static int phase_wipe(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	return imagedir_wipe(&rs->dir, true);
}

static void report(const Manifest *m)
{
	for (size_t i = 0; i < m->n_units; i++) {
		const ManifestUnit *u = m->units[i];

		log_info("%-28s %s%s%s", u->name, manifest_outcome_to_string(u->outcome),
			 u->outcome_reason ? ": " : "", u->outcome_reason ?: "");
	}
}

int verb_restore(int argc, char **argv)
{
	struct restore rs = {};
	struct phase_list l = {};
	struct phase_result res;
	int r;

	r = read_manifest(arg_from, &rs);
	if (r < 0)
		goto out;
	r = phase_list_add(&l, "lock-network", phase_lock, NULL, NULL);
	for (size_t i = 0; r == 0 && i < rs.m->n_units; i++) {
		char name[300];

		snprintf(name, sizeof(name), "restore:%s", rs.m->units[i]->name);
		r = phase_list_add(&l, name, phase_restore_unit, NULL, rs.m->units[i]);
	}
	if (r == 0)
		r = phase_list_add(&l, "unlock-network", phase_unlock, NULL, NULL);
	if (r == 0)
		r = phase_list_add(&l, "wipe-images", phase_wipe, NULL, NULL);
	if (r < 0) {
		r = log_oom();
		goto out;
	}
	r = phase_run(&l, &rs, &res);
	report(rs.m);
	if (arg_json)
		inspect_print_json(stdout, rs.m);
	if (r < 0) {
		log_error("Restore stopped in phase '%s': the images and the lock are left in place in %s.",
			  res.failed_phase, arg_from);
		r = EXIT_SOFTWARE;
	} else if (rs.failed) {
		log_error("%u of %zu units failed to restore.", rs.failed, rs.m->n_units);
		r = EXIT_SOFTWARE;
	}
out:
	phase_list_free(&l);
	restore_done(&rs);
	return r;
}

/* "kupgrade lock --from DIR": re-create the lock from a manifest (boot side). */
int verb_lock(int argc, char **argv)
{
	struct restore rs = {};
	int r;

	r = read_manifest(arg_from, &rs);
	if (r == 0)
		r = ensure_lock(&rs);
	restore_done(&rs);
	return r;
}
