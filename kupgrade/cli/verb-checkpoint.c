/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "upgrade.h"
#include "verbs.h"

/* "kupgrade checkpoint [--unit NAME...] --to DIR": the checkpoint's phases
 * of the phase table, all or nothing. */
int verb_checkpoint(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return upgrade_checkpoint(&o);
}
