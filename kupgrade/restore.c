/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <syslog.h>

#include "paths.h"
#include "criu.h"
#include "inspect.h"
#include "log.h"
#include "timeutil.h"
#include "netlock.h"
#include "bus.h"
#include "dropin.h"
#include "phase.h"
#include "pidns.h"
#include "plan.h"
#include "fileio.h"
#include "listensock.h"
#include "report.h"
#include "restore.h"
#include "transport.h"
#include "tree.h"
#include "verbs.h"
#include "winscale.h"
#include "conn.h"

/*
 * A file declared external at dump comes back as a fresh object of the same
 * type and mode: CRIU checks both. FIFOs (the pam_systemd session FIFO of ssh
 * sessions) and journal streams are handed back, and a socket-activated
 * service's listening sockets as the ones systemd holds; the checkpoint
 * refuses anything else. The fds are opened without O_CLOEXEC: "criu swrk" is our
 * child and must inherit them.
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

/*
 * A service's stdout/stderr stream to journald: a fresh stream, with the
 * header systemd itself sends for a service (identifier, unit, priority,
 * level prefix, no forwarding), so its lines keep their unit and name.
 */
static int make_journal_stream(const ManifestUnit *u, const Kupgrade__ExternalFile *e, int *ret_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_free_ char *header = NULL;
	const char *ident = !isempty(e->identifier) ? e->identifier : u->name;
	int fd, k;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return log_error_errno(-errno, "%s: cannot create a journal stream: %m", u->name);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		k = log_error_errno(-errno, "%s: cannot connect a journal stream to %s: %m", u->name, e->path);
		goto fail;
	}
	(void)shutdown(fd, SHUT_RD);
	k = asprintf(&header, "%s\n%s\n%d\n1\n0\n0\n0\n", ident, u->name, LOG_INFO);
	if (k < 0) {
		k = log_oom();
		goto fail;
	}
	if (write(fd, header, (size_t)k) != k) {
		k = log_error_errno(-EIO, "%s: cannot send the journal stream header: %m", u->name);
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return k;
}

/* A listening socket the service shared with systemd: the one systemd holds
 * now on the same address, started by the same socket unit. */
static int find_systemd_socket(const ManifestUnit *u, const Kupgrade__ExternalFile *e, int *ret_fd)
{
	int r = listen_sock_find_in_init(e->path, ret_fd);

	if (r == -ENOENT)
		return log_error_errno(r, "%s: systemd does not listen on %s in this boot (is the service's socket "
					  "unit running?); its listening socket cannot be handed back.",
				       u->name, e->path);
	if (r < 0)
		return log_error_errno(r, "%s: cannot take systemd's listening socket %s: %m", u->name, e->path);
	log_info("%s: hands back systemd's listening socket %s.", u->name, e->path);
	return 0;
}

static int make_external(int dir_fd, const ManifestUnit *u, const Kupgrade__ExternalFile *e, unsigned idx,
			 int *ret_fd)
{
	if (e->has_systemd_socket && e->systemd_socket)
		return find_systemd_socket(u, e, ret_fd);
	if (e->has_mode && S_ISSOCK(e->mode) && streq_ptr(e->path, JOURNAL_STREAM_SOCKET))
		return make_journal_stream(u, e, ret_fd);
	return make_fifo(dir_fd, e, idx, ret_fd);
}

/* The cgroup v2 path of pid, "" if unknown. */
static void cgroup_of(pid_t pid, char *buf, size_t size)
{
	char path[64], text[4096];

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small_file(path, text, sizeof(text)) < 0 || strncmp(text, "0::", 3) != 0)
		return;
	text[strcspn(text, "\n")] = 0;
	snprintf(buf, size, "%s", text + 3);
}

/*
 * Adopt a restored tree whose unit is gone (a session scope) into a new
 * transient scope, so it outlives the service that restored it. The scope
 * is created with the root alone (systemd fails the whole scope when one of
 * the PIDs it is given has ended, as the "sleep" of a restored shell does),
 * then the rest of the tree follows into its cgroup, twice over, for
 * children forked meanwhile.
 */
