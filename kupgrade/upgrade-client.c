/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "bus.h"
#include "check.h"
#include "exit-status.h"
#include "fileio.h"
#include "inspect.h"
#include "log.h"
#include "manifest.h"
#include "plan.h"
#include "poll-util.h"
#include "progress.h"
#include "report.h"
#include "test-hooks.h"
#include "upgrade.h"
#include "upgrade-client.h"
#include "upgrade-lock.h"

/*
 * "kupgrade --kernel FILE": the client. It checks, asks, starts the worker
 * as a transient service and follows it. Typed into an ssh session, it is
 * checkpointed with that session: from the worker's "Q" on it opens no file
 * (stat() only), so that nothing it holds has to cross the kexec; restored on
 * the new kernel it notices the new boot id, waits for the report and prints
 * it in the operator's shell.
 */

#define POLL_MS 200
#define START_TIMEOUT_S 60   /* the worker must say something by then */
#define RECOVER_START_S 60   /* a worker gone: its recovery (ExecStopPost=) takes over by then */
#define REPORT_TIMEOUT_S 900 /* restore of everything on the new kernel */

/* poll_until() computes a deadline: this one is far enough not to come. */
#define FOLLOW_FOREVER_MS (UINT64_MAX / 2 / 1000)

static int file_exists(void *userdata)
{
	struct stat st;

	return stat(userdata, &st) == 0;
}

