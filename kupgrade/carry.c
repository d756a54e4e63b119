/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "carry.h"
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
			return log_error_errno(negative_errno(), "Unit %s: cannot read %s to carry it: %m", mu->name, e->path);
		if (S_ISDIR(st.st_mode)) {
			if (manifest_unit_add_carried(mu, e->path, NULL, st.st_mode, st.st_uid, st.st_gid) < 0)
				return log_oom();
			continue;
		}
		if (dir_fd < 0) {
			r = imagedir_mkdir_sub(d, dir_name, "carried", &dir_fd);
			if (r < 0)
				return log_error_errno(r, "Unit %s: cannot create its carried files directory: %m",
						       mu->name);
		}
		snprintf(name, sizeof(name), "%u", n);
		snprintf(image, sizeof(image), "carried/%u", n++);
		out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (out < 0 || transport_copy_bytes(in, out, (uint64_t)st.st_size) < 0)
			return log_error_errno(-EIO, "Unit %s: cannot copy %s into the images: %m", mu->name,
					       e->path);
		if (manifest_unit_add_carried(mu, e->path, image, st.st_mode, st.st_uid, st.st_gid) < 0)
			return log_oom();
		log_info("Unit %s: carrying %s (%lld bytes).", mu->name, e->path, (long long)st.st_size);
	}
	return 0;
}
