/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "carry.h"
#include "checkpoint-internal.h"
#include "criu-image.h"
#include "criu.h"
#include "fileio.h"
#include "log.h"
#include "restore-service.h"
#include "restore-tree.h"
#include "timeutil.h"

/*
 * The dump:<unit> phases: CRIU's killing dump of each tree of one unit, and
 * the undo that restores them in place (see checkpoint.c for why a killing
 * dump). Trees whose processes all ended before their dump are dropped.
 */

/*
 * A killing dump empties the unit's cgroup, and systemd then removes an empty
 * scope (a login session's, say): a restore in place would have nowhere to go
 * back to. A holder process (a child of ours that only waits, and dies with
 * us) sits in the cgroup while the trees are away. Not for services: systemd
 * stops a service whose main process is gone and would kill whatever sits in
 * its cgroup, holder and restored tree alike (a service is held still by its
 * quiesce drop-in instead, and its undo restores it through its own unit).
 *
 * A bare fork, not spawn_run(): the holder must outlive this call, until
 * ckpt_release_cgroup() kills and reaps it. mount: the cgroup2 mount (NULL:
 * none, nothing to hold).
 */
static pid_t hold_cgroup(const char *mount, const char *cgroup)
{
	char path[4096];
	pid_t pid;

	if (!mount || isempty(cgroup))
		return 0;
	snprintf(path, sizeof(path), "%s/%s/cgroup.procs", mount, cgroup);
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	if (write_string_file_in_place(path, "%d\n", (int)pid) < 0) {
		log_debug("Cannot hold cgroup %s, ignoring.", cgroup);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 0;
	}
	return pid;
}

void ckpt_release_cgroup(pid_t *holder)
{
	if (*holder <= 0)
		return;
	kill(*holder, SIGKILL);
	(void)waitpid(*holder, NULL, 0);
	*holder = 0;
}

/* A service is restored through its unit, as after a switch. restore-unit
 * reads the manifest: the trees away are written first. */
static int undo_dump_service(struct ckpt_unit *u)
{
	int r = checkpoint_write_away_manifest(u->c);

	if (r >= 0)
		r = restore_service_through_unit(u->c->dir.path, u->mu);
	if (r < 0)
		return r;
	for (size_t j = 0; j < u->n_trees; j++)
		u->trees[j].dumped = false;
	(void)checkpoint_write_away_manifest(u->c);
	/* The restore in the unit released its connections from the lock
	 * (restore_lock_release_unit): deleting them again would fail, all
	 * of them at once, with nft's "No such file or directory". */
	u->locked = false;
	return 0;
}

/* Restore, newest first, the trees of u already dumped. */
int checkpoint_undo_dump_unit(void *ctx, void *arg)
{
	struct ckpt_unit *u = arg;
	bool any = false;
	int r = 0;

	for (size_t j = 0; j < u->n_trees; j++)
		any = any || u->trees[j].dumped;
	if (any && ckpt_unit_is_service(u) && undo_dump_service(u) < 0)
		r = log_error_errno(-EIO,
				    "Unit %s could not be restored in place; its images are kept.",
				    u->mu->name);
	for (size_t j = u->n_trees; r == 0 && j-- > 0;) {
		struct ckpt_tree *ct = &u->trees[j];

		if (!ct->dumped)
			continue;
		log_info("Restoring %s (PID %d) in place...", u->mu->name, (int)ct->t.root);
		if (restore_tree(&u->c->dir, u->mu, ct->t.root) < 0)
			r = log_error_errno(-EIO,
					    "Unit %s: tree %d could not be restored in place; its images "
					    "are kept.",
					    u->mu->name, (int)ct->t.root);
		else {
			ct->dumped = false;
			/* A recovery must not restore it twice. */
			(void)checkpoint_write_away_manifest(u->c);
		}
	}
	/* Where they are kept, and how to restore them: the prepare-images
	 * undo says, once it has wiped the rest. */
	u->images_kept = r < 0;
	if (r == 0) {
		(void)imagedir_wipe_sub(&u->c->dir, u->dir_name);
		if (u->locked && ckpt_lock_unit(u, false) == 0)
			u->locked = false;
		ckpt_release_cgroup(&u->holder); /* the trees are back in it */
	}
	return r;
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
		if (!ckpt_pid_left_unit(u, ct->t.pids[i]))
			return false;
	return true;
}

static int drop_ended_tree(struct ckpt_unit *u, struct ckpt_tree *ct, const char *sub)
{
	char rel[300];

	log_notice("Unit %s: the tree of PID %d exited before its dump; nothing of it to carry.",
		   u->mu->name, (int)ct->t.root);
	snprintf(rel, sizeof(rel), "%s/%s", u->dir_name, sub);
	(void)imagedir_wipe_sub(&u->c->dir, rel);
	manifest_unit_remove_root(u->mu, ct->t.root);
	u->mu->n_processes -= MIN(u->mu->n_processes, (uint32_t)ct->t.n_pids);
	return ckpt_unit_has_trees(u) ? 0 : ckpt_unit_ended(u);
}

