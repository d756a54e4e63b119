/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "plan-decision.h"

/*
 * The plan: every process on the machine exactly once, grouped by its owner
 * (a systemd unit, found over D-Bus and in the cgroup tree), with a decision
 * and a reason. Building it (plan_build) fetches; deciding
 * (plan_decide) is pure and unit-tested.
 */

enum owner_kind {
	OWNER_SERVICE,	 /* foo.service */
	OWNER_SESSION,	 /* session-N.scope (logind, e.g. ssh logins) */
	OWNER_CONTAINER, /* machine-*.scope, libpod-*, docker-*, lxc */
	OWNER_SCOPE,	 /* any other scope */
	OWNER_SLICE,	 /* processes directly in a slice or the root cgroup */
	OWNER_INIT,	 /* PID 1 */
	OWNER_KERNEL,	 /* kernel threads */
	OWNER_SELF,	 /* kupgrade's own process, never checkpointed */
	_OWNER_MAX,
};

struct plan_process {
	pid_t pid;
	pid_t ppid;
	char comm[32];
	unsigned threads;
	uint64_t rss_bytes;
	uint64_t est_image_bytes; /* private + anonymous memory CRIU would write */
};

struct plan_unit {
	char *name; /* unit name, or the cgroup path when not a unit */
	enum owner_kind kind;
	char *cgroup;	    /* ControlGroup, relative to the cgroup2 root */
	pid_t main_pid;	    /* services: MainPID, else 0 */
	char *service_type; /* services: Type= (simple, forking, notify...) */
	enum plan_decision decision;
	char *reason; /* why this decision, for people */
	bool forced;  /* decided by /etc/kupgrade.conf */

	struct plan_process *procs;
	size_t n_procs;
	pid_t *roots; /* processes whose parent is outside the unit */
	size_t n_roots;

	char **blockers; /* why CRIU cannot checkpoint it as it stands */
	size_t n_blockers;

	uint64_t est_image_bytes;

	/* Found while building: sums over procs, whether kupgrade runs in
	 * the unit, and what its dump must declare external. */
	unsigned n_threads;
	uint64_t rss_bytes;
	bool contains_self;		 /* kupgrade itself runs inside this unit */
	struct plan_external *externals; /* dumpable only if declared external */
	size_t n_externals;
};

/* How the restore hands an external file back; what the plan decides by. */
enum plan_external_kind {
	EXTERNAL_LOGIND_FIFO,	 /* a logind session or inhibitor FIFO: a fresh FIFO */
	EXTERNAL_JOURNAL_STREAM, /* stdout/stderr to journald: a fresh stream of the same unit */
	EXTERNAL_SYSTEMD_SOCKET, /* a listening socket shared with systemd: the one it then holds */
	EXTERNAL_CARRIED_FILE,	 /* a small file on a tmpfs: kupgrade copies it into the images */
	_EXTERNAL_KIND_MAX,
};

/*
 * A file the dump must declare external and the restore must hand back
 * (--external unix[ino] / file[mnt:ino] and --inherit-fd): journal streams,
 * logind FIFOs.
 */
struct plan_external {
	enum plan_external_kind kind;
	pid_t pid;
	int fd;
	uint64_t inode;
	char *what;   /* for people: the plan's table and JSON print it */
	char *path;   /* a file kupgrade carries (on a tmpfs), else NULL */
	char *listen; /* a listening socket shared with systemd: its name (listensock.h) */
};

struct plan {
	struct plan_unit *units;
	size_t n_units;
	unsigned n_processes, n_threads;
	uint64_t rss_bytes, est_image_bytes;
	int criu_version; /* of the CRIU that would dump (criu_version()), 0 if unknown */
};

/* Fetch everything and decide; config_path may be NULL for defaults. */
int plan_build(const char *config_path, struct plan **ret);
struct kupgrade_options;
/* "kupgrade plan": build the plan with o->config and print it on stdout, as
 * a table or (o->json) as JSON (docs/plan-json.md). Must run as root. */
int plan_print(const struct kupgrade_options *o);
void plan_free(struct plan *p);
/* The biggest image one process of a unit to checkpoint would write (CRIU
 * writes each process's pages into a file of its own): what decides whether
 * the images can be packed (a cpio entry holds at most 4 GiB). */
uint64_t plan_largest_process_estimate(const struct plan *p);
struct plan_unit *plan_find_unit(struct plan *p, const char *name);
/* The first external file of u that the restore cannot hand back, or NULL. */
const struct plan_external *plan_unit_unsupported_external(const struct plan_unit *u);
/* The plan's wording for a journal stream external (blockers.c). */
#define JOURNAL_STREAM_WHAT "writes its output to a journal stream"
#define JOURNAL_STREAM_SOCKET "/run/systemd/journal/stdout"
/* Files held open on a tmpfs are copied into the images up to this size. */
#define CARRY_MAX_BYTES (1024 * 1024)
#define CARRIED_WHAT "holds a file on a tmpfs, which kupgrade copies into the images"
#define LISTEN_SOCKET_WHAT "shares systemd's listening socket (socket activation)"

static inline bool plan_external_is_journal_stream(const struct plan_external *e)
{
	return e->kind == EXTERNAL_JOURNAL_STREAM;
}

/* A socket-activated service's listening socket: handed back at restore as
 * the new boot's socket of the same unit. */
static inline bool plan_external_is_listen_socket(const struct plan_external *e)
{
	return e->kind == EXTERNAL_SYSTEMD_SOCKET;
}

const char *owner_kind_to_string(enum owner_kind k);

/* Pure policy, unit-tested. */
struct config;
/* The kind of owner a unit is, from its name and cgroup (machine.slice => container). */
enum owner_kind owner_kind_from_unit(const char *name, const char *cgroup);
/* Sets u->decision, u->reason, u->forced from u->name, kind, contains_self,
 * blockers and the config (may be NULL). -ENOMEM only. */
int plan_decide(struct plan_unit *u, const struct config *c);
