/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The initrd transport: a copy of the new kernel's initrd with the images
 * appended as one more newc cpio archive (the kernel unpacks concatenated
 * archives; an uncompressed one must start 4-byte aligned). The archive
 * holds
 *   kupgrade-images/...      the image tree, modes kept, owned by root
 *   kupgrade-images.list     "kupgrade-images 1 BYTES FILES", then one line
 *                            per entry "d|f MODE SIZE PATH", parents first
 * and the initramfs script carry-images copies the tree into a tmpfs it
 * mounts on /run/kupgrade (sized from the list), checks every size, and
 * logs to /dev/kmsg when anything is missing.
 * The combined initrd is written into a tmpfs of its own on
 * /run/kupgrade-stage: nothing touches the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <time.h>

#include "paths.h"
#include "cpio.h"
#include "dirwalk.h"
#include "log.h"
#include "spawn-util.h"
#include "transport.h"

/* What the machine keeps for itself while loading, beyond our peak. */
#define RESERVE_BYTES (128 * MiB)

static int initrd_size(const char *path, uint64_t *ret)
{
	struct stat st;

	if (!path)
		return -ENOENT;
	if (stat(path, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*ret = (uint64_t)st.st_size;
	return 0;
}

int transport_initrd_decide(const struct transport_need *n, char **ret_reason)
{
	/* Once the images are in a tmpfs, MemAvailable has already lost them. */
	uint64_t peak = transport_initrd_peak_bytes(n->payload, n->initrd) -
			(n->resident ? n->payload : 0) + RESERVE_BYTES;
	uint64_t boot = transport_initrd_boot_bytes(n->payload);
	int r = 0;

	*ret_reason = NULL;
	if (n->largest > CPIO_NEWC_MAX_FILE) {
		if (n->largest_path)
			r = asprintf(ret_reason,
				     "the image file %s (%llu MiB) is over the 4 GiB a file can have "
				     "in the initrd's cpio archive",
				     n->largest_path, (unsigned long long)(n->largest / MiB));
		else
			r = asprintf(ret_reason,
				     "a process's image (~%llu MiB) would be over the 4 GiB a file "
				     "can have in the initrd's cpio archive",
				     (unsigned long long)(n->largest / MiB));
		return r < 0 ? -ENOMEM : -EFBIG;
	}
	if (n->initrd + n->payload > TRANSPORT_INITRD_MAX) {
		r = asprintf(ret_reason,
			     "the %llu MiB initrd with %llu MiB of images is over the 2 GiB the "
			     "kernel loads as an initrd",
			     (unsigned long long)(n->initrd / MiB),
			     (unsigned long long)(n->payload / MiB));
		return r < 0 ? -ENOMEM : -EFBIG;
	}
	if (peak > n->mem.available)
		r = asprintf(ret_reason,
			     "%llu MiB of images need about %llu MiB free while loading (%s the "
			     "images + 2x the %llu MiB initrd + %llu MiB reserve); %llu MiB available",
			     (unsigned long long)(n->payload / MiB),
			     (unsigned long long)(peak / MiB),
			     n->resident ? "3x (besides their tmpfs)" : "4x",
			     (unsigned long long)(n->initrd / MiB), RESERVE_BYTES / MiB,
			     (unsigned long long)(n->mem.available / MiB));
	else if (boot > n->mem.total)
		r = asprintf(ret_reason,
			     "the new kernel would hold the %llu MiB of images twice while booting "
			     "(%llu MiB with its own needs), more than the %llu MiB of RAM",
			     (unsigned long long)(n->payload / MiB),
			     (unsigned long long)(boot / MiB),
			     (unsigned long long)(n->mem.total / MiB));
	else
		return 0;
	return r < 0 ? -ENOMEM : -ENOSPC;
}

/* The images once written: the largest file measured, and whether they
 * sit in a tmpfs (c->largest_path: freed by the caller). */
static int measure_images(const char *dir, struct transport_need *n, struct transport_census *c)
{
	struct statfs sf;
	int r;

	r = transport_census(dir, c);
	if (r < 0)
		return r;
	if (statfs(dir, &sf) < 0)
		return negative_errno();
	n->largest = c->largest;
	n->largest_path = c->largest_path;
	n->resident = (unsigned long)sf.f_type == TMPFS_MAGIC ||
		      (unsigned long)sf.f_type == RAMFS_MAGIC;
	return 0;
}

static int initrd_fits(const struct transport *t, uint64_t payload, char **ret_reason)
{
	struct transport_need n = { .payload = payload,
				    .largest = t->largest_estimate,
				    .mem = t->mem };
	struct transport_census c = {};
	int r;

	*ret_reason = NULL;
	r = initrd_size(t->initrd, &n.initrd);
	if (r < 0) {
		if (asprintf(ret_reason, "the new kernel's initrd %s cannot be used (%s)",
			     t->initrd ?: "(none)", strerror(-r)) < 0)
			*ret_reason = NULL;
		return r;
	}
	if (n.mem.total == 0) {
		r = transport_read_meminfo(&n.mem);
		if (r < 0)
			return r;
	}
	/* Before the dump: the caller's estimates; after it: the files. */
	if (t->images_dir) {
		r = measure_images(t->images_dir, &n, &c);
		if (r < 0) {
			if (asprintf(ret_reason, "cannot measure the images in %s (%s)",
				     t->images_dir, strerror(-r)) < 0)
				*ret_reason = NULL;
			free(c.largest_path);
			return r;
		}
	}
	r = transport_initrd_decide(&n, ret_reason);
	free(c.largest_path);
	return r;
}

struct pack {
	struct cpio_writer w;
	FILE *list;
};

static int pack_one(const char *relpath, int fd, const struct stat *st, void *userdata)
{
	struct pack *p = userdata;
	_cleanup_free_ char *name = NULL;
	mode_t mode = st->st_mode & 07777;

	if (strchr(relpath, '\n'))
		return -EINVAL; /* would break the list's lines */
	if (asprintf(&name, TRANSPORT_ARCHIVE_DIR "/%s", relpath) < 0)
		return -ENOMEM;
	fprintf(p->list, "%c %04o %llu %s\n", S_ISDIR(st->st_mode) ? 'd' : 'f', (unsigned)mode,
		S_ISDIR(st->st_mode) ? 0ULL : (unsigned long long)st->st_size, relpath);
	if (S_ISDIR(st->st_mode))
		return cpio_write_directory(&p->w, name, mode);
	return cpio_write_file_fd(&p->w, name, mode, fd, (uint64_t)st->st_size);
}

/* Append the images archive to out (which holds the original initrd). */
static int append_images(int out, const char *images_dir, uint64_t bytes, unsigned files,
			 char **ret_bad)
{
	_cleanup_free_ char *list = NULL;
	struct pack p = {};
	size_t list_size = 0;
	struct stat root;
	int r;

	if (stat(images_dir, &root) < 0)
		return negative_errno();
	r = cpio_writer_init(&p.w, out, (uint32_t)time(NULL));
	if (r < 0)
		return r;
	p.list = open_memstream(&list, &list_size);
	if (!p.list)
		return -ENOMEM;
	fprintf(p.list, "kupgrade-images 1 %llu %u\n", (unsigned long long)bytes, files);

	r = cpio_write_directory(&p.w, TRANSPORT_ARCHIVE_DIR, root.st_mode & 07777);
	if (r >= 0)
		r = dir_walk_at(AT_FDCWD, images_dir, pack_one, &p, ret_bad);
	if (fclose(p.list) != 0 && r >= 0)
		r = -ENOMEM;
	if (r >= 0)
		r = cpio_write_file_data(&p.w, TRANSPORT_ARCHIVE_LIST, 0600, list, list_size);
	if (r >= 0)
		r = cpio_write_trailer(&p.w);
	return r;
}

static int mount_stage(struct transport *t, uint64_t size)
{
	char opts[64];

	if (mkdir(t->staged_dir, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	/* Its own tmpfs: /run is capped at 10-20% of RAM, and umount frees it all. */
	snprintf(opts, sizeof(opts), "mode=0700,size=%llu", (unsigned long long)size);
	if (mount("tmpfs", t->staged_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		return negative_errno();
	t->mounted = true;
	return 0;
}

/* Refused here, before anything is written, when the archive could not be
 * made (a file over a cpio entry's limit) or loaded (over the initrd's). */
static int check_packable(const struct transport *t, const struct transport_census *c,
			  uint64_t isize)
{
	if (c->largest > CPIO_NEWC_MAX_FILE)
		return log_error_errno(-EFBIG,
				       "Cannot pack the images: %s/%s has %llu MiB, over the 4 GiB "
				       "a file can have in a cpio archive.",
				       t->images_dir, c->largest_path,
				       (unsigned long long)(c->largest / MiB));
	if (isize + c->bytes > TRANSPORT_INITRD_MAX)
		return log_error_errno(-EFBIG,
				       "Cannot pack the images: the %llu MiB initrd with %llu MiB "
				       "of images is over the 2 GiB the kernel loads as an initrd.",
				       (unsigned long long)(isize / MiB),
				       (unsigned long long)(c->bytes / MiB));
	return 0;
}

static int initrd_stage(struct transport *t)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	_cleanup_free_ char *bad = NULL, *largest_path = NULL;
	struct transport_census c = {};
	uint64_t isize;
	struct stat st;
	int r;

	r = transport_census(t->images_dir, &c);
	if (r < 0)
		return log_error_errno(r, "Cannot read the images in %s: %m", t->images_dir);
	largest_path = c.largest_path; /* freed on return */
	in = open(t->initrd, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return log_error_errno(negative_errno(), "Cannot open the initrd %s: %m",
				       t->initrd);
	isize = (uint64_t)st.st_size;
	r = check_packable(t, &c, isize);
	if (r < 0)
		return r;

	t->staged_dir = strdup(t->stage_dir ?: TRANSPORT_STAGE_DIR);
	if (!t->staged_dir ||
	    asprintf(&t->staged_initrd, "%s/" TRANSPORT_STAGED_INITRD, t->staged_dir) < 0)
		return log_oom();
	if (!t->stage_dir) {
		/* cpio headers and names cost ~0.5 KiB an entry; 16 MiB of slack. */
		r = mount_stage(t, isize + c.bytes + (uint64_t)c.files * 512 + 16 * MiB);
		if (r < 0)
			return log_error_errno(r, "Cannot mount a tmpfs on %s: %m", t->staged_dir);
	}

	out = open(t->staged_initrd, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return log_error_errno(negative_errno(), "Cannot create %s: %m", t->staged_initrd);
	r = transport_copy_bytes(in, out, isize);
	if (r < 0)
		return log_error_errno(r, "Cannot copy %s to %s: %m", t->initrd, t->staged_initrd);
	r = append_images(out, t->images_dir, c.bytes, c.files, &bad);
	if (r < 0)
		return log_error_errno(r, "Cannot pack the images into %s (at %s): %m",
				       t->staged_initrd, bad ?: t->images_dir);
	if (fstat(out, &st) < 0)
		return log_error_errno(negative_errno(), "Cannot stat %s: %m", t->staged_initrd);
	t->staged_bytes = (uint64_t)st.st_size;
	if (t->staged_bytes > TRANSPORT_INITRD_MAX)
		return log_error_errno(-EFBIG, "%s has %llu MiB, over the 2 GiB the kernel loads.",
				       t->staged_initrd,
				       (unsigned long long)(t->staged_bytes / MiB));
	log_info("Staged %u image files (%llu MiB) after the %llu MiB initrd in %s.", c.files,
		 (unsigned long long)(c.bytes / MiB), (unsigned long long)(isize / MiB),
		 t->staged_initrd);
	return 0;
}

static int initrd_undo(struct transport *t)
{
	int r = 0;

	if (t->staged_initrd && unlink(t->staged_initrd) < 0 && errno != ENOENT)
		r = log_warning_errno(negative_errno(), "Cannot remove %s, ignoring: %m",
				      t->staged_initrd);
	if (t->mounted) {
		if (umount2(t->staged_dir, MNT_DETACH) < 0)
			return log_error_errno(negative_errno(), "Cannot unmount %s: %m",
					       t->staged_dir);
		t->mounted = false;
		(void)rmdir(t->staged_dir);
	}
	return r;
}

int transport_initrd_has_carrier(const char *initrd)
{
	static const char *const tools[] = { "/usr/bin/lsinitramfs", "/usr/sbin/lsinitramfs",
					     "/usr/bin/lsinitrd", "/usr/sbin/lsinitrd" };
	_cleanup_free_ char *listing = NULL;
	const char *tool = NULL;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(tools) && !tool; i++)
		if (access(tools[i], X_OK) == 0)
			tool = tools[i];
	if (!tool)
		return -EOPNOTSUPP;
	/* The whole listing, read to its end: stopping early would kill the
	 * lister with SIGPIPE. */
	r = spawn_run(&(struct spawn){
		.argv = (const char *const[]){ tool, initrd, NULL },
		.stdin_fd = SPAWN_INHERIT,
		.output = &listing,
	});
	if (r < 0)
		return r;
	if (r != 0)
		return -EBADMSG; /* not an initrd the lister understands */
	return !!strstr(listing, CARRIER_SCRIPT);
}

const struct transport_ops transport_initrd_ops = {
	.name = "initrd",
	.fits = initrd_fits,
	.stage = initrd_stage,
	.undo = initrd_undo,
};
