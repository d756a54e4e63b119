/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bus.h"
#include "criu.h"
#include "exit-status.h"
#include "fileio.h"
#include "inspect.h"
#include "log.h"
#include "phase.h"
#include "report.h"
#include "restore-images.h"
#include "restore-lock.h"
#include "restore-service.h"
#include "restore-tree.h"
#include "restore.h"
#include "test-hooks.h"
#include "timeutil.h"

/*
 * The orchestrator of "kupgrade restore": a flat list of phases. After a
 * switch systemd restores the services (each through its own unit) while
 * this restores the rest; on the boot that dumped them it restores the
 * services too, through their units.
 *
 * "kupgrade restore --finish" (kupgrade-restore.service's ExecStopPost=)
 * ends a restore that stopped part-way (a phase failed, the process was
 * killed or stopped, the lock unit failed): what is not back is given up
 * and reported, the connections unlocked, the images wiped, the services
 * that did not come back started fresh, the report written. After a
 * restore that ended by itself there are no images left: nothing to do.
 * Images that are not for this boot (restore_images_stale()) are given up
 * the same way, without touching the services, which this boot started.
 */

struct restore {
	struct restore_images img;
	bool after_switch;
	bool finish;
	bool stale;		  /* restore_images_stale(): given up whole, as by --finish */
	const char *stale_reason; /* why, for the report; NULL: STALE_REASON */
	bool save_failed;	  /* said once */
	unsigned failed;	  /* units that did not come back */
};

enum restore_action restore_unit_action(const ManifestUnit *u, bool after_switch)
{
	if (manifest_unit_planned_restart(u))
		return RESTORE_ACTION_NONE;
	if (restore_unit_done(u))
		return RESTORE_ACTION_DONE;
	if (manifest_unit_restores_through_unit(u))
		return after_switch ? RESTORE_ACTION_BY_SYSTEMD : RESTORE_ACTION_THROUGH_UNIT;
	return RESTORE_ACTION_TREES;
}

/*
 * The outcomes so far into the images' manifest: a run that stops part-way
 * (a phase fails, the process is killed) leaves the images, and the next
 * run must not restore again what is back already. Only this process writes
 * it (restore-unit reports through its result file); never after the wipe.
 */
static void save_outcomes(struct restore *rs)
{
	int r;

	if (rs->img.dir.fd < 0) /* no images: report_aborted() */
		return;
	r = manifest_write_at(rs->img.dir.fd, rs->img.m);
	if (r >= 0 || rs->save_failed)
		return;
	rs->save_failed = true;
	log_warning_errno(r,
			  "Cannot record the restore's outcomes in %s/" MANIFEST_FILE
			  ", ignoring: if this restore stops part-way, a second one would restore "
			  "again what is back: %m",
			  rs->img.dir.path);
}

static int phase_lock(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	return restore_lock_ensure(&rs->img);
}

static int phase_wait_addresses(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	restore_wait_addresses(rs->img.m);
	return 0;
}

static int phase_restore_unit(void *ctx, void *arg)
{
	struct restore *rs = ctx;
	ManifestUnit *u = arg;

	/* A service dumped on this boot goes back into its unit. */
	if (restore_unit_action(u, rs->after_switch) == RESTORE_ACTION_THROUGH_UNIT) {
		if (restore_service_through_unit(rs->img.dir.path, u) < 0)
			rs->failed++;
		save_outcomes(rs);
		return 0;
	}
	/* A unit that fails is reported; the others are still restored. */
	if (restore_unit_trees(&rs->img.dir, rs->img.m, u) < 0) {
		if (!u->outcome_reason)
			manifest_set_string(&u->outcome_reason,
					    "CRIU restore failed, see " CRIU_LOG_DIR);
		rs->failed++;
		save_outcomes(rs);
		return 0;
	}
	/* Its connections flow again now, not when the last unit is back. */
	restore_lock_release_unit(&rs->img, u);
	save_outcomes(rs);
	return 0;
}

/* Collect what each service's restore wrote. */
static int phase_wait_services(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	rs->failed += restore_services_collect(rs->img.m);
	save_outcomes(rs);
	return 0;
}

#define STALE_REASON                                                                       \
	"not restored: the switch did not reach its restore (the new kernel was reset or " \
	"panicked, then the machine booted again)"

