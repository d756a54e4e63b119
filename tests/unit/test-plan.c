/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blockers.h"
#include "cgroup.h"
#include "config.h"
#include "criu.h"
#include "log.h"
#include "plan.h"
#include "proc.h"
#include "test.h"

static struct plan_unit unit(const char *name, enum owner_kind kind)
{
	return (struct plan_unit){ .name = (char *)name, .kind = kind };
}

static void decide(struct plan_unit *u, const struct config *c)
{
	ASSERT_OK(plan_decide(u, c));
	ASSERT_TRUE(u->reason && u->reason[0]);
}

TEST(plan_kind_from_unit_name_and_cgroup)
{
	ASSERT_EQ(owner_kind_from_unit("ssh.service", "/system.slice/ssh.service"), OWNER_SERVICE);
	ASSERT_EQ(owner_kind_from_unit("session-3.scope",
				       "/user.slice/user-0.slice/session-3.scope"),
		  OWNER_SESSION);
	ASSERT_EQ(owner_kind_from_unit("machine-web.scope", "/machine.slice/machine-web.scope"),
		  OWNER_CONTAINER);
	ASSERT_EQ(owner_kind_from_unit("systemd-nspawn@web.service",
				       "/machine.slice/systemd-nspawn@web.service"),
		  OWNER_CONTAINER);
	ASSERT_EQ(owner_kind_from_unit("docker-0123abcd.scope",
				       "/system.slice/docker-0123abcd.scope"),
		  OWNER_CONTAINER);
	ASSERT_EQ(owner_kind_from_unit("run-u12.scope", "/system.slice/run-u12.scope"),
		  OWNER_SCOPE);
	ASSERT_EQ(owner_kind_from_unit("init.scope", "/init.scope"), OWNER_INIT);
	ASSERT_EQ(owner_kind_from_unit("/system.slice", "/system.slice"), OWNER_SLICE);
	ASSERT_EQ(owner_kind_from_unit("/", "/"), OWNER_SLICE);
}

TEST(plan_defaults)
{
	struct plan_unit u;

	u = unit("nginx.service", OWNER_SERVICE);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	ASSERT_FALSE(u.forced);
	free(u.reason);

	u = unit("session-4.scope", OWNER_SESSION);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	free(u.reason);

	u = unit("machine-db.scope", OWNER_CONTAINER);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	free(u.reason);

	u = unit("init.scope", OWNER_INIT);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_LEAVE);
	ASSERT_TRUE(strstr(u.reason, "PID 1"));
	free(u.reason);

	u = unit("kernel", OWNER_KERNEL);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_LEAVE);
	ASSERT_TRUE(strstr(u.reason, "kernel"));
	free(u.reason);

	u = unit("kupgrade", OWNER_SELF);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_LEAVE);
	free(u.reason);
}

TEST(plan_systemd_daemons_restart)
{
	static const char *const names[] = {
		"systemd-journald.service",
		"systemd-udevd.service",
		"systemd-logind.service",
		"systemd-networkd.service",
		"systemd-resolved.service",
		"systemd-timesyncd.service",
		"dbus.service",
		"getty@tty1.service",
		"serial-getty@ttyS0.service",
		"user@0.service",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		struct plan_unit u = unit(names[i], OWNER_SERVICE);

		decide(&u, NULL);
		if (u.decision != DECISION_RESTART)
			test_fail("%s: expected restart, got %s", names[i],
				  plan_decision_to_string(u.decision));
		free(u.reason);
	}
	/* Look-alikes are not systemd's. */
	struct plan_unit u = unit("my-systemd-thing.service", OWNER_SERVICE);
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	free(u.reason);
}

TEST(plan_self_session_is_checkpointed_other_self_units_restart)
{
	struct plan_unit u = unit("session-7.scope", OWNER_SESSION);

	u.contains_self = true;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	ASSERT_TRUE(strstr(u.reason, "kupgrade"));
	free(u.reason);

	u = unit("kupgrade-run.service", OWNER_SERVICE);
	u.contains_self = true;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_RESTART);
	ASSERT_STREQ(u.reason, "runs kupgrade itself");
	free(u.reason);
}

