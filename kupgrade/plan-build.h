/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan.h"

/*
 * One build of the plan (plan_build, plan-build.c): what its steps have
 * fetched so far, and the steps, each in the file of its concern. Internal to
 * the plan's files; everyone else uses plan.h.
 */

struct bus_unit;
struct config;
struct proc_stat;

/* A process and its cgroup, as the walk of the cgroup tree found it. */
struct cg_pid {
	pid_t pid; /* first: sorted and searched with pid_compare */
	char *cgroup;
};

/* A socket a process holds, and the unit (index in plan->units) of that process. */
struct sock_ref {
	uint64_t ino;
	pid_t pid;
	int fd;
	size_t unit;
};

struct build {
	struct plan *plan;
	const struct config *config;
	struct bus_unit *bus; /* what systemd says of its units, NULL if unreachable */
	size_t n_bus;
	char *mount; /* cgroup2 mount, NULL if none */
	pid_t self;
	char *self_cgroup;
	uint64_t init_mnt_ns; /* PID 1's mount namespace, 0 if unknown */

	struct cg_pid *walked; /* from the cgroup tree, sorted by pid */
	size_t n_walked;

	struct sock_ref *socks; /* unix sockets held, sorted by inode after the scan */
	size_t n_socks;
};

/* plan-owner.c: which unit owns a process. */
int plan_fetch_units(struct build *b);
int plan_owner_of(struct build *b, pid_t pid, const struct proc_stat *st, const char *cgroup,
		  size_t *ret);
int plan_mark_self(struct build *b);

/* plan-process.c: every process once, and process trees that cross units. */
int plan_collect_processes(struct build *b);
int plan_check_children_elsewhere(struct build *b);

/* plan-scan.c: each process's memory, mount namespace and open files. */
int plan_scan_processes(struct build *b);

/* plan-socket.c: sockets shared between units, or with systemd. */
int plan_check_unix_peers(struct build *b);
int plan_check_socket_activation(struct build *b);
