/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kupgrade check: a preflight that changes nothing and answers "can this
 * switch succeed here, and if not, why". A flat table of probes, each
 * saying what it found or what is wrong and what to do about it. Probes
 * test features (what the kernel allows, what is installed), not versions;
 * they live in check-kernel.c, check-images.c and check-host.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-probe.h"
#include "check.h"
#include "exit-status.h"
#include "json.h"
#include "log.h"

int probe_set(struct probe_result *r, enum probe_state state, const char *action, const char *fmt,
	      ...)
{
	va_list ap;
	int k;

	r->state = state;
	va_start(ap, fmt);
	k = vasprintf(&r->message, fmt, ap);
	va_end(ap);
	if (k < 0 || (action && !(r->action = strdup(action))))
		return -ENOMEM;
	return 0;
}

static const struct probe {
	const char *name;
	int (*run)(struct check *c, struct probe_result *r);
} probes[] = {
	/* Order matters: later probes use what kernel and initrd found. */
	{ "privileges", probe_privileges },
	{ "kernel", probe_kernel },
	{ "modules", probe_modules },
	{ "initrd", probe_initrd },
	{ "initrd-script", probe_initrd_receiver },
	{ "kexec", probe_kexec },
	{ "criu", probe_criu },
	{ "memory", probe_memory },
	{ "restore-units", probe_restore_units },
};

/* Every probe's result, and what they found. */
struct check_run {
	struct check c;
	struct probe_result res[ELEMENTSOF(probes)];
	unsigned failed, warned;
};

/* Runs every probe in order; -ENOMEM (logged) stops them. */
static int run_probes(struct check_run *run, const struct kupgrade_options *o)
{
	int r = 0;

	*run = (struct check_run){ .c = { .o = o, .kernel = o->kernel } };
	for (size_t i = 0; i < ELEMENTSOF(probes) && r >= 0; i++) {
		r = probes[i].run(&run->c, &run->res[i]);
		run->failed += run->res[i].state == PROBE_FAIL;
		run->warned += run->res[i].state == PROBE_WARN;
	}
	return r < 0 ? log_oom() : 0;
}

static void check_run_done(struct check_run *run)
{
	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		free(run->res[i].message);
		free(run->res[i].action);
	}
	free(run->c.initrd);
}

static const char *state_to_string(enum probe_state s)
{
	static const char *const names[] = { "ok", "warn", "fail", "skip" };
	return names[s];
}

static void print_json(const struct check_run *run)
{
	const struct check *c = &run->c;
	struct json_writer w;

	json_init(&w, stdout, false);
	json_begin_object(&w);
	json_kv_string(&w, "kernel", c->kernel);
	json_kv_string(&w, "release", c->have_image ? c->image.release : NULL);
	json_kv_string(&w, "initrd", c->initrd);
	json_kv_bool(&w, "can_switch", run->failed == 0);
	json_kv_uint(&w, "images_bytes_estimate", c->images_bytes);
	json_kv_string(&w, "transport", c->transport);
	json_key(&w, "probes");
	json_begin_array(&w);
	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		json_begin_object(&w);
		json_kv_string(&w, "name", probes[i].name);
		json_kv_string(&w, "result", state_to_string(run->res[i].state));
		json_kv_string(&w, "message", run->res[i].message ?: "");
		json_kv_string(&w, "action", run->res[i].action);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	/* As printf did before: a failed write to stdout is not the check's result. */
	(void)json_finish(&w);
}

static void print_human(const struct probe_result *res)
{
	static const char *const labels[] = { "ok", "warn", "FAIL", "skip" };

	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		fprintf(stderr, "  %-5s %-14s %s\n", labels[res[i].state], probes[i].name,
			res[i].message);
		if (res[i].action && res[i].state != PROBE_OK)
			fprintf(stderr, "  %-5s %-14s -> %s\n", "", "", res[i].action);
	}
}

int check_print(const struct kupgrade_options *o)
{
	struct check_run run;
	int r;

	r = run_probes(&run, o);
	if (r >= 0) {
		print_human(run.res);
		if (o->json)
			print_json(&run);
		if (run.failed)
			log_error("Cannot switch to %s: %u problem%s above.", o->kernel, run.failed,
				  run.failed > 1 ? "s" : "");
		else
			log_info("Ready to switch to Linux %s.", run.c.image.release);
		r = run.failed ? EXIT_CANNOT_SWITCH : 0;
	}
	check_run_done(&run);
	return r;
}

int check_can_switch(const struct kupgrade_options *o, char **ret_release, char **ret_initrd)
{
	struct check_run run;
	int r;

	r = run_probes(&run, o);
	if (r >= 0 && (run.failed || run.warned))
		print_human(run.res);
	if (r >= 0 && run.failed)
		r = log_error_errno(-ECANCELED,
				    "Cannot switch to %s: %u problem%s above; nothing was changed.",
				    o->kernel, run.failed, run.failed > 1 ? "s" : "");
	else if (r >= 0) {
		*ret_release = strdup(run.c.image.release);
		*ret_initrd = TAKE_PTR(run.c.initrd);
		if (!*ret_release)
			r = log_oom();
	}
	check_run_done(&run);
	return r;
}
