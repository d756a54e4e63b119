/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arg_* globals and the errno-to-exit-code map. */
#include <errno.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include "alloc.h"
#include "args.h"
#include "exit-status.h"
#include "kernel-image.h"
#include "log.h"
#include "paths.h"

bool arg_json;
bool arg_dry_run;
bool arg_yes;
bool arg_finish;
bool arg_wait_apt;
bool arg_detach;
bool arg_wait;
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
		.detach = arg_detach,
		.wait = arg_wait,
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

/* Where Debian and Fedora install kernels: "--kernel newest" looks there. */
#define BOOT_DIR "/boot"

int args_resolve_kernel(const char *verb)
{
	static char *newest;
	struct utsname u;
	_cleanup_free_ char *rel = NULL;
	int r;

	if (!arg_kernel)
		return log_error_errno(
			-EINVAL,
			"%s needs --kernel FILE (or --kernel newest); see 'kupgrade help'.", verb);
	if (!streq(arg_kernel, "newest") || newest)
		return 0;
	if (uname(&u) < 0)
		return log_error_errno(negative_errno(), "uname() failed: %m");
	r = kernel_image_find_newest(BOOT_DIR, u.release, &newest, &rel);
	if (r < 0)
		return log_error_errno(r, "--kernel newest: cannot list %s: %m", BOOT_DIR);
	if (r == 0) {
		if (rel)
			log_info("Nothing to do: no kernel in %s is newer than the running one, %s "
				 "(the newest there is %s).",
				 BOOT_DIR, u.release, rel);
		else
			log_info("Nothing to do: there is no kernel in %s (vmlinuz-VERSION).",
				 BOOT_DIR);
		return EXIT_NOTHING_TO_DO;
	}
	log_info("The newest installed kernel is %s (running %s): %s.", rel, u.release, newest);
	arg_kernel = newest;
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
