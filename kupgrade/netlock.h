/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tcp.h"

/*
 * The network lock: while a tree is away, drop every packet of exactly its
 * checkpointed TCP connections, both ways, so that neither side sends a RST
 * or sees data the images do not hold. kupgrade owns the lock (not CRIU), so
 * that it can recreate it from the manifest after a kexec, when firewall
 * rules, being kernel state, are gone. Packets marked 0xC114 (CRIU's own
 * repair traffic) pass.
 *
 * Backends are ops tables; netlock_get(NULL) returns the first that probes
 * usable here. Only this file speaks nftables.
 */

#define NETLOCK_TABLE "kupgrade"
#define NETLOCK_CRIU_MARK 0xC114

struct netlock_ops {
	const char *name;				 /* "nftables": recorded in the manifest */
	const char *(*table_desc)(void);		 /* "inet kupgrade" */
	int (*probe)(void);				 /* 0 if usable, else -errno (logged) */
	int (*lock)(const struct tcp_conn *c, size_t n); /* -EEXIST if already locked */
	/* Add (lock) or delete (unlock) connections in the existing lock, so
	 * each unit's connections are locked only while that unit is away. */
	int (*update)(bool add, const struct tcp_conn *c, size_t n);
	int (*unlock)(void); /* -ENOENT if no lock is there */
	int (*exists)(void); /* > 0 if the lock is in place */
};

const struct netlock_ops *netlock_get(const char *method);

/*
 * CRIU 3.17 cannot be told to skip its own lock: a killing dump leaves a
 * table "inet CRIU-<root pid>" dropping the same connections. Once kupgrade's
 * lock covers them, that table is redundant, and it is kernel state that a
 * kexec loses anyway; deleting it leaves one lock, kupgrade's, which the
 * manifest can recreate. (CRIU's restore tolerates the table being gone:
 * its unlock failure is only logged.) Returns 0 if there was none.
 */
int netlock_drop_criu_table(pid_t root);

/* The nft scripts (pure, unit-tested): create the lock table with c[] in
 * it; add or delete c[] in an existing one. -EINVAL if the table is not an
 * nft name or a connection's address or port is not valid. */
int netlock_nft_script(const char *table, const struct tcp_conn *c, size_t n, char **ret);
int netlock_nft_update_script(const char *table, bool add, const struct tcp_conn *c, size_t n,
			      char **ret);
