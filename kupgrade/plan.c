/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan policy: what happens to each owner, and why; finding and freeing
 * the plan's units. Pure: no I/O. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "plan.h"

static const char *const kind_names[_OWNER_MAX] = {
	[OWNER_SERVICE] = "service", [OWNER_SESSION] = "session", [OWNER_CONTAINER] = "container",
	[OWNER_SCOPE] = "scope",     [OWNER_SLICE] = "slice",	  [OWNER_INIT] = "init",
	[OWNER_KERNEL] = "kernel",   [OWNER_SELF] = "self",
};

const char *owner_kind_to_string(enum owner_kind k)
{
	return k >= 0 && k < _OWNER_MAX ? kind_names[k] : NULL;
}

static bool matches_any(const char *name, const char *const *globs)
{
	for (; *globs; globs++)
		if (fnmatch(*globs, name, 0) == 0)
			return true;
	return false;
}

enum owner_kind owner_kind_from_unit(const char *name, const char *cgroup)
{
	static const char *const container_scopes[] = {
		"machine-*.scope", "libpod-*.scope", "docker-*.scope",
		"crio-*.scope",	   "lxc-*.scope",    NULL,
	};
	size_t n = strlen(name);
	bool in_machine_slice = cgroup && (strncmp(cgroup, "/machine.slice/", 15) == 0);

	if (streq(name, "init.scope"))
		return OWNER_INIT;
	if (n > 8 && streq(name + n - 8, ".service"))
		return in_machine_slice ? OWNER_CONTAINER : OWNER_SERVICE;
	if (n > 6 && streq(name + n - 6, ".scope")) {
		if (fnmatch("session-*.scope", name, 0) == 0)
			return OWNER_SESSION;
		if (in_machine_slice || matches_any(name, container_scopes))
			return OWNER_CONTAINER;
		return OWNER_SCOPE;
	}
	return OWNER_SLICE;
}

/* Daemons the new boot starts fresh anyway; checkpointing them would fight it. */
static const struct {
	const char *glob;
	const char *reason;
} restart_defaults[] = {
	{ "systemd-*.service", "systemd's own daemon, started fresh by the new boot" },
	{ "dbus.service", "the D-Bus system bus, started fresh by the new boot" },
	{ "dbus-broker.service", "the D-Bus system bus, started fresh by the new boot" },
	{ "getty@*.service", "a login prompt, started fresh by the new boot" },
	{ "serial-getty@*.service", "a login prompt, started fresh by the new boot" },
	{ "console-getty.service", "a login prompt, started fresh by the new boot" },
	{ "container-getty@*.service", "a login prompt, started fresh by the new boot" },
	{ "user@*.service", "a per-user service manager, started fresh by the new boot" },
};

static int set_reason(struct plan_unit *u, enum plan_decision d, bool forced, const char *fmt, ...)
{
	va_list ap;
	char *reason;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	free(u->reason);
	u->reason = reason;
	u->decision = d;
	u->forced = forced;
	return 0;
}

static const char *blocker_summary_suffix(const struct plan_unit *u)
{
	return u->n_blockers > 1 ? " (and more, see blockers)" : "";
}

static int decide_forced(struct plan_unit *u, const struct config *c,
			 const struct config_rule *rule)
{
	const char *d = plan_decision_to_string(rule->decision);

	if (rule->decision == DECISION_CHECKPOINT && u->n_blockers > 0)
		return set_reason(u, rule->decision, true,
				  "forced to %s by %s:%u (%s) despite blockers; the dump may fail",
				  d, c->path, rule->line, rule->pattern);
	return set_reason(u, rule->decision, true, "forced to %s by %s:%u (%s)", d, c->path,
			  rule->line, rule->pattern);
}

static int decide_default(struct plan_unit *u)
{
	switch (u->kind) {
	case OWNER_SESSION:
		return set_reason(u, DECISION_CHECKPOINT, false,
				  "login session, kept across the switch%s",
				  u->contains_self
					  ? " (kupgrade runs in it; its own process is left out)"
					  : "");
	case OWNER_CONTAINER:
		return set_reason(u, DECISION_CHECKPOINT, false,
				  "container, kept across the switch");
	case OWNER_SLICE:
		return set_reason(u, DECISION_CHECKPOINT, false,
				  "processes outside any unit, kept across the switch");
	case OWNER_SCOPE:
		return set_reason(u, DECISION_CHECKPOINT, false, "scope, kept across the switch");
	default:
		return set_reason(u, DECISION_CHECKPOINT, false, "service, kept across the switch");
	}
}

