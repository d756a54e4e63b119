/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "upgrade.h"
#include "verbs.h"

/* "kupgrade upgrade-worker --id ID --kernel FILE ...": the upgrade, started
 * by the client as a transient service; every phase of the phase table. */
int verb_upgrade_worker(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return upgrade_worker(&o);
}

/* "kupgrade upgrade-recover --id ID": the worker's ExecStopPost=. */
int verb_upgrade_recover(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return upgrade_recover(&o);
}
