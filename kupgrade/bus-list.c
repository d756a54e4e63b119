/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listing systemd's units that may hold processes, with their cgroups, main
 * processes and service types (bus_list_units). */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bus-internal.h"
#include "bus.h"
#include "log.h"

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
		log_debug("Cannot read %s of %s: %s", c->prop, c->unit->name,
			  e->message ?: e->name);
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
			char **dst = streq(c->prop, "Type") ? &c->unit->service_type
							    : &c->unit->cgroup;

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
	_cleanup_free_ struct pending *calls = calloc(MAX(n * ELEMENTSOF(props), 1u),
						      sizeof(struct pending));
	size_t k = 0;
	int r;

	if (!calls)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool service = ends_with(units[i].name, ".service");
		const char *iface = service ? "org.freedesktop.systemd1.Service"
					    : "org.freedesktop.systemd1.Scope";

		for (size_t p = 0; p < (service ? ELEMENTSOF(props) : 1u); p++) {
			struct pending *c = &calls[k++];

			*c = (struct pending){ .unit = &units[i], .prop = props[p], .state = 1 };
			r = sd_bus_call_method_async(bus, NULL, SD_DEST, paths[i],
						     "org.freedesktop.DBus.Properties", "Get",
						     on_reply, c, "ss", iface, c->prop);
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

static int listed_unit_add(struct bus_unit **units, char ***paths, size_t *n, const char *name,
			   const char *active, const char *path)
{
	if (!GREEDY_REALLOC(*units, *n + 1) || !GREEDY_REALLOC(*paths, *n + 1))
		return -ENOMEM;
	(*units)[*n] = (struct bus_unit){ .name = strdup(name), .active_state = strdup(active) };
	(*paths)[*n] = strdup(path);
	(*n)++;
	return (*units)[*n - 1].name && (*units)[*n - 1].active_state && (*paths)[*n - 1] ? 0
											  : -ENOMEM;
}

static int read_units(sd_bus_message *reply, struct bus_unit **units, char ***paths, size_t *n)
{
	const char *name, *active, *sub, *path;
	int r;

	r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, &active, &sub,
					NULL, &path, NULL, NULL, NULL)) > 0) {
		if (!may_hold_processes(name, active, sub))
			continue;
		r = listed_unit_add(units, paths, n, name, active, path);
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

int bus_list_units(struct bus_unit **ret, size_t *ret_n)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	struct bus_unit *units = NULL;
	char **paths = NULL;
	size_t n = 0;
	int r;

	r = bus_open(&bus);
	if (r < 0)
		return r;
	r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "ListUnits", &error, &reply,
			       NULL);
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
