/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "upgrade-lock.h"
#include "log.h"
#include "test.h"

static const char ID[] = "0123456789abcdef0123456789abcdef";

struct tmp {
	char dir[64], lock[96], dpkg[96];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/kup-test-lock-XXXXXX");
	ASSERT_TRUE(mkdtemp(t->dir));
	snprintf(t->lock, sizeof(t->lock), "%s/kupgrade.lock", t->dir);
	snprintf(t->dpkg, sizeof(t->dpkg), "%s/lock-frontend", t->dir);
}

static void tmp_remove(struct tmp *t)
{
	unlink(t->lock);
	unlink(t->dpkg);
	rmdir(t->dir);
}

static struct upgrade_lock_holder me(const char *what, const char *id)
{
	struct upgrade_lock_holder h = { .pid = getpid(), .since_usec = 1700000000000000ULL };

	snprintf(h.what, sizeof(h.what), "%s", what);
	snprintf(h.id, sizeof(h.id), "%s", id);
	return h;
}

TEST(upgrade_lock_conflicts_between_two_opens)
{
	struct upgrade_lock_holder a = me("switch", ID), b = me("checkpoint", ""), h;
	struct tmp t;
	int fa = -1, fb = -1;

	tmp_make(&t);
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), 0); /* no file: free */
	ASSERT_TRUE(access(t.lock, F_OK) < 0);	      /* and a look creates none */
	ASSERT_OK(upgrade_lock_take(t.lock, &a, &fa, NULL));
	/* Same process, another open file description: refused, with who. */
	ASSERT_EQ(upgrade_lock_take(t.lock, &b, &fb, &h), -EBUSY);
	ASSERT_STREQ(h.what, "switch");
	ASSERT_STREQ(h.id, ID);
	ASSERT_EQ(h.pid, getpid());
	ASSERT_EQ(h.since_usec, 1700000000000000ULL);
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), -EBUSY);
	ASSERT_STREQ(h.id, ID);
	close(fa);
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), 0);
	ASSERT_OK(upgrade_lock_take(t.lock, &b, &fb, NULL));
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), -EBUSY);
	ASSERT_STREQ(h.what, "checkpoint");
	ASSERT_STREQ(h.id, "");
	close(fb);
	tmp_remove(&t);
}

/* A child that takes a lock on path, says so on the pipe, and waits to be
 * killed: posix_lock is dpkg's kind (F_SETLK), else the switch lock. */
static pid_t holder_child(const char *path, bool posix_lock)
{
	int p[2];
	pid_t pid;
	char c;

	ASSERT_EQ(pipe(p), 0);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		struct upgrade_lock_holder h = me("switch", ID);
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = -1;

		if (posix_lock) {
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
				_exit(1);
		} else if (upgrade_lock_take(path, &h, &fd, NULL) < 0) {
			_exit(1);
		}
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ASSERT_EQ(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
}

/* A worker killed mid-switch leaves no lock behind. */
TEST(upgrade_lock_dies_with_a_killed_holder)
{
	struct upgrade_lock_holder h;
	struct tmp t;
	pid_t pid;

	tmp_make(&t);
	pid = holder_child(t.lock, false);
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), -EBUSY);
	ASSERT_EQ(h.pid, pid);
	ASSERT_STREQ(h.id, ID);
	kill_child(pid);
	ASSERT_EQ(upgrade_lock_query(t.lock, &h), 0);
	tmp_remove(&t);
}

TEST(upgrade_lock_not_through_a_symlink)
{
	struct upgrade_lock_holder a = me("switch", ID);
	struct tmp t;
	int fd = -1;

	tmp_make(&t);
	ASSERT_EQ(symlink("/tmp/kup-test-lock-elsewhere", t.lock), 0);
	ASSERT_EQ(upgrade_lock_take(t.lock, &a, &fd, NULL), -ELOOP);
	ASSERT_TRUE(access("/tmp/kup-test-lock-elsewhere", F_OK) < 0);
	tmp_remove(&t);
}

/* dpkg's lock: an fcntl write lock of another process, seen, never taken. */
TEST(dpkg_lock_probe_sees_another_process)
{
	struct tmp t;
	pid_t pid, holder = -1;

	tmp_make(&t);
	ASSERT_EQ(lock_file_query(t.dpkg, &holder), 0); /* no file: no dpkg */
	pid = holder_child(t.dpkg, true);
	ASSERT_EQ(lock_file_query(t.dpkg, &holder), -EBUSY);
	ASSERT_EQ(holder, pid);
	ASSERT_EQ(lock_file_query(t.dpkg, &holder), -EBUSY); /* the look took nothing */
	kill_child(pid);
	ASSERT_EQ(lock_file_query(t.dpkg, &holder), 0);
	tmp_remove(&t);
}

/* --wait-apt: waits while dpkg holds its lock, goes on once it is gone,
 * and gives up (busy) after the time given. */