/* --finish: what no restore brought back is failed, and said why. */
static int phase_give_up(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	for (size_t i = 0; i < rs->img.m->n_units; i++) {
		ManifestUnit *u = rs->img.m->units[i];
		enum restore_action a = restore_unit_action(u, rs->after_switch);

		if (rs->stale && a == RESTORE_ACTION_BY_SYSTEMD) {
			/* This boot started it as it would any other. */
			u->has_outcome = true;
			u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
			(void)manifest_set_string(&u->outcome_reason,
						  rs->stale_reason ?: STALE_REASON);
			log_warning("%s: %s.", u->name, u->outcome_reason);
			continue;
		}
		if (a != RESTORE_ACTION_TREES && a != RESTORE_ACTION_THROUGH_UNIT)
			continue;
		u->has_outcome = true;
		u->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
		(void)manifest_set_string(&u->outcome_reason,
					  rs->stale ? rs->stale_reason ?: STALE_REASON
						    : "the restore stopped before it (see "
						      "'journalctl -u kupgrade-restore')");
		log_error("%s: not restored: %s.", u->name, u->outcome_reason);
		rs->failed++;
	}
	save_outcomes(rs);
	return 0;
}

static int phase_unlock(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	return restore_lock_remove(&rs->img);
}

static int phase_wipe(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	return imagedir_wipe(&rs->img.dir, true);
}

/* With the images gone the generator writes no drop-in any more: a reload
 * gives every restored service back its own ExecStart= and Type=, for the
 * next "systemctl restart". */
static int phase_daemon_reload(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	for (size_t i = 0; i < rs->img.m->n_units; i++)
		if (manifest_unit_restores_through_unit(rs->img.m->units[i]))
			return bus_reload();
	return 0; /* no drop-in was generated */
}

static int phase_fresh_start(void *ctx, void *arg)
{
	struct restore *rs = ctx;

	restore_services_start_fresh(rs->img.m);
	return 0;
}

enum {
	RESTORE = 1 << 0,      /* a restore's phase */
	FINISH = 1 << 1,       /* --finish's phase */
	AFTER_SWITCH = 1 << 2, /* only after a switch: systemd restores the services */
	PER_UNIT = 1 << 3,     /* one phase "restore:<unit>" per unit restored here */
};

/* The restore, in order. */
static const struct {
	const char *name;
	int (*run)(void *ctx, void *arg);
	unsigned when;
} restore_phases[] = {
	{ "lock-network", phase_lock, RESTORE },
	/* A connection can only come back once its local address exists. */
	{ "wait-addresses", phase_wait_addresses, RESTORE },
	{ "restore", phase_restore_unit, RESTORE | PER_UNIT },
	{ "wait-services", phase_wait_services, RESTORE | FINISH | AFTER_SWITCH },
	{ "give-up", phase_give_up, FINISH },
	{ "unlock-network", phase_unlock, RESTORE | FINISH },
	{ "wipe-images", phase_wipe, RESTORE | FINISH },
	{ "daemon-reload", phase_daemon_reload, RESTORE | FINISH | AFTER_SWITCH },
	{ "fresh-start", phase_fresh_start, RESTORE | FINISH | AFTER_SWITCH },
};

/* One "restore:<unit>" phase per unit restored here: not the services after
 * a switch (systemd restores them), nor the units the plan restarted, nor
 * those an earlier run brought back. */
