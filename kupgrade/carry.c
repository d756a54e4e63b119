/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Both halves run as root on paths a local user may control (a file under
 * /run/user/UID, say): every path is walked one component at a time without
 * following a symlink (open_parent_nofollow()), files are opened O_PATH
 * first and checked before anything reads them, and owners and modes are
 * set on the fd, never by path.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carry.h"
#include "fileio.h"
#include "log.h"
#include "sort.h"
#include "transport.h"

/* What open_parent_nofollow() refused, for people; NULL when it did not. */
static const char *walk_refusal(int r)
{
	switch (r) {
	case -ELOOP:
		return "is a symbolic link";
	case -EPERM:
		return "belongs to a user other than root and the file's owner";
	case -ENOTDIR:
		return "is not a directory";
	default:
		return NULL;
	}
}

static const char *file_kind(mode_t mode)
{
	return S_ISLNK(mode)	? "a symbolic link"
	       : S_ISFIFO(mode) ? "a FIFO"
	       : S_ISSOCK(mode) ? "a socket"
	       : S_ISDIR(mode)	? "a directory"
	       : S_ISREG(mode)	? "a regular file"
				: "a device";
}

/*
 * The file the plan saw at e->path, opened O_PATH: reached without
 * following a symlink, a regular file or a directory with the plan's
 * inode, no bigger than what is carried, and on the device of the fd the
 * process holds (while it still holds that inode). A FIFO or a device
 * swapped in is never opened for reading: it can neither block the worker
 * nor act. Anything else refuses the unit before its dump.
 */
static int open_planned(const char *unit, const struct plan_external *e, int *ret_fd,
			struct stat *ret_st)
{
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *bad = NULL;
	struct stat st, held;
	const char *name;
	char proc[64];

	dir_fd = open_parent_nofollow(e->path, 0, 0, &name, &bad);
	if (dir_fd < 0 && walk_refusal(dir_fd) && bad)
		return log_error_errno(dir_fd, "Unit %s: refusing to carry %s: %s %s.", unit,
				       e->path, bad, walk_refusal(dir_fd));
	if (dir_fd >= 0)
		fd = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0 || fd < 0 || fstat(fd, &st) < 0)
		return log_error_errno(dir_fd < 0 ? dir_fd : negative_errno(),
				       "Unit %s: cannot read %s to carry it: %m", unit, e->path);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return log_error_errno(-ESTALE, "Unit %s: refusing to carry %s: it is now %s.",
				       unit, e->path, file_kind(st.st_mode));
	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)e->pid, e->fd);
	if (st.st_ino != e->inode ||
	    (stat(proc, &held) == 0 && held.st_ino == st.st_ino && held.st_dev != st.st_dev))
		return log_error_errno(-ESTALE,
				       "Unit %s: refusing to carry %s: it is no longer the file the "
				       "plan saw (inode %llu, now %llu).",
				       unit, e->path, (unsigned long long)e->inode,
				       (unsigned long long)st.st_ino);
	if (S_ISREG(st.st_mode) && st.st_size > CARRY_MAX_BYTES)
		return log_error_errno(-EFBIG,
				       "Unit %s: refusing to carry %s: it grew to %lld bytes, over the "
				       "%d KiB carried.",
				       unit, e->path, (long long)st.st_size,
				       CARRY_MAX_BYTES / 1024);
	*ret_st = st;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* A regular file of open_planned(), opened for reading through its O_PATH
 * fd: the very inode checked. */
static int reopen_for_reading(int path_fd)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
	return RET_NERRNO(open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
}

struct carry {
	struct imagedir *d;
	const char *dir_name;
	int dir_fd; /* <unit>/carried, made at the first file */
	unsigned n;
};

