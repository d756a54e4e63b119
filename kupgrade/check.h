/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

struct kupgrade_options;

/*
 * "kupgrade check": runs every probe for o->kernel (o->initrd,
 * o->images_on_disk and o->config as the upgrade would use them), prints
 * them on stderr and, with o->json, one JSON document on stdout. Returns 0
 * when the switch can succeed, EXIT_CANNOT_SWITCH when it cannot, or
 * -ENOMEM. o->kernel must be set.
 */
int check_print(const struct kupgrade_options *o);

/*
 * The preflight as a function, for the upgrade: runs every probe of
 * "kupgrade check", prints them only when something is wrong, and returns
 * 0 (with the target's release and initrd), -ECANCELED when the switch
 * cannot succeed (the problems are printed), or another -errno.
 */
int check_can_switch(const struct kupgrade_options *o, char **ret_release, char **ret_initrd);
