/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/*
 * Run fn as PID 1 of a new PID namespace (with its own /proc, in a mount
 * namespace that follows the host's mounts), for a tree whose PIDs are taken
 * in this boot: restored inside, its processes keep their PIDs there. The
 * namespace's init stays behind to reap them, and the namespace lives as
 * long as it does. Returns fn's result; *ret_init is the init's PID here.
 */
int pidns_run(int (*fn)(void *userdata), void *userdata, pid_t *ret_init);
