/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade stage --from DIR --kernel FILE": a test and diagnostic verb. */
#include "args.h"
#include "log.h"
#include "stage.h"
#include "verbs.h"

int verb_stage(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	if (!o.from || !o.kernel)
		return log_error_errno(-EINVAL, "stage needs --from DIR and --kernel FILE; "
						"see kupgrade(8).");
	return stage_run(&o);
}
