/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The preflight's probes of this machine: root, CRIU, and kupgrade's own
 * units that restore the processes on the new boot. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "check-probe.h"
#include "criu.h"
#include "paths.h"

int probe_privileges(struct check *c, struct probe_result *r)
{
	if (geteuid() != 0)
		return probe_set(r, PROBE_FAIL, "run kupgrade as root",
				 "not running as root: loading a kernel and checkpointing "
				 "need CAP_SYS_BOOT and CAP_SYS_ADMIN");
	return probe_set(r, PROBE_OK, NULL, "running as root");
}

int probe_criu(struct check *c, struct probe_result *r)
{
	/* "criu check" as a command: libcriu's CHECK request crashes criu
	 * 3.17.1's swrk in the guest. criu.c logs why it failed. */
	int k = criu_check_kernel();
	char v[32];

	if (k == -EPROTONOSUPPORT)
		return probe_set(r, PROBE_FAIL,
				 "load the nf_tables module (modprobe nf_tables), or use a criu built "
				 "with nftables",
				 "CRIU cannot lock connections with nftables here (see " CRIU_LOG_DIR
				 "/check.log)");
	if (k == -EOPNOTSUPP)
		return probe_set(r, PROBE_FAIL,
				 "install criu 3.17 or later and a kernel it supports",
				 "'criu check' fails here (see " CRIU_LOG_DIR "/check.log)");
	if (k < 0)
		return probe_set(r, PROBE_FAIL, "run 'criu check' by hand to see why",
				 "cannot run 'criu check': %s", strerror(-k));
	if (criu_version_string(v, sizeof(v)) < 0)
		return probe_set(r, PROBE_OK, NULL, "criu check passes, nftables lock");
	return probe_set(r, PROBE_OK, NULL, "criu check passes (CRIU %s), nftables lock", v);
}

int probe_restore_units(struct check *c, struct probe_result *r)
{
	static const char *const units[] = { "kupgrade-netlock.service",
					     "kupgrade-restore.service" };
	static const char *const dirs[] = { "/etc/systemd/system", "/lib/systemd/system",
					    "/usr/lib/systemd/system" };
	const char *generator = GENERATOR_PATH;

	for (size_t u = 0; u < ELEMENTSOF(units); u++) {
		bool installed = false;

		for (size_t i = 0; i < ELEMENTSOF(dirs) && !installed; i++) {
			char p[256];

			snprintf(p, sizeof(p), "%s/%s", dirs[i], units[u]);
			installed = access(p, F_OK) == 0;
		}
		if (!installed)
			return probe_set(r, PROBE_FAIL,
					 "install kupgrade completely (make install)",
					 "%s is not installed: nothing would restore the processes "
					 "after the switch",
					 units[u]);
	}
	/* The generator pulls the units in on the boot after a switch: they
	 * need not be enabled, but it must be there and runnable. */
	if (access(generator, X_OK) < 0)
		return probe_set(r, PROBE_FAIL, "install kupgrade completely (make install)",
				 "%s is missing: the new boot would not restore anything",
				 generator);
	return probe_set(r, PROBE_OK, NULL, "restore units and %s installed", generator);
}
