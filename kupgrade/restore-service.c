/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "dropin.h"
#include "fileio.h"
#include "log.h"
#include "paths.h"
#include "poll-util.h"
#include "restore-images.h"
#include "restore-lock.h"
#include "restore-service.h"
#include "restore-tree.h"

#define SERVICE_WAIT_USEC (300ULL * 1000000)
#define RESTORE_DROPIN "50-kupgrade-restore.conf"

bool manifest_unit_restores_through_unit(const ManifestUnit *u)
{
	return u->type == MANIFEST_UNIT_SERVICE && !manifest_unit_planned_restart(u);
}

/* What restore-unit leaves in RESTORE_SERVICE_DIR: <unit>.pid for systemd
 * (the drop-in's PIDFile=), <unit>.result for "kupgrade restore". */
static void service_file(char *buf, size_t size, const char *unit, const char *what)
{
	snprintf(buf, size, "%s/%s.%s", RESTORE_SERVICE_DIR, unit, what);
}

/*
 * Every value goes in escaped: systemd would unescape "\x2d" in a unit
 * name, expand % and $, and split a path at its spaces. "--" before the
 * unit: a unit name may begin with "-". The unit is in the PID file's path
 * too: a control character in it (which would end the comment's line) is
 * refused there.
 *
 * "+": CRIU runs as root and outside the unit's per-process sandboxing.
 * Under User= it could not read the root-only images; under the seccomp
 * filters of RestrictNamespaces= and the like (Debian 13's lighttpd.service)
 * clone3() fails with ENOSYS and no PID namespace can be made. The restored
 * processes get their own credentials, capabilities and seccomp filters
 * back from their images; the unit's cgroup settings still apply.
 */
int restore_service_write_dropin(const char *dir, const char *unit, const char *images)
{
	_cleanup_free_ char *pid_value = NULL, *from_word = NULL, *unit_word = NULL;
	char text[16384], pid_file[4096];
	int k;

	service_file(pid_file, sizeof(pid_file), unit, "pid");
	pid_value = dropin_setting_value(pid_file);
	if (!pid_value)
		return negative_errno();
	from_word = dropin_exec_word(images);
	unit_word = dropin_exec_word(unit);
	if (!from_word || !unit_word)
		return -ENOMEM;
	k = snprintf(text, sizeof(text),
		     "# Written by kupgrade: this start restores %s from its checkpoint.\n"
		     "[Unit]\n"
		     "Wants=kupgrade-netlock.service\n"
		     "After=kupgrade-netlock.service systemd-journald.socket network.target\n"
		     "\n"
		     "[Service]\n"
		     "Type=forking\n"
		     "PIDFile=%s\n"
		     "GuessMainPID=no\n"
		     "ExecCondition=\n"
		     "ExecStartPre=\n"
		     "ExecStart=\n"
		     "ExecStart=+/usr/sbin/kupgrade restore-unit --from %s -- %s\n"
		     "ExecStartPost=\n"
		     "TimeoutStartSec=300\n",
		     unit, pid_value, from_word, unit_word);
	if (k < 0 || (size_t)k >= sizeof(text))
		return -ENAMETOOLONG;
	return dropin_write(dir, unit, RESTORE_DROPIN, text);
}

int restore_service_remove_dropin(const char *dir, const char *unit)
{
	return dropin_remove(dir, unit, RESTORE_DROPIN);
}

/*
 * The result file, "OUTCOME USEC REASON\n": written by restore-unit when its
 * restore is done (r: its result), read by whoever started the service.
 */
static void write_service_result(const ManifestUnit *u, int r)
{
	char path[4096];

	service_file(path, sizeof(path), u->name, "result");
	(void)write_string_file(path, "%d %llu %s\n",
				r < 0 ? KUPGRADE__UNIT_OUTCOME__FAILED : u->outcome,
				(unsigned long long)(u->n_timings
							     ? u->timings[u->n_timings - 1]->usec
							     : 0),
				u->outcome_reason
					?: (r < 0 ? "CRIU restore failed, see " CRIU_LOG_DIR : ""));
}

/* Into u: outcome, restore time, reason; the file goes. -ENOENT while
 * restore-unit has not written it yet. */
