/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade upgrade", also "kupgrade --kernel FILE": switch the running kernel. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "exit-status.h"
#include "json.h"
#include "log.h"
#include "upgrade-client.h"
#include "verbs.h"

/*
 * --json when no switch happened (refused, not confirmed, rolled back, the
 * worker lost): one document saying so, with the exit status this command
 * ends with. After a switch the client printed the report instead.
 */
static void print_no_switch(const struct kupgrade_options *o, const struct upgrade_no_switch *ns,
			    int r)
{
	struct json_writer w;

	json_init(&w, stdout, true);
	json_begin_object(&w);
	json_kv_string(&w, "outcome", ns->outcome);
	json_kv_bool(&w, "switched", false);
	json_kv_string(&w, "kernel", o->kernel);
	json_kv_string(&w, "upgrade_id", ns->id[0] ? ns->id : NULL);
	json_kv_int(&w, "exit_code", r < 0 ? exit_code_from_errno(r) : r);
	json_kv_string(&w, "message", ns->message);
	json_end_object(&w);
	(void)json_finish(&w);
}

int verb_upgrade(int argc, char **argv)
{
	struct kupgrade_options o;
	struct upgrade_no_switch ns = {};
	int r;

	r = args_resolve_kernel("upgrade");
	o = args_options();
	if (r == EXIT_NOTHING_TO_DO) {
		ns.outcome = "nothing-to-do";
		ns.message = strdup(NOTHING_TO_DO_MESSAGE);
	} else if (r == 0)
		r = upgrade_client_run(&o, &ns);
	else
		return r;
	if (o.json && ns.outcome)
		print_no_switch(&o, &ns, r);
	free(ns.message);
	return r;
}
