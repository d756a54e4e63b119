/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Transient units: the upgrade's worker service, a restored session's scope. */
#include <stdio.h>
#include <stdlib.h>

#include "bus-internal.h"
#include "bus.h"
#include "log.h"

/* ExecStart=, ExecStopPost=...: one command line. */
static int append_exec(sd_bus_message *m, const char *property, char *const *argv)
{
	int r;

	r = sd_bus_message_open_container(m, 'r', "sv");
	r = r < 0 ? r : sd_bus_message_append(m, "s", property);
	r = r < 0 ? r : sd_bus_message_open_container(m, 'v', "a(sasb)");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "(sasb)");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'r', "sasb");
	r = r < 0 ? r : sd_bus_message_append(m, "s", argv[0]);
	r = r < 0 ? r : sd_bus_message_append_strv(m, (char **)argv);
	r = r < 0 ? r : sd_bus_message_append(m, "b", 0);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	return r;
}

/*
 * StartTransientUnit(unit, "fail", properties, no aux units): add_props
 * appends the unit's own properties after its Description. -EEXIST when a
 * unit of that name is already there.
 */
static int start_transient(const char *unit, const char *description,
			   int (*add_props)(sd_bus_message *m, const void *userdata),
			   const void *userdata)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	char what[300];
	int r;

	r = bus_open(&bus);
	if (r < 0)
		return log_error_errno(r, "Cannot reach systemd over D-Bus: %m");
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER,
					   "StartTransientUnit");
	r = r < 0 ? r : sd_bus_message_append(m, "ss", unit, "fail");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "(sv)");
	r = r < 0 ? r : sd_bus_message_append(m, "(sv)", "Description", "s", description);
	r = r < 0 ? r : add_props(m, userdata);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0)
		return log_error_errno(r, "Cannot build the D-Bus request for %s: %m", unit);
	/* "fail" mode returns once the job is queued. */
	r = sd_bus_call(bus, m, 0, &error, &reply);
	if (r < 0) {
		if (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.UnitExists"))
			r = -EEXIST;
		snprintf(what, sizeof(what), "Cannot start %s", unit);
		r = bus_log_error(r, &error, what);
	}
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

struct service_props {
	char *const *argv, *const *stop_post_argv;
	char *const *env;
};

static int add_service_props(sd_bus_message *m, const void *userdata)
{
	const struct service_props *p = userdata;
	int r;

	/* oneshot: the job ends when the worker does; nothing restarts it. */
	r = sd_bus_message_append(m, "(sv)", "Type", "s", "oneshot");
	r = r < 0 ? r : sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	/* Never stopped by the shutdown it starts itself. */
	r = r < 0 ? r : sd_bus_message_append(m, "(sv)", "DefaultDependencies", "b", 0);
	r = r < 0 ? r
		  : sd_bus_message_append(m, "(sv)", "TimeoutStartUSec", "t", (uint64_t)UINT64_MAX);
	/* "systemctl stop" signals the main process alone, which finishes its
	 * step (a CRIU dump, an nft script) and runs its undos in the time
	 * given here; the rest of the cgroup is killed only after that. */
	r = r < 0 ? r : sd_bus_message_append(m, "(sv)", "KillMode", "s", "mixed");
	r = r < 0 ? r
		  : sd_bus_message_append(m, "(sv)", "TimeoutStopUSec", "t",
					  (uint64_t)TRANSIENT_STOP_TIMEOUT_USEC);
	r = r < 0 ? r : append_exec(m, "ExecStart", p->argv);
	/* Runs however the main process ended, SIGKILL included. */
	if (p->stop_post_argv)
		r = r < 0 ? r : append_exec(m, "ExecStopPost", p->stop_post_argv);
	if (p->env && p->env[0]) {
		r = r < 0 ? r : sd_bus_message_open_container(m, 'r', "sv");
		r = r < 0 ? r : sd_bus_message_append(m, "s", "Environment");
		r = r < 0 ? r : sd_bus_message_open_container(m, 'v', "as");
		r = r < 0 ? r : sd_bus_message_append_strv(m, (char **)p->env);
		r = r < 0 ? r : sd_bus_message_close_container(m);
		r = r < 0 ? r : sd_bus_message_close_container(m);
	}
	return r;
}

int bus_start_transient_service(const char *unit, const char *description, char *const *argv,
				char *const *stop_post_argv, char *const *env)
{
	return start_transient(unit, description, add_service_props,
			       &(struct service_props){ .argv = argv,
							.stop_post_argv = stop_post_argv,
							.env = env });
}

struct scope_props {
	const pid_t *pids;
	size_t n;
};

static int add_scope_props(sd_bus_message *m, const void *userdata)
{
	const struct scope_props *p = userdata;
	int r;

	r = sd_bus_message_open_container(m, 'r', "sv");
	r = r < 0 ? r : sd_bus_message_append(m, "s", "PIDs");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'v', "au");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "u");
	for (size_t i = 0; r >= 0 && i < p->n; i++)
		r = sd_bus_message_append(m, "u", (uint32_t)p->pids[i]);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	return r;
}

int bus_start_transient_scope(const char *unit, const char *description, const pid_t *pids,
			      size_t n)
{
	return start_transient(unit, description, add_scope_props,
			       &(struct scope_props){ .pids = pids, .n = n });
}
