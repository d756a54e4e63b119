/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "options.h"

/*
 * "kupgrade --kernel FILE": the client, the command the operator typed. It
 * checks, asks, starts the worker as a transient service and follows it
 * until the worker gives up on this kernel or the report of the new one
 * appears.
 */

/* When no switch happened, how it ended: what --json says instead of a report. */
struct upgrade_no_switch {
	const char *outcome; /* "refused", "declined", "nothing-done", "rolled-back", "failed",
			      * "started" (--detach);
			      * NULL: there is nothing of the kind to say */
	char id[65];	     /* the upgrade id, "" before one was made */
	char *message;	     /* for people; NULL when outcome is */
};

/*
 * Returns 0, a negative errno, EXIT_CANNOT_SWITCH (refused), EXIT_DECLINED,
 * or the worker's own exit code. Free ret_no_switch->message.
 */
int upgrade_client_run(const struct kupgrade_options *o, struct upgrade_no_switch *ret_no_switch);
