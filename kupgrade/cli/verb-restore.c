/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "restore.h"
#include "verbs.h"

/* "kupgrade restore [--from DIR] [--json]". EXIT_SOFTWARE from the restore
 * is an outcome (it ran, and the report says what failed), relayed as is. */
int verb_restore(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return restore_run(&o);
}
