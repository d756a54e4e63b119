/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "carry.h"
#include "cgroup.h"
#include "criu.h"
#include "fileio.h"
#include "log.h"
#include "phase.h"
#include "pidns.h"
#include "poll-util.h"
#include "proc.h"
#include "restore-external.h"
#include "restore-tree.h"
#include "test-hooks.h"
#include "timeutil.h"
#include "tree.h"

struct scope_wait {
	pid_t pid;
	const char *scope;
	char **cgroup; /* pid's cgroup once it is in the scope */
};

/* Has systemd moved the pid into the scope yet? */
static int in_scope(void *userdata)
{
	struct scope_wait *w = userdata;

	free(*w->cgroup);
	*w->cgroup = NULL;
	if (proc_read_cgroup(w->pid, w->cgroup) < 0)
		return 0;
	return strstr(*w->cgroup, w->scope) ? 1 : 0;
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
	_cleanup_free_ char *cg = NULL, *mount = NULL;
	char scope[300], desc[400];
	struct scope_wait w = { .pid = root, .scope = scope, .cgroup = &cg };

	snprintf(scope, sizeof(scope), "kupgrade-%s", u->name);
	if (!strstr(scope, ".scope"))
		strncat(scope, ".scope", sizeof(scope) - strlen(scope) - 1);
	for (char *p = scope; *p; p++)
		if (*p == '/')
			*p = '_';
	snprintf(desc, sizeof(desc), "%s, restored by kupgrade", u->name);
	if (bus_start_transient_scope(scope, desc, &root, 1) < 0)
		goto fail;
	if (poll_until(in_scope, &w, 5000, 20) <= 0 || cgroup_find_mount(&mount) < 0)
		goto fail;
	for (unsigned pass = 0; pass < 2; pass++) {
		struct tree t;

		if (tree_scan(root, &t) < 0)
			break;
		for (size_t i = 0; i < t.n_pids; i++)
			/* A process that ended meanwhile needs no home. */
			(void)cgroup_attach(mount, cg, t.pids[i]);
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
	_cleanup_free_ char *mount = NULL, *procs = NULL;
	struct tree t;

	/* A service is restored by its own unit's start after a switch
	 * (restore-unit): CRIU, our child, was born in the unit's cgroup.
	 * Restored on the same boot by "kupgrade restore", it stays beside its
	 * unit, in kupgrade's cgroup: systemd would take a tree moved into a
	 * dead unit's cgroup for strays. */
	if (u->type == MANIFEST_UNIT_SERVICE) {
		log_info("%s: the restored tree stays in the cgroup of the process that restored it.",
			 u->name);
		return;
	}
	if (tree_scan(root, &t) < 0)
		return;
	if (isempty(u->cgroup) || cgroup_find_mount(&mount) < 0 ||
	    cgroup_path(mount, u->cgroup, "cgroup.procs", &procs) < 0 || access(procs, W_OK) < 0)
		adopt(u, root);
	else
		for (size_t i = 0; i < t.n_pids; i++)
			if (cgroup_attach(mount, u->cgroup, t.pids[i]) < 0)
				log_debug("Cannot move PID %d into %s, ignoring.", (int)t.pids[i],
					  u->cgroup);
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

/* Its PIDs are (or may be) taken in this boot: inside a PID namespace of
 * its own the tree keeps them. taken_by: what holds the root's PID, NULL
 * when a first attempt failed. */
static int restore_tree_in_new_pidns(ManifestUnit *u, uint32_t root, const char *taken_by,
				     struct criu_restore_req *req, pid_t *ret_pid)
{
	int r;

	if (taken_by)
		log_notice("%s: PID %u is taken by %s; restoring the tree in a new PID namespace.",
			   u->name, root, taken_by);
	else
		log_notice("%s: retrying the restore of tree %u in a new PID namespace.", u->name,
			   root);
	r = pidns_run(restore_in_pidns, req, ret_pid);
	if (r < 0)
		return r;
	u->has_outcome = true;
	u->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS;
	(void)manifest_set_string(
		&u->outcome_reason,
		taken_by ? "its PID was taken in the new boot: restored in a new PID namespace"
			 : "restored in a new PID namespace after a failed first attempt");
	return r;
}

int restore_tree(struct imagedir *d, ManifestUnit *u, uint32_t root)
{
	struct restore_externals x;
	struct criu_restore_req req;
	_cleanup_close_ int fd = -EBADF;
	char rel[4096], log_name[300], taken_by[64] = "";
	pid_t pid = 0;
	bool taken;
	int r;

	snprintf(rel, sizeof(rel), "%s/%u", u->image_dir, root);
	r = imagedir_open_sub(d, rel, &fd);
	if (r < 0)
		return log_error_errno(r, "%s: cannot open images %s/%s: %m", u->name, d->path,
				       rel);
	r = restore_externals_open(fd, u, &x);
	if (r < 0)
		return r;
	snprintf(log_name, sizeof(log_name), "%s-%u-restore.log", u->name, root);
	req = (struct criu_restore_req){ .images_fd = fd,
					 .log_name = log_name,
					 .shell_job = u->has_shell_job && u->shell_job,
					 .inherit = x.inherit,
					 .n_inherit = x.n };
	taken = pid_taken((pid_t)root, taken_by, sizeof(taken_by));
	if (!taken)
		r = criu_restore_tree(&req, &pid);
	if (taken || r < 0) {
		r = restore_tree_in_new_pidns(u, root, taken ? taken_by : NULL, &req, &pid);
		if (r < 0)
			goto out;
	} else if ((uint32_t)pid != root)
		log_warning("%s: tree %u came back as PID %d.", u->name, root, (int)pid);
	(void)manifest_unit_add_restored_pid(u, (uint32_t)pid);
	rehome(u, pid);
out:
	restore_externals_close(&x);
	return r;
}

/* KUPGRADE_FAULT, or on the boot after a switch the one the upgrade carried
 * in the manifest (KUPGRADE_BOOT_FAULT), e.g. "restore-tree:session-3.scope".
 * Test hooks: a production build honours neither (test-hooks.h). */
static const char *fault_for(const Manifest *m)
{
	const char *f = test_hook("KUPGRADE_FAULT");

	if (!isempty(f))
		return f;
	return test_hooks_enabled() && m ? m->boot_fault : NULL;
}

bool restore_unit_done(const ManifestUnit *u)
{
	return u->has_outcome && (u->outcome == KUPGRADE__UNIT_OUTCOME__RESTORED ||
				  u->outcome == KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS ||
				  u->outcome == KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH);
}

int restore_unit_trees(struct imagedir *d, const Manifest *m, ManifestUnit *u)
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

	/* Back already: a second restore would start it twice (its PIDs taken
	 * by itself, in a new PID namespace). */
	if (u->n_restored_pids > 0)
		log_notice("%s: %zu of its %zu trees were brought back by an earlier restore; "
			   "not restoring those again.",
			   u->name, MIN(u->n_restored_pids, u->n_root_pids), u->n_root_pids);
	r = carry_put_back(d, u);
	for (size_t i = u->n_restored_pids; r == 0 && i < u->n_root_pids; i++) {
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