/* The logind session FIFOs are handed back as fresh FIFOs, and carried files
 * from the images. A journal stream is handed back as a fresh stream of the
 * same unit, and a listening socket shared with systemd as the socket
 * systemd holds then: both only for a service (its restore is the unit's own
 * start). */
static bool external_handed_back(const struct plan_unit *u, const struct plan_external *e)
{
	switch (e->kind) {
	case EXTERNAL_LOGIND_FIFO:
	case EXTERNAL_CARRIED_FILE:
		return true;
	case EXTERNAL_JOURNAL_STREAM:
	case EXTERNAL_SYSTEMD_SOCKET:
		return u->kind == OWNER_SERVICE;
	default:
		return false;
	}
}

const struct plan_external *plan_unit_unsupported_external(const struct plan_unit *u)
{
	for (size_t i = 0; i < u->n_externals; i++)
		if (!external_handed_back(u, &u->externals[i]))
			return &u->externals[i];
	return NULL;
}

int plan_decide(struct plan_unit *u, const struct config *c)
{
	const struct plan_external *ext;
	const struct config_rule *rule;

	/* Neither configuration nor blockers can move these. */
	switch (u->kind) {
	case OWNER_KERNEL:
		return set_reason(u, DECISION_LEAVE, false,
				  "kernel threads belong to the running kernel");
	case OWNER_INIT:
		return set_reason(u, DECISION_LEAVE, false,
				  "PID 1, the service manager, starts anew with the new kernel");
	case OWNER_SELF:
		return set_reason(u, DECISION_LEAVE, false,
				  "kupgrade itself, which drives the switch");
	default:
		break;
	}

	rule = c ? config_match(c, u->name) : NULL;
	if (rule)
		return decide_forced(u, c, rule);

	/* A session survives even with kupgrade in it; any other unit running
	 * kupgrade would be frozen under it, so it restarts. */
	if (u->contains_self && u->kind != OWNER_SESSION)
		return set_reason(u, DECISION_RESTART, false, "runs kupgrade itself");
	if (u->kind == OWNER_SERVICE)
		for (size_t i = 0; i < ELEMENTSOF(restart_defaults); i++)
			if (fnmatch(restart_defaults[i].glob, u->name, 0) == 0)
				return set_reason(u, DECISION_RESTART, false, "%s",
						  restart_defaults[i].reason);
	/* Without a main process, what runs are systemd's own start, stop or
	 * reload commands (ControlPID), or what a main process left behind:
	 * brought back as a main process they would be taken for one. */
	if (u->kind == OWNER_SERVICE && u->service_type && u->main_pid <= 0 && u->n_procs > 0)
		return set_reason(u, DECISION_RESTART, false,
				  "no main process: its processes are systemd's start, stop or reload commands, or "
				  "leftovers; the new boot runs the unit afresh");
	if (u->n_blockers > 0)
		return set_reason(u, DECISION_RESTART, false,
				  "cannot be checkpointed as it stands: %s%s", u->blockers[0],
				  blocker_summary_suffix(u));
	ext = plan_unit_unsupported_external(u);
	if (ext)
		return set_reason(u, DECISION_RESTART, false,
				  "PID %d %s, which kupgrade cannot hand back at restore yet",
				  (int)ext->pid, ext->what);
	return decide_default(u);
}

uint64_t plan_largest_process_estimate(const struct plan *p)
{
	uint64_t largest = 0;

	for (size_t i = 0; i < p->n_units; i++) {
		const struct plan_unit *u = &p->units[i];

		if (u->decision != DECISION_CHECKPOINT)
			continue;
		for (size_t j = 0; j < u->n_procs; j++)
			largest = MAX(largest, u->procs[j].est_image_bytes);
	}
	return largest;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_units; i++) {
		struct plan_unit *u = &p->units[i];

		free(u->name);
		free(u->cgroup);
		free(u->service_type);
		free(u->reason);
		free(u->procs);
		free(u->roots);
		for (size_t j = 0; j < u->n_blockers; j++)
			free(u->blockers[j]);
		free(u->blockers);
		for (size_t j = 0; j < u->n_externals; j++) {
			free(u->externals[j].what);
			free(u->externals[j].path);
			free(u->externals[j].listen);
		}
		free(u->externals);
	}
	free(p->units);
	free(p);
}

struct plan_unit *plan_find_unit(struct plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_units; i++)
		if (streq(p->units[i].name, name))
			return &p->units[i];
	return NULL;
}
