/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * One kernel switch or checkpoint at a time, and no switch while dpkg or apt
 * runs. (Not the network lock: that is checkpoint-lock.c.)
 *
 * The switch lock is an open file description lock (fcntl F_OFD_SETLK) on
 * SWITCH_LOCK_FILE. Like an flock it conflicts between two opens, even in
 * one process, and ends with its holder, even a killed one: no stale lock.
 * Unlike an flock it can be looked at without being taken (F_OFD_GETLK).
 * Its holder writes into the file what it is, its PID, since when and its
 * upgrade id, for the refusal of the next one.
 *
 * The upgrade worker takes it for its whole run, "kupgrade checkpoint" for
 * its own. The client only looks, to refuse early and say who runs: it must
 * hold no file while it is checkpointed with its session, and a look that
 * took the lock, however briefly, could make a starting worker fail. Two
 * clients that both looked before either worker started meet at the
 * worker's transient unit (one name) or at the worker's lock: one is
 * refused. "plan", "check" and "status" take nothing.
 *
 * dpkg and apt hold fcntl write locks on dpkg's lock files while they
 * change the system: looked at the same way, never taken.
 */

/* Who holds the switch lock, as it said in the file. */
struct upgrade_lock_holder {
	char what[16];	     /* "switch", "checkpoint"; "" when not said (yet) */
	char id[65];	     /* the upgrade id, "" for none */
	pid_t pid;	     /* 0 when not said */
	uint64_t since_usec; /* CLOCK_REALTIME; 0 when not said */
};

/* dpkg's lock files, NULL-terminated: lock-frontend (apt), lock (dpkg). */
extern const char *const dpkg_lock_files[];

/* The holder line "<what> <pid> <since_usec> <id or ->" into buf. */
void upgrade_lock_holder_format(const struct upgrade_lock_holder *h, char *buf, size_t size);
/* Parses a holder line; -EBADMSG when it is not one (e.g. not written yet). */
int upgrade_lock_holder_parse(const char *text, struct upgrade_lock_holder *ret);

/*
 * Take the switch lock at path for me, without waiting: 0 and *ret_fd
 * (close it to release); -EBUSY when another holds it (*ret_holder, as far
 * as it said); another -errno when path cannot be used.
 */
int upgrade_lock_take(const char *path, const struct upgrade_lock_holder *me, int *ret_fd,
		      struct upgrade_lock_holder *ret_holder);
/* Look without taking: 0 when free (or no file), -EBUSY held (*ret_holder). */
int upgrade_lock_query(const char *path, struct upgrade_lock_holder *ret_holder);
/* A write lock on path held by another process (dpkg's): 0 free or no file,
 * -EBUSY held (*ret_pid: the holder, 0 when the kernel does not say). */
int lock_file_query(const char *path, pid_t *ret_pid);

/* The refusals, for people: what runs, and what to do. Free them. */
char *upgrade_lock_busy_message(const struct upgrade_lock_holder *h);
char *dpkg_busy_message(const char *path, pid_t pid);

/*
 * Whether a switch may start now, taking nothing: 0, or -EBUSY with
 * *ret_message (free it) when the switch lock at lock_path (NULL: not
 * looked at) or one of dpkg_locks (NULL: none) is held; another -errno,
 * with *ret_message, when one cannot be looked at. Logs nothing.
 */
int upgrade_busy(const char *lock_path, const char *const *dpkg_locks, char **ret_message);
/* upgrade_lock_take() for this process, as what ("switch", "checkpoint")
 * with the upgrade id (or NULL); on failure *ret_message as above. */
/* --wait-apt: until none of dpkg_locks is held (0), or timeout_usec has
 * passed (-EBUSY, *ret_message as upgrade_busy()); says once that it waits. */
#define UPGRADE_WAIT_APT_USEC (3600ULL * 1000000)
int upgrade_wait_dpkg(const char *const *dpkg_locks, uint64_t timeout_usec, uint64_t poll_usec,
		      char **ret_message);
int upgrade_lock_acquire(const char *path, const char *what, const char *id, int *ret_fd,
			 char **ret_message);
