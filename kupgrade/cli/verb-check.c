/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "args.h"
#include "check.h"
#include "exit-status.h"
#include "json.h"
#include "log.h"
#include "verbs.h"

int verb_check(int argc, char **argv)
{
	struct kupgrade_options o;
	int r;

	r = args_resolve_kernel("check");
	if (r == EXIT_NOTHING_TO_DO && arg_json) {
		struct json_writer w;

		json_init(&w, stdout, false);
		json_begin_object(&w);
		json_kv_string(&w, "kernel", arg_kernel);
		json_kv_bool(&w, "can_switch", false);
		json_kv_bool(&w, "nothing_to_do", true);
		json_kv_string(&w, "message", NOTHING_TO_DO_MESSAGE);
		json_end_object(&w);
		(void)json_finish(&w);
	}
	if (r != 0)
		return r;
	o = args_options();
	return check_print(&o);
}
