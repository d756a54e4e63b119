/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arg_* globals and the errno-to-exit-code map. */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "args.h"
#include "exit-status.h"
#include "paths.h"

bool arg_json;
bool arg_dry_run;
bool arg_yes;
bool arg_finish;
bool arg_wait_apt;
bool arg_reuse_cmdline;
bool arg_images_on_disk;
const char *arg_kernel;
const char *arg_initrd;
const char *arg_append;
const char *arg_to;
const char *arg_from;
const char *arg_config = CONFIG_FILE;
char **arg_units;
const char *arg_id;
static size_t n_arg_units;

struct kupgrade_options args_options(void)
{
	return (struct kupgrade_options){
		.kernel = arg_kernel,
		.initrd = arg_initrd,
		.append = arg_append,
		.reuse_cmdline = arg_reuse_cmdline,
		.images_on_disk = arg_images_on_disk,
		.config = arg_config,
		.units = arg_units,
		.to = arg_to,
		.from = arg_from,
		.id = arg_id,
		.json = arg_json,
		.dry_run = arg_dry_run,
		.yes = arg_yes,
		.finish = arg_finish,
		.wait_apt = arg_wait_apt,
	};
}

int args_add_unit(const char *name)
{
	if (!GREEDY_REALLOC(arg_units, n_arg_units + 2))
		return -ENOMEM;
	arg_units[n_arg_units++] = (char *)name;
	arg_units[n_arg_units] = NULL;
	return 0;
}

void args_free(void)
{
	free(arg_units);
	arg_units = NULL;
	n_arg_units = 0;
}

int exit_code_from_errno(int r)
{
	switch (-r) {
	case EINVAL:
		return EXIT_USAGE;
	case ENOENT:
		return EXIT_NOINPUT;
	case ENOEXEC:
	case EBADMSG:
		return EXIT_DATAERR;
	case EPERM:
	case EACCES:
		return EXIT_NOPERM;
	case EBUSY:
	case EAGAIN:
		return EXIT_TEMPFAIL;
	case EOPNOTSUPP:
		return EXIT_UNAVAILABLE;
	case EIO:
	case ENOSPC:
		return EXIT_IOERR;
	default:
		return EXIT_SOFTWARE;
	}
}
