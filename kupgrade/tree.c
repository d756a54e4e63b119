/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "log.h"
#include "tree.h"

static int read_text(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0;
	FILE *mem;
	char chunk[4096];
	size_t k;

	if (!f)
		return negative_errno();
	mem = open_memstream(&buf, &size);
	if (!mem)
		return -ENOMEM;
	while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, k, mem);
	if (ferror(f)) {
		fclose(mem);
		free(buf);
		return -EIO;
	}
	if (fclose(mem) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	return 0;
}

static int push_u64(uint64_t **a, size_t *n, uint64_t v)
{
	for (size_t i = 0; i < *n; i++)
		if ((*a)[i] == v)
			return 0;
	if (!GREEDY_REALLOC(*a, *n + 1))
		return -ENOMEM;
	(*a)[(*n)++] = v;
	return 0;
}

static int push_pid(pid_t **a, size_t *n, pid_t v)
{
	if (!GREEDY_REALLOC(*a, *n + 1))
		return -ENOMEM;
	(*a)[(*n)++] = v;
	return 0;
}

int tree_parse_mount_ids(const char *mountinfo, uint32_t **ret, size_t *ret_n)
{
	uint32_t *ids = NULL;
	size_t n = 0;

	for (const char *p = mountinfo; p && *p;) {
		unsigned id;

		if (sscanf(p, "%u ", &id) != 1) {
			free(ids);
			return -EBADMSG;
		}
		if (!GREEDY_REALLOC(ids, n + 1)) {
			free(ids);
			return -ENOMEM;
		}
		ids[n++] = id;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	*ret = ids;
	*ret_n = n;
	return 0;
}

int tree_parse_fdinfo_mnt_id(const char *fdinfo, uint32_t *ret)
{
	const char *p = strstr(fdinfo, "mnt_id:");

	if (!p || (p != fdinfo && p[-1] != '\n'))
		return -ENOENT;
	return sscanf(p, "mnt_id: %u", ret) == 1 ? 0 : -EBADMSG;
}

static bool pid_in(pid_t pid, const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

bool tree_contains(const struct tree *t, pid_t pid)
{
	return pid_in(pid, t->pids, t->n_pids);
}

/* Breadth-first over /proc/PID/task/TID/children: exactly the subtree CRIU dumps. */
static int collect_pids(struct tree *t)
{
	int r = push_pid(&t->pids, &t->n_pids, t->root);

	for (size_t i = 0; r == 0 && i < t->n_pids; i++) {
		char path[64];
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pids[i]);
		d = opendir(path);
		if (!d)
			return i == 0 ? negative_errno() : 0; /* a child that just exited */
		while (r == 0 && (de = readdir(d))) {
			_cleanup_free_ char *text = NULL;
			char cpath[384];

			if (de->d_name[0] == '.')
				continue;
			snprintf(cpath, sizeof(cpath), "%s/%s/children", path, de->d_name);
			if (read_text(cpath, &text) < 0)
				continue;
			for (char *tok = strtok(text, " \n"); r == 0 && tok;
			     tok = strtok(NULL, " \n"))
				r = push_pid(&t->pids, &t->n_pids, atoi(tok));
		}
	}
	return r;
}

/* Fields 5 (pgrp) and 6 (session) of /proc/PID/stat, after the ")" of comm. */
static int read_pgrp_sid(pid_t pid, pid_t *pgrp, pid_t *sid)
{
	_cleanup_free_ char *text = NULL;
	char path[64], *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = read_text(path, &text);
	if (r < 0)
		return r;
	p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %*c %*d %d %d", pgrp, sid) != 2)
		return -EBADMSG;
	return 0;
}

static int set_problem(struct tree *t, const char *fmt, ...) _printf_(2, 3);
static int set_problem(struct tree *t, const char *fmt, ...)
{
	va_list ap;

	if (t->problem)
		return 0; /* the first one is enough to refuse */
	va_start(ap, fmt);
	if (vasprintf(&t->problem, fmt, ap) < 0)
		t->problem = NULL;
	va_end(ap);
	return t->problem ? 0 : -ENOMEM;
}

static int add_external(struct tree *t, pid_t pid, int fd, const char *link, uint32_t mnt_id,
			const struct stat *st)
{
	struct tree_file *n;

	if (!GREEDY_REALLOC(t->externals, t->n_externals + 1))
		return -ENOMEM;
	n = &t->externals[t->n_externals];
	*n = (struct tree_file){ .pid = pid, .fd = fd, .mode = st->st_mode, .path = strdup(link) };
	if (!n->path)
		return -ENOMEM;
	snprintf(n->key, sizeof(n->key), "file[%x:%llx]", mnt_id, (unsigned long long)st->st_ino);
	t->n_externals++;
	if (!S_ISFIFO(st->st_mode))
		return set_problem(t,
				   "PID %d holds %s (fd %d) from a mount outside its mount namespace; "
				   "kupgrade can hand back only FIFOs there",
				   (int)pid, link, fd);
	return 0;
}

/* Terminals: indexes of the pty masters and slaves the tree holds. */
struct ptys {
	uint64_t *masters, *slaves;
	size_t n_masters, n_slaves;
	pid_t slave_pid;
};

static int note_pty(struct ptys *p, pid_t pid, int fd, const char *link)
{
	_cleanup_free_ char *fdinfo = NULL;
	char path[64];
	const char *ti;
	unsigned idx;

	if (strncmp(link, "/dev/pts/", 9) == 0 && sscanf(link + 9, "%u", &idx) == 1) {
		p->slave_pid = pid;
		return push_u64(&p->slaves, &p->n_slaves, idx);
	}
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	if (read_text(path, &fdinfo) < 0 || !(ti = strstr(fdinfo, "tty-index:")) ||
	    sscanf(ti, "tty-index: %u", &idx) != 1)
		return 0;
	return push_u64(&p->masters, &p->n_masters, idx);
}

static int scan_fd(struct tree *t, struct ptys *ptys, pid_t pid, int fd, const uint32_t *mnts,
		   size_t n_mnts)
{
	_cleanup_free_ char *fdinfo = NULL;
	char path[64], link[4096];
	struct stat st;
	uint32_t mnt_id;
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	k = readlink(path, link, sizeof(link) - 1);
	if (k < 0 || stat(path, &st) < 0)
		return 0; /* closed meanwhile */
	link[k] = 0;
	if (S_ISSOCK(st.st_mode))
		return push_u64(&t->sockets, &t->n_sockets, st.st_ino);
	if (link[0] != '/')
		return 0; /* pipes, anon inodes: CRIU handles them */
	if (S_ISCHR(st.st_mode) && (streq(link, "/dev/ptmx") || strncmp(link, "/dev/pts/", 9) == 0))
		return note_pty(ptys, pid, fd, link);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	if (read_text(path, &fdinfo) < 0 || tree_parse_fdinfo_mnt_id(fdinfo, &mnt_id) < 0)
		return 0;
	for (size_t i = 0; i < n_mnts; i++)
		if (mnts[i] == mnt_id)
			return 0;
	return add_external(t, pid, fd, link, mnt_id, &st);
}

static int scan_process(struct tree *t, struct ptys *ptys, pid_t pid, const uint32_t *mnts,
			size_t n_mnts)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	pid_t pgrp, sid;
	char path[64];
	int r;

	if (read_pgrp_sid(pid, &pgrp, &sid) < 0)
		return 0; /* exited */
	if (!tree_contains(t, sid) || !tree_contains(t, pgrp))
		t->shell_job = true;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		r = scan_fd(t, ptys, pid, atoi(de->d_name), mnts, n_mnts);
		if (r < 0)
			return r;
	}
	return 0;
}

