/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fnmatch.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "blockers.h"
#include "criu.h"
#include "macro.h"
#include "plan.h"

/* "CRIU 3.17.1", or "CRIU" when the version is not known. */
static const char *criu_name(const struct criu_caps *caps, char *buf, size_t size)
{
	char v[16];

	if (!caps || caps->version <= 0)
		return "CRIU";
	snprintf(buf, size, "CRIU %s", criu_version_format(caps->version, v, sizeof(v)));
	return buf;
}

/* reason = "<what>, which CRIU X.Y.Z cannot dump" */
_printf_(4, 5) static enum fd_verdict
	cannot_dump(char *reason, size_t size, const struct criu_caps *caps, const char *fmt, ...)
{
	char name[32];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(reason, size, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < size)
		snprintf(reason + n, size - n, ", which %s cannot dump",
			 criu_name(caps, name, sizeof(name)));
	return FD_BLOCKER;
}

enum fd_verdict fd_check_limit(uint64_t nofile_soft, uint64_t fds_below_limit, char *reason,
			       size_t size)
{
	/* The lowest free number is what a new fd gets: none below the
	 * limit, EMFILE. */
	if (nofile_soft == UINT64_MAX || fds_below_limit < nofile_soft)
		return FD_OK;
	snprintf(reason, size,
		 "may open no more files (RLIMIT_NOFILE %llu, all taken), and CRIU must open one "
		 "in it to dump it (a login sshd has not authenticated yet is one such)",
		 (unsigned long long)nofile_soft);
	return FD_BLOCKER;
}

/* criu/tty.c: pty masters and slaves, consoles, VTs, serial lines. */
static bool is_tty_major(unsigned maj)
{
	return maj == 4 || maj == 5 || (maj >= 136 && maj <= 143) || maj == 188 || maj == 204;
}

static enum fd_verdict check_chrdev(const struct proc_fd *fd, const struct criu_caps *caps,
				    char *reason, size_t size)
{
	unsigned maj = major(fd->rdev), min = minor(fd->rdev);

	/* criu/files.c dump_chrdev(): mem devices are reopened by path, misc only tun and autofs. */
	if (maj == 1 || is_tty_major(maj))
		return FD_OK;
	if (maj == 10 && (min == 200 || min == 235))
		return FD_OK;
	if (maj == 10 && min == 232)
		return cannot_dump(reason, size, caps, "has /dev/kvm open (a virtual machine)");
	if (maj == 226)
		return cannot_dump(reason, size, caps, "has the GPU device %s (DRM) open",
				   fd->target);
	return cannot_dump(reason, size, caps, "has the character device %s (%u:%u) open",
			   fd->target, maj, min);
}

/* CRIU 4.1 criu/pidfd.c dump_one_pidfd(): a pidfd of a process in the dumped
 * tree, or of one that exited; not a thread's (PIDFD_THREAD). */
static enum fd_verdict check_pidfd(const struct proc_fd *fd, const struct criu_caps *caps,
				   char *reason, size_t size)
{
	if (!caps || caps->version < CRIU_PIDFD_VERSION)
		return cannot_dump(reason, size, caps,
				   "holds a pidfd (CRIU 4.1 can, of a process in the same tree)");
	if (fd->pidfd_thread)
		return cannot_dump(reason, size, caps, "holds a thread's pidfd (PIDFD_THREAD)");
	if (fd->pidfd_pid == -1)
		return FD_OK;
	if (fd->pidfd_pid <= 0)
		return cannot_dump(reason, size, caps, "holds a pidfd of an unknown process");
	cannot_dump(reason, size, caps, "holds a pidfd of PID %d, outside its process tree",
		    fd->pidfd_pid);
	return FD_IN_TREE;
}

static enum fd_verdict check_anon_inode(const char *kind, const struct criu_caps *caps,
					char *reason, size_t size)
{
	/* criu/files.c dump_one_file(): the anon inodes 3.17 knows. bpf-map needs a
	 * libbpf build, so it does not count; pidfds came with CRIU 4.1. */
	static const char *const supported[] = {
		"[eventfd]", "[eventpoll]", "inotify", "[fanotify]", "[signalfd]", "[timerfd]",
	};

	for (size_t i = 0; i < ELEMENTSOF(supported); i++)
		if (streq(kind, supported[i]))
			return FD_OK;
	if (streq(kind, "[io_uring]"))
		return cannot_dump(reason, size, caps, "uses io_uring");
	if (streq(kind, "[userfaultfd]"))
		return cannot_dump(reason, size, caps, "holds a userfaultfd");
	if (streq(kind, "[perf_event]"))
		return cannot_dump(reason, size, caps, "holds a perf event");
	if (startswith(kind, "bpf"))
		return cannot_dump(reason, size, caps, "holds a BPF object (%s)", kind);
	return cannot_dump(reason, size, caps, "holds an anonymous inode of type %s", kind);
}

