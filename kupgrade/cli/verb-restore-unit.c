/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "exit-status.h"
#include "restore-service.h"
#include "verbs.h"

/* "kupgrade restore-unit --from DIR UNIT": a service's ExecStart= on the
 * boot after a switch (kupgrade-generator's drop-in). Any failure exits
 * EXIT_SOFTWARE: systemd only needs to see that the start failed, and the
 * restore reads the reason from the result file. */
int verb_restore_unit(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return restore_unit_run(o.from, argv[1]) < 0 ? EXIT_SOFTWARE : 0;
}
