/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sockets that tie a unit to something outside it: a unix socket whose peer
 * another unit (or nobody here) holds, and a socket shared with PID 1 for
 * socket activation. Uses the sockets plan-scan.c remembered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockers.h"
#include "listensock.h"
#include "log.h"
#include "plan-build.h"
#include "plan-unit.h"
#include "proc.h"
#include "sort.h"
#include "unixsock.h"

static int sock_ref_compare(const void *a, const void *b)
{
	return CMP(((const struct sock_ref *)a)->ino, ((const struct sock_ref *)b)->ino);
}

/* First holder of a socket inode, or NULL; holders are adjacent after sorting. */
static const struct sock_ref *sock_holders(const struct build *b, uint64_t ino, size_t *ret_n)
{
	struct sock_ref key = { .ino = ino };
	const struct sock_ref *s = b->n_socks ? bsearch(&key, b->socks, b->n_socks, sizeof(key),
							sock_ref_compare)
					      : NULL;
	const struct sock_ref *end;

	if (!s)
		return NULL;
	while (s > b->socks && s[-1].ino == ino)
		s--;
	for (end = s; end < b->socks + b->n_socks && end->ino == ino; end++)
		;
	*ret_n = (size_t)(end - s);
	return s;
}

static const char *comm_of(const struct plan_unit *u, pid_t pid)
{
	const char *comm = "?";

	for (size_t i = 0; i < u->n_procs; i++)
		if (u->procs[i].pid == pid)
			comm = u->procs[i].comm;
	return comm;
}

static int check_unix_peer(struct build *b, const struct unix_sock_table *t,
			   const struct sock_ref *s)
{
	struct plan_unit *units = b->plan->units, *u = &units[s->unit];
	const struct unix_sock *us = unix_sock_find(t, s->ino), *peer;
	const struct sock_ref *holders;
	struct unix_peer_facts f = {};
	char reason[512];
	size_t n = 0;

	if (!us || us->peer == 0)
		return 0; /* not connected, or not in our network namespace */
	peer = unix_sock_find(t, us->peer);
	f.type = us->type;
	f.peer_name = peer ? peer->name : NULL;
	holders = sock_holders(b, us->peer, &n);
	for (size_t i = 0; i < n; i++)
		if (holders[i].unit == s->unit)
			f.peer_same_unit = true;
	if (n > 0) {
		f.peer_unit = units[holders[0].unit].name;
		f.peer_decision = units[holders[0].unit].decision;
	}
	switch (fd_check_unix_peer(&f, reason, sizeof(reason))) {
	case FD_BLOCKER:
		return plan_unit_add_blocker(u, reason, s->pid, comm_of(u, s->pid), s->fd);
	case FD_EXTERNAL:
		return plan_unit_add_external(u, &(struct plan_external){
							 .kind = EXTERNAL_JOURNAL_STREAM,
							 .pid = s->pid,
							 .fd = s->fd,
							 .inode = s->ino,
							 .what = reason });
	default:
		return 0;
	}
}

int plan_check_unix_peers(struct build *b)
{
	struct unix_sock_table t;
	int r;

	r = unix_sock_table_load(&t);
	if (r < 0) {
		log_warning_errno(r, "Cannot list unix sockets via sock_diag (%m); "
				     "connections between units are not checked, ignoring.");
		return 0;
	}
	qsort(b->socks, b->n_socks, sizeof(*b->socks), sock_ref_compare);
	for (size_t i = 0; i < b->n_socks; i++) {
		if (b->plan->units[b->socks[i].unit].decision != DECISION_CHECKPOINT)
			continue;
		r = check_unix_peer(b, &t, &b->socks[i]);
		if (r < 0)
			break;
	}
	unix_sock_table_done(&t);
	return r < 0 ? log_oom() : 0;
}

static bool held_by_init(const struct build *b, uint64_t ino)
{
	const struct sock_ref *holders;
	size_t n = 0;

	holders = sock_holders(b, ino, &n);
	for (size_t j = 0; j < n; j++)
		if (b->plan->units[holders[j].unit].kind == OWNER_INIT)
			return true;
	return false;
}

/* A listening TCP or unix stream socket of a service: its name, to find the
 * socket systemd holds on the same address at restore. */
static int listening_socket_name(const struct plan_unit *u, const struct sock_ref *s, char *name,
				 size_t size)
{
	int fd, r = -EOPNOTSUPP;

	if (u->kind == OWNER_SERVICE && proc_dup_fd(s->pid, s->fd, false, &fd) == 0) {
		r = listen_sock_name(fd, name, size);
		close(fd);
	}
	return r;
}

/*
 * A socket-activated service shares its listening sockets with PID 1. CRIU
 * would create them anew at restore, where the new boot's socket unit
 * already listens. A listening TCP or unix stream socket of a service is
 * declared external instead: the restore hands CRIU the one systemd then
 * holds on the same address (listensock.h). Any other socket shared with
 * systemd blocks the dump. b->socks is sorted (plan_check_unix_peers).
 */
int plan_check_socket_activation(struct build *b)
{
	for (size_t i = 0; i < b->n_socks; i++) {
		const struct sock_ref *s = &b->socks[i];
		struct plan_unit *u = &b->plan->units[s->unit];
		char name[128], what[256];

		if (u->decision != DECISION_CHECKPOINT || !held_by_init(b, s->ino))
			continue;
		if (listening_socket_name(u, s, name, sizeof(name)) == 0) {
			snprintf(what, sizeof(what), "%s %s, handed back at restore",
				 LISTEN_SOCKET_WHAT, name);
			if (plan_unit_add_external(u, &(struct plan_external){
							      .kind = EXTERNAL_SYSTEMD_SOCKET,
							      .pid = s->pid,
							      .fd = s->fd,
							      .inode = s->ino,
							      .what = what,
							      .listen = name }) < 0)
				return log_oom();
			continue;
		}
		if (plan_unit_add_blocker(
			    u,
			    "shares a socket with systemd (socket activation) that is not a listening TCP "
			    "or unix stream socket, which the new boot's socket unit holds instead",
			    s->pid, comm_of(u, s->pid), s->fd) < 0)
			return log_oom();
	}
	return 0;
}
