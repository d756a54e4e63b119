/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "alloc.h"
#include "fileio.h"
#include "log.h"
#include "proc.h"
#include "sort.h"

/* ENOENT for a /proc/PID file means the process is gone. */
static int proc_errno(void)
{
	return errno == ENOENT ? -ESRCH : negative_errno();
}

/* Parse /proc/PID/NAME with parse(f, ret); -ESRCH when the process is gone. */
#define PROC_PARSE_FILE(pid, name, parse, ret)                                \
	({                                                                    \
		_cleanup_fclose_ FILE *_f = NULL;                             \
		char _path[64];                                               \
                                                                              \
		snprintf(_path, sizeof(_path), "/proc/%d/" name, (int)(pid)); \
		_f = fopen(_path, "re");                                      \
		_f ? parse(_f, ret) : proc_errno();                           \
	})

/* A /proc file of a process that is gone reads as -ESRCH. */
static int proc_read_file(const char *path, char *buf, size_t size)
{
	int r = read_small_file(path, buf, size);

	return r == -ENOENT ? -ESRCH : r < 0 ? r : 0;
}

int proc_parse_stat(const char *buf, struct proc_stat *ret)
{
	const char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')'), *p;
	struct proc_stat st = {};
	long long field[21] = {};
	size_t len;
	char *end;

	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EBADMSG;
	st.pid = (pid_t)strtol(buf, &end, 10);
	if (end == buf || st.pid <= 0)
		return -EBADMSG;
	len = MIN((size_t)(close_paren - open_paren - 1), sizeof(st.comm) - 1);
	memcpy(st.comm, open_paren + 1, len);
	st.comm[len] = 0;

	/* "comm" is field 2 and may hold anything, so parse from the last ')'. */
	if (close_paren[1] != ' ' || !close_paren[2])
		return -EBADMSG;
	st.state = close_paren[2];
	p = close_paren + 3;
	for (int i = 4; i <= 20; i++) { /* 1-based field numbers, man 5 proc */
		field[i] = strtoll(p, &end, 10);
		if (end == p)
			return -EBADMSG;
		p = end;
	}
	st.ppid = (pid_t)field[4];
	st.flags = (unsigned)field[9];
	st.threads = (unsigned)field[20];
	*ret = st;
	return 0;
}

int proc_read_stat(pid_t pid, struct proc_stat *ret)
{
	char path[64], buf[1024];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	r = proc_read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return proc_parse_stat(buf, ret);
}

bool proc_is_kernel_thread(const struct proc_stat *st)
{
	/* kthreadd is PID 2 and the parent of every kernel thread. */
	return (st->flags & PF_KTHREAD_FLAG) || st->pid == 2 || st->ppid == 2;
}

int proc_parse_smaps_rollup(FILE *f, struct proc_mem *ret)
{
	static const struct {
		const char *key;
		size_t offset;
	} fields[] = {
		{ "Rss:", offsetof(struct proc_mem, rss) },
		{ "Anonymous:", offsetof(struct proc_mem, anonymous) },
		{ "Swap:", offsetof(struct proc_mem, swap) },
		{ "Pss_Shmem:", offsetof(struct proc_mem, pss_shmem) },
	};
	struct proc_mem m = {};
	char line[256];

	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
			size_t n = strlen(fields[i].key);
			unsigned long long kb;

			if (strncmp(line, fields[i].key, n) != 0)
				continue;
			if (sscanf(line + n, "%llu kB", &kb) != 1)
				return -EBADMSG;
			*(uint64_t *)((char *)&m + fields[i].offset) = (uint64_t)kb * 1024;
		}
	}
	if (ferror(f))
		return -EIO;
	*ret = m;
	return 0;
}

int proc_read_mem(pid_t pid, struct proc_mem *ret)
{
	return PROC_PARSE_FILE(pid, "smaps_rollup", proc_parse_smaps_rollup, ret);
}

uint64_t proc_mem_image_estimate(const struct proc_mem *m)
{
	/*
	 * CRIU writes the pages a restore cannot get back from files: private
	 * anonymous memory (including copy-on-write copies of file pages, which
	 * the kernel counts as Anonymous), what of it is swapped out, and shared
	 * anonymous memory (shmem, memfd); the last is shared between processes,
	 * so each counts its proportional share. Clean file pages are not dumped.
	 */
	return m->anonymous + m->swap + m->pss_shmem;
}