TEST(plan_service_without_main_process_restarts)
{
	struct plan_process procs[] = { { .pid = 706, .ppid = 1 } };
	struct plan_unit u = unit("user-runtime-dir@0.service", OWNER_SERVICE);

	/* Only its ExecStop= runs (user-runtime-dir stop 0): no main PID. */
	u.service_type = "oneshot";
	u.procs = procs;
	u.n_procs = 1;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_RESTART);
	ASSERT_TRUE(strstr(u.reason, "no main process"));

	/* With its main process, a service is checkpointed. */
	u.main_pid = 706;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);

	/* Unknown to systemd (no bus): nothing is concluded from MainPID. */
	u.main_pid = 0;
	u.service_type = NULL;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	free(u.reason);
}

TEST(plan_blockers_make_restart_with_reason)
{
	char *blockers[] = {
		"connected to the D-Bus system bus, which restarts fresh (pid 5 polkitd, fd 4)",
		"holds a pidfd (pid 5 polkitd, fd 9)"
	};
	struct plan_unit u = unit("polkit.service", OWNER_SERVICE);

	u.blockers = blockers;
	u.n_blockers = 2;
	decide(&u, NULL);
	ASSERT_EQ(u.decision, DECISION_RESTART);
	ASSERT_TRUE(strstr(u.reason, "D-Bus system bus"));
	ASSERT_TRUE(strstr(u.reason, "and more"));
	free(u.reason);
}

TEST(plan_journal_stream_is_handed_back_to_services_only)
{
	struct plan_external stream = { .kind = EXTERNAL_JOURNAL_STREAM,
					.pid = 255,
					.fd = 1,
					.inode = 42,
					.what = (char *)JOURNAL_STREAM_WHAT
					" (" JOURNAL_STREAM_SOCKET ")" };
	struct plan_external fifo = {
		.kind = EXTERNAL_LOGIND_FIFO,
		.pid = 465,
		.fd = 8,
		.inode = 43,
		.what = (char *)"holds the logind session FIFO /run/systemd/sessions/19.ref"
	};
	struct plan_unit svc = unit("nginx.service", OWNER_SERVICE);
	struct plan_unit scope = unit("run-u7.scope", OWNER_SCOPE);
	struct plan_unit ses = unit("session-19.scope", OWNER_SESSION);

	ASSERT_TRUE(plan_external_is_journal_stream(&stream));
	ASSERT_TRUE(!plan_external_is_journal_stream(&fifo));
	/* A service's restore runs as its own start: its stream comes back. */
	svc.externals = &stream;
	svc.n_externals = 1;
	decide(&svc, NULL);
	ASSERT_EQ(svc.decision, DECISION_CHECKPOINT);
	/* Anything else has no unit start to hand it a stream of its own. */
	scope.externals = &stream;
	scope.n_externals = 1;
	decide(&scope, NULL);
	ASSERT_EQ(scope.decision, DECISION_RESTART);
	ASSERT_TRUE(strstr(scope.reason, "journal stream"));
	ASSERT_TRUE(strstr(scope.reason, "PID 255"));
	ses.externals = &fifo;
	ses.n_externals = 1;
	decide(&ses, NULL);
	ASSERT_EQ(ses.decision, DECISION_CHECKPOINT);
	free(svc.reason);
	free(scope.reason);
	free(ses.reason);
}

static int parse_config(const char *text, struct config *c)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r = config_parse(f, "/etc/kupgrade.conf", c);

	fclose(f);
	return r;
}

TEST(plan_config_forces_decisions)
{
	char *blockers[] = {
		"connected to the D-Bus system bus, which restarts fresh (pid 5 x, fd 4)"
	};
	struct config c;
	struct plan_unit u;

	ASSERT_OK(parse_config("[plan]\ncheckpoint = polkit.service systemd-journald.service\n"
			       "restart = web-*.service\nleave = session-*.scope init.scope\n",
			       &c));

	/* Forced checkpoint despite blockers, and says so. */
	u = unit("polkit.service", OWNER_SERVICE);
	u.blockers = blockers;
	u.n_blockers = 1;
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	ASSERT_TRUE(u.forced);
	ASSERT_TRUE(strstr(u.reason, "/etc/kupgrade.conf:2"));
	ASSERT_TRUE(strstr(u.reason, "despite blockers"));
	free(u.reason);

	/* Config beats the built-in restart list. */
	u = unit("systemd-journald.service", OWNER_SERVICE);
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	ASSERT_TRUE(u.forced);
	free(u.reason);

	u = unit("web-front.service", OWNER_SERVICE);
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_RESTART);
	ASSERT_TRUE(strstr(u.reason, "web-*.service"));
	free(u.reason);

	u = unit("session-2.scope", OWNER_SESSION);
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_LEAVE);
	ASSERT_TRUE(strstr(u.reason, ":4"));
	free(u.reason);

	/* PID 1 and kernel threads cannot be forced. */
	u = unit("init.scope", OWNER_INIT);
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_LEAVE);
	ASSERT_FALSE(u.forced);
	free(u.reason);

	/* Unmatched units keep their defaults. */
	u = unit("cron.service", OWNER_SERVICE);
	decide(&u, &c);
	ASSERT_EQ(u.decision, DECISION_CHECKPOINT);
	ASSERT_FALSE(u.forced);
	free(u.reason);
	config_done(&c);
}

