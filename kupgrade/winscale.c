/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "paths.h"
#include "winscale.h"

/*
 * CRIU 3.17 (soccr) gives a restored connection its window scale only when
 * one was negotiated; otherwise the socket keeps the scale the kernel picks
 * for a new connection, and advertises its window scaled down by it to a
 * peer that does not scale: seen after a switch as "win 4" towards qemu's
 * user-mode stack, every request then crawling in 4-byte persist probes.
 * With window scaling off the kernel picks no scale, and CRIU still sets the
 * scale of the connections that had one. So it is off from the lock (before
 * the dumps, and again early in the boot after a switch) until the unlock
 * or the rollback; connections opened meanwhile only do without scaling.
 */

#define WSCALE_SYSCTL "/proc/sys/net/ipv4/tcp_window_scaling"
#define WSCALE_SAVED RESTORE_SERVICE_DIR "/tcp_window_scaling"

void window_scaling_off(const Manifest *m)
{
	_cleanup_free_ char *old = NULL;
	size_t n = 0;

	for (size_t i = 0; i < m->n_units; i++)
		n += m->units[i]->n_connections;
	if (n == 0 || access(WSCALE_SAVED, F_OK) == 0 ||
	    read_one_line_file(WSCALE_SYSCTL, &old) < 0)
		return;
	if (mkdir(RESTORE_SERVICE_DIR, 0700) < 0 && errno != EEXIST)
		return;
	if (write_string_file(WSCALE_SAVED, "%s\n", old) < 0 ||
	    write_string_file_in_place(WSCALE_SYSCTL, "0\n") < 0)
		log_warning(
			"Cannot turn TCP window scaling off while connections are restored; a restored "
			"connection to a peer without window scaling may crawl.");
}

void window_scaling_back(void)
{
	_cleanup_free_ char *old = NULL;

	if (read_one_line_file(WSCALE_SAVED, &old) < 0)
		return;
	if (write_string_file_in_place(WSCALE_SYSCTL, "%s\n", old) < 0)
		log_warning("Cannot set %s back to %s.", WSCALE_SYSCTL, old);
	(void)unlink(WSCALE_SAVED);
}
