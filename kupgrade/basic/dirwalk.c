/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "dirwalk.h"
#include "macro.h"

static int walk_dir(int dfd, const char *rel, dir_walk_fn fn, void *userdata, char **ret_bad_path)
{
	struct dirent **names = NULL;
	int n, r = 0;

	n = scandirat(dfd, ".", &names, NULL, alphasort);
	if (n < 0)
		return negative_errno();
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int fd = -EBADF;
		struct stat st;

		if (r < 0 || streq(name, ".") || streq(name, ".."))
			continue;
		if (asprintf(&path, "%s%s%s", rel, *rel ? "/" : "", name) < 0) {
			r = -ENOMEM;
			continue;
		}
		/* Look before opening: opening a device or FIFO has side effects. */
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = negative_errno();
		else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			r = -EOPNOTSUPP;
		else if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)) < 0)
			r = negative_errno();
		if (r < 0) {
			if (ret_bad_path)
				*ret_bad_path = TAKE_PTR(path);
			continue;
		}
		r = fn(path, fd, &st, userdata);
		if (r >= 0 && S_ISDIR(st.st_mode))
			r = walk_dir(fd, path, fn, userdata, ret_bad_path);
		if (r < 0 && ret_bad_path && !*ret_bad_path)
			*ret_bad_path = TAKE_PTR(path);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int dir_walk_at(int dir_fd, const char *path, dir_walk_fn fn, void *userdata, char **ret_bad_path)
{
	_cleanup_close_ int dfd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (ret_bad_path)
		*ret_bad_path = NULL;
	if (dfd < 0)
		return negative_errno();
	return walk_dir(dfd, "", fn, userdata, ret_bad_path);
}

struct measure {
	uint64_t bytes;
	unsigned files;
};

static int measure_one(const char *relpath, int fd, const struct stat *st, void *userdata)
{
	struct measure *m = userdata;

	if (S_ISREG(st->st_mode)) {
		m->bytes += (uint64_t)st->st_size;
		m->files++;
	}
	return 0;
}

int dir_measure_at(int dir_fd, const char *path, uint64_t *ret_bytes, unsigned *ret_files)
{
	struct measure m = {};
	int r = dir_walk_at(dir_fd, path, measure_one, &m, NULL);

	if (r < 0)
		return r;
	*ret_bytes = m.bytes;
	if (ret_files)
		*ret_files = m.files;
	return 0;
}
