/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The only file speaking D-Bus (sd-bus): systemd's units and their cgroups. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include "bus.h"
#include "log.h"
#include "timeutil.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

static inline void bus_unrefp(sd_bus **b)
{
	sd_bus_flush_close_unref(*b);
}

static inline void message_unrefp(sd_bus_message **m)
{
	sd_bus_message_unref(*m);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && streq(s + n - k, suffix);
}

static void bus_unit_done(struct bus_unit *u)
{
	free(u->name);
	free(u->active_state);
	free(u->cgroup);
	free(u->service_type);
}

void bus_units_free(struct bus_unit *units, size_t n)
{
	for (size_t i = 0; i < n; i++)
		bus_unit_done(&units[i]);
	free(units);
}

/*
 * Property reads are sent all at once and their replies collected after:
 * under emulation a D-Bus round trip costs tens of milliseconds, and one after
 * the other they added up to seconds.
 */
struct pending {
	struct bus_unit *unit;
	const char *prop;
	int state; /* 1 while waiting, then 0 or a negative errno */
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct pending *c = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *s;
	uint32_t u;
	int r;

	if (e) {
		/* The unit may have gone since ListUnits. */
		log_debug("Cannot read %s of %s: %s", c->prop, c->unit->name, e->message ?: e->name);
		c->state = -EIO;
		return 0;
	}
	if (streq(c->prop, "MainPID")) {
		r = sd_bus_message_read(m, "v", "u", &u);
		if (r >= 0)
			c->unit->main_pid = (pid_t)u;
	} else {
		r = sd_bus_message_read(m, "v", "s", &s);
		if (r >= 0) {
			char **dst = streq(c->prop, "Type") ? &c->unit->service_type : &c->unit->cgroup;

			*dst = strdup(s);
			if (!*dst)
				r = -ENOMEM;
		}
	}
	c->state = r < 0 ? r : 0;
	return 0;
}

static bool all_done(const struct pending *calls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (calls[i].state == 1)
			return false;
	return true;
}

static int wait_replies(sd_bus *bus, const struct pending *calls, size_t n)
{
	int r;

	while (!all_done(calls, n)) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		/* Each call carries sd-bus's method timeout, so this ends. */
		r = sd_bus_wait(bus, UINT64_MAX);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++)
		if (calls[i].state == -ENOMEM)
			return -ENOMEM;
	return 0;
}

/* Reads ControlGroup of every unit, and MainPID and Type of services. */
static int read_properties(sd_bus *bus, struct bus_unit *units, char **paths, size_t n)
{
	static const char *const props[] = { "ControlGroup", "MainPID", "Type" };
	_cleanup_free_ struct pending *calls = calloc(MAX(n * ELEMENTSOF(props), 1u), sizeof(struct pending));
	size_t k = 0;
	int r;

	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool service = ends_with(units[i].name, ".service");
		const char *iface = service ? "org.freedesktop.systemd1.Service" : "org.freedesktop.systemd1.Scope";

		for (size_t p = 0; p < (service ? ELEMENTSOF(props) : 1u); p++) {
			struct pending *c = &calls[k++];

			*c = (struct pending){ .unit = &units[i], .prop = props[p], .state = 1 };
			r = sd_bus_call_method_async(bus, NULL, SD_DEST, paths[i], "org.freedesktop.DBus.Properties",
						     "Get", on_reply, c, "ss", iface, c->prop);
			if (r < 0)
				return r;
		}
	}
	return wait_replies(bus, calls, k);
}

/* Units that may hold processes: not inactive or failed, not a finished oneshot. */
static bool may_hold_processes(const char *name, const char *active, const char *sub)
{
	if (!ends_with(name, ".service") && !ends_with(name, ".scope"))
		return false;
	if (streq(active, "inactive") || streq(active, "failed"))
		return false;
	/* Leftovers of an "exited" unit still show up, named after their cgroup. */
	return !streq(sub, "exited") && !streq(sub, "dead");
}