static void adopt(const ManifestUnit *u, pid_t root)
{
	char scope[300], desc[400], cg[4096] = "", procs[4200];

	snprintf(scope, sizeof(scope), "kupgrade-%s", u->name);
	if (!strstr(scope, ".scope"))
		strncat(scope, ".scope", sizeof(scope) - strlen(scope) - 1);
	for (char *p = scope; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(desc, sizeof(desc), "%s, restored by kupgrade", u->name);
	if (bus_start_transient_scope(scope, desc, &root, 1) < 0)
		goto fail;
	for (unsigned waited = 0; waited < 5000; waited += 20) {
		cgroup_of(root, cg, sizeof(cg));
		if (strstr(cg, scope))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	}
	if (!strstr(cg, scope))
		goto fail;
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", cg);
	for (unsigned pass = 0; pass < 2; pass++) {
		struct tree t;

		if (tree_scan(root, &t) < 0)
			break;
		for (size_t i = 0; i < t.n_pids; i++)
			/* A process that ended meanwhile needs no home. */
			(void)write_string_file_in_place(procs, "%d\n", (int)t.pids[i]);
		tree_done(&t);
	}
	log_info("%s: restored tree adopted by %s.", u->name, scope);
	return;
fail:
	log_warning("%s: the restored tree could not get a scope of its own; it stays in kupgrade's cgroup.",
		    u->name);
}

/* Put the restored tree back into the unit's cgroup when it still exists
 * (CRIU runs with manage_cgroups=ignore, as the old cgroup may be gone);
 * else into a scope of its own. */
static void rehome(const ManifestUnit *u, pid_t root)
{
	char path[4096];
	struct tree t;

	/* A service is restored by its own unit's start after a switch
	 * (restore-unit): CRIU, our child, was born in the unit's cgroup.
	 * Restored on the same boot by "kupgrade restore", it stays beside its
	 * unit, in kupgrade's cgroup: systemd would take a tree moved into a
	 * dead unit's cgroup for strays. */
	if (streq_ptr(u->kind, "service")) {
		log_info("%s: the restored tree stays in the cgroup of the process that restored it.", u->name);
		return;
	}
	if (tree_scan(root, &t) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/cgroup.procs", u->cgroup ?: "");
	if (isempty(u->cgroup) || access(path, W_OK) < 0)
		adopt(u, root);
	else
		for (size_t i = 0; i < t.n_pids; i++)
			if (write_string_file_in_place(path, "%d\n", (int)t.pids[i]) < 0)
				log_debug("Cannot move PID %d into %s, ignoring.", (int)t.pids[i], u->cgroup);
	tree_done(&t);
}

/* Is pid in use here, and by what (for the report)? */
static bool pid_taken(pid_t pid, char *comm, size_t size)
{
	char path[64];
	int k;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	k = read_small_file(path, comm, size);
	if (k < 0)
		return k != -ENOENT;
	comm[strcspn(comm, "\n")] = 0;
	return true;
}

static int restore_in_pidns(void *userdata)
{
	return criu_restore_tree(userdata, NULL);
}

int restore_tree(struct imagedir *d, ManifestUnit *u, uint32_t root)
{
	struct criu_restore_req req;
	char taken_by[64] = "";
	bool taken;
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
		r = make_external(fd, u, u->externals[i], i, &fds[n]);
		if (r < 0)
			goto out;
		inherit[n] = (struct criu_inherit){ .fd = fds[n], .key = u->externals[i]->key };
		n++;
	}
	snprintf(log_name, sizeof(log_name), "%s-%u-restore.log", u->name, root);
	req = (struct criu_restore_req){ .images_fd = fd,
					 .log_name = log_name,
					 .shell_job = u->has_shell_job && u->shell_job,
					 .inherit = inherit,
					 .n_inherit = n };
	taken = pid_taken((pid_t)root, taken_by, sizeof(taken_by));
	if (!taken)
		r = criu_restore_tree(&req, &pid);
	if (taken || r < 0) {
		/* Its PIDs are (or may be) taken in this boot: inside a PID
		 * namespace of its own the tree keeps them. */
		if (taken)
			log_notice("%s: PID %u is taken by %s; restoring the tree in a new PID namespace.",
				   u->name, root, taken_by);
		else
			log_notice("%s: retrying the restore of tree %u in a new PID namespace.", u->name, root);
		r = pidns_run(restore_in_pidns, &req, &pid);
		if (r < 0)
			goto out;
		u->has_outcome = true;
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS;
		(void)manifest_set_string(&u->outcome_reason, taken ? "its PID was taken in the new boot: restored in a new PID namespace"
								    : "restored in a new PID namespace after a failed first attempt");
	} else if ((uint32_t)pid != root)
		log_warning("%s: tree %u came back as PID %d.", u->name, root, (int)pid);
	(void)manifest_unit_add_restored_pid(u, (uint32_t)pid);
	rehome(u, pid);
out:
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return r;
}

/* KUPGRADE_FAULT, or on the boot after a switch the one the upgrade carried
 * in the manifest (KUPGRADE_BOOT_FAULT), e.g. "restore-tree:session-3.scope". */
static const char *fault_for(const Manifest *m)
{
	const char *f = getenv("KUPGRADE_FAULT");

	return !isempty(f) ? f : m ? m->boot_fault : NULL;
}


/* What the unit held open on the old boot's tmpfs, put back where CRIU will
 * reopen it; left alone where it still exists (a restore on the same boot). */
static int put_back_carried(struct imagedir *d, const ManifestUnit *u)
{
	for (size_t i = 0; i < u->n_carried; i++) {
		const Kupgrade__CarriedFile *f = u->carried[i];
		_cleanup_close_ int in = -EBADF, out = -EBADF;
		char rel[4096];
		struct stat st;

		if (access(f->path, F_OK) == 0)
			continue;
		if (mkdir_parents(f->path, 0755) < 0)
			return log_error_errno(-errno, "%s: cannot create the directories of %s: %m", u->name, f->path);
		if (!f->image) {
			if (mkdir(f->path, f->mode & 07777) < 0 && errno != EEXIST)
				return log_error_errno(-errno, "%s: cannot create %s: %m", u->name, f->path);
			(void)chown(f->path, f->uid, f->gid);
			continue;
		}
		snprintf(rel, sizeof(rel), "%s/%s", u->image_dir, f->image);
		if (imagedir_open_file(d, rel, &in) < 0 || fstat(in, &st) < 0)
			return log_error_errno(-ENOENT, "%s: the copy of %s is missing from the images.", u->name, f->path);
		out = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (out < 0)
			return log_error_errno(-errno, "%s: cannot create %s: %m", u->name, f->path);
		if (transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
			return log_error_errno(-EIO, "%s: cannot write %s: %m", u->name, f->path);
		if (fchown(out, f->uid, f->gid) < 0 || fchmod(out, f->mode & 07777) < 0)
			log_warning("%s: cannot give %s its owner and mode back: %m", u->name, f->path);
		log_info("%s: put back %s.", u->name, f->path);
	}
	return 0;
}

int restore_unit(struct imagedir *d, const Manifest *m, ManifestUnit *u)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	char fault_name[300];
	int r = 0;

	snprintf(fault_name, sizeof(fault_name), "restore-tree:%s", u->name);
	if (phase_fault_matches(fault_for(m), fault_name)) {
		log_error("%s: restore failed: fault injected (%s).", u->name, fault_name);
		u->has_outcome = true;
		u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
		(void)manifest_set_string(&u->outcome_reason, "fault injected by KUPGRADE_FAULT");
		return -EIO;
	}

	r = put_back_carried(d, u);
	for (size_t i = 0; r == 0 && i < u->n_root_pids; i++) {
		int k = restore_tree(d, u, u->root_pids[i]);

		if (k < 0 && r == 0)
			r = k;
	}
	u->has_outcome = true;
	if (r < 0)
		u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
	else if (u->outcome != KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS)
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED;
	(void)manifest_unit_add_timing(u, "restore", now_usec(CLOCK_MONOTONIC) - t0);
	if (r < 0)
		return r;
	log_info("Restored %s (%zu tree%s) in %.2f s.", u->name, u->n_root_pids,
		 u->n_root_pids == 1 ? "" : "s", (now_usec(CLOCK_MONOTONIC) - t0) / 1e6);
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

const char *restore_images_dir(void)
{
	static const char *const dirs[] = { TRANSPORT_RUN_DIR, TRANSPORT_DISK_DIR };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, dirs[i]);
		if (access(path, F_OK) == 0)
			return dirs[i];
	}
	return NULL;
}

