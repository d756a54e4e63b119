/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kupgrade stage --from DIR --kernel FILE: a test and diagnostic verb. It
 * carries an existing directory across the next kexec exactly as the
 * upgrade carries checkpoint images (pick a transport, stage, load the
 * kernel with it), without checkpointing anything, so that the image
 * crossing can be proven on its own. After 'systemctl kexec' the directory's
 * contents are in /run/kupgrade (initrd transport) or in
 * /var/lib/kupgrade/images (disk transport).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "kernel-image.h"
#include "kexec.h"
#include "log.h"
#include "stage.h"
#include "transport.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line: what crossed, how, and how long it took. */
static void print_json(const struct kernel_image *k, const struct transport_ops *ops,
		       unsigned files, uint64_t bytes, const struct transport *t, double stage_s,
		       double load_s, enum kexec_method method)
{
	struct json_writer w;

	json_init(&w, stdout, false);
	json_begin_object(&w);
	json_kv_string(&w, "release", k->release);
	json_kv_string(&w, "transport", ops->name);
	json_kv_uint(&w, "files", files);
	json_kv_uint(&w, "bytes", bytes);
	json_kv_uint(&w, "staged_bytes", t->staged_bytes);
	json_kv_fixed(&w, "stage_seconds", stage_s, 3);
	json_kv_fixed(&w, "load_seconds", load_s, 3);
	json_kv_string(&w, "method", kexec_method_to_string(method));
	json_end_object(&w);
	(void)json_finish(&w);
}

static int stage_and_load(const struct kupgrade_options *o, struct transport *t,
			  const struct transport_ops *ops, double *ret_stage_s, double *ret_load_s,
			  enum kexec_method *ret_method)
{
	struct kexec_request rq = { .kernel = o->kernel,
				    .append = o->append,
				    /* Without --append, the running command line. */
				    .reuse_cmdline = o->reuse_cmdline || !o->append };
	double t0 = now_s(), t1;
	int r;

	r = ops->stage(t);
	if (r < 0)
		goto undo;
	t1 = now_s();
	*ret_stage_s = t1 - t0;
	rq.initrd = ops == &transport_initrd_ops ? t->staged_initrd : t->initrd;
	r = kexec_load_kernel(&rq, ret_method);
	if (r < 0)
		goto undo;
	*ret_load_s = now_s() - t1;
	/* The kernel holds its own copy of the initrd now: free ours. */
	if (ops == &transport_initrd_ops)
		(void)ops->undo(t);
	return 0;
undo:
	(void)ops->undo(t);
	return r;
}

int stage_run(const struct kupgrade_options *o)
{
	_cleanup_free_ char *initrd = NULL, *why = NULL;
	struct transport t = { .images_dir = o->from };
	const struct transport_ops *ops;
	double stage_s = 0, load_s = 0;
	enum kexec_method method = KEXEC_METHOD_FILE;
	struct kernel_image k;
	unsigned files;
	uint64_t bytes;
	int r;

	/* Staging mounts a tmpfs and loads a kernel: refused before anything,
	 * and clearly, rather than by the first call that needs root. */
	if (!o->dry_run && geteuid() != 0)
		return log_error_errno(-EPERM, "kupgrade stage must run as root.");
	r = kernel_image_read(o->kernel, &k);
	if (r < 0)
		return log_error_errno(r, "%s is not a usable kernel image: %m", o->kernel);
	initrd = o->initrd ? strdup(o->initrd) : kernel_image_find_initrd(o->kernel, k.release);
	if (!initrd)
		return log_error_errno(-ENOENT, "No initrd found next to %s; pass --initrd.",
				       o->kernel);
	t.initrd = initrd;
	r = transport_measure(o->from, &bytes, &files);
	if (r < 0)
		return log_error_errno(r, "Cannot read %s: %m", o->from);
	r = transport_read_meminfo(&t.mem);
	if (r < 0)
		return log_error_errno(r, "Cannot read /proc/meminfo: %m");
	ops = transport_pick(&t, o->images_on_disk, bytes, &why);
	if (!ops)
		return log_error_errno(-ENOSPC, "%llu MiB cannot cross here: %s",
				       (unsigned long long)(bytes / MiB), why ?: "no room");
	if (o->dry_run) {
		log_info("Would stage %u files (%llu MiB) from %s with the %s transport and load %s.",
			 files, (unsigned long long)(bytes / MiB), o->from, ops->name, o->kernel);
		return 0;
	}

	r = stage_and_load(o, &t, ops, &stage_s, &load_s, &method);
	if (r >= 0) {
		log_info("Loaded Linux %s with %u files (%llu MiB) by %s: stage %.1f s, load %.1f s "
			 "(%s). 'systemctl kexec' switches.",
			 k.release, files, (unsigned long long)(bytes / MiB), ops->name, stage_s,
			 load_s, kexec_method_to_string(method));
		if (o->json)
			print_json(&k, ops, files, bytes, &t, stage_s, load_s, method);
	}
	transport_done(&t);
	return r;
}
