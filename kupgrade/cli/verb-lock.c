/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "restore-lock.h"
#include "verbs.h"

/* "kupgrade lock --from DIR": re-create the network lock from a manifest,
 * early in the boot after a switch (kupgrade-netlock.service). */
int verb_lock(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return restore_lock_run(o.from);
}