static struct proc_fd chr(const char *path, unsigned maj, unsigned min)
{
	struct proc_fd f = { .fd = 3, .mode = S_IFCHR | 0600, .rdev = makedev(maj, min) };

	snprintf(f.target, sizeof(f.target), "%s", path);
	return f;
}

static struct proc_fd anon(const char *kind)
{
	struct proc_fd f = { .fd = 4, .mode = 0600 };

	snprintf(f.target, sizeof(f.target), "anon_inode:%s", kind);
	return f;
}

TEST(blockers_devices)
{
	struct {
		struct proc_fd fd;
		enum fd_verdict expect;
		const char *needle;
	} cases[] = {
		{ chr("/dev/null", 1, 3), FD_OK, NULL },
		{ chr("/dev/urandom", 1, 9), FD_OK, NULL },
		{ chr("/dev/pts/0", 136, 0), FD_OK, NULL },
		{ chr("/dev/ptmx", 5, 2), FD_OK, NULL },
		{ chr("/dev/tty1", 4, 1), FD_OK, NULL },
		{ chr("/dev/net/tun", 10, 200), FD_OK, NULL },
		{ chr("/dev/kvm", 10, 232), FD_BLOCKER, "/dev/kvm" },
		{ chr("/dev/dri/card0", 226, 0), FD_BLOCKER, "DRM" },
		{ chr("/dev/fuse", 10, 229), FD_BLOCKER, "/dev/fuse (10:229)" },
		{ chr("/dev/input/event0", 13, 64), FD_BLOCKER, "character device" },
	};
	char reason[256];

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		enum fd_verdict v;

		reason[0] = 0;
		v = fd_check_file(&cases[i].fd, NULL, reason, sizeof(reason));
		if (v != cases[i].expect)
			test_fail("%s: verdict %d, expected %d", cases[i].fd.target, v,
				  cases[i].expect);
		if (cases[i].needle && !strstr(reason, cases[i].needle))
			test_fail("%s: reason '%s' lacks '%s'", cases[i].fd.target, reason,
				  cases[i].needle);
	}

	struct proc_fd blk = { .mode = S_IFBLK | 0600,
			       .rdev = makedev(8, 0),
			       .target = "/dev/sda" };
	ASSERT_EQ(fd_check_file(&blk, NULL, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "block device /dev/sda"));
}

TEST(blockers_anon_inodes)
{
	static const char *const ok[] = { "[eventfd]",	"[eventpoll]", "inotify",
					  "[fanotify]", "[signalfd]",  "[timerfd]" };
	static const char *const bad[] = { "[pidfd]", "[io_uring]", "[userfaultfd]", "[perf_event]",
					   "bpf-map", "bpf-prog",   "kvm-vm" };
	char reason[256];

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		struct proc_fd f = anon(ok[i]);

		if (fd_check_file(&f, NULL, reason, sizeof(reason)) != FD_OK)
			test_fail("%s should be dumpable", ok[i]);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct proc_fd f = anon(bad[i]);

		reason[0] = 0;
		if (fd_check_file(&f, &(struct criu_caps){ 31701 }, reason, sizeof(reason)) !=
		    FD_BLOCKER)
			test_fail("%s should block", bad[i]);
		if (!strstr(reason, "which CRIU 3.17.1 cannot dump"))
			test_fail("%s: reason '%s' does not name CRIU 3.17.1", bad[i], reason);
		/* Unknown version: judged as the oldest, named without one. */
		if (fd_check_file(&f, NULL, reason, sizeof(reason)) != FD_BLOCKER)
			test_fail("%s should block with no version", bad[i]);
		if (!strstr(reason, "which CRIU cannot dump"))
			test_fail("%s: reason '%s'", bad[i], reason);
	}
}

