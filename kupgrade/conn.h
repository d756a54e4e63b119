/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "manifest.h"
#include "tcp.h"

/*
 * The checkpointed connections of a unit, from the manifest, as the network
 * lock takes them: the checkpoint locks and unlocks them, the restore
 * locks them again after a kexec and lets them flow once the unit is back.
 */

/* The locked connections of u, appended to *c (grown with GREEDY_REALLOC). */
int unit_connections(const ManifestUnit *u, struct tcp_conn **c, size_t *n);
