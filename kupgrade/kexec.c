/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "alloc.h"
#include "kexec.h"
#include "fileio.h"
#include "log.h"
#include "spawn-util.h"
#include "test-hooks.h"

#ifndef SYS_kexec_file_load
#define SYS_kexec_file_load 320 /* x86-64 */
#endif

#define SECURE_BOOT_VAR "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

const char *kexec_method_to_string(enum kexec_method m)
{
	static const char *const names[_KEXEC_METHOD_MAX] = {
		[KEXEC_METHOD_FILE] = "kexec_file_load",
		[KEXEC_METHOD_LEGACY] = "kexec_load",
	};

	return m >= 0 && m < _KEXEC_METHOD_MAX ? names[m] : "unknown";
}

int kexec_parse_lockdown(const char *text, char *ret, size_t size)
{
	/* "none [integrity] confidentiality": the active mode is in brackets. */
	const char *a = strchr(text, '['), *b;

	if (!a || !(b = strchr(a, ']')) || b == a + 1 || (size_t)(b - a - 1) >= size)
		return -EBADMSG;
	memcpy(ret, a + 1, (size_t)(b - a - 1));
	ret[b - a - 1] = 0;
	return 0;
}

int kexec_config_value(const char *text, const char *option)
{
	size_t n = strlen(option);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, option, n) == 0 && p[n] == '=')
			return p[n + 1] == 'y' || p[n + 1] == 'm';
		if (strncmp(p, "# ", 2) == 0 && strncmp(p + 2, option, n) == 0 &&
		    strncmp(p + 2 + n, " is not set", 11) == 0)
			return 0;
	}
	return -ENOENT;
}

/* kexec-tools speaks to the operator: its messages go where ours go. */
static int run_kexec(char *const argv[])
{
	return spawn_run(&(struct spawn){
		.argv = (const char *const *)argv,
		.stdin_fd = SPAWN_INHERIT,
		.stdout_fd = SPAWN_INHERIT,
		.stderr_fd = SPAWN_INHERIT,
	});
}

