/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan-decision.h"
#include "proc.h"

/*
 * What the CRIU found at run time cannot dump as it stands (CRIU 3.17 in
 * Debian 12, 4.1 in Debian 13), decided from facts gathered elsewhere: pure
 * functions, unit-tested.
 *
 * FD_EXTERNAL: CRIU can dump it only when kupgrade declares it external and
 * hands a replacement back at restore (journal streams, logind FIFOs).
 */
/* The CRIU that will dump, as probed (criu_version()): 31701 for 3.17.1, 0 if
 * unknown, judged as the oldest supported. A NULL caps is unknown too. */
struct criu_caps {
	int version;
};
/* CRIU 4.1 dumps and restores pidfds. */
#define CRIU_PIDFD_VERSION 40100

enum fd_verdict {
	FD_OK,
	FD_EXTERNAL,
	FD_BLOCKER,
	/* A pidfd CRIU dumps only when the process it refers to (fd->pidfd_pid)
	 * is in the dumped tree: the caller knows the trees; reason is the
	 * blocker if it is not. */
	FD_IN_TREE,
};

/* A file, device, anonymous inode or socket family, or a file deleted while
 * open and too big for CRIU to copy. Fills reason (without
 * the pid/fd location) for FD_EXTERNAL and FD_BLOCKER. Its only FD_EXTERNAL
 * is a logind session or inhibitor FIFO (EXTERNAL_LOGIND_FIFO, plan.h). */
enum fd_verdict fd_check_file(const struct proc_fd *fd, const struct criu_caps *caps, char *reason,
			      size_t size);

/* A connected unix socket whose peer is known. */
struct unix_peer_facts {
	int type;	       /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET of our end */
	const char *peer_name; /* the peer's address (an accepted socket carries its
				  * listener's path), "@x" if abstract, NULL if none */
	const char *peer_unit; /* unit of a process holding the peer, NULL if none seen */
	bool peer_same_unit;
	enum plan_decision peer_decision;
};

/* Its only FD_EXTERNAL is a journal stream (EXTERNAL_JOURNAL_STREAM, plan.h). */
enum fd_verdict fd_check_unix_peer(const struct unix_peer_facts *f, char *reason, size_t size);

/* A process that may open no more files: its soft RLIMIT_NOFILE, and how
 * many of its fds are below it. CRIU opens one in it (a memfd for its
 * parasite code) to dump it; sshd's pre-authentication sandbox sets the
 * limit to 1. FD_BLOCKER or FD_OK. */
enum fd_verdict fd_check_limit(uint64_t nofile_soft, uint64_t fds_below_limit, char *reason,
			       size_t size);

/* A process's mount namespace against PID 1's (inode numbers of ns/mnt). */
enum fd_verdict ns_check_mount(uint64_t mnt_ns, uint64_t init_mnt_ns, const struct criu_caps *caps,
			       char *reason, size_t size);
