/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Readers of /proc/PID: identity, memory, open files. Parsers are pure. */

#define PF_KTHREAD_FLAG 0x00200000u /* include/linux/sched.h PF_KTHREAD */

struct proc_stat {
	pid_t pid, ppid;
	char comm[32];
	char state;
	unsigned flags;
	unsigned threads;
};

/* Parse the text of /proc/PID/stat ("comm" may hold spaces and ')'). */
int proc_parse_stat(const char *buf, struct proc_stat *ret);
int proc_read_stat(pid_t pid, struct proc_stat *ret);
bool proc_is_kernel_thread(const struct proc_stat *st);

/* From /proc/PID/smaps_rollup, in bytes. */
struct proc_mem {
	uint64_t rss;
	uint64_t anonymous; /* private anonymous pages, including COW copies of file pages */
	uint64_t swap;
	uint64_t pss_shmem; /* proportional share of shmem/memfd/MAP_SHARED|MAP_ANONYMOUS */
};

int proc_parse_smaps_rollup(FILE *f, struct proc_mem *ret);
int proc_read_mem(pid_t pid, struct proc_mem *ret);
/* Bytes of page images CRIU would write for this process, see docs/plan-json.md. */
uint64_t proc_mem_image_estimate(const struct proc_mem *m);

/* The cgroup2 path ("0::" line) of a process, e.g. "/system.slice/ssh.service". */
int proc_parse_cgroup(FILE *f, char **ret);
int proc_read_cgroup(pid_t pid, char **ret);

/* All thread-group leaders in /proc, sorted. */
int proc_list_pids(pid_t **ret, size_t *ret_n);

/* Inode of /proc/PID/ns/NAME ("mnt", "net"...), which identifies the namespace. */
int proc_read_ns(pid_t pid, const char *name, uint64_t *ret);

/* "Max open files" of /proc/PID/limits: the soft limit, UINT64_MAX when
 * unlimited. */
int proc_parse_nofile_limit(FILE *f, uint64_t *ret_soft);
int proc_read_nofile_limit(pid_t pid, uint64_t *ret_soft);

/* One open file descriptor, without opening it. */
struct proc_fd {
	int fd;
	char target[256]; /* readlink of /proc/PID/fd/N, truncated */
	mode_t mode;	  /* stat of the target */
	dev_t rdev;
	uint64_t ino;
	nlink_t nlink; /* 0: deleted while open (or a memfd) */
	off_t size;
	char proto[32]; /* sockets: system.sockprotoname ("UNIX", "TCP", ...) */
	/* pidfds (fdinfo): the process it refers to, -1 if that exited, 0 if
	 * unknown; and whether it is a thread's (PIDFD_THREAD). */
	pid_t pidfd_pid;
	bool pidfd_thread;
};

typedef int (*proc_fd_func)(pid_t pid, const struct proc_fd *fd, void *userdata);
/* Calls fn for each fd of pid; stops at fn's first negative return. An fd
 * closed under our feet is skipped; a process that exited gives -ESRCH. */
int proc_for_each_fd(pid_t pid, proc_fd_func fn, void *userdata);
