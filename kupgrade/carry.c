/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carry.h"
#include "fileio.h"
#include "log.h"
#include "transport.h"

int carry_files(const struct plan_unit *pu, ManifestUnit *mu, struct imagedir *d,
		const char *dir_name)
{
	_cleanup_close_ int dir_fd = -EBADF;
	unsigned n = 0;

	for (size_t i = 0; i < pu->n_externals; i++) {
		const struct plan_external *e = &pu->externals[i];
		_cleanup_close_ int in = -EBADF, out = -EBADF;
		char image[32], name[16];
		bool seen = false;
		struct stat st;
		int r;

		if (!e->path)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = streq_ptr(pu->externals[j].path, e->path);
		if (seen)
			continue;
		in = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (in < 0 || fstat(in, &st) < 0)
			return log_error_errno(negative_errno(),
					       "Unit %s: cannot read %s to carry it: %m", mu->name,
					       e->path);
		if (S_ISDIR(st.st_mode)) {
			if (manifest_unit_add_carried(mu, e->path, NULL, st.st_mode, st.st_uid,
						      st.st_gid) < 0)
				return log_oom();
			continue;
		}
		if (dir_fd < 0) {
			r = imagedir_mkdir_sub(d, dir_name, "carried", &dir_fd);
			if (r < 0)
				return log_error_errno(
					r, "Unit %s: cannot create its carried files directory: %m",
					mu->name);
		}
		snprintf(name, sizeof(name), "%u", n);
		snprintf(image, sizeof(image), "carried/%u", n++);
		out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0 || transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
			return log_error_errno(-EIO, "Unit %s: cannot copy %s into the images: %m",
					       mu->name, e->path);
		if (manifest_unit_add_carried(mu, e->path, image, st.st_mode, st.st_uid,
					      st.st_gid) < 0)
			return log_oom();
		log_info("Unit %s: carrying %s (%lld bytes).", mu->name, e->path,
			 (long long)st.st_size);
	}
	return 0;
}

int carry_put_back(struct imagedir *d, const ManifestUnit *u)
{
	for (size_t i = 0; i < u->n_carried; i++) {
		const Kupgrade__CarriedFile *f = u->carried[i];
		_cleanup_close_ int in = -EBADF, out = -EBADF;
		char rel[4096];
		struct stat st;
		int r;

		if (access(f->path, F_OK) == 0)
			continue;
		r = mkdir_parents(f->path, 0755);
		if (r < 0)
			return log_error_errno(r, "%s: cannot create the directories of %s: %m",
					       u->name, f->path);
		if (!f->image) {
			if (mkdir(f->path, f->mode & 07777) < 0 && errno != EEXIST)
				return log_error_errno(negative_errno(), "%s: cannot create %s: %m",
						       u->name, f->path);
			(void)chown(f->path, f->uid, f->gid);
			continue;
		}
		snprintf(rel, sizeof(rel), "%s/%s", u->image_dir, f->image);
		if (imagedir_open_file(d, rel, &in) < 0 || fstat(in, &st) < 0)
			return log_error_errno(-ENOENT,
					       "%s: the copy of %s is missing from the images.",
					       u->name, f->path);
		out = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (out < 0)
			return log_error_errno(negative_errno(), "%s: cannot create %s: %m",
					       u->name, f->path);
		if (transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
			return log_error_errno(-EIO, "%s: cannot write %s: %m", u->name, f->path);
		if (fchown(out, f->uid, f->gid) < 0 || fchmod(out, f->mode & 07777) < 0)
			log_warning("%s: cannot give %s its owner and mode back: %m", u->name,
				    f->path);
		log_info("%s: put back %s.", u->name, f->path);
	}
	return 0;
}
