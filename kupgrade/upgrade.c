/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "exit-status.h"
#include "inspect.h"
#include "log.h"
#include "progress.h"
#include "report.h"
#include "test-hooks.h"
#include "upgrade-internal.h"
#include "upgrade-lock.h"
#include "upgrade.h"

/*
 * The orchestrator of the checkpoint and of the upgrade: one table of
 * phases, run in order by phase.c. "kupgrade checkpoint" runs the phases
 * marked UPGRADE_PHASE_CHECKPOINT; the upgrade worker ("kupgrade
 * upgrade-worker", started by the client as a transient service, see
 * upgrade-client.c) runs them all. On any failure before "kexec" the undos
 * run in reverse and the machine is as it was: the new kernel unloaded,
 * every tree restored in place, the lock removed, the images wiped.
 * --dry-run prints this table; kupgrade(8) lists it (a unit test checks).
 */

static int phase_plan(void *ctx, void *arg);

#define CKPT UPGRADE_PHASE_CHECKPOINT
#define PER_UNIT UPGRADE_PHASE_PER_UNIT

static const struct upgrade_phase phases[] = {
	{ "check", upgrade_phase_check, NULL, 0, "preflight probes (as 'kupgrade check')" },
	/* A bad or unsigned kernel fails here, before anything is frozen; it is
	 * loaded again with the images later. */
	{ "load", upgrade_phase_load, upgrade_undo_load, 0,
	  "kexec -s -l the new kernel: a bad image fails before anything freezes" },
	{ "quiet-client", upgrade_phase_quiet_client, NULL, 0,
	  "this command stops reading files; it is checkpointed with its session" },
	/* Plan, scan and criu-check change nothing: every refusal comes before
	 * anything is frozen. */
	{ "plan", phase_plan, NULL, CKPT, "every process, decided (below)" },
	{ "scan", checkpoint_phase_scan, NULL, CKPT,
	  "trees, connections, external files of the units to checkpoint" },
	{ "criu-check", checkpoint_phase_criu_check, NULL, CKPT,
	  "criu check: refuses a kernel CRIU cannot work with, fills its feature cache" },
	{ "prepare-images", checkpoint_phase_prepare_images, checkpoint_undo_prepare_images, CKPT,
	  "a root-only tmpfs directory " UPGRADE_IMAGES_DIR },
	/* Before any dump: a dumped service must be neither restarted nor stopped. */
	{ "quiesce-services", checkpoint_phase_quiesce, checkpoint_undo_quiesce, CKPT,
	  "runtime drop-ins: systemd neither restarts nor stops a dumped service" },
	{ "lock-network", checkpoint_phase_lock_network, checkpoint_undo_lock_network, CKPT,
	  "drop the checkpointed TCP connections' packets" },
	{ "dump", checkpoint_phase_dump_unit, checkpoint_undo_dump_unit, CKPT | PER_UNIT,
	  "CRIU dump of each unit's trees" },
	{ "write-manifest", checkpoint_phase_write_manifest, NULL, CKPT, "what crosses, and how" },
	{ "stage", upgrade_phase_stage, upgrade_undo_stage, 0,
	  "images into an archive appended to the new initrd (or to disk)" },
	{ "load-images", upgrade_phase_load_images, upgrade_undo_load, 0,
	  "kexec -s -l again with the images" },
	{ "save-pending", upgrade_phase_save_pending, upgrade_undo_save_pending, 0,
	  "the old kernel's timings on disk for the report" },
	/* The point of no return. */
	{ "kexec", upgrade_phase_kexec, NULL, 0,
	  "systemd stops the rest in order and executes the new kernel" },
};

#undef CKPT
#undef PER_UNIT

const struct upgrade_phase *upgrade_phases(size_t *ret_n)
{
	*ret_n = ELEMENTSOF(phases);
	return phases;
}

/* The plan decides which per-unit phases exist: the table from the first of
 * them on is added once the plan has run. */
static size_t first_per_unit(void)
{
	for (size_t i = 0; i < ELEMENTSOF(phases); i++)
		if (phases[i].flags & UPGRADE_PHASE_PER_UNIT)
			return i;
	return ELEMENTSOF(phases);
}

static int add_unit_phases(struct upgrade *u, const struct upgrade_phase *p)
{
	int r = 0;

	for (size_t i = 0; i < checkpoint_n_units(u->ckpt) && r == 0; i++) {
		char name[300];

		snprintf(name, sizeof(name), "%s:%s", p->name, checkpoint_unit_name(u->ckpt, i));
		r = phase_list_add(&u->phases, name, p->run, p->undo, checkpoint_unit(u->ckpt, i));
	}
	return r;
}