static bool worker_alive(const char *id)
{
	_cleanup_free_ char *text = NULL;
	long pid;

	if (progress_read_file(id, "pid", &text) < 0)
		return true; /* not written yet: the start timeout covers it */
	pid = strtol(text, NULL, 10);
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Print the lines the worker appended; returns true when it said "Q". */
static bool show_progress(const char *id, off_t *pos)
{
	_cleanup_free_ char *lines = NULL;
	bool quiet = false;

	if (progress_read_new(id, pos, &lines) < 0 || !lines)
		return false;
	for (char *l = strtok(lines, "\n"); l; l = strtok(NULL, "\n")) {
		if (streq(l, "Q"))
			quiet = true;
		else if (l[0] == 'P' && l[1] == ' ')
			fprintf(stderr, "kupgrade: %s\n", l + 2);
	}
	return quiet;
}

/*
 * --json: one document on stdout whatever happens. After a switch it is the
 * report (show_report); when none happened (refused, not confirmed, rolled
 * back, the worker lost) the command line prints one from what is kept here.
 * code: the exit status, or -errno.
 */
static int no_switch(struct upgrade_no_switch *ns, const char *outcome, const char *id, int code,
		     const char *message)
{
	ns->outcome = outcome;
	snprintf(ns->id, sizeof(ns->id), "%s", id ?: "");
	free(ns->message);
	ns->message = strdup(message);
	return code;
}

/* The worker finished on this kernel: it failed and undid everything, or
 * (dry run) did nothing. "<code> <message>". */
static int show_result(const char *id, struct upgrade_no_switch *ns)
{
	_cleanup_free_ char *text = NULL;
	char *msg;
	long code;

	if (progress_read_file(id, "result", &text) < 0)
		return log_error_errno(-EIO,
				       "The worker left no readable result; see 'journalctl -u %s'.",
				       UPGRADE_WORKER_UNIT);
	code = strtol(text, &msg, 10);
	msg += strspn(msg, " ");
	msg[strcspn(msg, "\n")] = 0;
	if (code == 0)
		log_info("%s", msg);
	else
		log_error("%s", msg);
	code = code >= 0 && code < 256 ? code : EXIT_SOFTWARE;
	(void)no_switch(ns,
			code == 0		? "nothing-done"
			: code == EXIT_TEMPFAIL ? "refused" /* busy: it started nothing */
						: "rolled-back",
			id, (int)code, msg);
	progress_remove(id);
	return (int)code;
}

/* On the new kernel: wait for the report the restore writes, print it. */
static int show_report(const char *id, bool json)
{
	_cleanup_free_ char *path = report_path_for(id);
	Manifest *m = NULL;
	int r;

	if (!path)
		return log_oom();
	r = poll_until(file_exists, path, REPORT_TIMEOUT_S * 1000, POLL_MS);
	r = r > 0 ? manifest_read_file(path, &m) : -ENOENT;
	if (r < 0)
		return log_error_errno(r,
				       "Running on the new kernel, but no report appeared at %s: see "
				       "'journalctl -u kupgrade-restore'.",
				       path);
	if (json)
		inspect_print_json(stdout, m);
	inspect_print_text(stderr, m);
	r = report_exit_code(m);
	manifest_free(m);
	return r;
}

struct follow {
	const char *id, *boot_id;
	bool json;
	struct upgrade_no_switch *ns;
	off_t pos;
	bool quiet;
	unsigned silent_ms, dead_ms;
	int result; /* the command's, once the step says it is done */
};

/* One look at the worker: > 0 when the command is done (f->result says how). */
static int follow_step(void *userdata)
{
	struct follow *f = userdata;
	const char *id = f->id;
	char now[64];
	bool alive;
	int r;

	if (!f->quiet) {
		f->quiet = show_progress(id, &f->pos);
		if (f->quiet) {
			/* From here on: stat() and sleep only, until the boot changes. */
			(void)progress_write_file(id, "quiet", "1\n");
		}
	}
	if (progress_file_exists(id, "result")) {
		if (!f->quiet)
			show_progress(id, &f->pos);
		f->result = show_result(id, f->ns);
		return 1;
	}
	/* Whether the worker lives is read before the boot id: this process
	 * can be frozen between the two reads and go on on the new kernel,
	 * where no worker runs. Read the other way round, that looked like
	 * a worker that died. */
	alive = worker_alive(id);
	if (read_boot_id(now, sizeof(now)) >= 0 && !streq(now, f->boot_id)) {
		log_info("Now running Linux on a new boot; waiting for the restore report...");
		f->result = show_report(id, f->json);
		return 1;
	}
	/* A worker that was killed is followed by its recovery, which writes
	 * its own PID, then the result. */
	f->dead_ms = alive ? 0 : f->dead_ms + POLL_MS;
	if (f->dead_ms > RECOVER_START_S * 1000 && !progress_file_exists(id, "result")) {
		r = log_error_errno(-ESRCH,
				    "The upgrade worker died without a result; see "
				    "'journalctl -u %s'.",
				    UPGRADE_WORKER_UNIT);
		f->result = no_switch(f->ns, "failed", id, r,
				      "the upgrade worker died without a result");
		return 1;
	}
	if (!progress_file_exists(id, "pid") &&
	    (f->silent_ms += POLL_MS) > START_TIMEOUT_S * 1000) {
		r = log_error_errno(-ETIMEDOUT,
				    "The upgrade worker did not start; see "
				    "'journalctl -u %s'.",
				    UPGRADE_WORKER_UNIT);
		f->result = no_switch(f->ns, "failed", id, r, "the upgrade worker did not start");
		return 1;
	}
	return 0;
}

/* Until the worker gives up on this kernel, dies, or the boot changes: no
 * deadline, the switch takes as long as it takes. */
static int follow(const char *id, const char *boot_id, bool json, struct upgrade_no_switch *ns)
{
	struct follow f = { .id = id, .boot_id = boot_id, .json = json, .ns = ns };
	int r;

	r = poll_until(follow_step, &f, FOLLOW_FOREVER_MS, POLL_MS);
	return r > 0 ? f.result : r;
}

/* Another switch, a checkpoint, or apt is running: refused. Takes nothing:
 * the worker takes the switch lock (upgrade-lock.h). */
static int refuse_if_busy(const struct kupgrade_options *o, struct upgrade_no_switch *ns)
{
	_cleanup_free_ char *msg = NULL;
	int r;

	r = upgrade_busy(SWITCH_LOCK_FILE, o->wait_apt ? NULL : dpkg_lock_files, &msg);
	if (r == 0 && o->wait_apt)
		r = upgrade_wait_dpkg(dpkg_lock_files, UPGRADE_WAIT_APT_USEC, 1000000, &msg);
	if (r == 0)
		return 0;
	if (!msg)
		return log_oom();
	log_error("%s", msg);
	return no_switch(ns, "refused", NULL, r, msg);
}

static bool confirm(const char *release, bool yes)
{
	char answer[16];

	if (yes || !isatty(STDIN_FILENO))
		return true;
	fprintf(stderr,
		"Switch the running kernel to Linux %s now, keeping every checkpointed "
		"process? [y/N] ",
		release);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/* The worker's command line, or (verb "upgrade-recover") the one of what
 * runs after it. */
static int worker_argv(const struct kupgrade_options *o, const char *verb, const char *id,
		       char ***ret)
{
	static char exe[PATH_MAX];
	char **a = calloc(16, sizeof(char *));
	size_t n = 0;
	ssize_t k;

	if (!a)
		return -ENOMEM;
	k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (k < 0) {
		free(a);
		return negative_errno();
	}
	exe[k] = 0;
	a[n++] = exe;
	a[n++] = (char *)verb;
	a[n++] = "--id";
	a[n++] = (char *)id;
	a[n++] = "--kernel";
	a[n++] = (char *)o->kernel;
	if (o->initrd) {
		a[n++] = "--initrd";
		a[n++] = (char *)o->initrd;
	}
	if (o->append) {
		a[n++] = "--append";
		a[n++] = (char *)o->append;
	}
	if (o->reuse_cmdline)
		a[n++] = "--reuse-cmdline";
	if (o->images_on_disk)
		a[n++] = "--images-on-disk";
	if (o->wait_apt)
		a[n++] = "--wait-apt";
	a[n++] = "--config";
	a[n++] = (char *)o->config;
	*ret = a;
	return 0;
}

int upgrade_client_run(const struct kupgrade_options *o, struct upgrade_no_switch *ret_no_switch)
{
	_cleanup_free_ char *release = NULL, *initrd = NULL;
	_cleanup_free_ char **wargv = NULL, **rargv = NULL;
	char **wenv = NULL;
	struct upgrade_no_switch *ns = ret_no_switch;
	char id[65], boot_id[64];
	int r;

	*ns = (struct upgrade_no_switch){};
	if (geteuid() != 0)
		return log_error_errno(-EPERM, "kupgrade must run as root to switch kernels.");

	/* Every refusal comes now, before anything is started or frozen. A
	 * dry run is a plan: it works at any time. */
	if (!o->dry_run) {
		r = refuse_if_busy(o, ns);
		if (r != 0)
			return r;
	}
	r = check_can_switch(o, &release, &initrd);
	if (r < 0)
		return no_switch(ns, "refused", NULL, r == -ECANCELED ? EXIT_CANNOT_SWITCH : r,
				 "the checks refused the switch (see above); nothing was changed");
	/* With --json the plan is the document. */
	if (o->dry_run) {
		upgrade_print_phases(stderr, release);
		return plan_print(o);
	}
	if (!confirm(release, o->yes)) {
		log_notice("Not switching: not confirmed. Nothing was changed.");
		return no_switch(ns, "declined", NULL, EXIT_DECLINED,
				 "not confirmed; nothing was changed");
	}

	r = progress_prepare_dir();
	if (r < 0)
		return r;
	if (progress_new_id(id, sizeof(id)) < 0 || read_boot_id(boot_id, sizeof(boot_id)) < 0)
		return log_error_errno(-EIO, "Cannot read the boot id or make an upgrade id.");
	/* The worker's environment: the test hooks set here, in a test build. */
	if (worker_argv(o, "upgrade-worker", id, &wargv) < 0 ||
	    worker_argv(o, "upgrade-recover", id, &rargv) < 0 || test_hooks_env(&wenv) < 0)
		return log_oom();
	r = bus_start_transient_service(UPGRADE_WORKER_UNIT, "kupgrade: switch the running kernel",
					wargv, rargv, wenv);
	test_hooks_env_free(wenv);
	if (r == -EEXIST)
		return log_error_errno(-EBUSY,
				       "Another kernel switch is running (%s); wait for it.",
				       UPGRADE_WORKER_UNIT);
	if (r < 0)
		return r;
	if (o->detach) {
		/* This process will be gone: the worker need not wait for it to
		 * stop opening files (the quiet-client phase). */
		(void)progress_write_file(id, "quiet", "1\n");
		log_info("Switching to Linux %s (upgrade %s) in the background; 'kupgrade status "
			 "--id %s --wait' tells how it ended.",
			 release, id, id);
		return no_switch(ns, "started", id, 0,
				 "the switch runs in the background; 'kupgrade status --id ID --wait' "
				 "tells how it ended");
	}
	log_info("Switching to Linux %s (upgrade %s); this shell pauses while it happens.", release,
		 id);
	return follow(id, boot_id, o->json, ns);
}