/* What CRIU 4.1 (Debian 13) dumps that 3.17 (Debian 12) cannot. */
TEST(blockers_follow_the_criu_version)
{
	struct proc_fd pidfd = anon("[pidfd]"), uring = anon("[io_uring]");
	char reason[256] = "";

	ASSERT_EQ(fd_check_file(&pidfd, &(struct criu_caps){ 31701 }, reason, sizeof(reason)),
		  FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "CRIU 4.1 can"));
	ASSERT_EQ(fd_check_file(&pidfd, &(struct criu_caps){ 40002 }, reason, sizeof(reason)),
		  FD_BLOCKER);
	/* CRIU 4.1: a pidfd of a process that exited is dumped; of a live one,
	 * only inside the dumped tree, which the plan decides (FD_IN_TREE). */
	pidfd.pidfd_pid = -1;
	ASSERT_EQ(fd_check_file(&pidfd, &(struct criu_caps){ 40101 }, reason, sizeof(reason)),
		  FD_OK);
	pidfd.pidfd_pid = 42;
	ASSERT_EQ(fd_check_file(&pidfd, &(struct criu_caps){ 40101 }, reason, sizeof(reason)),
		  FD_IN_TREE);
	ASSERT_TRUE(strstr(reason, "pidfd of PID 42, outside its process tree, which CRIU 4.1.1"));
	pidfd.pidfd_thread = true;
	ASSERT_EQ(fd_check_file(&pidfd, &(struct criu_caps){ 40101 }, reason, sizeof(reason)),
		  FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "PIDFD_THREAD"));
	ASSERT_EQ(fd_check_file(&uring, &(struct criu_caps){ 40101 }, reason, sizeof(reason)),
		  FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "uses io_uring, which CRIU 4.1.1 cannot dump"));
}

TEST(blockers_sockets_and_fifos)
{
	struct proc_fd f = { .mode = S_IFSOCK | 0777, .target = "socket:[123]", .proto = "TCP" };
	char reason[256];

	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_OK);
	strcpy(f.proto, "UNIX-STREAM");
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_OK);
	strcpy(f.proto, "SCTP");
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "SCTP socket"));
	strcpy(f.proto, "AF_VSOCK");
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_BLOCKER);

	struct proc_fd fifo = { .mode = S_IFIFO | 0600, .target = "/run/systemd/sessions/3.ref" };
	ASSERT_EQ(fd_check_file(&fifo, NULL, reason, sizeof(reason)), FD_EXTERNAL);
	ASSERT_TRUE(strstr(reason, "session FIFO"));
	strcpy(fifo.target, "pipe:[4242]");
	ASSERT_EQ(fd_check_file(&fifo, NULL, reason, sizeof(reason)), FD_OK);

	struct proc_fd reg = { .mode = S_IFREG | 0644,
			       .target = "/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)" };
	ASSERT_EQ(fd_check_file(&reg, NULL, reason, sizeof(reason)), FD_OK);
}

struct held_fd {
	int fd;
	struct criu_caps caps;
	enum fd_verdict verdict;
	pid_t pidfd_pid;
	char reason[512];
};

static int judge_held_fd(pid_t pid, const struct proc_fd *fd, void *userdata)
{
	struct held_fd *h = userdata;

	if (fd->fd == h->fd) {
		h->verdict = fd_check_file(fd, &h->caps, h->reason, sizeof(h->reason));
		h->pidfd_pid = fd->pidfd_pid;
	}
	return 0;
}

