/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <criu/criu.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "criu.h"
#include "log.h"
#include "spawn-util.h"

static void criu_optsp(criu_opts **o)
{
	if (*o)
		criu_local_free_opts(*o);
}
#define _cleanup_criu_opts_ _cleanup_(criu_optsp)

static int open_log_dir(void)
{
	int fd;

	if (mkdir("/run/log", 0755) < 0 && errno != EEXIST)
		return negative_errno();
	if (mkdir(CRIU_LOG_DIR, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	fd = open(CRIU_LOG_DIR, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	return fd < 0 ? negative_errno() : fd;
}

/* Options common to every dump and restore. */
/* The log directory (CRIU's work dir, *ret_log_fd) and the options every
 * dump and restore share. */
static int new_opts(int images_fd, const char *log_name, int *ret_log_fd, criu_opts **ret)
{
	criu_opts *o = NULL;
	int r, log_fd;

	log_fd = open_log_dir();
	if (log_fd < 0)
		return log_error_errno(log_fd, "Cannot create %s: %m", CRIU_LOG_DIR);
	*ret_log_fd = log_fd;
	r = criu_local_init_opts(&o);
	if (r < 0)
		return log_error_errno(r, "Cannot initialise libcriu options: %m");
	criu_local_set_images_dir_fd(o, images_fd);
	criu_local_set_work_dir_fd(o, log_fd);
	criu_local_set_log_level(o,
				 log_get_max_level() >= LOG_DEBUG ? CRIU_LOG_DEBUG : CRIU_LOG_INFO);
	r = criu_local_set_log_file(o, log_name);
	if (r == 0) {
		criu_local_set_tcp_established(o, true);
		/* A connection the kernel completed on a listening socket
		 * that the frozen service has not accepted yet would fail the
		 * whole dump. It is left out instead: in systemd's socket
		 * (socket activation) it waits for the service on the same
		 * boot; otherwise it goes with the old socket, like a
		 * handshake in flight. */
		criu_local_set_tcp_skip_in_flight(o, true);
		criu_local_set_ext_unix_sk(o, true);
		criu_local_set_file_locks(o, true);
		criu_local_set_link_remap(o, true);
		criu_local_set_ghost_limit(o, CRIU_GHOST_LIMIT);
		/* The old unit's cgroup may be gone at restore; the unit owner
		 * (systemd) places the processes, not CRIU. */
		criu_local_set_manage_cgroups(o, true);
		criu_local_set_manage_cgroups_mode(o, CRIU_CG_MODE_IGNORE);
		r = criu_local_set_network_lock(o, CRIU_NETWORK_LOCK_NFTABLES);
	}
	if (r < 0) {
		criu_local_free_opts(o);
		return log_error_errno(r, "Cannot set libcriu options: %m");
	}
	*ret = o;
	return 0;
}

/* The first "Error" line of a CRIU log, for the message. */
static char *first_error(int log_fd, const char *log_name)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int fd;

	fd = openat(log_fd, log_name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (!f) {
		close(fd);
		return NULL;
	}
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, "Error (")) {
			line[strcspn(line, "\n")] = 0;
			return TAKE_PTR(line);
		}
	return NULL;
}

static int criu_failed(int r, const char *what, int log_fd, const char *log_name)
{
	_cleanup_free_ char *err = NULL;

	if (r == -ECONNREFUSED || r == -ECOMM)
		return log_error_errno(-EOPNOTSUPP,
				       "%s: cannot run 'criu swrk' (is criu installed?): %s", what,
				       strerror(-r));
	err = first_error(log_fd, log_name);
	return log_error_errno(-EIO, "%s failed, see %s/%s%s%s", what, CRIU_LOG_DIR, log_name,
			       err ? ": " : "", err ?: "");
}

/*
 * "criu swrk" inherits our stderr, and libnftables inside it prints there
 * (e.g. when its own lock table is already gone at restore, which is
 * expected). Its stray output goes to <log_name>.out next to its log.
 */
static int stderr_to_log(int log_fd, const char *log_name)
{
	char name[320];
	int saved, fd;

	snprintf(name, sizeof(name), "%s.out", log_name);
	fd = openat(log_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -EBADF;
	fflush(stderr);
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (saved >= 0)
		dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

static void stderr_restore(int saved)
{
	if (saved < 0)
		return;
	dup2(saved, STDERR_FILENO);
	close(saved);
}

int criu_dump_tree(const struct criu_dump_req *req)
{
	_cleanup_criu_opts_ criu_opts *o = NULL;
	_cleanup_close_ int log_fd = -EBADF;
	char what[64];
	mode_t mask;
	int r, saved;

	r = new_opts(req->images_fd, req->log_name, &log_fd, &o);
	if (r < 0)
		return r;
	criu_local_set_pid(o, req->pid);
	/* A killing dump: CRIU closes the TCP sockets in repair mode, silently,
	 * so the 4-tuples are free for the restore. */
	criu_local_set_leave_running(o, false);
	criu_local_set_shell_job(o, req->shell_job);
	for (size_t i = 0; i < req->n_externals; i++) {
		r = criu_local_add_external(o, req->externals[i]);
		if (r < 0)
			return log_error_errno(r, "Cannot pass external %s to CRIU: %m",
					       req->externals[i]);
	}
	snprintf(what, sizeof(what), "CRIU dump of PID %d", (int)req->pid);
	saved = stderr_to_log(log_fd, req->log_name);
	/* The images hold the processes' memory, secrets included: CRIU
	 * creates them 0644 (CR_FD_PERM), its swrk child inherits our umask,
	 * so they come out 0600. Only around the dump: a restore recreates
	 * files and sockets whose modes must not be masked. */
	mask = umask(0077);
	r = criu_local_dump(o);
	umask(mask);
	stderr_restore(saved);
	if (r < 0)
		return criu_failed(r, what, log_fd, req->log_name);
	return 0;
}

int criu_restore_tree(const struct criu_restore_req *req, pid_t *ret_pid)
{
	_cleanup_criu_opts_ criu_opts *o = NULL;
	_cleanup_close_ int log_fd = -EBADF;
	int r, saved;

	r = new_opts(req->images_fd, req->log_name, &log_fd, &o);
	if (r < 0)
		return r;
	criu_local_set_shell_job(o, req->shell_job);
	for (size_t i = 0; i < req->n_inherit; i++) {
		r = criu_local_add_inherit_fd(o, req->inherit[i].fd, req->inherit[i].key);
		if (r < 0)
			return log_error_errno(r, "Cannot pass inherited fd %s to CRIU: %m",
					       req->inherit[i].key);
	}
	saved = stderr_to_log(log_fd, req->log_name);
	r = criu_local_restore(o);
	stderr_restore(saved);
	if (r < 0)
		return criu_failed(r, "CRIU restore", log_fd, req->log_name);
	if (ret_pid)
		*ret_pid = r;
	return 0;
}

/*
 * "criu check" as a command: in criu 3.17 the same request through libcriu
 * (criu_local_check) fails in the bookworm guest without writing any log,
 * while the command says "Looks good". Output goes to CRIU_LOG_DIR/check.log.
 */
/* "criu ARGS...", its output appended to out: its exit status, -errno. */
static int run_criu(int out, const char *const *argv)
{
	return spawn_run(&(struct spawn){
		.argv = argv,
		.stdin_fd = SPAWN_INHERIT,
		.stdout_fd = SPAWN_FD(out),
		.stderr_fd = SPAWN_FD(out),
	});
}

int criu_check_kernel(void)
{
	_cleanup_close_ int log_fd = -EBADF, out = -EBADF;
	int r;

	log_fd = open_log_dir();
	if (log_fd < 0)
		return log_error_errno(log_fd, "Cannot create %s: %m", CRIU_LOG_DIR);
	out = openat(log_fd, "check.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		     0600);
	if (out < 0)
		return log_error_errno(negative_errno(), "Cannot create %s/check.log: %m",
				       CRIU_LOG_DIR);
	r = run_criu(out, (const char *const[]){ "criu", "check", NULL });
	if (r < 0)
		return log_error_errno(r, "Cannot fork: %m");
	if (r == 127)
		return log_error_errno(-EOPNOTSUPP,
				       "criu is not installed: install the criu package.");
	if (r != 0)
		return log_error_errno(-EOPNOTSUPP,
				       "'criu check' failed: this kernel lacks what CRIU needs, "
				       "see %s/check.log.",
				       CRIU_LOG_DIR);
	/* The dump locks the connections with CRIU's nftables mode
	 * (criu_new_opts): nf_tables in the kernel, libnftables in CRIU. */
	r = run_criu(out, (const char *const[]){ "criu", "check", "--feature",
						 "network_lock_nftables", NULL });
	if (r < 0)
		return log_error_errno(r, "Cannot fork: %m");
	if (r != 0)
		return log_error_errno(-EPROTONOSUPPORT,
				       "CRIU cannot lock the network with nftables here "
				       "('criu check --feature network_lock_nftables' failed, see "
				       "%s/check.log): load the nf_tables module, or install a criu "
				       "built with nftables.",
				       CRIU_LOG_DIR);
	return 0;
}

int criu_version(void)
{
	_cleanup_criu_opts_ criu_opts *o = NULL;
	int v;

	if (criu_local_init_opts(&o) < 0)
		return -ENOMEM;
	v = criu_local_get_version(o);
	return v != 0 ? v : -EIO;
}

const char *criu_version_format(int v, char *buf, size_t size)
{
	/* 31701 = 3.17.1 */
	snprintf(buf, size, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
	return buf;
}

int criu_version_string(char *buf, size_t size)
{
	int v = criu_version();

	if (v < 0)
		return v;
	criu_version_format(v, buf, size);
	return 0;
}

/* Protobuf wire format, just enough for CRIU's stats image. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int parse_dump_entry(const uint8_t *p, const uint8_t *end, struct criu_dump_stats *s)
{
	while (p < end) {
		uint64_t key, v;

		if (read_varint(&p, end, &key) < 0)
			return -EBADMSG;
		if ((key & 7) != 0)
			return -EBADMSG; /* dump_stats_entry holds only varints */
		if (read_varint(&p, end, &v) < 0)
			return -EBADMSG;
		switch (key >> 3) {
		case 1:
			s->freezing_usec = v;
			break;
		case 2:
			s->frozen_usec = v;
			break;
		case 3:
			s->memdump_usec = v;
			break;
		case 4:
			s->memwrite_usec = v;
			break;
		case 7:
			s->pages_written = v;
			break;
		}
	}
	return 0;
}

int criu_parse_dump_stats(const uint8_t *buf, size_t size, struct criu_dump_stats *ret)
{
	/* Two magics (service image + stats), a 32-bit length, stats_entry. */
	const uint8_t *p = buf + 12, *end;
	uint32_t len;

	if (size < 12)
		return -EBADMSG;
	memcpy(&len, buf + 8, 4);
	if (len > size - 12)
		return -EBADMSG;
	end = p + len;
	*ret = (struct criu_dump_stats){};
	while (p < end) {
		uint64_t key, sub;

		if (read_varint(&p, end, &key) < 0 || (key & 7) != 2 ||
		    read_varint(&p, end, &sub) < 0 || sub > (uint64_t)(end - p))
			return -EBADMSG;
		if (key >> 3 == 1)
			return parse_dump_entry(p, p + sub, ret);
		p += sub;
	}
	return -ENOENT;
}

int criu_read_dump_stats(struct criu_dump_stats *ret)
{
	/* CRIU writes it into the work dir, next to the logs. */
	_cleanup_close_ int fd = open(CRIU_LOG_DIR "/stats-dump", O_RDONLY | O_CLOEXEC);
	uint8_t buf[512];
	ssize_t k;

	if (fd < 0)
		return negative_errno();
	k = read(fd, buf, sizeof(buf));
	if (k < 0)
		return negative_errno();
	return criu_parse_dump_stats(buf, k, ret);
}