/* Debian has no /proc/config.gz; /boot/config-$(uname -r) is the usual source. */
static char *read_running_config(void)
{
	static const char *const gunzip[] = { "gzip", "-dc", "/proc/config.gz", NULL };
	struct utsname u;
	char path[512], *text = NULL;

	if (uname(&u) < 0)
		return NULL;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (read_full_file_str(path, &text) >= 0)
		return text;
	if (access("/proc/config.gz", R_OK) < 0)
		return NULL;
	if (spawn_run(&(struct spawn){ .argv = gunzip, .output = &text }) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static char *find_tool(void)
{
	static const char *const paths[] = { "/usr/sbin/kexec", "/sbin/kexec",
					     "/usr/local/sbin/kexec" };
	const char *e = test_hook("KUPGRADE_KEXEC"); /* tests: a fake kexec */

	if (e)
		return access(e, X_OK) == 0 ? strdup(e) : NULL;
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return strdup(paths[i]);
	return NULL;
}

/*
 * Whether kexec_file_load exists, without loading anything: with bad fds it
 * fails with EBADF after the permission checks and before touching the
 * loaded image (kernel/kexec_file.c), ENOSYS when the kernel lacks it.
 */
static int probe_file_load(void)
{
	long r = syscall(SYS_kexec_file_load, -1, -1, 0UL, "", 0UL);

	if (r >= 0 || errno == EBADF || errno == EINVAL)
		return 1;
	if (errno == ENOSYS)
		return 0;
	return negative_errno(); /* EPERM: no CAP_SYS_BOOT or disabled; unknown here */
}

int kexec_probe(struct kexec_support *ret)
{
	char buf[256];
	_cleanup_free_ char *config = NULL;

	*ret = (struct kexec_support){ .file_load = -1,
				       .config_kexec_file = -1,
				       .config_kexec_sig = -1,
				       .config_kexec_sig_force = -1,
				       .secure_boot = -1,
				       .loaded = -1 };

	if (read_small_file("/proc/sys/kernel/kexec_load_disabled", buf, sizeof(buf)) > 0)
		ret->load_disabled = buf[0] == '1';
	if (read_small_file("/sys/kernel/security/lockdown", buf, sizeof(buf)) > 0)
		(void)kexec_parse_lockdown(buf, ret->lockdown, sizeof(ret->lockdown));
	else if (access("/sys/kernel/security", F_OK) == 0 &&
		 access("/sys/kernel/security/lsm", F_OK) == 0)
		strcpy(ret->lockdown, "none"); /* securityfs mounted, no lockdown LSM */

	ret->file_load = ret->load_disabled ? -EPERM : probe_file_load();

	config = read_running_config();
	if (config) {
		ret->config_kexec_file = kexec_config_value(config, "CONFIG_KEXEC_FILE");
		ret->config_kexec_sig = kexec_config_value(config, "CONFIG_KEXEC_SIG");
		ret->config_kexec_sig_force = kexec_config_value(config, "CONFIG_KEXEC_SIG_FORCE");
	}

	/* efivarfs: 4 bytes of attributes, then the value. */
	if (access("/sys/firmware/efi", F_OK) < 0)
		ret->secure_boot = 0; /* BIOS boot: no Secure Boot */
	else {
		_cleanup_close_ int fd = open(SECURE_BOOT_VAR, O_RDONLY | O_CLOEXEC);
		uint8_t v[5];

		if (fd >= 0 && read(fd, v, sizeof(v)) == (ssize_t)sizeof(v))
			ret->secure_boot = v[4] == 1;
	}

	ret->loaded = kexec_loaded();
	ret->tool = find_tool();
	return 0;
}

void kexec_support_done(struct kexec_support *s)
{
	free(s->tool);
	s->tool = NULL;
}

static bool locked_down(const struct kexec_support *s)
{
	/* Unknown counts as locked when Secure Boot is on (Debian locks down then). */
	if (isempty(s->lockdown))
		return s->secure_boot == 1;
	return !streq(s->lockdown, "none");
}

int kexec_choose_method(const struct kexec_support *s, bool no_checks, enum kexec_method *ret,
			const char **ret_reason)
{
	bool legacy_ok = !locked_down(s);

	if (s->load_disabled) {
		*ret_reason = "kexec is disabled on this boot (kernel.kexec_load_disabled=1, "
			      "which cannot be undone before a reboot)";
		return -EPERM;
	}
	/* -i only reaches kexec-tools' own purgatory, i.e. the legacy call. */
	if (no_checks && legacy_ok) {
		*ret = KEXEC_METHOD_LEGACY;
		return 0;
	}
	if (s->file_load != 0 && s->config_kexec_file != 0) {
		*ret = KEXEC_METHOD_FILE;
		return 0;
	}
	if (legacy_ok) {
		*ret = KEXEC_METHOD_LEGACY;
		return 0;
	}
	*ret_reason = "this kernel lacks kexec_file_load and is locked down, which forbids "
		      "the legacy kexec_load";
	return -EPERM;
}

int kexec_image_acceptable(const struct kexec_support *s, const struct kernel_image *k,
			   enum kexec_method m, const char **ret_reason)
{
	bool need_sig = s->config_kexec_sig_force == 1 ||
			(m == KEXEC_METHOD_FILE && locked_down(s) && s->config_kexec_sig != 0);

	if (need_sig && !k->pe_signed) {
		*ret_reason = "the running kernel only loads signed kernels (lockdown or "
			      "KEXEC_SIG_FORCE) and this image carries no signature";
		return -EKEYREJECTED;
	}
	return 0;
}

/*
 * Seconds the new kernel waits after a panic before it reboots by itself.
 * After the point of no return nobody may be at the console, and Debian
 * leaves kernel.panic at 0 (wait forever): a new kernel that panics early
 * (its root device missing, a driver) would keep the machine down until
 * someone power-cycles it. 10 s leaves the panic readable on a console;
 * the reboot goes through the firmware to the boot loader's default.
 */
#define KEXEC_PANIC_TIMEOUT_SEC 10
#define KEXEC_PANIC_PARAM "panic="

/* One parameter of a kernel command line, as the kernel splits them
 * (kernel/params.c next_arg()): whitespace outside double quotes ends it. */
static const char *next_param(const char *p, const char **ret_start)
{
	bool in_quote = false;

	p += strspn(p, " \t\n");
	*ret_start = p;
	for (; *p && (in_quote || !strchr(" \t\n", *p)); p++)
		if (*p == '"')
			in_quote = !in_quote;
	return p;
}

/* Where the kernel's parameters end; *ret_value: the last value of the
 * parameter name (NULL: not there, or name NULL). */
static int params_scan(const char *cmdline, const char *name, const char **ret_value,
		       size_t *ret_len)
{
	const char *c = cmdline ?: "", *start, *end;
	size_t len = name ? strlen(name) : 0;

	if (ret_value)
		*ret_value = NULL;
	for (const char *p = c; *(end = next_param(p, &start)) || end > start; p = end) {
		const char *word = start + (*start == '"');

		/* "--": what follows is for init, not the kernel. */
		if (end - start == 2 && strncmp(start, "--", 2) == 0)
			return (int)(start - c);
		if (name && strncmp(word, name, len) == 0 && ret_value) {
			*ret_value = word + len;
			*ret_len = (size_t)(end - *ret_value) - (end > word && end[-1] == '"');
		}
	}
	return (int)strlen(c);
}

int kexec_cmdline_params_end(const char *cmdline)
{
	return params_scan(cmdline, NULL, NULL, NULL);
}

int kexec_cmdline_panic_pos(const char *cmdline)
{
	const char *v;
	size_t n;
	int pos = params_scan(cmdline, KEXEC_PANIC_PARAM, &v, &n);

	return v ? -EEXIST : pos;
}

char *kexec_cmdline_mark(const char *cmdline)
{
	const char *v;
	size_t n;

	(void)params_scan(cmdline, KEXEC_MARK_PARAM "=", &v, &n);
	return v ? strndup(v, n) : NULL;
}

/*
 * The --append value (NULL: none): the request's, with panic= (unless the
 * line has one) and the switch's mark (KEXEC_MARK_PARAM, when asked) added
 * before any arguments for init. With --reuse-cmdline kexec-tools puts it
 * after the running command line, which must then not end with arguments
 * for init: the mark cannot go there (-EINVAL), panic= is left out.
 */
static int append_value(const struct kexec_request *req, char **ret)
{
	const char *base = req->reuse_cmdline ? "" : req->append ?: "", *rest;
	const char *line = req->reuse_cmdline ? req->running_cmdline ?: "" : base;
	_cleanup_free_ char *add = NULL;
	int pos = kexec_cmdline_panic_pos(line);
	bool panic = pos != -EEXIST;

	*ret = NULL;
	if (pos == -EEXIST)
		pos = kexec_cmdline_params_end(line);
	if (asprintf(&add, "%s%s%s%s",
		     panic ? KEXEC_PANIC_PARAM STRINGIFY(KEXEC_PANIC_TIMEOUT_SEC) : "",
		     panic && req->mark ? " " : "", req->mark ? KEXEC_MARK_PARAM "=" : "",
		     req->mark ?: "") < 0)
		return -ENOMEM;
	if (req->reuse_cmdline) {
		if ((size_t)pos != strlen(line))
			return req->mark ? -EINVAL : 0;
		pos = 0;
	}
	if (!*add && req->reuse_cmdline)
		return 0;
	if (!*add)
		return (*ret = strdup(base)) ? 0 : -ENOMEM;
	rest = base + pos;
	if (asprintf(ret, "%.*s%s%s%s%s", pos, base,
		     pos > 0 && !strchr(" \t\n", base[pos - 1]) ? " " : "", add, *rest ? " " : "",
		     rest) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int strv_push(char ***v, size_t *n, const char *fmt, const char *arg)
{
	char *s;

	if (!GREEDY_REALLOC(*v, *n + 2))
		return -ENOMEM;
	if (asprintf(&s, fmt, arg) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
	return 0;
}

void kexec_argv_free(char **argv)
{
	for (char **p = argv; p && *p; p++)
		free(*p);
	free(argv);
}

int kexec_build_load_argv(const char *tool, const struct kexec_request *req, enum kexec_method m,
			  char ***ret)
{
	_cleanup_free_ char *append = NULL;
	char **v = NULL;
	size_t n = 0;
	int r;

	if (!req->kernel || (req->append && req->reuse_cmdline))
		return -EINVAL;
	r = append_value(req, &append);
	if (r < 0)
		return r;

	r = strv_push(&v, &n, "%s", tool);
	if (r >= 0)
		r = strv_push(&v, &n, "%s", m == KEXEC_METHOD_FILE ? "-s" : "-c");
	if (r >= 0 && req->no_checks && m == KEXEC_METHOD_LEGACY)
		r = strv_push(&v, &n, "%s", "-i");
	if (r >= 0)
		r = strv_push(&v, &n, "%s", "-l");
	if (r >= 0)
		r = strv_push(&v, &n, "%s", req->kernel);
	if (r >= 0 && req->initrd)
		r = strv_push(&v, &n, "--initrd=%s", req->initrd);
	if (r >= 0 && req->reuse_cmdline)
		r = strv_push(&v, &n, "%s", "--reuse-cmdline");
	/* Always pass the command line: kexec -s otherwise boots with none.
	 * With --reuse-cmdline, kexec-tools adds it after the running one. */
	if (r >= 0 && append)
		r = strv_push(&v, &n, "--append=%s", append);
	if (r < 0) {
		kexec_argv_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

static bool no_checks_wanted(const struct kexec_request *req)
{
	const char *e = test_hook("KUPGRADE_KEXEC_NO_CHECKS");

	return req->no_checks || (e && streq(e, "1"));
}

int kexec_load_kernel(const struct kexec_request *req, enum kexec_method *ret_method)
{
	struct kexec_support s;
	struct kexec_request rq = *req;
	_cleanup_free_ char *running = NULL;
	const char *reason = NULL;
	enum kexec_method m;
	char **argv = NULL;
	int r;

	rq.no_checks = no_checks_wanted(req);
	/* What kexec-tools' --reuse-cmdline reads: for the panic= decision.
	 * Unreadable: as if empty (panic= is added). */
	if (rq.reuse_cmdline && !rq.running_cmdline &&
	    read_full_file_str("/proc/cmdline", &running) >= 0)
		rq.running_cmdline = running;
	kexec_probe(&s);
	if (!s.tool) {
		kexec_support_done(&s);
		return log_error_errno(-EOPNOTSUPP,
				       "kexec-tools is not installed (no kexec binary); "
				       "install the kexec-tools package.");
	}
	r = kexec_choose_method(&s, rq.no_checks, &m, &reason);
	if (r < 0) {
		kexec_support_done(&s);
		return log_error_errno(r, "Cannot load a kernel: %s.", reason);
	}
	r = kexec_build_load_argv(s.tool, &rq, m, &argv);
	kexec_support_done(&s);
	if (r == -EINVAL && rq.reuse_cmdline)
		return log_error_errno(r,
				       "The running command line ends with arguments for init "
				       "(after \"--\"): --reuse-cmdline cannot add the switch's "
				       "parameters to it. Give the new kernel's command line with "
				       "--append instead.");
	if (r < 0)
		return log_error_errno(r, "Cannot build the kexec command line: %m");

	log_debug("Loading %s with %s%s.", rq.kernel, kexec_method_to_string(m),
		  rq.no_checks && m == KEXEC_METHOD_LEGACY ? " (no purgatory checks)" : "");
	r = run_kexec(argv);
	kexec_argv_free(argv);
	if (r < 0)
		return log_error_errno(r, "Cannot run kexec: %m");
	if (r != 0)
		return log_error_errno(-EIO,
				       "kexec failed to load %s (exit status %d, see its "
				       "message above).",
				       rq.kernel, r);
	if (kexec_loaded() == 0)
		return log_error_errno(-EIO, "kexec reported success but no kernel is loaded.");
	*ret_method = m;
	return 0;
}

int kexec_unload(enum kexec_method m)
{
	_cleanup_free_ char *tool = find_tool();
	char *argv[] = { tool, m == KEXEC_METHOD_FILE ? "-s" : "-c", "-u", NULL };
	int r;

	if (!tool)
		return log_error_errno(-EOPNOTSUPP, "Cannot unload: kexec-tools is not installed.");
	r = run_kexec(argv);
	if (r < 0)
		return log_error_errno(r, "Cannot run kexec -u: %m");
	if (r != 0 || kexec_loaded() > 0)
		return log_error_errno(-EIO,
				       "kexec -u failed (exit status %d): a kernel stays "
				       "loaded; run 'kexec -u' by hand.",
				       r);
	return 0;
}

int kexec_loaded(void)
{
	char buf[16];
	int r = read_small_file("/sys/kernel/kexec_loaded", buf, sizeof(buf));

	if (r < 0)
		return r;
	return buf[0] == '1';
}