/* As the plan reads a pidfd from /proc: the process it refers to. */
TEST(proc_reads_the_target_of_a_pidfd)
{
	struct held_fd h = { .verdict = FD_OK };
	pid_t child = fork();

	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	h.fd = (int)syscall(SYS_pidfd_open, child, 0);
	if (h.fd < 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		test_fail("pidfd_open: %m");
	}
	h.caps = (struct criu_caps){ 40101 };
	ASSERT_OK(proc_for_each_fd(getpid(), judge_held_fd, &h));
	ASSERT_EQ(h.verdict, FD_IN_TREE);
	ASSERT_EQ(h.pidfd_pid, child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Reaped: the pidfd now says -1, which CRIU 4.1 dumps. */
	ASSERT_OK(proc_for_each_fd(getpid(), judge_held_fd, &h));
	ASSERT_EQ(h.pidfd_pid, -1);
	ASSERT_EQ(h.verdict, FD_OK);
	close(h.fd);
}

/* A file deleted while open is copied by CRIU up to its ghost limit; a user
 * holding a bigger one failed the dump, after other units were frozen. */
TEST(blockers_deleted_file_over_the_ghost_limit)
{
	char path[] = "/tmp/kupgrade-test-ghost-XXXXXX", reason[512];
	struct proc_fd f = { .mode = S_IFREG | 0600,
			     .target = "/home/u/big (deleted)",
			     .nlink = 0,
			     .size = 2 * CRIU_GHOST_LIMIT };
	struct held_fd h = { .verdict = FD_OK };

	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "/home/u/big (deleted)") && strstr(reason, "2048 KiB"));
	f.size = CRIU_GHOST_LIMIT;
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_OK);
	f.size = 2 * CRIU_GHOST_LIMIT;
	f.nlink = 1; /* still linked elsewhere: CRIU links it back (link-remap) */
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_OK);
	f.nlink = 0;
	strcpy(f.target, "/memfd:big (deleted)"); /* dumped as a memfd */
	ASSERT_EQ(fd_check_file(&f, NULL, reason, sizeof(reason)), FD_OK);

	/* As the plan reads it from /proc: a 2 MiB file of ours, unlinked. */
	h.fd = mkstemp(path);
	ASSERT_TRUE(h.fd >= 0);
	ASSERT_OK(ftruncate(h.fd, 2 * CRIU_GHOST_LIMIT));
	ASSERT_OK(unlink(path));
	ASSERT_OK(proc_for_each_fd(getpid(), judge_held_fd, &h));
	close(h.fd);
	ASSERT_EQ(h.verdict, FD_BLOCKER);
	ASSERT_TRUE(strstr(h.reason, "deleted"));
}

TEST(blockers_unix_peers)
{
	struct unix_peer_facts f;
	char reason[512];

	/* Same unit: both ends are dumped together. */
	f = (struct unix_peer_facts){ .type = SOCK_STREAM,
				      .peer_same_unit = true,
				      .peer_name = "/run/x" };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_OK);

	f = (struct unix_peer_facts){ .type = SOCK_STREAM,
				      .peer_name = "/run/dbus/system_bus_socket",
				      .peer_unit = "dbus.service",
				      .peer_decision = DECISION_RESTART };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_STREQ(reason, "connected to the D-Bus system bus, which restarts fresh");

	/* A datagram to a named socket is reconnected by --ext-unix-sk. */
	f = (struct unix_peer_facts){ .type = SOCK_DGRAM,
				      .peer_name = "/run/systemd/journal/dev-log",
				      .peer_unit = "systemd-journald.service",
				      .peer_decision = DECISION_RESTART };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_OK);

	f = (struct unix_peer_facts){ .type = SOCK_STREAM,
				      .peer_name = "/run/systemd/journal/stdout",
				      .peer_unit = "systemd-journald.service",
				      .peer_decision = DECISION_RESTART };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_EXTERNAL);
	ASSERT_TRUE(strstr(reason, "journal stream"));

	f = (struct unix_peer_facts){ .type = SOCK_STREAM,
				      .peer_name = "/run/avahi-daemon/socket",
				      .peer_unit = "avahi-daemon.service",
				      .peer_decision = DECISION_RESTART };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_STREQ(reason,
		     "unix stream socket connected to /run/avahi-daemon/socket of avahi-daemon.service, "
		     "which restarts fresh");

	f = (struct unix_peer_facts){ .type = SOCK_STREAM,
				      .peer_unit = "db.service",
				      .peer_decision = DECISION_CHECKPOINT };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "an unnamed socket of db.service, checkpointed separately"));

	f = (struct unix_peer_facts){ .type = SOCK_SEQPACKET, .peer_name = "@abstract" };
	ASSERT_EQ(fd_check_unix_peer(&f, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "no process here holds"));
}