int tree_scan(pid_t root, struct tree *ret)
{
	struct tree t = { .root = root };
	struct ptys ptys = {};
	_cleanup_free_ char *mountinfo = NULL;
	_cleanup_free_ uint32_t *mnts = NULL;
	size_t n_mnts = 0;
	char path[64];
	int r;

	r = collect_pids(&t);
	if (r < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)root);
	r = read_text(path, &mountinfo);
	if (r < 0)
		goto fail;
	r = tree_parse_mount_ids(mountinfo, &mnts, &n_mnts);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < t.n_pids; i++) {
		r = scan_process(&t, &ptys, t.pids[i], mnts, n_mnts);
		if (r < 0)
			goto fail;
	}
	/* A terminal whose master lives outside the tree (a shell started from
	 * another session): CRIU would need that master handed in. An ssh
	 * session's own sshd holds its master, inside the tree. */
	for (size_t i = 0; i < ptys.n_slaves && !t.problem; i++) {
		bool inside = false;

		for (size_t j = 0; j < ptys.n_masters; j++)
			inside = inside || ptys.masters[j] == ptys.slaves[i];
		if (!inside)
			r = set_problem(&t,
					"PID %d uses /dev/pts/%llu, whose terminal master is outside "
					"the tree",
					(int)ptys.slave_pid, (unsigned long long)ptys.slaves[i]);
	}
	free(ptys.masters);
	free(ptys.slaves);
	*ret = t;
	return r < 0 ? r : 0;
fail:
	free(ptys.masters);
	free(ptys.slaves);
	tree_done(&t);
	return r;
}

size_t tree_uncovered_roots(const pid_t *pids, const pid_t *ppids, size_t n, const pid_t *covered,
			    size_t n_covered, pid_t *ret)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (ppids[i] > 0 && !pid_in(pids[i], covered, n_covered) &&
		    !pid_in(ppids[i], pids, n))
			ret[k++] = pids[i];
	return k;
}

void tree_done(struct tree *t)
{
	for (size_t i = 0; i < t->n_externals; i++)
		free(t->externals[i].path);
	free(t->externals);
	free(t->pids);
	free(t->sockets);
	free(t->problem);
	*t = (struct tree){};
}
