/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* Shared by the bus module's files (bus*.c), the only ones speaking D-Bus. */

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

/* The system bus; systemd's private socket (root only) when dbus is down. */
int bus_open(sd_bus **ret);
/* Turn an sd-bus error into -errno plus one message, logged here. */
int bus_log_error(int r, const sd_bus_error *e, const char *what);
/* A method of systemd's manager with arguments of signature types (may be
 * NULL), waiting for its reply; what names it in messages, logged here. */
int bus_call_manager(const char *method, const char *what, const char *types, ...);