TEST(proc_parse_stat_handles_odd_comm)
{
	struct proc_stat st;

	ASSERT_OK(proc_parse_stat(
		"1234 (a) b (c)) S 77 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 99 "
		"1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
		&st));
	ASSERT_EQ(st.pid, 1234);
	ASSERT_EQ(st.ppid, 77);
	ASSERT_STREQ(st.comm, "a) b (c)");
	ASSERT_EQ(st.state, 'S');
	ASSERT_EQ(st.flags, 4194560);
	ASSERT_EQ(st.threads, 3);
	ASSERT_FALSE(proc_is_kernel_thread(&st));

	/* A kernel thread: PF_KTHREAD in flags, parent kthreadd; priority may be negative. */
	ASSERT_OK(proc_parse_stat(
		"15 (migration/0) S 2 0 0 0 -1 69238848 0 0 0 0 0 0 0 0 -100 0 1 0 2 0 0\n", &st));
	ASSERT_EQ(st.ppid, 2);
	ASSERT_EQ(st.threads, 1);
	ASSERT_TRUE(st.flags & PF_KTHREAD_FLAG);
	ASSERT_TRUE(proc_is_kernel_thread(&st));

	ASSERT_EQ(proc_parse_stat("garbage", &st), -EBADMSG);
	ASSERT_EQ(proc_parse_stat("12 (x) S 1 2", &st), -EBADMSG);
}

TEST(proc_smaps_rollup_and_estimate)
{
	static const char text[] = "55a4c8e00000-7ffd3c1f5000 ---p 00000000 00:00 0 [rollup]\n"
				   "Rss:                5000 kB\n"
				   "Pss:                3000 kB\n"
				   "Pss_Anon:           1000 kB\n"
				   "Pss_File:           1900 kB\n"
				   "Pss_Shmem:           100 kB\n"
				   "Shared_Clean:       2000 kB\n"
				   "Private_Dirty:      1200 kB\n"
				   "Anonymous:          1200 kB\n"
				   "Swap:                 50 kB\n"
				   "SwapPss:              50 kB\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct proc_mem m;

	ASSERT_OK(proc_parse_smaps_rollup(f, &m));
	fclose(f);
	ASSERT_EQ(m.rss, 5000 * 1024);
	ASSERT_EQ(m.anonymous, 1200 * 1024);
	ASSERT_EQ(m.swap, 50 * 1024);
	ASSERT_EQ(m.pss_shmem, 100 * 1024);
	ASSERT_EQ(proc_mem_image_estimate(&m), (1200 + 50 + 100) * 1024);
}

TEST(proc_nofile_limit_and_the_blocker_of_a_full_table)
{
	static const char text[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max open files            1                    1                    files     \n";
	static const char unlimited[] =
		"Max open files            unlimited            unlimited            files     \n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	uint64_t soft = 0;
	char reason[256] = "";
	struct rlimit rl = { 3, 3 };
	pid_t child;
	int st;

	ASSERT_OK(proc_parse_nofile_limit(f, &soft));
	fclose(f);
	ASSERT_EQ(soft, 1);
	f = fmemopen((void *)unlimited, sizeof(unlimited) - 1, "r");
	ASSERT_OK(proc_parse_nofile_limit(f, &soft));
	fclose(f);
	ASSERT_TRUE(soft == UINT64_MAX);

	/* sshd's pre-authentication child: limit 1, fd 0 (and more) open. */
	ASSERT_EQ(fd_check_limit(1, 1, reason, sizeof(reason)), FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "RLIMIT_NOFILE 1") != NULL);
	ASSERT_EQ(fd_check_limit(1024, 12, reason, sizeof(reason)), FD_OK);
	ASSERT_EQ(fd_check_limit(UINT64_MAX, 5000, reason, sizeof(reason)), FD_OK);

	/* Read from a live process that lowered its limit. */
	child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	for (int i = 0; i < 100; i++) {
		if (proc_read_nofile_limit(child, &soft) >= 0 && soft == 3)
			break;
		usleep(10000);
	}
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	ASSERT_EQ(soft, 3);
}