static int read_manifest(const char *from, struct restore *rs)
{
	char path[4096];
	int r;

	rs->dir.fd = -EBADF;
	/* Without --from: the images a switch left for this boot. */
	if (!from)
		from = restore_images_dir();
	if (!from)
		return log_error_errno(-EINVAL, "Missing --from DIR: the directory a checkpoint wrote "
						"(no switch left images in /run/kupgrade or /var/lib/kupgrade/images).");
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

static bool after_switch(const Manifest *m);

static bool is_service(const ManifestUnit *u);

static int phase_lock(void *ctx, void *arg)
{
	return ensure_lock(ctx);
}

static int phase_restore_unit(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	ManifestUnit *u = arg;

	/* A service dumped on this boot goes back into its unit. */
	if (is_service(u) && !after_switch(rs->m)) {
		if (restore_service_through_unit(rs->dir.path, u) < 0)
			rs->failed++;
		return 0;
	}

	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;

	/* A unit that fails is reported; the others are still restored. */
	if (restore_unit(&rs->dir, rs->m, u) < 0) {
		if (!u->outcome_reason)
			manifest_set_string(&u->outcome_reason, "CRIU restore failed, see " CRIU_LOG_DIR);
		rs->failed++;
		return 0;
	}
	/* Its connections flow again now, not when the last unit is back. */
	if (rs->lock && unit_connections(u, &c, &n) == 0 && rs->lock->update(false, c, n) < 0)
		log_warning("%s: its connections stay locked until the end of the restore.", u->name);
	return 0;
}

/* Is addr configured here? bind() to it says so without sending anything. */
static bool address_present(uint32_t family, const char *addr)
{
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa = {};
	socklen_t len;
	_cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	if (family == AF_INET) {
		sa.in.sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sa.in.sin_addr) != 1)
			return false;
		len = sizeof(sa.in);
	} else {
		sa.in6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			return false;
		len = sizeof(sa.in6);
	}
	return bind(fd, (struct sockaddr *)&sa, len) == 0;
}

