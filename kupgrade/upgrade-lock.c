/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdlib.h>

#include "log.h"
#include "macro.h"
#include "poll-util.h"
#include "paths.h"
#include "timeutil.h"
#include "upgrade-lock.h"

/* apt takes lock-frontend, then lock; dpkg alone takes lock (and
 * lock-frontend unless a frontend holds it). fcntl write locks, both. */
const char *const dpkg_lock_files[] = { "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", NULL };

#define TRY_AGAIN "nothing was changed; try again once it is over."

void upgrade_lock_holder_format(const struct upgrade_lock_holder *h, char *buf, size_t size)
{
	snprintf(buf, size, "%s %d %" PRIu64 " %s\n", h->what, (int)h->pid, h->since_usec,
		 h->id[0] ? h->id : "-");
}

int upgrade_lock_holder_parse(const char *text, struct upgrade_lock_holder *ret)
{
	struct upgrade_lock_holder h = {};
	int pid;

	if (sscanf(text, "%15s %d %" SCNu64 " %64s", h.what, &pid, &h.since_usec, h.id) != 4 ||
	    pid <= 0)
		return -EBADMSG;
	if (streq(h.id, "-"))
		h.id[0] = 0;
	h.pid = pid;
	*ret = h;
	return 0;
}

static struct flock whole_file(void)
{
	return (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
}

/* Held by another open file description, or another process: -EBUSY. */
static int held(int fd, pid_t *ret_pid)
{
	struct flock fl = whole_file();

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return negative_errno();
	if (fl.l_type == F_UNLCK)
		return 0;
	if (ret_pid)
		*ret_pid = fl.l_pid > 0 ? fl.l_pid : 0; /* an OFD lock has no PID: -1 */
	return -EBUSY;
}

static void read_holder(int fd, struct upgrade_lock_holder *ret)
{
	char buf[160];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	*ret = (struct upgrade_lock_holder){};
	if (n <= 0)
		return;
	buf[n] = 0;
	(void)upgrade_lock_holder_parse(buf, ret); /* not written yet: unknown */
}

/* Ours: a regular file, never through a symlink. */
static int open_lock(const char *path, int flags)
{
	_cleanup_close_ int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
				      0600);
	struct stat st;

	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return TAKE_FD(fd);
}

int upgrade_lock_take(const char *path, const struct upgrade_lock_holder *me, int *ret_fd,
		      struct upgrade_lock_holder *ret_holder)
{
	_cleanup_close_ int fd = open_lock(path, O_RDWR | O_CREAT);
	struct flock fl = whole_file();
	char line[160];
	size_t n;

	if (fd < 0)
		return fd;
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return negative_errno();
		if (ret_holder)
			read_holder(fd, ret_holder);
		return -EBUSY;
	}
	upgrade_lock_holder_format(me, line, sizeof(line));
	n = strlen(line);
	if (ftruncate(fd, 0) < 0)
		return negative_errno();
	if (pwrite(fd, line, n, 0) != (ssize_t)n)
		return -EIO;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int upgrade_lock_query(const char *path, struct upgrade_lock_holder *ret_holder)
{
	_cleanup_close_ int fd = open_lock(path, O_RDONLY);
	int r;

	if (fd == -ENOENT)
		return 0; /* never taken on this boot */
	if (fd < 0)
		return fd;
	r = held(fd, NULL);
	if (r == -EBUSY && ret_holder)
		read_holder(fd, ret_holder);
	return r;
}

int lock_file_query(const char *path, pid_t *ret_pid)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	*ret_pid = 0;
	return held(fd, ret_pid);
}

static void format_since(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (usec == 0 || !localtime_r(&t, &tm) ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "an unknown time");
}