TEST(proc_cgroup_line)
{
	static const char v2[] = "0::/system.slice/ssh.service\n";
	static const char hybrid[] =
		"12:pids:/system.slice\n1:name=systemd:/x\n0::/user.slice/user-0.slice/session-1.scope\n";
	static const char v1[] = "1:name=systemd:/x\n";
	char *s;
	FILE *f;

	f = fmemopen((void *)v2, sizeof(v2) - 1, "r");
	ASSERT_OK(proc_parse_cgroup(f, &s));
	fclose(f);
	ASSERT_STREQ(s, "/system.slice/ssh.service");
	free(s);
	f = fmemopen((void *)hybrid, sizeof(hybrid) - 1, "r");
	ASSERT_OK(proc_parse_cgroup(f, &s));
	fclose(f);
	ASSERT_STREQ(s, "/user.slice/user-0.slice/session-1.scope");
	free(s);
	f = fmemopen((void *)v1, sizeof(v1) - 1, "r");
	ASSERT_EQ(proc_parse_cgroup(f, &s), -ENODATA);
	fclose(f);
}

TEST(cgroup_paths)
{
	size_t n, prefix;
	const char *u;
	static const char p1[] = "/user.slice/user-0.slice/user@0.service/app.slice/dbus.service";
	static const char p2[] = "/system.slice/docker-ab.scope/init";

	u = cgroup_path_unit(p1, &n, &prefix);
	ASSERT_TRUE(u);
	ASSERT_EQ(n, strlen("user@0.service"));
	ASSERT_TRUE(strncmp(u, "user@0.service", n) == 0);
	ASSERT_EQ(prefix, strlen("/user.slice/user-0.slice/user@0.service"));
	u = cgroup_path_unit(p2, &n, &prefix);
	ASSERT_TRUE(u && strncmp(u, "docker-ab.scope", n) == 0);
	ASSERT_TRUE(cgroup_path_unit("/system.slice", &n, &prefix) == NULL);
	ASSERT_TRUE(cgroup_path_unit("/", &n, &prefix) == NULL);
	/* ".service" alone is not a unit name. */
	ASSERT_TRUE(cgroup_path_unit("/.service", &n, &prefix) == NULL);

	ASSERT_TRUE(cgroup_is_below("/system.slice/a.service", "/system.slice"));
	ASSERT_TRUE(cgroup_is_below("/system.slice", "/system.slice"));
	ASSERT_FALSE(cgroup_is_below("/system.slice2/x", "/system.slice"));
	ASSERT_TRUE(cgroup_is_below("/anything", "/"));
}

TEST(cgroup_mountinfo)
{
	static const char hybrid[] =
		"30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
		"31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
	static const char sub[] = "31 30 0:27 /lxc/c1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
	char *m;
	FILE *f;

	f = fmemopen((void *)hybrid, sizeof(hybrid) - 1, "r");
	ASSERT_OK(cgroup_parse_mountinfo(f, &m));
	fclose(f);
	ASSERT_STREQ(m, "/sys/fs/cgroup/unified");
	free(m);
	f = fmemopen((void *)sub, sizeof(sub) - 1, "r");
	ASSERT_EQ(cgroup_parse_mountinfo(f, &m), -ENOMEDIUM);
	fclose(f);
}

TEST(plan_build_accounts_for_every_process_once)
{
	struct plan *p = NULL;
	pid_t child, *seen;
	size_t n_seen = 0;
	bool found_child = false, found_self = false;
	int pipefd[2];

	/* A child that exists for the whole build, in our own unit. */
	ASSERT_OK(pipe(pipefd));
	child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		char c;

		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);

	log_set_max_level(LOG_EMERG);
	ASSERT_OK(plan_build(NULL, &p));
	close(pipefd[1]);

	seen = calloc(p->n_processes + 1, sizeof(pid_t));
	ASSERT_TRUE(seen);
	for (size_t i = 0; i < p->n_units; i++) {
		const struct plan_unit *u = &p->units[i];

		ASSERT_TRUE(u->reason);
		ASSERT_TRUE(u->n_procs > 0);
		ASSERT_TRUE(u->n_roots > 0); /* a unit is at least one tree */
		for (size_t j = 0; j < u->n_procs; j++) {
			pid_t pid = u->procs[j].pid;

			for (size_t k = 0; k < n_seen; k++)
				if (seen[k] == pid)
					test_fail("pid %d listed twice", pid);
			seen[n_seen++] = pid;
			if (pid == child) {
				found_child = true;
				ASSERT_EQ(u->procs[j].ppid, getpid());
				ASSERT_TRUE(u->kind != OWNER_SELF);
			}
			if (pid == getpid()) {
				found_self = true;
				ASSERT_EQ(u->kind, OWNER_SELF);
				ASSERT_EQ(u->decision, DECISION_LEAVE);
				ASSERT_EQ(u->n_procs, 1);
			}
			if (pid == 1) {
				ASSERT_EQ(u->kind, OWNER_INIT);
				ASSERT_EQ(u->decision, DECISION_LEAVE);
			}
		}
	}
	ASSERT_EQ(n_seen, p->n_processes);
	ASSERT_TRUE(found_child);
	ASSERT_TRUE(found_self);
	/* The child's unit (ours) holds kupgrade, so it is marked. */
	for (size_t i = 0; i < p->n_units; i++)
		for (size_t j = 0; j < p->units[i].n_procs; j++)
			if (p->units[i].procs[j].pid == child)
				ASSERT_TRUE(p->units[i].contains_self);
	waitpid(child, NULL, 0);
	free(seen);
	plan_free(p);
}

