/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "conn.h"
#include "fileio.h"
#include "log.h"
#include "poll-util.h"
#include "restore-lock.h"
#include "restore-tree.h"
#include "winscale.h"

/* A unit an earlier run brought back has live connections: locking them
 * again would stall them until this run unlocks. */
int restore_lock_connections(const Manifest *m, struct tcp_conn **ret, size_t *ret_n)
{
	for (size_t i = 0; i < m->n_units; i++)
		if (!restore_unit_done(m->units[i]) &&
		    unit_connections(m->units[i], ret, ret_n) < 0)
			return -ENOMEM;
	return 0;
}

int restore_lock_ensure(const struct restore_images *ri)
{
	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;
	int r;

	if (!ri->lock)
		return 0;
	r = ri->lock->exists();
	if (r > 0)
		return 0;
	r = restore_lock_connections(ri->m, &c, &n);
	if (r < 0)
		return log_oom();
	r = ri->lock->lock(c, n);
	if (r < 0)
		return r;
	log_info("Locked %zu connection%s again (%s %s).", n, n == 1 ? "" : "s", ri->lock->name,
		 ri->lock->table_desc());
	return 0;
}

void restore_lock_release_unit(const struct restore_images *ri, const ManifestUnit *u)
{
	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;

	if (ri->lock && unit_connections(u, &c, &n) == 0 && ri->lock->update(false, c, n) < 0)
		log_warning("%s: its connections stay locked until the end of the restore.",
			    u->name);
}

int restore_lock_remove(const struct restore_images *ri)
{
	int r;

	window_scaling_back();
	if (!ri->lock)
		return 0;
	r = ri->lock->unlock();
	return r == -ENOENT ? 0 : r;
}

/* Is addr configured here? bind() to it says so without sending anything. */
static bool address_present(uint32_t family, const char *addr)
{
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa = {};
	socklen_t len;
	_cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	if (family == AF_INET) {
		sa.in.sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &sa.in.sin_addr) != 1)
			return false;
		len = sizeof(sa.in);
	} else {
		sa.in6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			return false;
		len = sizeof(sa.in6);
	}
	return bind(fd, (struct sockaddr *)&sa, len) == 0;
}

#define ADDRESS_WAIT_SEC 60ULL

/* Where the wait is: the addresses before (unit, conn) are present. */
struct address_wait {
	const Manifest *m;
	size_t unit, conn;
};

static int addresses_present(void *userdata)
{
	struct address_wait *w = userdata;

	for (; w->unit < w->m->n_units; w->unit++, w->conn = 0)
		for (; w->conn < w->m->units[w->unit]->n_connections; w->conn++) {
			const Kupgrade__Connection *c = w->m->units[w->unit]->connections[w->conn];

			if (!address_present(c->family, c->src))
				return 0;
		}
	return 1;
}

void restore_wait_addresses(const Manifest *m)
{
	struct address_wait w = { .m = m };
	const ManifestUnit *u;

	/* One deadline for all of them. */
	if (poll_until(addresses_present, &w, ADDRESS_WAIT_SEC * 1000, 50) != -ETIMEDOUT)
		return;
	u = m->units[w.unit];
	log_warning("Address %s of %s is still missing after %llu s; restoring anyway.",
		    u->connections[w.conn]->src, u->name, ADDRESS_WAIT_SEC);
}

long restore_last_pid_target(const char *max_pid_text, long current)
{
	char *end;
	long max;

	errno = 0;
	max = strtol(max_pid_text, &end, 10);
	if (errno || end == max_pid_text || (*end && *end != '\n') || max <= 0)
		return -EINVAL;
	return max > current ? max : 0;
}

#define NS_LAST_PID "/proc/sys/kernel/ns_last_pid"

/*
 * Images that came in the initrd had the initramfs script (carry-images)
 * raise ns_last_pid before init ran; images on disk had nothing. This unit
 * is the first of kupgrade's on the boot: from here on the boot's new PIDs
 * go above the checkpointed ones (a tree whose PID was taken before goes
 * into a new PID namespace).
 */
static void raise_last_pid(const char *dir)
{
	char path[4096], text[32], cur[32];
	long target;

	snprintf(path, sizeof(path), "%s/" MAX_PID_FILE, dir);
	if (read_small_file(path, text, sizeof(text)) < 0 ||
	    read_small_file(NS_LAST_PID, cur, sizeof(cur)) < 0)
		return;
	target = restore_last_pid_target(text, strtol(cur, NULL, 10));
	if (target < 0)
		log_warning("%s does not hold a PID, ignoring.", path);
	else if (target > 0 && write_string_file_in_place(NS_LAST_PID, "%ld\n", target) < 0)
		log_warning("Cannot raise ns_last_pid to %ld, ignoring.", target);
	else if (target > 0)
		log_info("New PIDs start above %ld, clear of the checkpointed ones.", target);
}

int restore_lock_run(const char *from)
{
	struct restore_images ri;
	int r;

	r = restore_images_open(from, &ri);
	if (r < 0)
		return r;
	if (!from && restore_images_stale(ri.m, NULL)) {
		log_notice("The images in %s are not for this boot (no kexec of their switch started "
			   "it): nothing to lock.",
			   ri.dir.path);
		restore_images_close(&ri);
		return 0;
	}
	raise_last_pid(ri.dir.path);
	r = restore_lock_ensure(&ri);
	if (r == 0 && restore_images_after_switch(ri.m))
		window_scaling_off(ri.m);
	restore_images_close(&ri);
	return r;
}