TEST(wait_apt_waits_for_dpkg_then_goes_on)
{
	const char *dpkg[2];
	char *msg = NULL;
	struct tmp t;
	pid_t pid, killer;

	log_set_max_level(LOG_EMERG);
	tmp_make(&t);
	dpkg[0] = t.dpkg;
	dpkg[1] = NULL;
	ASSERT_EQ(upgrade_wait_dpkg(dpkg, 0, 1000, &msg), 0);
	pid = holder_child(t.dpkg, true);
	ASSERT_EQ(upgrade_wait_dpkg(dpkg, 50000, 10000, &msg), -EBUSY);
	ASSERT_TRUE(msg && strstr(msg, "dpkg or apt is running"));
	free(msg);
	msg = NULL;
	/* dpkg ends a moment later: the wait ends with it. */
	killer = fork();
	ASSERT_TRUE(killer >= 0);
	if (killer == 0) {
		usleep(200 * 1000);
		kill(pid, SIGKILL);
		_exit(0);
	}
	ASSERT_EQ(upgrade_wait_dpkg(dpkg, 30ULL * 1000000, 20000, &msg), 0);
	ASSERT_TRUE(msg == NULL);
	ASSERT_EQ(waitpid(killer, NULL, 0), killer);
	ASSERT_EQ(waitpid(pid, NULL, 0), pid);
	tmp_remove(&t);
}

TEST(upgrade_busy_says_who_and_what_to_do)
{
	const char *dpkg[2];
	char *msg = (char *)"unset", want[160];
	struct tmp t;
	pid_t pid;

	setenv("TZ", "UTC", 1);
	tzset();
	tmp_make(&t);
	dpkg[0] = t.dpkg;
	dpkg[1] = NULL;
	ASSERT_EQ(upgrade_busy(t.lock, dpkg, &msg), 0);
	ASSERT_TRUE(msg == NULL);

	pid = holder_child(t.lock, false);
	ASSERT_EQ(upgrade_busy(t.lock, dpkg, &msg), -EBUSY);
	snprintf(want, sizeof(want),
		 "Another kernel switch is running (upgrade %s, PID %d, since 2023-11-14 22:13:20",
		 ID, (int)pid);
	ASSERT_TRUE(strstr(msg, want) == msg);
	ASSERT_TRUE(strstr(msg, "try again once it is over"));
	free(msg);
	/* The worker looks at dpkg alone: the switch lock is its own. */
	ASSERT_EQ(upgrade_busy(NULL, dpkg, &msg), 0);
	kill_child(pid);

	pid = holder_child(t.dpkg, true);
	ASSERT_EQ(upgrade_busy(t.lock, dpkg, &msg), -EBUSY);
	snprintf(want, sizeof(want), "dpkg or apt is running (PID %d holds %s)", (int)pid, t.dpkg);
	ASSERT_TRUE(strstr(msg, want) == msg);
	ASSERT_TRUE(strstr(msg, "retry after apt finishes"));
	free(msg);
	kill_child(pid);
	tmp_remove(&t);
}

TEST(upgrade_lock_acquire_refuses_the_second)
{
	char *msg = NULL;
	struct tmp t;
	int fa = -1, fb = -1;

	tmp_make(&t);
	ASSERT_OK(upgrade_lock_acquire(t.lock, "checkpoint", NULL, &fa, &msg));
	ASSERT_TRUE(msg == NULL);
	ASSERT_EQ(upgrade_lock_acquire(t.lock, "switch", ID, &fb, &msg), -EBUSY);
	ASSERT_TRUE(strstr(msg, "A checkpoint is running (PID "));
	free(msg);
	close(fa);
	ASSERT_OK(upgrade_lock_acquire(t.lock, "switch", ID, &fb, &msg));
	close(fb);
	tmp_remove(&t);
}

TEST(upgrade_lock_holder_line)
{
	struct upgrade_lock_holder a = me("switch", ID), b;
	char line[160], *m;

	upgrade_lock_holder_format(&a, line, sizeof(line));
	ASSERT_OK(upgrade_lock_holder_parse(line, &b));
	ASSERT_STREQ(b.what, "switch");
	ASSERT_STREQ(b.id, ID);
	ASSERT_EQ(b.pid, a.pid);
	ASSERT_EQ(b.since_usec, a.since_usec);
	ASSERT_EQ(upgrade_lock_holder_parse("", &b), -EBADMSG);
	ASSERT_EQ(upgrade_lock_holder_parse("switch x 1 -", &b), -EBADMSG);
	/* Taken, but not written yet: still a clear refusal. */
	m = upgrade_lock_busy_message(&(struct upgrade_lock_holder){});
	ASSERT_STREQ(m, "Another kernel switch or checkpoint is running: nothing was changed; try "
			"again once it is over.");
	free(m);
}
