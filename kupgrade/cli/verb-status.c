/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade status": the report of the last switch. */
#include "args.h"
#include "report.h"
#include "verbs.h"

int verb_status(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return report_print_last(o.json);
}