static int add_unit(struct bus_unit **units, char ***paths, size_t *n, const char *name, const char *active,
		    const char *path)
{
	struct bus_unit *grown = realloc(*units, (*n + 1) * sizeof(**units));
	char **gp;

	if (!grown)
		return -ENOMEM;
	*units = grown;
	gp = realloc(*paths, (*n + 1) * sizeof(char *));
	if (!gp)
		return -ENOMEM;
	*paths = gp;
	grown[*n] = (struct bus_unit){ .name = strdup(name), .active_state = strdup(active) };
	gp[*n] = strdup(path);
	(*n)++;
	return grown[*n - 1].name && grown[*n - 1].active_state && gp[*n - 1] ? 0 : -ENOMEM;
}

static int read_units(sd_bus_message *reply, struct bus_unit **units, char ***paths, size_t *n)
{
	const char *name, *active, *sub, *path;
	int r;

	r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, &active, &sub, NULL, &path, NULL,
					NULL, NULL)) > 0) {
		if (!may_hold_processes(name, active, sub))
			continue;
		r = add_unit(units, paths, n, name, active, path);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(reply);
}

/* Keeps units that have a cgroup; the others vanished or hold nothing. */
static size_t keep_with_cgroup(struct bus_unit *units, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (isempty(units[i].cgroup)) {
			bus_unit_done(&units[i]);
			continue;
		}
		units[k++] = units[i];
	}
	return k;
}

/* The system bus; systemd's private socket (root only) when dbus is down. */
static int open_bus(sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	r = sd_bus_open_system(ret);
	if (r >= 0)
		return 0;
	log_debug_errno(r, "Cannot connect to the system bus, trying systemd's private socket: %m");
	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return log_debug_errno(r, "Cannot connect to systemd's private socket: %m");
	}
	*ret = bus;
	return 0;
}

int bus_list_units(struct bus_unit **ret, size_t *ret_n)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	struct bus_unit *units = NULL;
	char **paths = NULL;
	size_t n = 0;
	int r;

	r = open_bus(&bus);
	if (r < 0)
		return r;
	r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ListUnits", &error, &reply, NULL);
	if (r < 0) {
		log_debug("ListUnits failed: %s", error.message ?: strerror(-r));
		sd_bus_error_free(&error);
		return r;
	}
	r = read_units(reply, &units, &paths, &n);
	if (r >= 0)
		r = read_properties(bus, units, paths, n);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	if (r < 0) {
		bus_units_free(units, n);
		return log_debug_errno(r, "Cannot read units from systemd: %m");
	}
	*ret = units;
	*ret_n = keep_with_cgroup(units, n);
	return 0;
}

/* Turn an sd-bus error into -errno plus one message, logged here. */
static int log_bus_error(int r, const sd_bus_error *e, const char *what)
{
	if (sd_bus_error_is_set(e))
		return log_error_errno(sd_bus_error_get_errno(e) ?: r, "%s: %s", what, e->message);
	return log_error_errno(r, "%s: %m", what);
}

static int append_exec_start(sd_bus_message *m, char *const *argv)
{
	int r;

	r = sd_bus_message_open_container(m, 'r', "sv");
	r = r < 0 ? r : sd_bus_message_append(m, "s", "ExecStart");
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
			   int (*add_props)(sd_bus_message *m, const void *userdata), const void *userdata)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	char what[300];
	int r;

	r = open_bus(&bus);
	if (r < 0)
		return log_error_errno(r, "Cannot reach systemd over D-Bus: %m");
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
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
		r = log_bus_error(r, &error, what);
	}
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

struct service_props {
	char *const *argv;
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
	r = r < 0 ? r : sd_bus_message_append(m, "(sv)", "TimeoutStartUSec", "t", (uint64_t)UINT64_MAX);
	r = r < 0 ? r : append_exec_start(m, p->argv);
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
				char *const *env)
{
	return start_transient(unit, description, add_service_props,
			       &(struct service_props){ .argv = argv, .env = env });
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

int bus_start_transient_scope(const char *unit, const char *description, const pid_t *pids, size_t n)
{
	return start_transient(unit, description, add_scope_props,
			       &(struct scope_props){ .pids = pids, .n = n });
}

static int call_manager(const char *method, const char *what, const char *types, ...)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	r = open_bus(&bus);
	if (r < 0)
		return log_error_errno(r, "Cannot reach systemd over D-Bus: %m");
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, method);
	if (r >= 0 && types) {
		va_start(ap, types);
		r = sd_bus_message_appendv(m, types, ap);
		va_end(ap);
	}
	if (r < 0)
		return log_error_errno(r, "Cannot build the D-Bus request to %s: %m", what);
	/* A reload can take a while under emulation. */
	r = sd_bus_call(bus, m, 120 * 1000000ULL, &error, &reply);
	if (r < 0)
		r = log_bus_error(r, &error, what);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