/* CRIU's killing dump of one tree into <unit>/<root pid>/ of the images. */
static int dump_tree(struct ckpt_unit *u, struct ckpt_tree *ct)
{
	const char *keys[64];
	char stream_keys[MAX_STREAMS][32];
	size_t n_keys = 0;
	_cleanup_close_ int fd = -EBADF;
	char sub[16], log_name[300];
	int r;

	if (ct->t.n_externals + ct->n_streams > ELEMENTSOF(keys))
		return log_error_errno(-E2BIG, "Unit %s: too many external files.", u->mu->name);
	for (size_t k = 0; k < ct->t.n_externals; k++)
		keys[n_keys++] = ct->t.externals[k].key;
	for (size_t k = 0; k < ct->n_streams; k++) {
		snprintf(stream_keys[k], sizeof(stream_keys[k]), "unix[%" PRIu64 "]",
			 ct->streams[k]);
		keys[n_keys++] = stream_keys[k];
	}
	snprintf(sub, sizeof(sub), "%d", (int)ct->t.root);
	r = imagedir_mkdir_sub(&u->c->dir, u->dir_name, sub, &fd);
	if (r < 0)
		return log_error_errno(r, "Unit %s: cannot create %s/%s/%s: %m", u->mu->name,
				       u->c->dir.path, u->dir_name, sub);
	snprintf(log_name, sizeof(log_name), "%s-%d-dump.log", u->mu->name, (int)ct->t.root);
	r = criu_dump_tree(&(struct criu_dump_req){ .pid = ct->t.root,
						    .images_fd = fd,
						    .log_name = log_name,
						    .shell_job = ct->t.shell_job,
						    .externals = keys,
						    .n_externals = n_keys });
	if (r < 0 && tree_ended(u, ct))
		return drop_ended_tree(u, ct, sub);
	if (r < 0) {
		log_error("Unit %s: dump of tree %d failed.", u->mu->name, (int)ct->t.root);
		return r;
	}
	for (size_t k = 0; k < ct->n_listens && r >= 0; k++) {
		r = criu_image_inherit_listen_socket(fd, ct->listens[k]);
		if (r < 0)
			log_error_errno(r,
					"Unit %s: cannot mark systemd's listening socket %" PRIu64
					" as inherited in the images of tree %d: %m",
					u->mu->name, ct->listens[k], (int)ct->t.root);
	}
	ct->dumped = true;
	/* Should this process die from here on, its recovery restores what is
	 * away (upgrade-recover.c). */
	if (r >= 0)
		r = checkpoint_write_away_manifest(u->c);
	if (r < 0)
		return r;
	record_stats(u);
	if (u->c->lock && netlock_drop_criu_table(ct->t.root) < 0)
		log_warning("Unit %s: CRIU's own lock table for PID %d stays, ignoring.",
			    u->mu->name, (int)ct->t.root);
	return r;
}

/* What the restore would refuse to read (manifest_check()) is refused here,
 * before the unit's trees are dumped: they would never come back. */
static int check_unit_entry(const struct ckpt_unit *u)
{
	const char *reason = NULL;

	if (manifest_check_unit(u->mu, &reason) < 0)
		return log_error_errno(-EOPNOTSUPP,
				       "Unit %s cannot be checkpointed: the restore would refuse its "
				       "entry in the manifest: %s.",
				       u->mu->name, reason);
	return 0;
}

int checkpoint_phase_dump_unit(void *ctx, void *arg)
{
	struct ckpt_unit *u = arg;
	uint64_t t0 = now_usec(CLOCK_MONOTONIC), bytes = 0;
	int r;

	if (!ckpt_unit_has_trees(u))
		return 0; /* its processes exited before the scan (ckpt_unit_ended) */
	/* Before the freeze: CRIU reads TCP state in repair mode, and nothing
	 * may move on the wire after that. */
	r = ckpt_lock_unit(u, true);
	if (r < 0)
		return r;
	u->locked = true;
	if (!ckpt_unit_is_service(u))
		u->holder = hold_cgroup(u->c->cgroup_mount, u->mu->cgroup);
	if (u->mu->n_connections > 0)
		log_info("Locked %zu TCP connection%s of %s.", u->mu->n_connections,
			 u->mu->n_connections == 1 ? "" : "s", u->mu->name);
	r = carry_files(u->pu, u->mu, &u->c->dir, u->dir_name);
	if (r == 0)
		r = check_unit_entry(u);
	for (size_t j = 0; j < u->n_trees && r == 0; j++)
		r = dump_tree(u, &u->trees[j]);
	if (r < 0) {
		/* This phase's own undo will not run: put back what it did. */
		int k = checkpoint_undo_dump_unit(u->c, u);

		return k < 0 ? k : r;
	}
	(void)manifest_unit_add_timing(u->mu, "dump", now_usec(CLOCK_MONOTONIC) - t0);
	if (imagedir_size(&u->c->dir, u->dir_name, &bytes) == 0) {
		u->mu->has_image_bytes = true;
		u->mu->image_bytes = bytes;
	}
	log_info("Dumped %s: %u process%s, %.1f MiB in %.2f s.", u->mu->name, u->mu->n_processes,
		 u->mu->n_processes == 1 ? "" : "es", bytes / (double)MiB,
		 (now_usec(CLOCK_MONOTONIC) - t0) / 1e6);
	return 0;
}
