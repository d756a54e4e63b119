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

int check_preflight(const char *kernel, const char *initrd, char **ret_release, char **ret_initrd)
{
	struct kupgrade_options o = args_options();

	o.kernel = kernel;
	o.initrd = initrd;
	return check_can_switch(&o, ret_release, ret_initrd);
}