#define ADDRESS_WAIT_USEC (60ULL * 1000000)

/*
 * After a kexec the restore runs while the network is being configured: a
 * connection can only come back once its local address exists ("Cannot
 * assign requested address" otherwise). Wait for them, bounded.
 */
static int phase_wait_addresses(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);

	for (size_t i = 0; i < rs->m->n_units; i++)
		for (size_t j = 0; j < rs->m->units[i]->n_connections; j++) {
			const Kupgrade__Connection *c = rs->m->units[i]->connections[j];

			while (!address_present(c->family, c->src)) {
				if (now_usec(CLOCK_MONOTONIC) - t0 > ADDRESS_WAIT_USEC) {
					log_warning("Address %s of %s is still missing after %llu s; restoring "
						    "anyway.",
						    c->src, rs->m->units[i]->name, ADDRESS_WAIT_USEC / 1000000);
					return 0;
				}
				nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
			}
		}
	return 0;
}

static int phase_unlock(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	int r;

	window_scaling_back();
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

/* --- services after a kexec: each restored by its own unit's start --- */

/* A service kupgrade restored (and not one the plan restarted). */
static bool is_service(const ManifestUnit *u)
{
	return streq(u->kind, "service") && !manifest_unit_planned_restart(u);
}

static void service_file(char *buf, size_t size, const char *unit, const char *what)
{
	snprintf(buf, size, "%s/%s.%s", RESTORE_SERVICE_DIR, unit, what);
}

/* Images written by another boot: the switch happened, systemd restores the
 * services (kupgrade-generator's drop-ins) and this command the rest. */
static bool after_switch(const Manifest *m)
{
	char now[64];

	return read_boot_id(now, sizeof(now)) >= 0 && !streq(now, m->boot_id);
}

#define SERVICE_WAIT_USEC (300ULL * 1000000)

/* What a service's restore (verb_restore_unit) wrote: outcome, restore time,
 * reason. -ENOENT while it has not written it yet. */
static int read_service_result(ManifestUnit *u)
{
	_cleanup_free_ char *text = NULL;
	char path[4096], *reason = NULL;
	unsigned long long usec;
	long outcome;

	service_file(path, sizeof(path), u->name, "result");
	if (read_full_file_str(path, &text) < 0)
		return -ENOENT;
	outcome = strtol(text, &reason, 10);
	usec = strtoull(reason, &reason, 10);
	reason += strspn(reason, " ");
	reason[strcspn(reason, "\n")] = 0;
	u->has_outcome = true;
	u->outcome = (Kupgrade__UnitOutcome)outcome;
	(void)manifest_unit_add_timing(u, "restore", usec);
	if (*reason)
		(void)manifest_set_string(&u->outcome_reason, reason);
	(void)unlink(path);
	return 0;
}

/* Collect what each service's restore wrote. */
static int phase_wait_services(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);

	for (size_t i = 0; i < rs->m->n_units; i++) {
		ManifestUnit *u = rs->m->units[i];

		if (!is_service(u))
			continue;
		while (read_service_result(u) < 0) {
			if (now_usec(CLOCK_MONOTONIC) - t0 > SERVICE_WAIT_USEC)
				break;
			nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
		}
		if (!u->has_outcome) {
			u->has_outcome = true;
			u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
			(void)manifest_set_string(&u->outcome_reason, "its restore never reported back");
		}
		if (u->outcome == KUPGRADE__UNIT_OUTCOME__FAILED)
			rs->failed++;
	}
	return 0;
}

