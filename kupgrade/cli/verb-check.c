/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "check.h"
#include "log.h"
#include "verbs.h"

int verb_check(int argc, char **argv)
{
	struct kupgrade_options o;
	int r;

	r = args_resolve_kernel("check");
	if (r != 0)
		return r;
	o = args_options();
	return check_print(&o);
}
