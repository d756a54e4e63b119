/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * The cgroup v2 tree. Paths like "/system.slice/ssh.service" are relative to
 * the cgroup2 mount (found in mountinfo: /sys/fs/cgroup on a pure v2 system,
 * /sys/fs/cgroup/unified on a hybrid one).
 */

/* Mount point of the cgroup2 hierarchy; -ENOMEDIUM when there is none. */
int cgroup_find_mount(char **ret);
/* Same, from a mountinfo stream (pure, for tests). */
int cgroup_parse_mountinfo(FILE *f, char **ret);

/* mount + cg (+ "/" file): the directory of cg, or a file in it; cg "/" is
 * the root. */
int cgroup_path(const char *mount, const char *cg, const char *file, char **ret);

/* Move pid (with its threads) into cg: its cgroup.procs. */
int cgroup_attach(const char *mount, const char *cg, pid_t pid);

/* Thread-group leaders directly in one cgroup (its cgroup.procs). */
int cgroup_read_procs(const char *mount, const char *cg, pid_t **ret, size_t *ret_n);

/* Calls fn for cg and every cgroup below it, parents first. A cgroup removed
 * during the walk is skipped. */
typedef int (*cgroup_walk_func)(const char *cg, const pid_t *pids, size_t n, void *userdata);
int cgroup_walk(const char *mount, const char *cg, cgroup_walk_func fn, void *userdata);

/* Every process in cg and below, e.g. all processes of a unit. */
int cgroup_pids_recursive(const char *mount, const char *cg, pid_t **ret, size_t *ret_n);

/* Is path equal to or below cg (whole path components)? */
bool cgroup_is_below(const char *path, const char *cg);

/*
 * The systemd unit owning a cgroup path, from systemd's naming of the tree:
 * the outermost component ending in .service or .scope. Returns a pointer to
 * that component inside path, its length in *ret_name_len, and the length of
 * the unit's own cgroup (path up to and including it) in *ret_prefix_len; or
 * NULL when the path is directly in a slice or the root.
 */
const char *cgroup_path_unit(const char *path, size_t *ret_name_len, size_t *ret_prefix_len);