/*
 * A unit started again while its processes were away (a connection to a
 * socket-activated service's socket, an operator's start): that instance
 * gives way to the checkpoint, which holds the service's clients and state.
 * Called with the restore drop-in in place, so that a start triggered
 * meanwhile (the socket again) is the restore itself.
 */
static int stop_window_instance(const char *name)
{
	_cleanup_free_ char *state = NULL;

	if (bus_unit_property(name, "org.freedesktop.systemd1.Unit", "ActiveState", &state) < 0 ||
	    streq(state, "inactive") || streq(state, "failed"))
		return 0;
	log_warning("%s was started again while it was checkpointed (%s); stopping that instance to restore "
		    "the checkpoint.",
		    name, state);
	return bus_stop_unit_wait(name, SERVICE_WAIT_USEC);
}

/*
 * On the boot that dumped it (a rollback, "kupgrade restore"), a service
 * comes back the way it does after a switch: its own start runs "kupgrade
 * restore-unit" (a runtime drop-in), so the tree is born in its cgroup and
 * systemd tracks its main process again. Then its own configuration is
 * back: both of kupgrade's drop-ins go. If it cannot be restored it is
 * started fresh, and says so.
 */
int restore_service_through_unit(const char *images, ManifestUnit *u)
{
	const char *name = u->name;
	char path[4096];
	int r;

	service_file(path, sizeof(path), name, "result");
	(void)unlink(path);
	r = dropin_write_restore(RUNTIME_UNIT_DIR, name, images);
	if (r < 0)
		return log_error_errno(r, "Cannot write the restore drop-in of %s: %m", name);
	log_info("Restoring %s through its unit...", name);
	r = bus_reload();
	if (r >= 0)
		r = stop_window_instance(name);
	if (r >= 0)
		r = bus_start_unit(name, "replace");
	if (r >= 0)
		r = bus_wait_active(name, SERVICE_WAIT_USEC);
	if (read_service_result(u) < 0 || u->outcome == KUPGRADE__UNIT_OUTCOME__FAILED)
		r = r < 0 ? r : -EIO;
	if (dropin_remove_restore(RUNTIME_UNIT_DIR, name) < 0 || dropin_remove_quiesce(RUNTIME_UNIT_DIR, name) < 0 ||
	    bus_reload() < 0)
		log_warning("%s: kupgrade's drop-ins could not be removed; remove %s/%s.d/50-kupgrade-*.conf, "
			    "then 'systemctl daemon-reload'.",
			    name, RUNTIME_UNIT_DIR, name);
	if (r >= 0)
		return 0;
	log_error_errno(r, "%s could not be restored through its unit; see 'journalctl -u %s'.", name, name);
	u->has_outcome = true;
	u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
	if (bus_restart_unit(name) >= 0) {
		log_warning("%s: started fresh instead; its processes' state is lost.", name);
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		(void)manifest_set_string(&u->outcome_reason, "its restore failed: started fresh");
	}
	return r;
}

/* With the images gone the generator writes no drop-in any more: a reload
 * gives every restored service back its own ExecStart= and Type=, for the
 * next "systemctl restart". */
static int phase_reload(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	for (size_t i = 0; i < rs->m->n_units; i++)
		if (is_service(rs->m->units[i]))
			return bus_reload();
	return 0; /* no drop-in was generated */
}

/* A service that could not be restored is started fresh, and says so. */
static int phase_fresh_start(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	for (size_t i = 0; i < rs->m->n_units; i++) {
		ManifestUnit *u = rs->m->units[i];
		_cleanup_free_ char *why = NULL;

		if (!is_service(u) || u->outcome != KUPGRADE__UNIT_OUTCOME__FAILED)
			continue;
		if (bus_restart_unit(u->name) < 0)
			continue;
		if (asprintf(&why, "restore failed (%s): started fresh", u->outcome_reason ?: "see the journal") < 0)
			continue;
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		(void)manifest_set_string(&u->outcome_reason, why);
		log_warning("%s: %s.", u->name, why);
	}
	return 0;
}