static int carry_one(struct carry *c, const struct plan_external *e, ManifestUnit *mu)
{
	_cleanup_close_ int path_fd = -EBADF, in = -EBADF, out = -EBADF;
	char image[32], name[16];
	struct stat st = {};
	int r;

	r = open_planned(mu->name, e, &path_fd, &st);
	if (r < 0)
		return r;
	if (S_ISDIR(st.st_mode))
		return manifest_unit_add_carried(mu, e->path, NULL, st.st_mode, st.st_uid,
						 st.st_gid) < 0
			       ? log_oom()
			       : 0;
	in = reopen_for_reading(path_fd);
	if (in < 0)
		return log_error_errno(in, "Unit %s: cannot read %s to carry it: %m", mu->name,
				       e->path);
	if (c->dir_fd < 0) {
		r = imagedir_mkdir_sub(c->d, c->dir_name, "carried", &c->dir_fd);
		if (r < 0)
			return log_error_errno(r,
					       "Unit %s: cannot create its carried files directory: %m",
					       mu->name);
	}
	snprintf(name, sizeof(name), "%u", c->n);
	snprintf(image, sizeof(image), "carried/%u", c->n++);
	out = openat(c->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0 || transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
		return log_error_errno(-EIO, "Unit %s: cannot copy %s into the images: %m",
				       mu->name, e->path);
	if (manifest_unit_add_carried(mu, e->path, image, st.st_mode, st.st_uid, st.st_gid) < 0)
		return log_oom();
	log_info("Unit %s: carrying %s (%lld bytes).", mu->name, e->path, (long long)st.st_size);
	return 0;
}

int carry_files(const struct plan_unit *pu, ManifestUnit *mu, struct imagedir *d,
		const char *dir_name)
{
	struct carry c = { .d = d, .dir_name = dir_name, .dir_fd = -EBADF };
	int r = 0;

	for (size_t i = 0; i < pu->n_externals && r >= 0; i++) {
		const struct plan_external *e = &pu->externals[i];
		bool seen = false;

		if (!e->path)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq_ptr(pu->externals[j].path, e->path);
		if (!seen)
			r = carry_one(&c, e, mu);
	}
	if (c.dir_fd >= 0)
		close(c.dir_fd);
	return r < 0 ? r : 0;
}

/* Directories first, parents before their children (shorter paths first):
 * a directory is then made by its own entry, not as someone's parent. */
static int put_back_order(const void *a, const void *b)
{
	const Kupgrade__CarriedFile *x = *(const Kupgrade__CarriedFile *const *)a;
	const Kupgrade__CarriedFile *y = *(const Kupgrade__CarriedFile *const *)b;

	if (!x->image != !y->image)
		return x->image ? 1 : -1;
	return CMP(strlen(x->path), strlen(y->path));
}

/* dir_fd/name, missing until now, made as f: contents copied from the
 * images (or a directory), then owner and mode set on the fd. */
static int create_carried(struct imagedir *d, const ManifestUnit *u, const Kupgrade__CarriedFile *f,
			  int dir_fd, const char *name)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	char rel[4096];
	struct stat st;

	if (!f->image) {
		if (mkdirat(dir_fd, name, 0700) < 0 ||
		    (out = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
			    0)
			return log_error_errno(negative_errno(), "%s: cannot create %s: %m",
					       u->name, f->path);
		(void)fchown(out, f->uid, f->gid);
		(void)fchmod(out, f->mode & 07777);
		return 0;
	}
	snprintf(rel, sizeof(rel), "%s/%s", u->image_dir, f->image);
	if (imagedir_open_file(d, rel, &in) < 0 || fstat(in, &st) < 0)
		return log_error_errno(-ENOENT, "%s: the copy of %s is missing from the images.",
				       u->name, f->path);
	out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return log_error_errno(negative_errno(), "%s: cannot create %s: %m", u->name,
				       f->path);
	if (transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
		return log_error_errno(-EIO, "%s: cannot write %s: %m", u->name, f->path);
	if (fchown(out, f->uid, f->gid) < 0 || fchmod(out, f->mode & 07777) < 0)
		log_warning("%s: cannot give %s its owner and mode back: %m", u->name, f->path);
	log_info("%s: put back %s.", u->name, f->path);
	return 0;
}

static int put_back_one(struct imagedir *d, const ManifestUnit *u, const Kupgrade__CarriedFile *f)
{
	_cleanup_close_ int dir_fd = -EBADF;
	_cleanup_free_ char *bad = NULL;
	const char *name;
	struct stat st;

	dir_fd = open_parent_nofollow(f->path, WALK_MKDIR | WALK_CHECK_OWNER, f->uid, &name, &bad);
	if (dir_fd < 0 && walk_refusal(dir_fd) && bad)
		return log_error_errno(dir_fd, "%s: refusing to put back %s: %s %s.", u->name,
				       f->path, bad, walk_refusal(dir_fd));
	if (dir_fd < 0)
		return log_error_errno(dir_fd, "%s: cannot create the directories of %s: %m",
				       u->name, f->path);
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return log_error_errno(negative_errno(), "%s: cannot create %s: %m",
					       u->name, f->path);
		return create_carried(d, u, f, dir_fd, name);
	}
	/* Left alone where it still exists (a restore on the same boot), if
	 * it is what was carried: of its kind and its owner. */
	if ((f->image ? S_ISREG(st.st_mode) : S_ISDIR(st.st_mode)) && st.st_uid == f->uid)
		return 0;
	return log_error_errno(-EEXIST,
			       "%s: refusing to put back %s: %s owned by UID %u is there, not "
			       "what was carried.",
			       u->name, f->path, file_kind(st.st_mode), (unsigned)st.st_uid);
}

int carry_put_back(struct imagedir *d, const ManifestUnit *u)
{
	_cleanup_free_ const Kupgrade__CarriedFile **order = NULL;

	if (u->n_carried == 0)
		return 0;
	order = malloc(u->n_carried * sizeof(*order));
	if (!order)
		return log_oom();
	memcpy(order, u->carried, u->n_carried * sizeof(*order));
	qsort(order, u->n_carried, sizeof(*order), put_back_order);
	for (size_t i = 0; i < u->n_carried; i++) {
		int r = put_back_one(d, u, order[i]);

		if (r < 0)
			return r;
	}
	return 0;
}