static int read_service_result(ManifestUnit *u)
{
	_cleanup_free_ char *text = NULL;
	char path[4096], *reason = NULL;
	unsigned long long usec;
	long outcome;

	service_file(path, sizeof(path), u->name, "result");
	if (read_full_file_str(path, &text) < 0)
		return -ENOENT;
	outcome = strtol(text, &reason, 10);
	usec = strtoull(reason, &reason, 10);
	reason += strspn(reason, " ");
	reason[strcspn(reason, "\n")] = 0;
	u->has_outcome = true;
	u->outcome = (Kupgrade__UnitOutcome)outcome;
	(void)manifest_unit_add_timing(u, "restore", usec);
	if (*reason)
		(void)manifest_set_string(&u->outcome_reason, reason);
	(void)unlink(path);
	return 0;
}

/* The old main PID when it came back as itself; else the root (or its PID
 * namespace's init) that holds it. */
static pid_t restored_main_pid(const ManifestUnit *u)
{
	pid_t main_pid = u->n_restored_pids ? (pid_t)u->restored_pids[0] : (pid_t)u->root_pids[0];

	for (size_t i = 0; i < u->n_root_pids && i < u->n_restored_pids; i++)
		if (u->main_pid == u->root_pids[i])
			main_pid = (pid_t)u->restored_pids[i];
	if (u->outcome == KUPGRADE__UNIT_OUTCOME__RESTORED && u->main_pid > 0 &&
	    kill((pid_t)u->main_pid, 0) == 0)
		main_pid = (pid_t)u->main_pid;
	return main_pid;
}

static int write_pid_files(const ManifestUnit *u)
{
	pid_t main_pid = restored_main_pid(u);
	char path[4096];
	int r;

	service_file(path, sizeof(path), u->name, "pid");
	r = write_string_file(path, "%d\n", (int)main_pid);
	if (r < 0)
		return log_error_errno(r, "Cannot write %s: %m", path);
	/* The service's own PID file was in the old boot's /run. Its directory
	 * may belong to the service's user: written as root, it must follow no
	 * symlink and replace nothing. */
	if (!isempty(u->pid_file)) {
		r = write_string_file_exclusive(u->pid_file, 0644, "%d\n", (int)main_pid);
		if (r < 0 && r != -EEXIST)
			log_warning("%s: cannot write its PID file %s, ignoring.", u->name,
				    u->pid_file);
	}
	return 0;
}

/*
 * The drop-in's ExecStart= (Type=forking, PIDFile=). CRIU is our child, so
 * the restored tree is born in the service's own cgroup, and systemd takes
 * its main process from the PID file: the service stays a systemd service.
 */
int restore_unit_run(const char *from, const char *unit)
{
	struct restore_images ri;
	ManifestUnit *u = NULL;
	int r;

	r = restore_images_open(from, &ri);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ri.m->n_units; i++)
		if (streq(ri.m->units[i]->name, unit))
			u = ri.m->units[i];
	if (!u) {
		r = log_error_errno(-ENOENT, "%s is not in the manifest of %s.", unit, ri.dir.path);
		goto out;
	}
	/* A start after the restore recorded it (systemd's restart while the
	 * drop-in stays): its checkpoint is not restored twice. */
	if (restore_unit_done(u)) {
		r = log_error_errno(-EALREADY,
				    "%s is back already (%s by an earlier restore); its checkpoint "
				    "is not restored again.",
				    unit, manifest_outcome_to_string(u->outcome));
		goto out;
	}
	if (mkdir(RESTORE_SERVICE_DIR, 0700) < 0 && errno != EEXIST) {
		r = log_error_errno(negative_errno(), "Cannot create %s: %m", RESTORE_SERVICE_DIR);
		goto out;
	}
	r = restore_unit_trees(&ri.dir, ri.m, u);
	if (r >= 0) {
		restore_lock_release_unit(&ri, u);
		r = write_pid_files(u);
	}
	write_service_result(u, r);
out:
	restore_images_close(&ri);
	return r;
}

/* A service whose restore's report is still to come: none recorded yet
 * (an earlier run of the restore may have recorded it). */
static bool awaits_report(const ManifestUnit *u)
{
	return manifest_unit_restores_through_unit(u) && !u->has_outcome;
}

/* Where the wait is: every service before units[i] has reported. */
struct service_wait {
	Manifest *m;
	size_t i;
};

static int services_reported(void *userdata)
{
	struct service_wait *w = userdata;

	for (; w->i < w->m->n_units; w->i++) {
		ManifestUnit *u = w->m->units[w->i];

		if (awaits_report(u) && read_service_result(u) < 0)
			return 0;
	}
	return 1;
}

