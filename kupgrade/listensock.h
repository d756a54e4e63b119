/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The listening sockets a socket-activated service shares with systemd.
 * Such a socket is named by what it listens on, "tcp 0.0.0.0:7100",
 * "tcp6 [::]:7100", "unix /run/foo.sock" or "unix @abstract": the new boot's socket unit listens on the same address
 * with a socket of its own, which the restore hands to CRIU in place of the
 * old one (criu-image.h).
 */

/* The name of a listening TCP or named unix stream socket; -EOPNOTSUPP for
 * any other socket. */
int listen_sock_name(int fd, char *buf, size_t size);

/* A copy of fd number fd of process pid (pidfd_getfd); with inheritable,
 * without O_CLOEXEC, for "criu swrk", our child. */
int proc_dup_fd(pid_t pid, int fd, bool inheritable, int *ret_fd);

/* systemd's (PID 1's) listening socket of that name, inheritable; -ENOENT
 * when PID 1 listens on no such address. */
int listen_sock_find_in_init(const char *name, int *ret_fd);
