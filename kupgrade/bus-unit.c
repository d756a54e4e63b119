/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One unit's properties, and waiting for its jobs to reach a state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-internal.h"
#include "bus.h"
#include "log.h"
#include "poll-util.h"

/* One property of a unit, as a message to read with type's signature. */
static int unit_property(const char *unit, const char *iface, const char *prop, const char *type,
			 sd_bus_message **ret)
{
	_cleanup_(bus_unrefp) sd_bus *bus = NULL;
	_cleanup_free_ char *path = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	int r;

	r = bus_open(&bus);
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

/* The poll loops' pace: a D-Bus round trip or two every 100 ms. */
#define WAIT_INTERVAL_MS 100

/*
 * After a StartUnit the unit may still read "inactive" (its job waits in
 * systemd's run queue, behind bus requests) or "failed" (from before): only
 * with no job left is such a state the outcome.
 */
static int unit_is_active(void *userdata)
{
	const char *unit = userdata;
	_cleanup_free_ char *state = NULL;

	if (bus_unit_property(unit, "org.freedesktop.systemd1.Unit", "ActiveState", &state) < 0)
		return 0;
	if (streq(state, "active") || streq(state, "reloading"))
		return 1;
	if ((streq(state, "failed") || streq(state, "inactive")) && !unit_has_job(unit))
		return log_error_errno(-EIO, "%s is %s.", unit, state);
	return 0;
}

int bus_wait_active(const char *unit, uint64_t timeout_usec)
{
	int r;

	r = poll_until(unit_is_active, (void *)unit, timeout_usec / 1000, WAIT_INTERVAL_MS);
	if (r == -ETIMEDOUT)
		return log_error_errno(r, "%s did not become active in time.", unit);
	return r < 0 ? r : 0;
}

static int unit_has_no_job(void *userdata)
{
	return !unit_has_job(userdata);
}

/* Its stop job done, and any job queued meanwhile (a socket unit may start
 * it again at once). */
int bus_stop_unit_wait(const char *unit, uint64_t timeout_usec)
{
	char what[300];
	int r;

	snprintf(what, sizeof(what), "stop %s", unit);
	r = bus_call_manager("StopUnit", what, "ss", unit, "replace");
	if (r < 0)
		return r;
	r = poll_until(unit_has_no_job, (void *)unit, timeout_usec / 1000, WAIT_INTERVAL_MS);
	if (r == -ETIMEDOUT)
		return log_error_errno(r, "%s did not stop in time.", unit);
	return 0;
}
