/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "plan.h"
#include "verbs.h"

int verb_plan(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return plan_print(&o);
}