/* The phases [from, to) of the table that this run takes, into its list. */
static int add_phases(struct upgrade *u, size_t from, size_t to)
{
	int r = 0;

	for (size_t i = from; i < to && r == 0; i++) {
		const struct upgrade_phase *p = &phases[i];

		if (u->checkpoint_only && !(p->flags & UPGRADE_PHASE_CHECKPOINT))
			continue;
		if (p->flags & UPGRADE_PHASE_PER_UNIT)
			r = add_unit_phases(u, p);
		else
			r = phase_list_add(&u->phases, p->name, p->run, p->undo,
					   p->flags & UPGRADE_PHASE_CHECKPOINT ? u->ckpt : NULL);
	}
	return r;
}

static int phase_plan(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	int r;

	r = checkpoint_phase_plan(ctx, arg);
	if (r < 0)
		return r;
	r = add_phases(u, first_per_unit(), ELEMENTSOF(phases));
	return r < 0 ? log_oom() : 0;
}

static void upgrade_done(struct upgrade *u)
{
	phase_list_free(&u->phases);
	checkpoint_free(u->ckpt);
	transport_done(&u->t);
	free(u->release);
	free(u->initrd);
}

int upgrade_checkpoint(const struct kupgrade_options *o)
{
	struct upgrade u = { .o = o, .checkpoint_only = true };
	_cleanup_close_ int lock_fd = -EBADF;
	_cleanup_free_ char *busy = NULL;
	struct phase_result res = {};
	int r;

	if (!o->to)
		return log_error_errno(-EINVAL,
				       "Missing --to DIR: where to write the images (on a tmpfs).");
	if (geteuid() != 0)
		return log_error_errno(-EPERM, "kupgrade checkpoint must run as root.");
	/* Not while a switch or another checkpoint freezes the same processes. */
	r = upgrade_lock_acquire(SWITCH_LOCK_FILE, "checkpoint", NULL, &lock_fd, &busy);
	if (r < 0)
		return log_error_errno(r, "%s", busy ?: "Out of memory.");
	r = checkpoint_new(&(struct checkpoint_options){ .images_path = o->to,
							 .on_disk = o->images_on_disk,
							 .config = o->config,
							 .units = o->units,
							 .transport = "local",
							 .phases = &u.phases },
			   &u.ckpt);
	if (r < 0)
		return r;

	r = add_phases(&u, 0, first_per_unit());
	if (r < 0) {
		r = log_oom();
		goto out;
	}
	r = phase_run(&u.phases, &u, &res);
	if (r < 0) {
		if (res.undo_failures)
			log_error("Checkpoint failed in phase '%s', and %u undo step%s failed: the system is NOT "
				  "as it was, see the messages above.",
				  res.failed_phase, res.undo_failures,
				  res.undo_failures == 1 ? "" : "s");
		else
			log_error("Checkpoint failed in phase '%s'%s: rolled back, every process runs as before, "
				  "no lock and no image left.",
				  res.failed_phase, res.injected ? " (KUPGRADE_FAULT)" : "");
		r = res.undo_failures ? EXIT_OSERR : EXIT_SOFTWARE;
		goto out;
	}
	log_info("Checkpoint complete: %zu unit%s in %s; restore with 'kupgrade restore --from %s'.",
		 checkpoint_n_units(u.ckpt), checkpoint_n_units(u.ckpt) == 1 ? "" : "s",
		 checkpoint_images_path(u.ckpt), checkpoint_images_path(u.ckpt));
	if (o->json)
		inspect_print_json(stdout, checkpoint_manifest(u.ckpt));
out:
	upgrade_done(&u);
	return r;
}

void upgrade_result(const char *id, const char *kernel, int code, const char *msg)
{
	if (!id)
		return;
	(void)progress_write_file(id, "result", "%d %s\n", code, msg ?: "(out of memory)");
	/* A switch that did not happen, for 'kupgrade status'; not a refusal
	 * because another switch or apt was busy: that one started nothing. */
	if (code != 0 && code != EXIT_TEMPFAIL)
		(void)report_save_attempt(id, kernel, code, msg ?: "(out of memory)");
}

/* The worker's outcome, for the client that follows it. */
static void finish(struct upgrade *u, int code, const char *fmt, ...) _printf_(3, 4);
static void finish(struct upgrade *u, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	upgrade_result(u->id, u->o->kernel, code, msg);
}