/*
 * Timings that only this side can measure: from the kernel's start to this
 * restore, and from the old kernel handing the kexec to systemd until then
 * (wall clocks of two boots: good to the RTC's precision).
 */
static void record_boot_timings(Manifest *m, uint64_t boottime, uint64_t realtime)
{
	struct utsname u;

	m->has_restore_realtime_usec = true;
	m->restore_realtime_usec = realtime;
	if (uname(&u) >= 0)
		(void)manifest_set_string(&m->kernel_restored, u.release);
	if (!m->upgrade_id)
		return;
	report_merge_pending(m);
	(void)manifest_add_timing(m, "boot-to-restore", boottime);
	if (m->has_kexec_realtime_usec && realtime > m->kexec_realtime_usec + boottime)
		(void)manifest_add_timing(m, "shutdown-and-kexec", realtime - m->kexec_realtime_usec - boottime);
}

static void record_phase_timings(Manifest *m, const struct phase_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		char name[300];

		if (!l->phases[i].done || strncmp(l->phases[i].name, "restore:", 8) == 0)
			continue;
		/* The old kernel's phases are in m already, some of the same name. */
		snprintf(name, sizeof(name), "restore-side:%s", l->phases[i].name);
		(void)manifest_add_timing(m, name, l->phases[i].usec);
	}
}

