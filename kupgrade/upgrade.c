/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "bus.h"
#include "check.h"
#include "checkpoint.h"
#include "fileio.h"
#include "kexec.h"
#include "log.h"
#include "timeutil.h"
#include "manifest.h"
#include "phase.h"
#include "progress.h"
#include "report.h"
#include "transport.h"
#include "upgrade.h"
#include "verbs.h"

/*
 * The upgrade orchestrator: "kupgrade upgrade-worker", run by the client
 * as a transient service (see upgrade-client.c). A flat list of phases;
 * on any failure before "kexec", the undos run in reverse and the machine
 * is as it was: the new kernel unloaded, every tree restored in place, the
 * lock removed, the images wiped.
 */

struct upgrade {
	const char *id;
	char *release, *initrd;
	struct checkpoint *ckpt;
	struct transport t;
	const struct transport_ops *ops;
	enum kexec_method method;
	bool loaded;
};

static int load(struct upgrade *u, const char *initrd)
{
	struct kexec_request rq = {
		.kernel = arg_kernel,
		.initrd = initrd,
		.append = arg_append,
		/* Without --append, the running command line. */
		.reuse_cmdline = arg_reuse_cmdline || !arg_append,
	};
	int r;

	r = kexec_load_kernel(&rq, &u->method);
	if (r >= 0)
		u->loaded = true;
	return r;
}

static int phase_check(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	int r;

	r = check_preflight(arg_kernel, arg_initrd, &u->release, &u->initrd);
	if (r < 0)
		return r;
	/* The report names both kernels. */
	r = manifest_set_string(&checkpoint_manifest(u->ckpt)->kernel_to, u->release);
	return r < 0 ? log_oom() : 0;
}

/* Load the plain kernel first: a bad or unsigned image fails here, before
 * anything is frozen. It is loaded again with the images later. */
static int phase_load(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	return load(u, u->initrd);
}

static int undo_load(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	if (!u->loaded)
		return 0;
	u->loaded = false;
	return kexec_unload(u->method);
}

/* The client is checkpointed with its session: tell it to stop opening
 * files, and give it a moment to say it has. */
static int phase_quiet_client(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	(void)progress_emit(u->id, "Q\n");
	if (!progress_wait_file(u->id, "quiet", 3000))
		log_notice("The client did not answer; it may have gone. Going on.");
	return 0;
}

/* For the initramfs script: the highest PID the restore needs free (the
 * whole trees are in CRIU's pstree images; their roots bound them well
 * enough, as children of long-lived roots tend to be younger: take the
 * highest PID in use now). */
static int write_max_pid(struct checkpoint *c)
{
	char path[4096], buf[32];
	long max = 0;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return log_error_errno(negative_errno(), "Cannot list /proc: %m");
	while ((de = readdir(d)))
		max = MAX(max, strtol(de->d_name, NULL, 10));
	snprintf(buf, sizeof(buf), "%ld\n", max + 1);
	snprintf(path, sizeof(path), "%s/max-pid", checkpoint_images_path(c));
	return write_string_file(path, "%s", buf) < 0 ? log_error_errno(-EIO, "Cannot write %s.", path) : 0;
}

static int phase_stage(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	Manifest *m = checkpoint_manifest(u->ckpt);
	_cleanup_free_ char *why = NULL;
	uint64_t bytes;
	unsigned files;
	int r;

	u->t.images_dir = checkpoint_images_path(u->ckpt);
	u->t.initrd = u->initrd;
	r = transport_measure(u->t.images_dir, &bytes, &files);
	if (r < 0)
		return log_error_errno(r, "Cannot measure the images in %s: %m", u->t.images_dir);
	r = transport_read_meminfo(&u->t.mem);
	if (r < 0)
		return log_error_errno(r, "Cannot read /proc/meminfo: %m");
	u->ops = transport_pick(&u->t, arg_images_on_disk, bytes, &why);
	if (!u->ops)
		return log_error_errno(-ENOSPC, "The images (%llu MiB) cannot cross: %s",
				       (unsigned long long)(bytes >> 20), why ?: "no room");
	if (why)
		log_notice("Images go to the disk: %s.", why);
	/* The manifest inside the images says how they crossed. */
	r = manifest_set_string(&m->transport, u->ops->name);
	if (r < 0)
		return log_oom();
	r = checkpoint_write_manifest(u->ckpt);
	if (r < 0)
		return r;
	r = write_max_pid(u->ckpt);
	if (r < 0)
		return r;
	progress_emit(u->id, "P Staging %u files (%llu MiB) by %s.\n", files,
		      (unsigned long long)(bytes >> 20), u->ops->name);
	return u->ops->stage(&u->t);
}

static int undo_stage(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	return u->ops ? u->ops->undo(&u->t) : 0;
}

static int phase_reload(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	bool initrd_path = u->ops == &transport_initrd_ops;
	int r;

	r = load(u, initrd_path ? u->t.staged_initrd : u->initrd);
	if (r < 0)
		return r;
	/* The kernel holds its own copy of the combined initrd: free ours. */
	if (initrd_path)
		(void)u->ops->undo(&u->t);
	return 0;
}

static int phase_save_pending(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	Manifest *m = checkpoint_manifest(u->ckpt);
	int r;

	r = checkpoint_record_timings(u->ckpt);
	if (r < 0)
		return log_oom();
	m->has_kexec_realtime_usec = true;
	m->kexec_realtime_usec = now_usec(CLOCK_REALTIME);
	return report_save_pending(m);
}

static int undo_save_pending(void *ctx, void *arg)
{
	(void)unlink(REPORT_PENDING);
	return 0;
}