char *upgrade_lock_busy_message(const struct upgrade_lock_holder *h)
{
	char since[64];
	char *m;
	int k;

	format_since(h->since_usec, since, sizeof(since));
	if (streq(h->what, "switch"))
		k = asprintf(&m,
			     "Another kernel switch is running (upgrade %s, PID %d, since %s; "
			     "'journalctl -u %s'): " TRY_AGAIN,
			     h->id[0] ? h->id : "without id", (int)h->pid, since,
			     UPGRADE_WORKER_UNIT);
	else if (streq(h->what, "recovery"))
		k = asprintf(&m,
			     "kupgrade is putting back what a switch that was killed did (upgrade %s, "
			     "PID %d, since %s): " TRY_AGAIN,
			     h->id[0] ? h->id : "without id", (int)h->pid, since);
	else if (streq(h->what, "checkpoint"))
		k = asprintf(&m, "A checkpoint is running (PID %d, since %s): " TRY_AGAIN,
			     (int)h->pid, since);
	else
		k = asprintf(&m, "Another kernel switch or checkpoint is running: " TRY_AGAIN);
	return k < 0 ? NULL : m;
}

char *dpkg_busy_message(const char *path, pid_t pid)
{
	char *m;
	int k;

	if (pid > 0)
		k = asprintf(&m,
			     "dpkg or apt is running (PID %d holds %s): nothing was changed; retry "
			     "after apt finishes.",
			     (int)pid, path);
	else
		k = asprintf(&m,
			     "dpkg or apt is running (%s is locked): nothing was changed; retry "
			     "after apt finishes.",
			     path);
	return k < 0 ? NULL : m;
}

static int busy(char **ret_message, char *message)
{
	*ret_message = message;
	return message ? -EBUSY : -ENOMEM;
}

static int cannot(int r, const char *path, char **ret_message)
{
	if (asprintf(ret_message, "Cannot look at the lock %s: %s", path, strerror(-r)) < 0)
		*ret_message = NULL;
	return r;
}

int upgrade_busy(const char *lock_path, const char *const *dpkg_locks, char **ret_message)
{
	struct upgrade_lock_holder h;
	int r;

	*ret_message = NULL;
	if (lock_path) {
		r = upgrade_lock_query(lock_path, &h);
		if (r == -EBUSY)
			return busy(ret_message, upgrade_lock_busy_message(&h));
		if (r < 0)
			return cannot(r, lock_path, ret_message);
	}
	for (const char *const *p = dpkg_locks; p && *p; p++) {
		pid_t pid = 0;

		r = lock_file_query(*p, &pid);
		if (r == -EBUSY)
			return busy(ret_message, dpkg_busy_message(*p, pid));
		if (r < 0)
			return cannot(r, *p, ret_message);
	}
	return 0;
}

int upgrade_wait_dpkg(const char *const *dpkg_locks, uint64_t timeout_usec, uint64_t poll_usec,
		      char **ret_message)
{
	uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
	bool said = false;
	int r;

	for (;;) {
		r = upgrade_busy(NULL, dpkg_locks, ret_message);
		if (r != -EBUSY || now_usec(CLOCK_MONOTONIC) >= deadline)
			break;
		if (!said)
			log_notice("%s Waiting for it (--wait-apt)...", *ret_message);
		said = true;
		free(*ret_message);
		*ret_message = NULL;
		sleep_ms(poll_usec / 1000);
	}
	if (r == 0 && said)
		log_notice("dpkg and apt are done; going on.");
	return r;
}

int upgrade_lock_acquire(const char *path, const char *what, const char *id, int *ret_fd,
			 char **ret_message)
{
	struct upgrade_lock_holder me = { .pid = getpid(), .since_usec = now_usec(CLOCK_REALTIME) };
	struct upgrade_lock_holder h;
	int r;

	*ret_message = NULL;
	snprintf(me.what, sizeof(me.what), "%s", what);
	snprintf(me.id, sizeof(me.id), "%s", id ?: "");
	r = upgrade_lock_take(path, &me, ret_fd, &h);
	if (r == -EBUSY)
		return busy(ret_message, upgrade_lock_busy_message(&h));
	if (r < 0)
		return cannot(r, path, ret_message);
	return 0;
}
