/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading each process: its memory (the image estimate), its mount
 * namespace, and its open files, which blockers.c judges. Every socket is
 * remembered for plan-socket.c.
 */
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "alloc.h"
#include "blockers.h"
#include "log.h"
#include "plan-build.h"
#include "plan-unit.h"
#include "proc.h"

/* CRIU reopens a file by its path at restore; on a tmpfs (/run, /dev/shm)
 * the path is gone after the kexec. memfds and deleted files CRIU carries
 * in the images itself. */
static bool on_tmpfs(pid_t pid, const struct proc_fd *fd, struct stat *st)
{
	size_t n = strlen(fd->target);
	struct statfs sf;
	char path[64];

	if (!(S_ISREG(fd->mode) || S_ISDIR(fd->mode)) || fd->target[0] != '/' ||
	    strncmp(fd->target, "/memfd:", 7) == 0 ||
	    (n > 10 && streq(fd->target + n - 10, " (deleted)")))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd->fd);
	return statfs(path, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC) &&
	       stat(path, st) == 0;
}

/* Small ones (PID files, lock files) kupgrade carries itself. */
static int check_tmpfs_file(struct plan_unit *u, pid_t pid, const char *comm,
			    const struct proc_fd *fd, const struct stat *st)
{
	char reason[512];

	if (S_ISDIR(st->st_mode) || st->st_size <= CARRY_MAX_BYTES)
		return plan_unit_add_external(u, &(struct plan_external){
							 .kind = EXTERNAL_CARRIED_FILE,
							 .pid = pid,
							 .fd = fd->fd,
							 .inode = fd->ino,
							 .what = (char *)CARRIED_WHAT,
							 .path = (char *)fd->target });
	snprintf(reason, sizeof(reason),
		 "holds %s open on a tmpfs, which is empty after the kexec, "
		 "and too large to carry (over %d KiB)",
		 fd->target, CARRY_MAX_BYTES / 1024);
	return plan_unit_add_blocker(u, reason, pid, comm, fd->fd);
}

struct fd_scan {
	struct build *b;
	size_t unit;
	const char *comm;
	uint64_t nofile;      /* the process's soft RLIMIT_NOFILE */
	uint64_t below_limit; /* its fds numbered below it */
};

static const struct plan_process *unit_process(const struct plan_unit *u, pid_t pid)
{
	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i].pid == pid)
			return &u->procs[i];
	return NULL;
}

/* The root of pid's process tree in u, the tree CRIU dumps with it: its
 * topmost ancestor in u. 0 if pid is not in u. */
static pid_t tree_root(const struct plan_unit *u, pid_t pid)
{
	const struct plan_process *pp = unit_process(u, pid);

	for (size_t steps = 0; pp && steps < u->n_procs; steps++) {
		const struct plan_process *parent = unit_process(u, pp->ppid);

		if (!parent)
			return pp->pid;
		pp = parent;
	}
	return 0;
}

static int scan_fd(pid_t pid, const struct proc_fd *fd, void *userdata)
{
	struct fd_scan *s = userdata;
	struct build *b = s->b;
	struct plan_unit *u = &b->plan->units[s->unit];
	char reason[512];
	struct stat st;

	if ((uint64_t)fd->fd < s->nofile)
		s->below_limit++;
	/* Every socket is remembered: whose peer a unix socket is, and who
	 * else holds it (systemd, for socket activation), are found later. */
	if (S_ISSOCK(fd->mode)) {
		if (!GREEDY_REALLOC(b->socks, b->n_socks + 1))
			return -ENOMEM;
		b->socks[b->n_socks++] = (struct sock_ref){ fd->ino, pid, fd->fd, s->unit };
	}
	/* Blockers matter only where a dump would happen. */
	if (u->decision != DECISION_CHECKPOINT)
		return 0;
	if (on_tmpfs(pid, fd, &st))
		return check_tmpfs_file(u, pid, s->comm, fd, &st);
	switch (fd_check_file(fd, &(struct criu_caps){ b->plan->criu_version }, reason,
			      sizeof(reason))) {
	case FD_IN_TREE: {
		pid_t root = tree_root(u, fd->pidfd_pid);

		if (root != 0 && root == tree_root(u, pid))
			return 0;
		return plan_unit_add_blocker(u, reason, pid, s->comm, fd->fd);
	}
	case FD_BLOCKER:
		return plan_unit_add_blocker(u, reason, pid, s->comm, fd->fd);
	case FD_EXTERNAL:
		return plan_unit_add_external(u,
					      &(struct plan_external){ .kind = EXTERNAL_LOGIND_FIFO,
								       .pid = pid,
								       .fd = fd->fd,
								       .inode = fd->ino,
								       .what = reason });
	default:
		return 0;
	}
}

static int check_mount_ns(struct build *b, size_t unit, const struct plan_process *pp)
{
	struct plan_unit *u = &b->plan->units[unit];
	uint64_t ns = 0;
	char reason[256];

	if (u->decision != DECISION_CHECKPOINT || proc_read_ns(pp->pid, "mnt", &ns) < 0)
		return 0;
	if (ns_check_mount(ns, b->init_mnt_ns, &(struct criu_caps){ b->plan->criu_version }, reason,
			   sizeof(reason)) == FD_OK)
		return 0;
	return plan_unit_add_blocker(u, reason, pp->pid, pp->comm, -1) < 0 ? log_oom() : 0;
}

static void read_memory(struct plan_process *pp)
{
	struct proc_mem mem;
	int r;

	r = proc_read_mem(pp->pid, &mem);
	if (r >= 0) {
		pp->rss_bytes = mem.rss;
		pp->est_image_bytes = proc_mem_image_estimate(&mem);
	} else if (r != -ESRCH)
		log_debug_errno(r, "Cannot read the memory of process %d, ignoring: %m", pp->pid);
}

static int scan_process(struct build *b, size_t unit, struct plan_process *pp)
{
	struct fd_scan s = { b, unit, pp->comm, UINT64_MAX, 0 };
	char reason[256];
	int r;

	read_memory(pp);
	if (pp->pid == b->self)
		return 0; /* our own fds are transient */
	r = check_mount_ns(b, unit, pp);
	if (r < 0)
		return r;
	(void)proc_read_nofile_limit(pp->pid, &s.nofile);
	r = proc_for_each_fd(pp->pid, scan_fd, &s);
	if (r == -ENOMEM)
		return log_oom();
	if (r == -ESRCH)
		return 0;
	if (r >= 0 && b->plan->units[unit].decision == DECISION_CHECKPOINT &&
	    fd_check_limit(s.nofile, s.below_limit, reason, sizeof(reason)) == FD_BLOCKER &&
	    plan_unit_add_blocker(&b->plan->units[unit], reason, pp->pid, pp->comm, -1) < 0)
		return log_oom();
	if (r < 0 && b->plan->units[unit].decision == DECISION_CHECKPOINT) {
		/* What cannot be inspected cannot be promised. */
		snprintf(reason, sizeof(reason), "its open files cannot be inspected (%s)",
			 strerror(-r));
		r = plan_unit_add_blocker(&b->plan->units[unit], reason, pp->pid, pp->comm, -1);
		return r < 0 ? log_oom() : 0;
	}
	if (r < 0)
		log_debug_errno(r, "Cannot read the open files of process %d (%s), ignoring: %m",
				pp->pid, pp->comm);
	return 0;
}

int plan_scan_processes(struct build *b)
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
