/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CRIU copies a file deleted while open ("ghost") into the images up to
 * this size, set explicitly so that the plan's blocker (blockers.c) and the
 * dump agree; over it the dump fails. CRIU's own default. */
#define CRIU_GHOST_LIMIT (1024 * 1024)

/*
 * CRIU through libcriu (criu swrk). The only file that knows libcriu. Every
 * dump and restore uses the options kupgrade needs for whole services and
 * ssh sessions (tcp_established, ext_unix_sk, file_locks, link_remap,
 * manage_cgroups=ignore); failures come back as -errno with one message
 * naming the CRIU log file and its first error line.
 *
 * CRIU 3.17 cannot be told "--network-lock skip" (added in 3.18): it locks
 * each connection itself with nftables in a table "inet CRIU-<root pid>",
 * removed by its own restore or by a failed dump. kupgrade's lock (netlock.c)
 * is taken before and covers the same connections.
 */

struct criu_inherit {
	int fd;
	const char *key;
};

struct criu_dump_req {
	pid_t pid;
	int images_fd;
	const char *log_name; /* file in CRIU_LOG_DIR */
	bool shell_job;
	const char *const *externals; /* "file[mnt:ino]" keys */
	size_t n_externals;
};

struct criu_restore_req {
	int images_fd;
	const char *log_name;
	bool shell_job;
	const struct criu_inherit *inherit;
	size_t n_inherit;
};

struct criu_dump_stats {
	uint32_t freezing_usec, frozen_usec, memdump_usec, memwrite_usec;
	uint64_t pages_written;
};

/* Dump the tree of req->pid and kill it (CRIU's killing dump). */
int criu_dump_tree(const struct criu_dump_req *req);
/* Restore detached with the original PIDs; *ret_pid is the root. */
int criu_restore_tree(const struct criu_restore_req *req, pid_t *ret_pid);
/* "criu check"; 0 if the kernel has what CRIU needs (fills its kdat cache). */
int criu_check_kernel(void);
/* The version of the criu binary that libcriu runs: 31701 for 3.17.1, or a
 * negative errno. */
int criu_version(void);
/* "3.17.1" for 31701: buf, filled */
const char *criu_version_format(int v, char *buf, size_t size);
/* "3.17.1", of the criu binary that libcriu runs */
int criu_version_string(char *buf, size_t size);
/* CRIU's own timings from the stats-dump image of the last dump (CRIU
 * writes it into its work dir, CRIU_LOG_DIR). */
int criu_read_dump_stats(struct criu_dump_stats *ret);
/* Parse a stats-dump image (pure). */
int criu_parse_dump_stats(const uint8_t *buf, size_t size, struct criu_dump_stats *ret);
