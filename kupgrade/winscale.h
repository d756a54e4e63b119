/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manifest.h"

/*
 * TCP window scaling off while checkpointed connections are restored (see
 * winscale.c for why), and back to what it was. Off from the lock (before
 * the dumps, and again early in the boot after a switch) until the unlock or
 * the rollback. No-ops without connections or when already so; the value it
 * had is kept in a file, so that the boot after a switch can put it back.
 */
void window_scaling_off(const Manifest *m);
void window_scaling_back(void);