int verb_restore(int argc, char **argv)
{
	uint64_t boottime = now_usec(CLOCK_BOOTTIME), realtime = now_usec(CLOCK_REALTIME);
	struct restore rs = {};
	struct phase_list l = {};
	struct phase_result res;
	bool boot;
	int r;

	r = read_manifest(arg_from, &rs);
	if (r < 0)
		goto out;
	boot = after_switch(rs.m);
	record_boot_timings(rs.m, boottime, realtime);
	r = phase_list_add(&l, "lock-network", phase_lock, NULL, NULL);
	if (r == 0)
		r = phase_list_add(&l, "wait-addresses", phase_wait_addresses, NULL, NULL);
	for (size_t i = 0; r == 0 && i < rs.m->n_units; i++) {
		char name[300];

		if ((boot && is_service(rs.m->units[i])) || manifest_unit_planned_restart(rs.m->units[i]))
			continue;
		snprintf(name, sizeof(name), "restore:%s", rs.m->units[i]->name);
		r = phase_list_add(&l, name, phase_restore_unit, NULL, rs.m->units[i]);
	}
	if (r == 0 && boot)
		r = phase_list_add(&l, "wait-services", phase_wait_services, NULL, NULL);
	if (r == 0)
		r = phase_list_add(&l, "unlock-network", phase_unlock, NULL, NULL);
	if (r == 0)
		r = phase_list_add(&l, "wipe-images", phase_wipe, NULL, NULL);
	if (r == 0 && boot)
		r = phase_list_add(&l, "reload", phase_reload, NULL, NULL);
	if (r == 0 && boot)
		r = phase_list_add(&l, "fresh-start", phase_fresh_start, NULL, NULL);
	if (r < 0) {
		r = log_oom();
		goto out;
	}
	r = phase_run(&l, &rs, &res);
	record_phase_timings(rs.m, &l);
	report(rs.m);
	/* After a switch the report is kept; the client in the restored
	 * session waits for it. */
	if (rs.m->upgrade_id)
		(void)report_save(rs.m);
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

long restore_last_pid_target(const char *max_pid_text, long current)
{
	char *end;
	long max;

	errno = 0;
	max = strtol(max_pid_text, &end, 10);
	if (errno || end == max_pid_text || (*end && *end != '\n') || max <= 0)
		return -EINVAL;
	return max > current ? max : 0;
}

/*
 * Images that came in the initrd had the initramfs script (carry-images)
 * raise ns_last_pid before init ran; images on disk had nothing. This unit
 * is the first of kupgrade's on the boot: from here on the boot's new PIDs
 * go above the checkpointed ones (a tree whose PID was taken before goes
 * into a new PID namespace).
 */
static void raise_last_pid(const char *dir)
{
	char path[4096], text[32], cur[32];
	long target;

	snprintf(path, sizeof(path), "%s/max-pid", dir);
	if (read_small_file(path, text, sizeof(text)) < 0 ||
	    read_small_file("/proc/sys/kernel/ns_last_pid", cur, sizeof(cur)) < 0)
		return;
	target = restore_last_pid_target(text, strtol(cur, NULL, 10));
	if (target < 0)
		log_warning("%s does not hold a PID, ignoring.", path);
	else if (target > 0 && write_string_file_in_place("/proc/sys/kernel/ns_last_pid", "%ld\n", target) < 0)
		log_warning("Cannot raise ns_last_pid to %ld, ignoring.", target);
	else if (target > 0)
		log_info("New PIDs start above %ld, clear of the checkpointed ones.", target);
}

/* "kupgrade lock --from DIR": re-create the lock from a manifest (boot side). */
int verb_lock(int argc, char **argv)
{
	struct restore rs = {};
	int r;

	r = read_manifest(arg_from, &rs);
	if (r == 0)
		raise_last_pid(rs.dir.path);
	if (r == 0)
		r = ensure_lock(&rs);
	if (r == 0 && after_switch(rs.m))
		window_scaling_off(rs.m);
	restore_done(&rs);
	return r;
}

/*
 * "kupgrade restore-unit --from DIR UNIT": the ExecStart= that
 * kupgrade-generator gives a checkpointed service for the boot after a
 * switch (Type=forking, PIDFile=). CRIU is our child, so the restored tree
 * is born in the service's own cgroup, and systemd takes its main process
 * from the PID file: the service stays a systemd service.
 */
int verb_restore_unit(int argc, char **argv)
{
	struct restore rs = {};
	_cleanup_free_ struct tcp_conn *c = NULL;
	char path[4096];
	ManifestUnit *u = NULL;
	size_t n = 0;
	pid_t main_pid;
	int r;

	r = read_manifest(arg_from, &rs);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < rs.m->n_units; i++)
		if (streq(rs.m->units[i]->name, argv[1]))
			u = rs.m->units[i];
	if (!u) {
		r = log_error_errno(-ENOENT, "%s is not in the manifest of %s.", argv[1], arg_from);
		goto out;
	}
	if (mkdir(RESTORE_SERVICE_DIR, 0700) < 0 && errno != EEXIST) {
		r = log_error_errno(-errno, "Cannot create %s: %m", RESTORE_SERVICE_DIR);
		goto out;
	}
	r = restore_unit(&rs.dir, rs.m, u);
	if (r >= 0) {
		if (rs.lock && unit_connections(u, &c, &n) == 0 && rs.lock->update(false, c, n) < 0)
			log_warning("%s: its connections stay locked until the end of the restore.", u->name);
		/* The old main PID when it came back as itself; else the root
		 * (or its PID namespace's init) that holds it. */
		main_pid = u->n_restored_pids ? (pid_t)u->restored_pids[0] : (pid_t)u->root_pids[0];
		for (size_t i = 0; i < u->n_root_pids && i < u->n_restored_pids; i++)
			if (u->main_pid == u->root_pids[i])
				main_pid = (pid_t)u->restored_pids[i];
		if (u->outcome == KUPGRADE__UNIT_OUTCOME__RESTORED && u->main_pid > 0 &&
		    kill((pid_t)u->main_pid, 0) == 0)
			main_pid = (pid_t)u->main_pid;
		service_file(path, sizeof(path), u->name, "pid");
		r = write_string_file(path, "%d\n", (int)main_pid);
		if (r < 0)
			log_error_errno(r, "Cannot write %s: %m", path);
		/* The service's own PID file was in the old boot's /run. */
		if (r >= 0 && !isempty(u->pid_file) && access(u->pid_file, F_OK) < 0 &&
		    write_string_file(u->pid_file, "%d\n", (int)main_pid) < 0)
			log_warning("%s: cannot write its PID file %s, ignoring.", u->name, u->pid_file);
	}
	service_file(path, sizeof(path), u->name, "result");
	(void)write_string_file(path, "%d %llu %s\n",
				r < 0 ? KUPGRADE__UNIT_OUTCOME__FAILED : u->outcome,
				(unsigned long long)(u->n_timings ? u->timings[u->n_timings - 1]->usec : 0),
				u->outcome_reason ?: (r < 0 ? "CRIU restore failed, see " CRIU_LOG_DIR : ""));
out:
	restore_done(&rs);
	return r < 0 ? EXIT_SOFTWARE : 0;
}
