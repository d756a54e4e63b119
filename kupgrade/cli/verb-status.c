/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade status": the report of the last switch. */
#include "args.h"
#include "log.h"
#include "report.h"
#include "verbs.h"

int verb_status(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	if (o.id)
		return report_print_outcome(o.id, o.wait, o.json);
	if (o.wait)
		return log_error_errno(-EINVAL,
				       "status --wait needs --id ID: the upgrade id that 'kupgrade "
				       "--kernel ... --detach' printed.");
	return report_print_last(o.json);
}
