/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What one process tree (the subtree CRIU dumps from a root) holds, read
 * from /proc before anything is frozen: its processes, its socket inodes,
 * the files it has open on mounts its mount namespace cannot see (CRIU must
 * be told they are external), and whether it needs --shell-job.
 */

struct tree_file {
	pid_t pid;
	int fd;
	char *path;    /* as /proc/PID/fd shows it, possibly in another mount ns */
	char key[64];  /* CRIU external key: "file[<mnt_id hex>:<inode hex>]" */
	uint32_t mode; /* st_mode */
};

struct tree {
	pid_t root;
	pid_t *pids;
	size_t n_pids;
	uint64_t *sockets;
	size_t n_sockets;
	struct tree_file *externals;
	size_t n_externals;
	bool shell_job; /* a session or group leader is outside the tree */
	char *problem;	/* why CRIU cannot dump it as it stands, or NULL */
};

int tree_scan(pid_t root, struct tree *ret);
void tree_done(struct tree *t);
bool tree_contains(const struct tree *t, pid_t pid);

/* Pure helpers, unit-tested. */
/* The mount IDs (first field) of a mountinfo text. */
int tree_parse_mount_ids(const char *mountinfo, uint32_t **ret, size_t *ret_n);
/* "mnt_id:" from an fdinfo text, -ENOENT if absent. */
int tree_parse_fdinfo_mnt_id(const char *fdinfo, uint32_t *ret);
/*
 * Of a unit's processes (pids[i], child of ppids[i]), those in no scanned
 * tree (covered) whose parent is not in the unit either: roots of trees
 * started, or orphaned by a root that exited, since the plan. A ppid of 0 or
 * less means the process is gone. Written to ret (room for n); returns how many.
 */
size_t tree_uncovered_roots(const pid_t *pids, const pid_t *ppids, size_t n, const pid_t *covered,
			    size_t n_covered, pid_t *ret);
