/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * kupgrade-generator (a link to kupgrade in /lib/systemd/system-generators):
 * on the boot after a switch, pulls in the lock and restore units and gives
 * every checkpointed service the drop-in whose start restores it. normal_dir:
 * the generator's first argument, where normal-priority units go. Never
 * fails: a problem is logged, and whatever cannot be restored starts fresh.
 */
int generator_run(const char *normal_dir);