static int failed(struct upgrade *u, const struct phase_result *res, const char *release)
{
	int code = res->undo_failures ? EXIT_OSERR : EXIT_SOFTWARE;

	if (res->undo_failures)
		finish(u, code,
		       "Upgrade failed in phase '%s' and %u undo step%s failed: the system "
		       "is NOT as it was; see 'journalctl -u %s'.",
		       res->failed_phase, res->undo_failures, res->undo_failures == 1 ? "" : "s",
		       UPGRADE_WORKER_UNIT);
	else
		finish(u, code,
		       "Upgrade failed in phase '%s'%s: rolled back, still on Linux %s, "
		       "every process runs as before.",
		       res->failed_phase, res->injected ? " (KUPGRADE_FAULT)" : "", release);
	log_error("Upgrade failed in phase '%s'.", res->failed_phase);
	return code;
}

/* One switch at a time, none while apt runs (upgrade-lock.h). The lock is
 * held until this process ends: with the kexec, or after the undos. */
static int worker_lock(struct upgrade *u, int *ret_fd)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	r = upgrade_lock_acquire(SWITCH_LOCK_FILE, "switch", u->id, ret_fd, &msg);
	if (r == 0) {
		/* apt may have started since the client looked. */
		r = u->o->wait_apt ? upgrade_wait_dpkg(dpkg_lock_files, UPGRADE_WAIT_APT_USEC,
						       1000000, &msg)
				   : upgrade_busy(NULL, dpkg_lock_files, &msg);
		if (r < 0) {
			close(*ret_fd);
			*ret_fd = -EBADF;
		}
	}
	if (r < 0) {
		log_error("%s", msg ?: "Out of memory.");
		finish(u, r == -EBUSY ? EXIT_TEMPFAIL : EXIT_SOFTWARE, "%s",
		       msg ?: "Out of memory.");
	}
	return r;
}

/* What runs after a worker that was killed says which phase it was in. */
static void record_phase(void *ctx, const char *name)
{
	struct upgrade *u = ctx;

	(void)progress_write_file(u->id, "phase", "%s\n", name);
}

int upgrade_worker(const struct kupgrade_options *o)
{
	struct upgrade u = { .o = o, .id = o->id };
	_cleanup_close_ int lock_fd = -EBADF;
	struct phase_result res = {};
	const char *boot_fault;
	struct utsname un;
	int r;

	if (!o->kernel || (o->id && !progress_id_valid(o->id)))
		return log_error_errno(-EINVAL,
				       "upgrade-worker is started by 'kupgrade --kernel FILE'.");
	if (u.id)
		(void)progress_write_file(u.id, "pid", "%d\n", (int)getpid());
	r = worker_lock(&u, &lock_fd);
	if (r < 0)
		return r;
	if (u.id)
		progress_emit(u.id,
			      "P Worker started (PID %d): checking, loading, checkpointing.\n",
			      (int)getpid());
	uname(&un);
	r = checkpoint_new(&(struct checkpoint_options){ .images_path = UPGRADE_IMAGES_DIR,
							 .on_disk = false,
							 .config = o->config,
							 .units = o->units,
							 .transport = "initrd",
							 .upgrade_id = u.id,
							 .phases = &u.phases },
			   &u.ckpt);
	if (r < 0) {
		finish(&u, EXIT_SOFTWARE, "Out of memory.");
		return r;
	}
	/* Every load of the worker marks the new boot (upgrade-phases.c). */
	checkpoint_manifest(u.ckpt)->has_boot_marked = true;
	checkpoint_manifest(u.ckpt)->boot_marked = true;
	/* Tests: a fault for the boot after the switch travels in the manifest. */
	boot_fault = test_hook("KUPGRADE_BOOT_FAULT");
	if (boot_fault &&
	    manifest_set_string(&checkpoint_manifest(u.ckpt)->boot_fault, boot_fault) < 0) {
		r = log_oom();
		goto out;
	}
	r = add_phases(&u, 0, first_per_unit());
	if (r < 0) {
		finish(&u, EXIT_SOFTWARE, "Out of memory.");
		goto out;
	}
	if (u.id)
		u.phases.on_start = record_phase;
	r = phase_run(&u.phases, &u, &res);
	if (r < 0) {
		r = failed(&u, &res, un.release);
		goto out;
	}
	log_info("The kexec into Linux %s is under way.", u.release);
	r = 0;
out:
	upgrade_done(&u);
	return r;
}

void upgrade_print_phases(FILE *f, const char *release)
{
	fprintf(f, "Would switch to Linux %s in these phases (undone in reverse on failure):\n",
		release);
	for (size_t i = 0; i < ELEMENTSOF(phases); i++) {
		char name[64];

		snprintf(name, sizeof(name), "%s%s", phases[i].name,
			 phases[i].flags & UPGRADE_PHASE_PER_UNIT ? ":<unit>" : "");
		fprintf(f, "  %2zu. %-12s  %s\n", i + 1, name, phases[i].description);
	}
	fprintf(f, "\n");
}
