/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade inspect DIR|FILE [--json]": decode a manifest. */
#include "args.h"
#include "inspect.h"
#include "verbs.h"

int verb_inspect(int argc, char **argv)
{
	struct kupgrade_options o = args_options();

	return inspect_path(argv[1], o.json);
}
