/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criu/criu.h>
#include <errno.h>
#include <string.h>

#include "criu-probe.h"
#include "macro.h"

static const char *find_criu(void)
{
	static const char *const paths[] = { "/usr/sbin/criu", "/sbin/criu", "/usr/local/sbin/criu" };

	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

int criu_probe(char **ret_error)
{
	const char *bin = find_criu();
	criu_opts *opts = NULL;
	int r;

	*ret_error = NULL;
	if (!bin) {
		*ret_error = strdup("the criu binary is not installed (install the criu package)");
		return -EOPNOTSUPP;
	}
	r = criu_local_init_opts(&opts);
	if (r < 0) {
		*ret_error = strdup("cannot set up libcriu");
		return r;
	}
	criu_local_set_service_binary(opts, bin);
	/* Runs "criu swrk"; its own messages, if any, go to our stderr. */
	r = criu_local_check(opts);
	criu_local_free_opts(opts);
	if (r == 0)
		return 0;
	if (r == -EBADE)
		r = asprintf(ret_error, "'criu check' fails on this kernel (see its messages above; "
					"run 'criu check' by hand for details)");
	else
		r = asprintf(ret_error, "cannot run %s swrk: %s", bin, strerror(r < 0 ? -r : EIO));
	if (r < 0)
		*ret_error = NULL;
	return -EOPNOTSUPP;
}