TEST(blockers_mount_namespace)
{
	char reason[256] = "";

	ASSERT_EQ(ns_check_mount(4026531841u, 4026531841u, NULL, reason, sizeof(reason)), FD_OK);
	ASSERT_EQ(ns_check_mount(0, 4026531841u, NULL, reason, sizeof(reason)), FD_OK);
	ASSERT_EQ(ns_check_mount(4026532190u, 0, NULL, reason, sizeof(reason)), FD_OK);
	ASSERT_EQ(ns_check_mount(4026532190u, 4026531841u, NULL, reason, sizeof(reason)),
		  FD_BLOCKER);
	ASSERT_TRUE(strstr(reason, "own mount namespace"));
	ASSERT_TRUE(strstr(reason, "PrivateTmp="));
}

TEST(plan_systemd_listening_socket_is_handed_back_to_services_only)
{
	struct plan_external sock = { .kind = EXTERNAL_SYSTEMD_SOCKET,
				      .pid = 812,
				      .fd = 3,
				      .inode = 44,
				      .what = (char *)LISTEN_SOCKET_WHAT
				      " tcp 0.0.0.0:7100, handed back at restore",
				      .listen = (char *)"tcp 0.0.0.0:7100" };
	struct plan_unit svc = unit("kupgrade-sockact.service", OWNER_SERVICE);
	struct plan_unit scope = unit("run-u8.scope", OWNER_SCOPE);

	ASSERT_TRUE(plan_external_is_listen_socket(&sock));
	ASSERT_TRUE(!plan_external_is_journal_stream(&sock));
	/* A socket-activated service: started by its unit, which systemd
	 * hands the new boot's socket. */
	svc.externals = &sock;
	svc.n_externals = 1;
	decide(&svc, NULL);
	ASSERT_EQ(svc.decision, DECISION_CHECKPOINT);
	/* A scope has no such start. */
	scope.externals = &sock;
	scope.n_externals = 1;
	decide(&scope, NULL);
	ASSERT_EQ(scope.decision, DECISION_RESTART);
	ASSERT_TRUE(strstr(scope.reason, "socket activation"));
	ASSERT_TRUE(strstr(scope.reason, "PID 812"));
}

/* The biggest process among the units to checkpoint decides whether the
 * images can be packed: others do not count. */
TEST(plan_largest_process_estimate_counts_checkpointed_units_only)
{
	struct plan_process a[] = { { .pid = 10, .est_image_bytes = 5ULL << 30 } };
	struct plan_process b[] = { { .pid = 20, .est_image_bytes = 1ULL << 20 },
				    { .pid = 21, .est_image_bytes = 3ULL << 20 } };
	struct plan_unit units[] = {
		{ .name = "big.service", .decision = DECISION_RESTART, .procs = a, .n_procs = 1 },
		{ .name = "small.service",
		  .decision = DECISION_CHECKPOINT,
		  .procs = b,
		  .n_procs = 2 },
	};
	struct plan p = { .units = units, .n_units = 2 };

	ASSERT_EQ(plan_largest_process_estimate(&p), 3ULL << 20);
	units[0].decision = DECISION_CHECKPOINT;
	ASSERT_EQ(plan_largest_process_estimate(&p), 5ULL << 30);
	p.n_units = 0;
	ASSERT_EQ(plan_largest_process_estimate(&p), 0);
}
