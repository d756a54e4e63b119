/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "check.h"
#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "proc.h"
#include "progress.h"
#include "report.h"
#include "timeutil.h"
#include "upgrade-internal.h"

/*
 * The upgrade's own phases, around the checkpoint's (the order is the phase
 * table's, upgrade.c): the preflight, a first load of the new kernel, the
 * client told to keep still; then, after the checkpoint, the images staged,
 * the kernel loaded again with them, the old kernel's timings saved, and the
 * kexec handed to systemd. Each gets the run (struct upgrade) as its ctx.
 */

static int load(struct upgrade *u, const char *initrd)
{
	struct kexec_request rq = {
		.kernel = u->o->kernel,
		.initrd = initrd,
		.append = u->o->append,
		/* Without --append, the running command line. */
		.reuse_cmdline = u->o->reuse_cmdline || !u->o->append,
		/* The restore knows the images are for the boot that has it. */
		.mark = u->id,
	};
	int r;

	r = kexec_load_kernel(&rq, &u->method);
	if (r >= 0)
		u->loaded = true;
	return r;
}

int upgrade_phase_check(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	int r;

	r = check_can_switch(u->o, &u->release, &u->initrd);
	if (r < 0)
		return r;
	/* The report names both kernels. */
	r = manifest_set_string(&checkpoint_manifest(u->ckpt)->kernel_to, u->release);
	return r < 0 ? log_oom() : 0;
}

/* Load the plain kernel first: a bad or unsigned image fails here, before
 * anything is frozen. It is loaded again with the images later. */
int upgrade_phase_load(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	return load(u, u->initrd);
}

int upgrade_undo_load(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	if (!u->loaded)
		return 0;
	u->loaded = false;
	return kexec_unload(u->method);
}

/* The client is checkpointed with its session: tell it to stop opening
 * files, and give it a moment to say it has. */
int upgrade_phase_quiet_client(void *ctx, void *arg)
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
	_cleanup_free_ pid_t *pids = NULL;
	char path[4096], buf[32];
	size_t n = 0;
	long max;
	int r;

	r = proc_list_pids(&pids, &n);
	if (r < 0)
		return log_error_errno(r, "Cannot list /proc: %m");
	max = n > 0 ? pids[n - 1] : 0; /* sorted */
	snprintf(buf, sizeof(buf), "%ld\n", max + 1);
	snprintf(path, sizeof(path), "%s/" MAX_PID_FILE, checkpoint_images_path(c));
	return write_string_file(path, "%s", buf) < 0
		       ? log_error_errno(-EIO, "Cannot write %s.", path)
		       : 0;
}

int upgrade_phase_stage(void *ctx, void *arg)
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
	u->ops = transport_pick(&u->t, u->o->images_on_disk, bytes, &why);
	if (!u->ops)
		return log_error_errno(-ENOSPC, "The images (%llu MiB) cannot cross: %s",
				       (unsigned long long)(bytes >> 20), why ?: "no room");
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

int upgrade_undo_stage(void *ctx, void *arg)
{
	struct upgrade *u = ctx;

	return u->ops ? u->ops->undo(&u->t) : 0;
}

/* The new kernel again, now with the images (in the combined initrd when
 * they cross in memory). */
int upgrade_phase_load_images(void *ctx, void *arg)
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

int upgrade_phase_save_pending(void *ctx, void *arg)
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

int upgrade_undo_save_pending(void *ctx, void *arg)
{
	(void)unlink(REPORT_PENDING);
	return 0;
}

/* The point of no return: systemd stops what was not checkpointed in
 * order, syncs and unmounts, and executes the loaded kernel. */
int upgrade_phase_kexec(void *ctx, void *arg)
{
	struct upgrade *u = ctx;
	int r;

	progress_emit(u->id, "P Handing the kexec into Linux %s to systemd.\n", u->release);
	/* Past this, what runs after the worker (upgrade-recover.c) must undo
	 * nothing: the shutdown is on its way. */
	if (u->id)
		(void)progress_write_file(u->id, "handed-over", "1\n");
	r = bus_start_unit("kexec.target", "replace-irreversibly");
	if (r < 0 && u->id)
		progress_remove_file(u->id, "handed-over");
	return r;
}
