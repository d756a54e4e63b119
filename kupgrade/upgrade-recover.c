/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bus.h"
#include "dropin.h"
#include "exit-status.h"
#include "fileio.h"
#include "kexec.h"
#include "log.h"
#include "netlock.h"
#include "paths.h"
#include "poll-util.h"
#include "progress.h"
#include "restore.h"
#include "test-hooks.h"
#include "transport.h"
#include "upgrade-internal.h"
#include "upgrade-lock.h"
#include "upgrade.h"
#include "winscale.h"

/*
 * "kupgrade upgrade-recover --id ID": the worker's unit runs it after the
 * worker, whatever way the worker ended (ExecStopPost=). A worker that ended
 * by itself either handed the kexec to systemd or undid what it did and
 * wrote its result: nothing to do. One that did neither was killed part-way
 * (SIGKILL, its stop timeout, the OOM killer): its undos never ran. This
 * does them from what the worker left on disk, every step idempotent and
 * none needing the worker's memory:
 *
 *   the kexec kernel unloaded, the staged images and the pending report
 *   removed; the trees that were away (the "away" manifest the dump phases
 *   keep current, checkpoint.c) restored in place by "kupgrade restore",
 *   which also removes the network lock and wipes the images; the lock
 *   removed anyway and window scaling put back; every quiesce drop-in left
 *   removed, and a service it held that is no longer running started
 *   again; the result written for the client.
 */

#define LOCK_WAIT_MS 10000

static unsigned recover_kexec(void)
{
	if (kexec_loaded() <= 0)
		return 0;
	log_info("Unloading the kexec kernel the worker loaded...");
	if (kexec_unload(KEXEC_METHOD_FILE) == 0 || kexec_unload(KEXEC_METHOD_LEGACY) == 0)
		return 0;
	return 1;
}

/* The trees away come back in place, through "kupgrade restore". */
static unsigned recover_trees(const struct kupgrade_options *o)
{
	struct kupgrade_options ro = *o;
	char path[256];
	int r;

	snprintf(path, sizeof(path), UPGRADE_IMAGES_DIR "/" MANIFEST_FILE);
	if (access(path, F_OK) < 0) {
		/* Nothing was dumped: an empty images root may be left. */
		(void)rmdir(UPGRADE_IMAGES_DIR);
		if (access(UPGRADE_IMAGES_DIR, F_OK) == 0) {
			log_error("%s is left with files but no manifest; inspect and remove it.",
				  UPGRADE_IMAGES_DIR);
			return 1;
		}
		return 0;
	}
	log_info("Restoring in place what the worker had dumped...");
	ro.from = UPGRADE_IMAGES_DIR;
	ro.json = false;
	r = restore_run(&ro);
	if (r != 0) {
		log_error("The restore in place did not bring everything back (exit %d); see above.",
			  r);
		return 1;
	}
	return 0;
}

/* The lock table, when no restore took it down (nothing was dumped yet),
 * and window scaling as it was. */
static unsigned recover_lock(void)
{
	const struct netlock_ops *l = netlock_get(NULL);
	int r = 0;

	window_scaling_back();
	if (l && l->exists() > 0) {
		log_info("Removing the network lock (%s %s)...", l->name, l->table_desc());
		r = l->unlock();
	}
	return r < 0 && r != -ENOENT ? 1 : 0;
}

/* Is the service running (or on its way)? */
static bool service_running(const char *unit)
{
	_cleanup_free_ char *state = NULL;

	if (bus_unit_property(unit, "org.freedesktop.systemd1.Unit", "ActiveState", &state) < 0)
		return true; /* cannot tell: leave it */
	return !streq(state, "inactive") && !streq(state, "failed");
}

/* The services the worker held still go back to their own configuration;
 * one whose processes are gone (its dump was cut short) starts fresh. */