static int add_unit_phases(struct phase_list *l, const struct restore *rs,
			   int (*run)(void *, void *))
{
	for (size_t i = 0; i < rs->img.m->n_units; i++) {
		ManifestUnit *u = rs->img.m->units[i];
		enum restore_action a = restore_unit_action(u, rs->after_switch);
		char name[300];
		int r;

		if (a == RESTORE_ACTION_DONE)
			log_info("%s: %s by an earlier restore; not restored again.", u->name,
				 manifest_outcome_to_string(u->outcome));
		if (a != RESTORE_ACTION_TREES && a != RESTORE_ACTION_THROUGH_UNIT)
			continue;
		snprintf(name, sizeof(name), "restore:%s", u->name);
		r = phase_list_add(l, name, run, NULL, u);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_phases(struct phase_list *l, const struct restore *rs)
{
	for (size_t i = 0; i < ELEMENTSOF(restore_phases); i++) {
		unsigned when = restore_phases[i].when;
		int r = 0;

		if (!(when & (rs->finish ? FINISH : RESTORE)) ||
		    ((when & AFTER_SWITCH) && (!rs->after_switch || rs->stale)))
			continue;
		if (when & PER_UNIT)
			r = add_unit_phases(l, rs, restore_phases[i].run);
		else
			r = phase_list_add(l, restore_phases[i].name, restore_phases[i].run, NULL,
					   NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static void log_outcomes(const Manifest *m)
{
	for (size_t i = 0; i < m->n_units; i++) {
		const ManifestUnit *u = m->units[i];

		log_info("%-28s %s%s%s", u->name, manifest_outcome_to_string(u->outcome),
			 u->outcome_reason ? ": " : "", u->outcome_reason ?: "");
	}
}

/*
 * Timings that only this side can measure: from the kernel's start to this
 * restore, and from the old kernel handing the kexec to systemd until then
 * (wall clocks of two boots: good to the RTC's precision).
 */
static void record_boot_timings(Manifest *m, bool after_switch, uint64_t boottime,
				uint64_t realtime)
{
	struct utsname u;

	/* A run before this one stopped part-way: its timings stand. */
	if (m->has_restore_realtime_usec) {
		log_notice("An earlier restore of these images stopped part-way; what it brought "
			   "back is not restored again.");
		return;
	}
	m->has_restore_realtime_usec = true;
	m->restore_realtime_usec = realtime;
	if (uname(&u) >= 0)
		(void)manifest_set_string(&m->kernel_restored, u.release);
	/* The same boot: a rollback's restore (upgrade-recover.c), no switch. */
	if (!m->upgrade_id || !after_switch)
		return;
	report_merge_pending(m);
	(void)manifest_add_timing(m, "boot-to-restore", boottime);
	if (m->has_kexec_realtime_usec && realtime > m->kexec_realtime_usec + boottime)
		(void)manifest_add_timing(m, "shutdown-and-kexec",
					  realtime - m->kexec_realtime_usec - boottime);
}

static void record_phase_timings(Manifest *m, const struct phase_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		char name[300];

		if (!l->phases[i].done || strncmp(l->phases[i].name, "restore:", 8) == 0)
			continue;
		/* The old kernel's phases are in m already, some of the same name. */
		snprintf(name, sizeof(name), "restore-side:%s", l->phases[i].name);
		(void)manifest_add_timing(m, name, l->phases[i].usec);
	}
}

/* The report of the restore: in the log, kept after a switch (the client in
 * the restored session waits for it), and as JSON on request. */
static void report(const struct restore *rs, const struct phase_list *l, bool json)
{
	record_phase_timings(rs->img.m, l);
	log_outcomes(rs->img.m);
	if (rs->img.m->upgrade_id && rs->after_switch)
		(void)report_save(rs->img.m);
	if (json)
		inspect_print_json(stdout, rs->img.m);
}

/* Tests: KUPGRADE_BOOT_FAULT=kill:<phase> kills the restore after a switch
 * right before that phase, as the OOM killer or a crash would: what runs
 * after it (--finish) has to clean up. */
static void kill_before(void *ctx, const char *name)
{
	struct restore *rs = ctx;
	const char *f = test_hooks_enabled() ? rs->img.m->boot_fault : NULL;

	if (rs->finish || !rs->after_switch || !f || strncmp(f, "kill:", 5) != 0 ||
	    !phase_fault_matches(f + 5, name))
		return;
	log_notice("Killing this restore before phase '%s' (KUPGRADE_BOOT_FAULT=%s).", name, f);
	raise(SIGKILL);
}

/*
 * No images, but the old kernel's last word (REPORT_PENDING) from another
 * boot: a switch whose new kernel never got to the restore (reset, panic),
 * its images gone with its RAM. Reported as such, once.
 */
static int report_aborted(void)
{
	struct restore rs = { .img.dir.fd = -EBADF, .after_switch = true, .stale = true };
	_cleanup_free_ char *aborted_reason = NULL;
	char boot[64];
	struct utsname u;
	int r;

	if (manifest_read_file(REPORT_PENDING, &rs.img.m) < 0)
		return log_error_errno(-EIO, "Cannot read %s; remove it.", REPORT_PENDING);
	/* This boot's own: a switch on its way, not for this to touch. */
	if (read_boot_id(boot, sizeof(boot)) < 0 || streq(boot, rs.img.m->boot_id)) {
		manifest_free(rs.img.m);
		return 0;
	}
	if (rs.img.m->boot_marked && !restore_images_stale(rs.img.m, NULL)) {
		/* Yet this boot carries the switch's mark: its own new kernel,
		 * which the images never reached. The initramfs script says
		 * why, unless it never ran. */
		_cleanup_free_ char *why = NULL;

		(void)read_one_line_file(CARRY_FAILED_FILE, &why);
		if (asprintf(&aborted_reason,
			     "not restored: the images did not reach the new kernel's boot (%s)",
			     why
				     ?: "the initramfs script " CARRIER_SCRIPT
					" did not run or said "
					"nothing; see this boot's console") < 0)
			aborted_reason = NULL;
		rs.stale_reason = aborted_reason;
		log_error("The switch to Linux %s (upgrade %s) booted, but its images did not reach it: "
			  "%s.",
			  rs.img.m->kernel_to ?: "?", rs.img.m->upgrade_id ?: "?",
			  why ?: "the initramfs script did not run or said nothing");
	} else
		log_warning("The switch to Linux %s (upgrade %s) did not reach its restore: the new "
			    "kernel was reset or panicked, and this is a new boot.",
			    rs.img.m->kernel_to ?: "?", rs.img.m->upgrade_id ?: "?");
	(void)phase_give_up(&rs, NULL);
	if (uname(&u) >= 0)
		(void)manifest_set_string(&rs.img.m->kernel_restored, u.release);
	log_outcomes(rs.img.m);
	r = rs.img.m->upgrade_id ? report_save(rs.img.m) : 0;
	if (r >= 0)
		(void)unlink(REPORT_PENDING);
	manifest_free(rs.img.m);
	return EXIT_SOFTWARE;
}

/* fault: a phase to fail, as KUPGRADE_FAULT names it (phase.h); hook: take
 * it from the test hook instead. */
static int run(const struct kupgrade_options *o, bool hook, const char *fault)
{
	uint64_t boottime = now_usec(CLOCK_BOOTTIME), realtime = now_usec(CLOCK_REALTIME);
	struct restore rs = { .finish = o->finish };
	struct phase_list l = {};
	struct phase_result res;
	int r;

	/* A restore that ended by itself left nothing to finish; a switch
	 * that never got here left its pending report alone. */
	if (!o->from && !restore_images_dir() && (o->finish || access(REPORT_PENDING, F_OK) == 0))
		return o->finish ? 0 : report_aborted();
	r = restore_images_open(o->from, &rs.img);
	if (r < 0)
		return r;
	rs.after_switch = restore_images_after_switch(rs.img.m);
	if (!o->from && restore_images_stale(rs.img.m, NULL)) {
		log_warning("The images in %s are of a switch that did not reach its restore (this "
			    "boot was not started by its kexec): they are reported and wiped, "
			    "not restored.",
			    rs.img.dir.path);
		rs.stale = rs.finish = true;
	}
	record_boot_timings(rs.img.m, rs.after_switch, boottime, realtime);
	r = add_phases(&l, &rs);
	if (r < 0) {
		r = log_oom();
		goto out;
	}
	l.on_start = kill_before;
	r = hook ? phase_run(&l, &rs, &res) : phase_run_fault(&l, &rs, fault, &res);
	report(&rs, &l, o->json);
	if (r < 0 && rs.finish) {
		log_error("Finishing the restore stopped in phase '%s': see the messages above.",
			  res.failed_phase);
		r = EXIT_SOFTWARE;
	} else if (r < 0) {
		log_error("Restore stopped in phase '%s': the images and the lock are left in place in "
			  "%s; 'kupgrade restore --finish' gives up what is not back and cleans up.",
			  res.failed_phase, rs.img.dir.path);
		r = EXIT_SOFTWARE;
	} else if (rs.failed) {
		log_error("%u of %zu units failed to restore.", rs.failed, rs.img.m->n_units);
		r = EXIT_SOFTWARE;
	}
out:
	phase_list_free(&l);
	restore_images_close(&rs.img);
	return r;
}

int restore_run(const struct kupgrade_options *o)
{
	return run(o, true, NULL);
}

int restore_run_fault(const struct kupgrade_options *o, const char *fault)
{
	return run(o, false, fault);
}
