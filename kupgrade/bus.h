/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The only file speaking D-Bus: what systemd knows of its units. */

struct bus_unit {
	char *name;
	char *active_state;
	char *cgroup;	    /* ControlGroup, "" when it has none */
	pid_t main_pid;	    /* services only, else 0 */
	char *service_type; /* services only (simple, forking, notify...), else NULL */
};

/* Every loaded .service and .scope that has a control group, from PID 1 over
 * the system bus. -ECONNREFUSED/-ENOENT etc. when systemd is not reachable. */
int bus_list_units(struct bus_unit **ret, size_t *ret_n);
void bus_units_free(struct bus_unit *units, size_t n);

/*
 * Start a transient service running argv (argv[0] an absolute path), then
 * stop_post_argv (NULL: nothing) however argv ended, with the extra
 * environment env (NULL-terminated "K=V", may be NULL), mode "fail":
 * -EEXIST when a unit of that name is already active (another upgrade
 * runs). KillMode=mixed with a stop timeout of
 * TRANSIENT_STOP_TIMEOUT_USEC: a stop signals the main process alone.
 * Returns once systemd has accepted the job.
 */
#define TRANSIENT_STOP_TIMEOUT_USEC (30ULL * 60 * 1000000)
int bus_start_transient_service(const char *unit, const char *description, char *const *argv,
				char *const *stop_post_argv, char *const *env);

/* StartUnit(unit, mode), e.g. ("kexec.target", "replace-irreversibly"). */
int bus_start_unit(const char *unit, const char *mode);

/* Move pids into a new transient scope (the tree of a restored session). */
int bus_start_transient_scope(const char *unit, const char *description, const pid_t *pids,
			      size_t n);
/* systemctl daemon-reload: generators run again. Waits for it to finish. */
int bus_reload(void);
/* systemctl restart UNIT, without waiting for the job. */
int bus_restart_unit(const char *unit);

/* A string property of a unit (iface e.g. "org.freedesktop.systemd1.Service",
 * prop "PIDFile"); the caller frees *ret. */
int bus_unit_property(const char *unit, const char *iface, const char *prop, char **ret);
/* Wait until unit is active; -EIO once it is failed or inactive. A unit
 * still "activating" keeps us waiting, up to timeout_usec. */
int bus_wait_active(const char *unit, uint64_t timeout_usec);
/* systemctl stop UNIT, and wait until it has no job left: stopped, or
 * started again since (by its socket). */
int bus_stop_unit_wait(const char *unit, uint64_t timeout_usec);
