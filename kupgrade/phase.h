/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The phase runner: an orchestrator is a flat list of named phases, each
 * with a do and an optional undo. On the first failure the undos of the
 * phases that completed run in reverse order; the failing phase must leave
 * nothing behind itself (its own undo is not run).
 *
 * KUPGRADE_FAULT=<name> makes the phase of that name fail instead of running
 * ("dump" alone matches the first "dump:<unit>" phase); a test hook, read
 * only in a test build (test-hooks.h). SIGINT, SIGTERM and SIGHUP are held
 * for the whole run (so that a Ctrl-C reaching our process group cannot kill
 * CRIU half-way through a dump) and are acted upon between phases: the run
 * fails and the undos run. KUPGRADE_PAUSE=<name>, another test hook, holds
 * the run before that phase until one of those signals (or SIGKILL) comes.
 */

struct phase {
	char *name; /* "lock-network", "dump:ssh.service" */
	int (*run)(void *ctx, void *arg);
	int (*undo)(void *ctx, void *arg); /* NULL: nothing to undo */
	void *arg;
	uint64_t usec; /* measured duration of run() */
	bool done;
};

struct phase_list {
	struct phase *phases;
	size_t n;
	/* Told the name of each phase as it starts (NULL: nobody). */
	void (*on_start)(void *ctx, const char *name);
};

struct phase_result {
	const char *failed_phase; /* NULL on success; points into the list */
	int error;		  /* negative errno of the failure */
	int signal;		  /* signal that interrupted the run, or 0 */
	bool injected;		  /* the failure came from KUPGRADE_FAULT */
	unsigned undo_failures;	  /* undos that failed: state not restored */
};

int phase_list_add(struct phase_list *l, const char *name, int (*run)(void *ctx, void *arg),
		   int (*undo)(void *ctx, void *arg), void *arg);
void phase_list_free(struct phase_list *l);

/* Does the fault name select this phase? Exact name, or the part before ':'. */
bool phase_fault_matches(const char *fault, const char *phase_name);

/*
 * Run the list. A phase may append phases to l while it runs. Returns 0 when every phase succeeded, else the negative errno
 * of the failure after the undos ran; details in *ret.
 */
int phase_run(struct phase_list *l, void *ctx, struct phase_result *ret);
/* The same, failing the phase that fault names (phase_fault_matches())
 * instead of running it; phase_run() passes the KUPGRADE_FAULT test hook
 * (and pauses as KUPGRADE_PAUSE says). */
int phase_run_fault(struct phase_list *l, void *ctx, const char *fault, struct phase_result *ret);
/* Both: fail the phase fault names, pause before the one pause names. */
int phase_run_hooks(struct phase_list *l, void *ctx, const char *fault, const char *pause,
		    struct phase_result *ret);

/* Run the undos of every completed phase in reverse (used after a later,
 * non-phase failure); returns the number of undos that failed. */
unsigned phase_undo_all(struct phase_list *l, void *ctx);
