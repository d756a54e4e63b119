/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The disk transport: the images copied into a root-only directory
 * (/var/lib/kupgrade/images, 0700) on a file system that survives the
 * kexec, synced before returning. Used only when --images-on-disk asks
 * for it, never as a fallback: the images are secrets. Undo removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "dirwalk.h"
#include "fileio.h"
#include "log.h"
#include "transport.h"

static const char *disk_dir(const struct transport *t)
{
	return t->stage_dir ?: TRANSPORT_DISK_DIR;
}

static int disk_fits(const struct transport *t, uint64_t payload, char **ret_reason)
{
	const char *dir = disk_dir(t);
	struct statfs sf;
	uint64_t avail, need = payload + payload / 20 + 16 * MiB;
	int r;

	*ret_reason = NULL;
	r = statfs_nearest(dir, &sf);
	if (r < 0) {
		if (asprintf(ret_reason, "cannot examine the file system of %s (%s)", dir,
			     strerror(-r)) < 0)
			*ret_reason = NULL;
		return r;
	}
	if ((unsigned long)sf.f_type == TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC) {
		if (asprintf(ret_reason, "%s is in memory (tmpfs), which does not survive a kexec",
			     dir) < 0)
			*ret_reason = NULL;
		return -EOPNOTSUPP;
	}
	avail = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
	if (need > avail) {
		if (asprintf(ret_reason, "%s has %llu MiB free, the images need about %llu MiB",
			     dir, (unsigned long long)(avail / MiB),
			     (unsigned long long)(need / MiB)) < 0)
			*ret_reason = NULL;
		return -ENOSPC;
	}
	return 0;
}

struct copy {
	int dst; /* the target root directory */
	uint64_t bytes;
};

static int copy_one(const char *relpath, int fd, const struct stat *st, void *userdata)
{
	struct copy *c = userdata;
	_cleanup_close_ int out = -EBADF;
	int r;

	if (S_ISDIR(st->st_mode))
		return RET_NERRNO(mkdirat(c->dst, relpath, st->st_mode & 07777));
	out = openat(c->dst, relpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		     st->st_mode & 07777);
	if (out < 0)
		return negative_errno();
	r = transport_copy_bytes(fd, out, (uint64_t)st->st_size);
	if (r < 0)
		return r;
	c->bytes += (uint64_t)st->st_size;
	return RET_NERRNO(fsync(out));
}

static int disk_stage(struct transport *t)
{
	_cleanup_free_ char *bad = NULL;
	struct copy c = { .dst = -EBADF };
	int r;

	t->staged_dir = strdup(disk_dir(t));
	if (!t->staged_dir)
		return log_oom();
	r = mkdir_parents(t->staged_dir, 0700);
	if (r < 0)
		return log_error_errno(r, "Cannot create the parents of %s: %m", t->staged_dir);
	if (mkdir(t->staged_dir, 0700) < 0) {
		r = negative_errno();
		free(t->staged_dir);
		t->staged_dir = NULL; /* not ours: undo must not remove it */
		if (r == -EEXIST)
			return log_error_errno(r,
					       "%s already exists: images of an earlier run? "
					       "Inspect it with 'kupgrade inspect' and remove it.",
					       disk_dir(t));
		return log_error_errno(r, "Cannot create %s: %m", disk_dir(t));
	}
	c.dst = open(t->staged_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.dst < 0)
		return log_error_errno(negative_errno(), "Cannot open %s: %m", t->staged_dir);
	r = dir_walk_at(AT_FDCWD, t->images_dir, copy_one, &c, &bad);
	if (r >= 0)
		r = RET_NERRNO(syncfs(c.dst));
	close(c.dst);
	if (r < 0)
		return log_error_errno(r, "Cannot copy the images to %s (at %s): %m", t->staged_dir,
				       bad ?: "sync");
	t->staged_bytes = c.bytes;
	log_info("Staged %llu MiB of images on disk in %s.", (unsigned long long)(c.bytes / MiB),
		 t->staged_dir);
	return 0;
}

static int disk_undo(struct transport *t)
{
	int r;

	if (!t->staged_dir)
		return 0;
	r = transport_remove_tree(t->staged_dir);
	if (r < 0)
		return log_error_errno(r, "Cannot remove the images in %s: %m", t->staged_dir);
	return 0;
}

const struct transport_ops transport_disk_ops = {
	.name = "disk",
	.fits = disk_fits,
	.stage = disk_stage,
	.undo = disk_undo,
};
