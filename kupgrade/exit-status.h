/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Documented exit codes (sysexits where they fit), see docs/kupgrade.8.scd.
 * A verb returns 0, a negative errno (which cli/main.c maps to one of these
 * once, exit_code_from_errno()), or one of the outcomes below that is not an
 * error: EXIT_DECLINED, EXIT_CANNOT_SWITCH, EXIT_NOTHING_TO_DO, or the worker's own code relayed
 * by the client. The worker writes its code into the progress state
 * (progress.h), so these are shared by the domain layer and the CLI.
 */
enum {
	EXIT_DECLINED = 1,	/* the operator did not confirm: nothing changed */
	EXIT_CANNOT_SWITCH = 2, /* preflight: this switch cannot succeed here */
	EXIT_NOTHING_TO_DO = 3, /* --kernel newest: no installed kernel is newer */
	EXIT_USAGE = 64,	/* EX_USAGE: bad command line */
	EXIT_DATAERR = 65,	/* EX_DATAERR: bad input data (not a kernel, bad manifest) */
	EXIT_NOINPUT = 66,	/* EX_NOINPUT: a named file does not exist */
	EXIT_UNAVAILABLE = 69,	/* EX_UNAVAILABLE: a needed facility is missing */
	EXIT_SOFTWARE = 70,	/* EX_SOFTWARE: failed, system restored as it was */
	EXIT_OSERR = 71,	/* EX_OSERR: failed, and the system is not as it was */
	EXIT_IOERR = 74,	/* EX_IOERR */
	EXIT_TEMPFAIL = 75,	/* EX_TEMPFAIL: busy, try again */
	EXIT_NOPERM = 77,	/* EX_NOPERM: must be root */
};