static unsigned recover_quiesced(void)
{
	char **units = NULL;
	unsigned failures = 0;
	int r;

	r = dropin_list_quiesced(RUNTIME_UNIT_DIR, &units);
	if (r < 0) {
		log_error_errno(r, "Cannot list kupgrade's drop-ins in %s: %m", RUNTIME_UNIT_DIR);
		return 1;
	}
	if (!units)
		return 0;
	for (char **u = units; *u; u++)
		if (dropin_remove_quiesce(RUNTIME_UNIT_DIR, *u) < 0) {
			log_error("Cannot remove kupgrade's drop-in of %s in %s.", *u,
				  RUNTIME_UNIT_DIR);
			failures++;
		}
	if (bus_reload() < 0)
		failures++;
	for (char **u = units; *u && failures == 0; u++) {
		if (service_running(*u))
			continue;
		log_warning("%s is not running any more (its dump was cut short): starting it fresh.",
			    *u);
		if (bus_restart_unit(*u) < 0)
			failures++;
	}
	dropin_units_free(units);
	return failures;
}

/* Why the worker's undos never ran, as systemd tells ExecStopPost=. */
static void describe_end(char *buf, size_t size)
{
	const char *code = getenv("EXIT_CODE"), *status = getenv("EXIT_STATUS");

	if (code && status && streq(code, "killed"))
		snprintf(buf, size, "killed by SIG%s", status);
	else if (code && status)
		snprintf(buf, size, "ended (%s, %s) without a result", code, status);
	else
		snprintf(buf, size, "ended without a result");
}

int upgrade_recover(const struct kupgrade_options *o)
{
	_cleanup_free_ char *phase = NULL, *msg = NULL, *result = NULL;
	_cleanup_close_ int lock_fd = -EBADF;
	unsigned failures = 0;
	const char *code;
	char how[128];
	struct utsname un;
	int r;

	if (!o->id || !progress_id_valid(o->id))
		return log_error_errno(-EINVAL, "upgrade-recover runs after the upgrade worker.");
	/* A worker that exited by itself wrote its result (which its client
	 * may have read and removed since) or handed the kexec over; one past
	 * the point of no return is left alone whatever ended it. */
	code = getenv("EXIT_CODE");
	if ((code && streq(code, "exited")) || progress_file_exists(o->id, "result") ||
	    progress_file_exists(o->id, "handed-over"))
		return 0;
	/* The worker's test hooks are for the worker: this restore runs as is. */
	for (size_t i = 0; test_hook_names[i]; i++)
		(void)unsetenv(test_hook_names[i]);

	describe_end(how, sizeof(how));
	if (progress_read_file(o->id, "phase", &phase) >= 0)
		phase[strcspn(phase, "\n")] = 0;
	log_warning("The upgrade worker was %s in phase '%s': putting back what it did.", how,
		    phase ?: "(none)");
	/* The client follows this process now. */
	(void)progress_write_file(o->id, "pid", "%d\n", (int)getpid());
	progress_emit(o->id, "P The worker was %s in phase '%s'; putting everything back.\n", how,
		      phase ?: "(none)");
	/* The worker's lock died with it; a new switch waits for this. */
	for (unsigned waited = 0;; waited += 100) {
		free(msg);
		msg = NULL;
		r = upgrade_lock_acquire(SWITCH_LOCK_FILE, "recovery", o->id, &lock_fd, &msg);
		if (r != -EBUSY || waited >= LOCK_WAIT_MS)
			break;
		sleep_ms(100);
	}
	if (r < 0)
		log_warning("%s Recovering anyway.", msg ?: "Cannot take the switch lock.");

	(void)unlink(REPORT_PENDING);
	failures += recover_kexec();
	if (transport_recover() < 0)
		failures++;
	failures += recover_trees(o);
	failures += recover_lock();
	failures += recover_quiesced();

	uname(&un);
	if (failures) {
		r = EXIT_OSERR;
		if (asprintf(&result,
			     "The upgrade worker was %s in phase '%s', and %u recovery step%s failed: "
			     "the system is NOT as it was; see 'journalctl -u %s'.",
			     how, phase ?: "(none)", failures, failures == 1 ? "" : "s",
			     UPGRADE_WORKER_UNIT) < 0)
			result = NULL;
	} else {
		r = EXIT_SOFTWARE;
		if (asprintf(&result,
			     "The upgrade worker was %s in phase '%s': recovered, still on Linux %s, "
			     "every process runs as before.",
			     how, phase ?: "(none)", un.release) < 0)
			result = NULL;
	}
	upgrade_result(o->id, o->kernel, r, result);
	log_info("Recovery after the worker %s: %s.", how,
		 failures ? "some steps failed" : "everything put back");
	/* The worker's unit must not fail for this: the client reads the result. */
	return failures ? r : 0;
}
