/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "check.h"
#include "log.h"
#include "verbs.h"

int verb_check(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	if (!o.kernel)
		return log_error_errno(-EINVAL, "check needs --kernel FILE; see 'kupgrade help'.");
	return check_print(&o);
}
