/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The preflight as a function, for the upgrade: runs every probe of
 * "kupgrade check", prints them only when something is wrong, and returns
 * 0 (with the target's release and initrd), -ECANCELED when the switch
 * cannot succeed (the problems are printed), or another -errno.
 */
int check_preflight(const char *kernel, const char *initrd, char **ret_release, char **ret_initrd);