int proc_parse_nofile_limit(FILE *f, uint64_t *ret_soft)
{
	char line[256];

	while (fgets(line, sizeof(line), f)) {
		const char *v = startswith(line, "Max open files");
		unsigned long long soft;

		if (!v)
			continue;
		v += strspn(v, " ");
		if (startswith(v, "unlimited")) {
			*ret_soft = UINT64_MAX;
			return 0;
		}
		if (sscanf(v, "%llu", &soft) != 1)
			return -EBADMSG;
		*ret_soft = soft;
		return 0;
	}
	return ferror(f) ? -EIO : -EBADMSG;
}

int proc_read_nofile_limit(pid_t pid, uint64_t *ret_soft)
{
	return PROC_PARSE_FILE(pid, "limits", proc_parse_nofile_limit, ret_soft);
}

int proc_parse_cgroup(FILE *f, char **ret)
{
	char line[4096];

	while (fgets(line, sizeof(line), f)) {
		size_t n;

		if (strncmp(line, "0::", 3) != 0)
			continue;
		n = strcspn(line + 3, "\n");
		*ret = strndup(line + 3, n);
		return *ret ? 0 : -ENOMEM;
	}
	return ferror(f) ? -EIO : -ENODATA; /* no cgroup2 hierarchy line */
}

int proc_read_cgroup(pid_t pid, char **ret)
{
	return PROC_PARSE_FILE(pid, "cgroup", proc_parse_cgroup, ret);
}

int proc_list_pids(pid_t **ret, size_t *ret_n)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	struct dirent *de;

	if (!d)
		return negative_errno();
	while ((errno = 0, de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		if (!GREEDY_REALLOC(pids, n + 1))
			return -ENOMEM;
		pids[n++] = (pid_t)pid;
	}
	if (errno)
		return negative_errno();
	qsort(pids, n, sizeof(pid_t), pid_compare);
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

int proc_read_ns(pid_t pid, const char *name, uint64_t *ret)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	if (stat(path, &st) < 0)
		return proc_errno();
	*ret = st.st_ino;
	return 0;
}

/* PIDFD_THREAD (Linux 6.9) is O_EXCL in a pidfd's flags. */
#define PIDFD_THREAD_FLAG O_EXCL

/* fdinfo of a pidfd: "flags:\t0100002" (octal) and "Pid:\t123" (-1 once it exited). */
static void read_pidfd_info(pid_t pid, int fdnum, struct proc_fd *ret)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[64], line[128];

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fdnum);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned flags;
		int p;

		if (sscanf(line, "flags: %o", &flags) == 1)
			ret->pidfd_thread = flags & PIDFD_THREAD_FLAG;
		else if (sscanf(line, "Pid: %d", &p) == 1)
			ret->pidfd_pid = p;
	}
}

static int read_one_fd(pid_t pid, int fdnum, struct proc_fd *ret)
{
	char path[64];
	struct stat st;
	ssize_t n;

	*ret = (struct proc_fd){ .fd = fdnum };
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fdnum);
	n = readlink(path, ret->target, sizeof(ret->target) - 1);
	if (n < 0)
		return negative_errno();
	ret->target[n] = 0;
	/* stat() follows the magic link to the open file itself, without opening it. */
	if (stat(path, &st) < 0)
		return negative_errno();
	ret->mode = st.st_mode;
	ret->rdev = st.st_rdev;
	ret->ino = st.st_ino;
	ret->nlink = st.st_nlink;
	ret->size = st.st_size;
	if (S_ISSOCK(st.st_mode)) {
		n = getxattr(path, "system.sockprotoname", ret->proto, sizeof(ret->proto) - 1);
		if (n > 0)
			ret->proto[n] = 0;
	}
	if (streq(ret->target, "anon_inode:[pidfd]"))
		read_pidfd_info(pid, fdnum, ret);
	return 0;
}

int proc_for_each_fd(pid_t pid, proc_fd_func fn, void *userdata)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return proc_errno();
	while ((errno = 0, de = readdir(d))) {
		struct proc_fd fd;
		char *end;
		long n = strtol(de->d_name, &end, 10);

		if (*end || n < 0 || de->d_name[0] == 0)
			continue;
		r = read_one_fd(pid, (int)n, &fd);
		if (r == -ENOENT)
			continue; /* closed meanwhile */
		if (r < 0)
			return r;
		r = fn(pid, &fd, userdata);
		if (r < 0)
			return r;
	}
	return errno ? proc_errno() : 0;
}
