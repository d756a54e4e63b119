/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cgroup.h"
#include "fileio.h"
#include "log.h"

int cgroup_parse_mountinfo(FILE *f, char **ret)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;

	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
	while (getline(&line, &size, f) >= 0) {
		char root[4096], mnt[4096], *sep = strstr(line, " - ");
		char fstype[64];

		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 || !streq(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		/* A cgroup2 mount of a subtree (as in a container) cannot see the whole tree. */
		if (!streq(root, "/"))
			continue;
		*ret = strdup(mnt);
		return *ret ? 0 : -ENOMEM;
	}
	return ferror(f) ? -EIO : -ENOMEDIUM;
}

int cgroup_find_mount(char **ret)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return negative_errno();
	return cgroup_parse_mountinfo(f, ret);
}

int cgroup_path(const char *mount, const char *cg, const char *file, char **ret)
{
	return asprintf(ret, "%s%s%s%s", mount, streq(cg, "/") ? "" : cg, file ? "/" : "",
			file ?: "") < 0
		       ? -ENOMEM
		       : 0;
}

int cgroup_read_procs(const char *mount, const char *cg, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	long pid;
	int r;

	r = cgroup_path(mount, cg, "cgroup.procs", &path);
	if (r < 0)
		return r;
	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	while (fscanf(f, "%ld", &pid) == 1) {
		if (!GREEDY_REALLOC(pids, n + 1))
			return -ENOMEM;
		pids[n++] = (pid_t)pid;
	}
	if (ferror(f))
		return -EIO;
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

int cgroup_attach(const char *mount, const char *cg, pid_t pid)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = cgroup_path(mount, cg, "cgroup.procs", &path);
	if (r < 0)
		return r;
	return write_string_file_in_place(path, "%d\n", (int)pid);
}

int cgroup_walk(const char *mount, const char *cg, cgroup_walk_func fn, void *userdata)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;
	int r;

	r = cgroup_read_procs(mount, cg, &pids, &n);
	if (r == -ENOENT)
		return 0; /* removed meanwhile */
	if (r < 0)
		return r;
	r = fn(cg, pids, n, userdata);
	if (r < 0)
		return r;

	r = cgroup_path(mount, cg, NULL, &dir);
	if (r < 0)
		return r;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : negative_errno();
	while ((de = readdir(d))) {
		_cleanup_free_ char *child = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&child, "%s/%s", streq(cg, "/") ? "" : cg, de->d_name) < 0)
			return -ENOMEM;
		r = cgroup_walk(mount, child, fn, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

struct pid_set {
	pid_t *pids;
	size_t n;
};

static int collect_pids(const char *cg, const pid_t *pids, size_t n, void *userdata)
{
	struct pid_set *s = userdata;

	if (!GREEDY_REALLOC(s->pids, s->n + n))
		return -ENOMEM;
	memcpy(s->pids + s->n, pids, n * sizeof(pid_t));
	s->n += n;
	return 0;
}

int cgroup_pids_recursive(const char *mount, const char *cg, pid_t **ret, size_t *ret_n)
{
	struct pid_set s = {};
	int r;

	r = cgroup_walk(mount, cg, collect_pids, &s);
	if (r < 0) {
		free(s.pids);
		return r;
	}
	*ret = s.pids;
	*ret_n = s.n;
	return 0;
}

bool cgroup_is_below(const char *path, const char *cg)
{
	size_t n = strlen(cg);

	if (streq(cg, "/"))
		return path[0] == '/';
	return strncmp(path, cg, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n > k && memcmp(s + n - k, suffix, k) == 0;
}

const char *cgroup_path_unit(const char *path, size_t *ret_name_len, size_t *ret_prefix_len)
{
	const char *p = path;

	while (*p == '/') {
		const char *name = p + 1, *end = strchrnul(name, '/');
		size_t n = (size_t)(end - name);

		if (has_suffix(name, n, ".service") || has_suffix(name, n, ".scope")) {
			*ret_name_len = n;
			*ret_prefix_len = (size_t)(end - path);
			return name;
		}
		p = end;
	}
	return NULL;
}