unsigned restore_services_collect(Manifest *m)
{
	struct service_wait w = { .m = m };
	unsigned failed = 0;

	/* One deadline for all of them: systemd starts them in parallel. */
	(void)poll_until(services_reported, &w, SERVICE_WAIT_USEC / 1000, 100);
	for (size_t i = 0; i < m->n_units; i++) {
		ManifestUnit *u = m->units[i];

		if (!manifest_unit_restores_through_unit(u))
			continue;
		/* Past the deadline, the ones not waited for get one look. */
		if (i > w.i && awaits_report(u))
			(void)read_service_result(u);
		if (!u->has_outcome) {
			u->has_outcome = true;
			u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
			(void)manifest_set_string(&u->outcome_reason,
						  "its restore never reported back");
		}
		if (u->outcome == KUPGRADE__UNIT_OUTCOME__FAILED)
			failed++;
	}
	return failed;
}

void restore_services_start_fresh(Manifest *m)
{
	for (size_t i = 0; i < m->n_units; i++) {
		ManifestUnit *u = m->units[i];
		_cleanup_free_ char *why = NULL;

		if (!manifest_unit_restores_through_unit(u) ||
		    u->outcome != KUPGRADE__UNIT_OUTCOME__FAILED)
			continue;
		if (bus_restart_unit(u->name) < 0)
			continue;
		if (asprintf(&why, "restore failed (%s): started fresh",
			     u->outcome_reason ?: "see the journal") < 0)
			continue;
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		(void)manifest_set_string(&u->outcome_reason, why);
		log_warning("%s: %s.", u->name, why);
	}
}

/*
 * A unit started again while its processes were away (a connection to a
 * socket-activated service's socket, an operator's start): that instance
 * gives way to the checkpoint, which holds the service's clients and state.
 * Called with the restore drop-in in place, so that a start triggered
 * meanwhile (the socket again) is the restore itself.
 */
static int stop_window_instance(const char *name)
{
	_cleanup_free_ char *state = NULL;

	if (bus_unit_property(name, "org.freedesktop.systemd1.Unit", "ActiveState", &state) < 0 ||
	    streq(state, "inactive") || streq(state, "failed"))
		return 0;
	log_warning("%s was started again while it was checkpointed (%s); stopping that instance to restore "
		    "the checkpoint.",
		    name, state);
	return bus_stop_unit_wait(name, SERVICE_WAIT_USEC);
}

/*
 * On the boot that dumped it (a rollback, "kupgrade restore"), a service
 * comes back the way it does after a switch: its own start runs "kupgrade
 * restore-unit" (a runtime drop-in), so the tree is born in its cgroup and
 * systemd tracks its main process again. Then its own configuration is
 * back: both of kupgrade's drop-ins go. If it cannot be restored it is
 * started fresh, and says so.
 */
int restore_service_through_unit(const char *images, ManifestUnit *u)
{
	const char *name = u->name;
	char path[4096];
	int r;

	service_file(path, sizeof(path), name, "result");
	(void)unlink(path);
	r = restore_service_write_dropin(RUNTIME_UNIT_DIR, name, images);
	if (r < 0)
		return log_error_errno(r, "Cannot write the restore drop-in of %s: %m", name);
	log_info("Restoring %s through its unit...", name);
	r = bus_reload();
	if (r >= 0)
		r = stop_window_instance(name);
	if (r >= 0)
		r = bus_start_unit(name, "replace");
	if (r >= 0)
		r = bus_wait_active(name, SERVICE_WAIT_USEC);
	if (read_service_result(u) < 0 || u->outcome == KUPGRADE__UNIT_OUTCOME__FAILED)
		r = r < 0 ? r : -EIO;
	if (restore_service_remove_dropin(RUNTIME_UNIT_DIR, name) < 0 ||
	    dropin_remove_quiesce(RUNTIME_UNIT_DIR, name) < 0 || bus_reload() < 0)
		log_warning("%s: kupgrade's drop-ins could not be removed; remove %s/%s.d/50-kupgrade-*.conf, "
			    "then 'systemctl daemon-reload'.",
			    name, RUNTIME_UNIT_DIR, name);
	if (r >= 0)
		return 0;
	log_error_errno(r, "%s could not be restored through its unit; see 'journalctl -u %s'.",
			name, name);
	u->has_outcome = true;
	u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
	if (bus_restart_unit(name) >= 0) {
		log_warning("%s: started fresh instead; its processes' state is lost.", name);
		u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		(void)manifest_set_string(&u->outcome_reason, "its restore failed: started fresh");
	}
	return r;
}