static enum fd_verdict check_socket(const struct proc_fd *fd, const struct criu_caps *caps,
				    char *reason, size_t size)
{
	/* Protocol names as the kernel reports them (struct proto .name). */
	static const char *const supported[] = {
		"UNIX",	 "UNIX-STREAM", "TCP",	     "TCPv6",	"UDP",
		"UDPv6", "UDP-Lite",	"UDPLITEv6", "NETLINK", "PACKET",
	};

	if (isempty(fd->proto))
		return FD_OK; /* unknown: let the dump decide */
	for (size_t i = 0; i < ELEMENTSOF(supported); i++)
		if (streq(fd->proto, supported[i]))
			return FD_OK;
	return cannot_dump(reason, size, caps, "has a %s socket", fd->proto);
}

enum fd_verdict fd_check_file(const struct proc_fd *fd, const struct criu_caps *caps, char *reason,
			      size_t size)
{
	char name[32];

	if (S_ISCHR(fd->mode))
		return check_chrdev(fd, caps, reason, size);
	if (S_ISBLK(fd->mode))
		return cannot_dump(reason, size, caps, "has the block device %s open", fd->target);
	if (S_ISSOCK(fd->mode))
		return check_socket(fd, caps, reason, size);
	if (streq(fd->target, "anon_inode:[pidfd]"))
		return check_pidfd(fd, caps, reason, size);
	if (startswith(fd->target, "anon_inode:"))
		return check_anon_inode(fd->target + STRLEN("anon_inode:"), caps, reason, size);
	/* Deleted while open: CRIU copies it into the images, up to its ghost
	 * limit; a bigger one would fail the dump, after other units were
	 * frozen (any user can hold one). memfds are dumped apart. */
	if (S_ISREG(fd->mode) && fd->nlink == 0 && fd->size > CRIU_GHOST_LIMIT &&
	    !startswith(fd->target, "/memfd:")) {
		snprintf(reason, size,
			 "holds %s open, deleted, %lld KiB: over the %d KiB %s copies of a deleted "
			 "file",
			 fd->target, (long long)fd->size / 1024, CRIU_GHOST_LIMIT / 1024,
			 criu_name(caps, name, sizeof(name)));
		return FD_BLOCKER;
	}
	if (S_ISFIFO(fd->mode)) {
		/* pam_systemd's session FIFO, opened in logind's own mount namespace. */
		if (fnmatch("/run/systemd/sessions/*.ref", fd->target, 0) == 0) {
			snprintf(reason, size, "holds the logind session FIFO %s", fd->target);
			return FD_EXTERNAL;
		}
		if (fnmatch("/run/systemd/inhibit/*.ref", fd->target, 0) == 0) {
			snprintf(reason, size, "holds the logind inhibitor FIFO %s", fd->target);
			return FD_EXTERNAL;
		}
	}
	return FD_OK;
}

static bool is_system_bus(const char *name)
{
	return streq_ptr(name, "/run/dbus/system_bus_socket") ||
	       streq_ptr(name, "/var/run/dbus/system_bus_socket");
}

static const char *type_name(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "datagram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	default:
		return "unix";
	}
}

enum fd_verdict fd_check_unix_peer(const struct unix_peer_facts *f, char *reason, size_t size)
{
	const char *what = f->peer_name ?: "an unnamed socket";

	/* Both ends are in the same unit: the dump carries the pair. */
	if (f->peer_same_unit)
		return FD_OK;
	if (is_system_bus(f->peer_name)) {
		snprintf(reason, size, "connected to the D-Bus system bus, which restarts fresh");
		return FD_BLOCKER;
	}
	/* --ext-unix-sk reconnects a datagram socket to its peer's address at restore. */
	if (f->type == SOCK_DGRAM && f->peer_name)
		return FD_OK;
	if (streq_ptr(f->peer_name, JOURNAL_STREAM_SOCKET)) {
		snprintf(reason, size, JOURNAL_STREAM_WHAT " (" JOURNAL_STREAM_SOCKET ")");
		return FD_EXTERNAL;
	}
	if (!f->peer_unit) {
		snprintf(reason, size, "unix %s socket connected to %s that no process here holds",
			 type_name(f->type), what);
		return FD_BLOCKER;
	}
	switch (f->peer_decision) {
	case DECISION_RESTART:
		snprintf(reason, size, "unix %s socket connected to %s of %s, which restarts fresh",
			 type_name(f->type), what, f->peer_unit);
		break;
	case DECISION_LEAVE:
		snprintf(reason, size,
			 "unix %s socket connected to %s of %s, which is not checkpointed",
			 type_name(f->type), what, f->peer_unit);
		break;
	default:
		snprintf(reason, size,
			 "unix %s socket connected to %s of %s, checkpointed separately (a dump keeps only "
			 "connections inside it)",
			 type_name(f->type), what, f->peer_unit);
		break;
	}
	return FD_BLOCKER;
}

enum fd_verdict ns_check_mount(uint64_t mnt_ns, uint64_t init_mnt_ns, const struct criu_caps *caps,
			       char *reason, size_t size)
{
	/*
	 * Measured in the bookworm guest: a service with PrivateTmp= fails
	 * "criu dump" with "Mount ... has unreachable sharing", with or without
	 * --enable-external-masters. Unknown namespaces (0) are not judged.
	 */
	if (mnt_ns == 0 || init_mnt_ns == 0 || mnt_ns == init_mnt_ns)
		return FD_OK;
	return cannot_dump(reason, size, caps,
			   "runs in its own mount namespace (systemd sandboxing such as PrivateTmp= or "
			   "ProtectSystem=)");
}