/* The point of no return: systemd stops what was not checkpointed in
 * order, syncs and unmounts, and executes the loaded kernel. */
static int phase_kexec(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	progress_emit(u->id, "P Handing the kexec into Linux %s to systemd.\n", u->release);
	return bus_start_unit("kexec.target", "replace-irreversibly");
}

static int add_tail(struct phase_list *l, void *userdata)
{
	int r = 0;

	r = r ?: phase_list_add(l, "stage", phase_stage, undo_stage, NULL);
	r = r ?: phase_list_add(l, "reload", phase_reload, undo_load, NULL);
	r = r ?: phase_list_add(l, "save-pending", phase_save_pending, undo_save_pending, NULL);
	r = r ?: phase_list_add(l, "kexec", phase_kexec, NULL, NULL);
	return r;
}

static int build(struct upgrade *u, struct phase_list *l)
{
	int r = 0;

	r = r ?: phase_list_add(l, "check", phase_check, NULL, NULL);
	r = r ?: phase_list_add(l, "load", phase_load, undo_load, NULL);
	r = r ?: phase_list_add(l, "quiet-client", phase_quiet_client, NULL, NULL);
	/* plan, scan, prepare-images, lock-network, dump:<unit>..., write-manifest,
	 * then add_tail()'s phases. */
	r = r ?: checkpoint_add_phases(u->ckpt, l);
	return r;
}

static void finish(struct upgrade *u, int code, const char *fmt, ...) _printf_(3, 4);
static void finish(struct upgrade *u, int code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (u->id)
		(void)progress_write_file(u->id, "result", "%d %s\n", code, msg ?: "(out of memory)");
}

int verb_upgrade_worker(int argc, char **argv)
{
	struct upgrade u = { .id = arg_id };
	struct phase_list l = {};
	struct phase_result res = {};
	struct utsname un;
	int r;

	if (!arg_kernel || (arg_id && !progress_id_valid(arg_id)))
		return log_error_errno(-EINVAL, "upgrade-worker is started by 'kupgrade --kernel FILE'.");
	if (u.id) {
		(void)progress_write_file(u.id, "pid", "%d\n", (int)getpid());
		progress_emit(u.id, "P Worker started (PID %d): checking, loading, checkpointing.\n",
			      (int)getpid());
	}
	uname(&un);
	r = checkpoint_new(&(struct checkpoint_options){ .images_path = UPGRADE_IMAGES_DIR,
							 .on_disk = false,
							 .transport = "initrd",
							 .upgrade_id = u.id,
							 .add_tail = add_tail },
			   &u.ckpt);
	if (r < 0) {
		finish(&u, EXIT_SOFTWARE, "Out of memory.");
		return r;
	}
	/* Tests: a fault for the boot after the switch travels in the manifest. */
	if (getenv("KUPGRADE_BOOT_FAULT") &&
	    manifest_set_string(&checkpoint_manifest(u.ckpt)->boot_fault, getenv("KUPGRADE_BOOT_FAULT")) < 0) {
		r = log_oom();
		goto out;
	}
	r = build(&u, &l);
	if (r < 0) {
		finish(&u, EXIT_SOFTWARE, "Out of memory.");
		goto out;
	}
	r = phase_run(&l, &u, &res);
	if (r < 0) {
		int code = res.undo_failures ? EXIT_OSERR : EXIT_SOFTWARE;

		if (res.undo_failures)
			finish(&u, code, "Upgrade failed in phase '%s' and %u undo step%s failed: the system "
					 "is NOT as it was; see 'journalctl -u %s'.",
			       res.failed_phase, res.undo_failures, res.undo_failures == 1 ? "" : "s",
			       UPGRADE_WORKER_UNIT);
		else
			finish(&u, code, "Upgrade failed in phase '%s'%s: rolled back, still on Linux %s, "
					 "every process runs as before.",
			       res.failed_phase, res.injected ? " (KUPGRADE_FAULT)" : "", un.release);
		log_error("Upgrade failed in phase '%s'.", res.failed_phase);
		r = code;
		goto out;
	}
	log_info("The kexec into Linux %s is under way.", u.release);
	r = 0;
out:
	phase_list_free(&l);
	checkpoint_free(u.ckpt);
	transport_done(&u.t);
	free(u.release);
	free(u.initrd);
	return r;
}

int upgrade_print_dry_run(const char *release)
{
	static const char *const phases[] = {
		"check         preflight probes (as 'kupgrade check')",
		"load          kexec -s -l the new kernel: a bad image fails before anything freezes",
		"quiet-client  this command stops reading files; it is checkpointed with its session",
		"plan          every process, decided (below)",
		"scan          trees, connections, external files of the units to checkpoint",
		"prepare-images  a root-only tmpfs directory " UPGRADE_IMAGES_DIR,
		"quiesce-services  runtime drop-ins: systemd neither restarts nor stops a dumped service",
		"lock-network  drop the checkpointed TCP connections' packets",
		"dump:<unit>   CRIU dump of each unit's trees",
		"write-manifest  what crosses, and how",
		"stage         images into an archive appended to the new initrd (or to disk)",
		"reload        kexec -s -l again with the images",
		"save-pending  the old kernel's timings on disk for the report",
		"kexec         systemd stops the rest in order and executes the new kernel",
	};

	fprintf(stderr, "Would switch to Linux %s in these phases (undone in reverse on failure):\n",
		release);
	for (size_t i = 0; i < ELEMENTSOF(phases); i++)
		fprintf(stderr, "  %2zu. %s\n", i + 1, phases[i]);
	fprintf(stderr, "\n");
	return verb_plan(0, NULL);
}