int bus_reload(void)
{
	return call_manager("Reload", "reload systemd's units", NULL);
}

int bus_restart_unit(const char *unit)
{
	char what[300];

	snprintf(what, sizeof(what), "restart %s", unit);
	return call_manager("RestartUnit", what, "ss", unit, "replace");
}

int bus_start_unit(const char *unit, const char *mode)
{
	char what[300];

	snprintf(what, sizeof(what), "start %s", unit);
	return call_manager("StartUnit", what, "ss", unit, mode);
}

/* One property of a unit, as a message to read with type's signature. */
static int unit_property(const char *unit, const char *iface, const char *prop, const char *type,
			 sd_bus_message **ret)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *path = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = open_bus(&bus);
	if (r < 0)
		return r;
	r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
	if (r < 0)
		return r;
	r = sd_bus_get_property(bus, SD_DEST, path, iface, prop, &error, ret, type);
	if (r < 0)
		log_debug("Cannot read %s of %s: %s", prop, unit, error.message ?: strerror(-r));
	sd_bus_error_free(&error);
	return r;
}

int bus_unit_property(const char *unit, const char *iface, const char *prop, char **ret)
{
	_cleanup_(message_unrefp) sd_bus_message *reply = NULL;
	const char *s;
	int r;

	r = unit_property(unit, iface, prop, "s", &reply);
	if (r >= 0)
		r = sd_bus_message_read(reply, "s", &s);
	if (r < 0)
		return r;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

/* Whether the unit has a job queued or running (its Job property is not (0, "/")). */
static bool unit_has_job(const char *unit)
{
	_cleanup_(message_unrefp) sd_bus_message *reply = NULL;
	const char *job_path;
	uint32_t id = 0;
	int r;

	r = unit_property(unit, "org.freedesktop.systemd1.Unit", "Job", "(uo)", &reply);
	if (r >= 0)
		r = sd_bus_message_read(reply, "(uo)", &id, &job_path);
	return r >= 0 && id != 0;
}

/*
 * After a StartUnit the unit may still read "inactive" (its job waits in
 * systemd's run queue, behind bus requests) or "failed" (from before): only
 * with no job left is such a state the outcome.
 */
int bus_wait_active(const char *unit, uint64_t timeout_usec)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);

	for (;;) {
		_cleanup_free_ char *state = NULL;

		if (bus_unit_property(unit, "org.freedesktop.systemd1.Unit", "ActiveState", &state) >= 0) {
			if (streq(state, "active") || streq(state, "reloading"))
				return 0;
			if ((streq(state, "failed") || streq(state, "inactive")) && !unit_has_job(unit))
				return log_error_errno(-EIO, "%s is %s.", unit, state);
		}
		if (now_usec(CLOCK_MONOTONIC) - t0 > timeout_usec)
			return log_error_errno(-ETIMEDOUT, "%s did not become active in time.", unit);
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
}

/* Its stop job done, and any job queued meanwhile (a socket unit may start
 * it again at once). */
int bus_stop_unit_wait(const char *unit, uint64_t timeout_usec)
{
	uint64_t t0 = now_usec(CLOCK_MONOTONIC);
	char what[300];
	int r;

	snprintf(what, sizeof(what), "stop %s", unit);
	r = call_manager("StopUnit", what, "ss", unit, "replace");
	if (r < 0)
		return r;
	while (unit_has_job(unit)) {
		if (now_usec(CLOCK_MONOTONIC) - t0 > timeout_usec)
			return log_error_errno(-ETIMEDOUT, "%s did not stop in time.", unit);
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	return 0;
}
