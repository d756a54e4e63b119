/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus.h"
#include "log.h"

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

static void bus_unit_done(struct bus_unit *u);

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && streq(s + n - k, suffix);
}

static int get_string(sd_bus *bus, const char *path, const char *iface, const char *prop, char **ret)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r = sd_bus_get_property_string(bus, SD_DEST, path, iface, prop, &error, ret);

	if (r < 0)
		log_debug("Cannot read %s.%s of %s: %s", iface, prop, path, error.message ?: strerror(-r));
	sd_bus_error_free(&error);
	return r;
}

/* Fills in the properties of one unit; the unit may vanish meanwhile. */
static int fill_unit(sd_bus *bus, const char *path, struct bus_unit *u)
{
	bool service = ends_with(u->name, ".service");
	const char *iface = service ? "org.freedesktop.systemd1.Service" : "org.freedesktop.systemd1.Scope";
	sd_bus_error error = SD_BUS_ERROR_NULL;
	uint32_t pid = 0;
	int r;

	r = get_string(bus, path, iface, "ControlGroup", &u->cgroup);
	if (r < 0)
		return r;
	if (!service)
		return 0;
	r = sd_bus_get_property_trivial(bus, SD_DEST, path, iface, "MainPID", &error, 'u', &pid);
	sd_bus_error_free(&error);
	if (r < 0)
		return r;
	u->main_pid = (pid_t)pid;
	return get_string(bus, path, iface, "Type", &u->service_type);
}

static int read_units(sd_bus *bus, sd_bus_message *reply, struct bus_unit **units, size_t *n)
{
	const char *name, *active, *path;
	int r;

	r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, NULL, NULL, &active, NULL, NULL, &path,
					NULL, NULL, NULL)) > 0) {
		struct bus_unit u = {}, *grown;

		if (!ends_with(name, ".service") && !ends_with(name, ".scope"))
			continue;
		/* Only units that can hold processes. */
		if (streq(active, "inactive") || streq(active, "failed"))
			continue;
		u.name = strdup(name);
		u.active_state = strdup(active);
		if (!u.name || !u.active_state) {
			bus_unit_done(&u);
			return -ENOMEM;
		}
		r = fill_unit(bus, path, &u);
		if (r < 0 || isempty(u.cgroup)) {
			/* Gone since ListUnits, or no cgroup (yet): not an owner of anything. */
			bus_unit_done(&u);
			continue;
		}
		grown = realloc(*units, (*n + 1) * sizeof(**units));
		if (!grown) {
			bus_unit_done(&u);
			return -ENOMEM;
		}
		*units = grown;
		(*units)[(*n)++] = u;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(reply);
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
	r = read_units(bus, reply, &units, &n);
	if (r < 0) {
		bus_units_free(units, n);
		return log_debug_errno(r, "Cannot parse ListUnits reply: %m");
	}
	*ret = units;
	*ret_n = n;
	return 0;
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
