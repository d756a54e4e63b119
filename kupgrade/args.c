/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arg_* globals and the errno-to-exit-code map: shared by main() and the verbs. */
#include <errno.h>

#include "paths.h"
#include "verbs.h"

bool arg_json;
bool arg_dry_run;
bool arg_yes;
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

