/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "options.h"

/*
 * Command-line state: options land in arg_* globals (cli/args.c), visible
 * only to kupgrade/cli/. A verb turns them into a struct kupgrade_options
 * (args_options()) for the domain layer.
 */
extern bool arg_json;
extern bool arg_dry_run;
extern bool arg_yes;
extern bool arg_finish;
extern bool arg_wait_apt;
extern bool arg_detach;
extern bool arg_wait;
extern bool arg_reuse_cmdline;
extern bool arg_images_on_disk;
extern const char *arg_kernel;
extern const char *arg_initrd;
extern const char *arg_append;
extern const char *arg_to;
extern const char *arg_from;
extern const char *arg_config;
extern char **arg_units;   /* NULL-terminated, from repeated --unit */
extern const char *arg_id; /* upgrade id: client and worker share it */

/* The arg_* globals as the domain layer takes them. */
struct kupgrade_options args_options(void);
int args_add_unit(const char *name);
/* --kernel, which VERB needs: given (-EINVAL and a message if not), and
 * "newest" made the path of the newest installed kernel. Returns 0, or
 * EXIT_NOTHING_TO_DO (with a message) when none is newer than the running one. */
int args_resolve_kernel(const char *verb);
/* What --json says for EXIT_NOTHING_TO_DO. */
#define NOTHING_TO_DO_MESSAGE "no installed kernel is newer than the running one"
void args_free(void);

/* A negative errno as a documented exit code (exit-status.h). */
int exit_code_from_errno(int r);
