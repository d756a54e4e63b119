/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus module (bus*.c) is the only one speaking D-Bus (sd-bus): systemd's
 * units and their cgroups. This file: the connection, errors, and the
 * manager's methods; bus-list.c lists units, bus-transient.c starts transient
 * ones, bus-unit.c reads one unit's properties and waits on it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bus-internal.h"
#include "bus.h"
#include "log.h"

int bus_open(sd_bus **ret)
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

int bus_log_error(int r, const sd_bus_error *e, const char *what)
{
	if (sd_bus_error_is_set(e))
		return log_error_errno(sd_bus_error_get_errno(e) ?: r, "%s: %s", what, e->message);
	return log_error_errno(r, "%s: %m", what);
}

int bus_call_manager(const char *method, const char *what, const char *types, ...)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_(message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	va_list ap;
	int r;

	r = bus_open(&bus);
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
		r = bus_log_error(r, &error, what);
	sd_bus_error_free(&error);
	return r < 0 ? r : 0;
}

int bus_reload(void)
{
	return bus_call_manager("Reload", "reload systemd's units", NULL);
}

int bus_restart_unit(const char *unit)
{
	char what[300];

	snprintf(what, sizeof(what), "restart %s", unit);
	return bus_call_manager("RestartUnit", what, "ss", unit, "replace");
}

int bus_start_unit(const char *unit, const char *mode)
{
	char what[300];

	snprintf(what, sizeof(what), "start %s", unit);
	return bus_call_manager("StartUnit", what, "ss", unit, mode);
}
