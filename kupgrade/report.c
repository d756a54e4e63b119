/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "exit-status.h"
#include "fileio.h"
#include "inspect.h"
#include "json.h"
#include "log.h"
#include "paths.h"
#include "poll-util.h"
#include "progress.h"
#include "report.h"

/* path 0700, its parents 0755 where created. */
static int mkdir_p_0700(const char *path)
{
	int r = mkdir_parents(path, 0755);

	if (r < 0)
		return r;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return negative_errno();
	return 0;
}

char *report_path_for(const char *id)
{
	char *p;

	return asprintf(&p, "%s/%s.manifest", REPORT_DIR, id) < 0 ? NULL : p;
}

int report_save(const Manifest *m)
{
	const char *id = m->upgrade_id ?: m->boot_id;
	_cleanup_free_ char *path = NULL, *name = NULL;
	_cleanup_close_ int dfd = -EBADF;
	int r;

	r = mkdir_p_0700(REPORT_DIR);
	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", REPORT_DIR);
	dfd = open(REPORT_DIR, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return log_error_errno(negative_errno(), "Cannot open %s: %m", REPORT_DIR);
	/* manifest_write_at() writes "manifest" atomically; then it gets its name. */
	r = manifest_write_at(dfd, m);
	if (r < 0)
		return log_error_errno(r, "Cannot write the report in %s: %m", REPORT_DIR);
	if (asprintf(&name, "%s.manifest", id) < 0)
		return log_oom();
	if (renameat(dfd, MANIFEST_FILE, dfd, name) < 0)
		return log_error_errno(negative_errno(), "Cannot name the report %s/%s: %m",
				       REPORT_DIR, name);
	(void)unlinkat(dfd, "last", 0);
	(void)unlinkat(dfd, "last-attempt", 0); /* this switch happened after it */
	if (symlinkat(name, dfd, "last") < 0)
		log_warning_errno(negative_errno(),
				  "Cannot point %s/last at the new report, ignoring: %m",
				  REPORT_DIR);
	log_info("Report saved as %s/%s.", REPORT_DIR, name);
	return 0;
}

int report_save_pending(const Manifest *m)
{
	_cleanup_close_ int dfd = -EBADF;
	int r;

	r = mkdir_p_0700(STATE_DIR);
	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", STATE_DIR);
	dfd = open(STATE_DIR, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return log_error_errno(negative_errno(), "Cannot open %s: %m", STATE_DIR);
	r = manifest_write_at(dfd, m);
	if (r >= 0)
		r = RET_NERRNO(renameat(dfd, MANIFEST_FILE, AT_FDCWD, REPORT_PENDING));
	if (r < 0)
		return log_error_errno(r, "Cannot write %s: %m", REPORT_PENDING);
	return 0;
}

int report_save_attempt_at(const char *dir, const char *id, const char *kernel, int exit_code,
			   const char *message)
{
	_cleanup_free_ char *path = NULL, *name = NULL;
	_cleanup_close_ int dfd = -EBADF;
	int r;

	/* The id names a file: only what the client generates (hex). */
	if (!id || !progress_id_valid(id))
		return -EINVAL;
	r = mkdir_p_0700(dir);
	if (r < 0)
		return r;
	if (asprintf(&name, "%s.attempt", id) < 0 || asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	/* One value a line: a newline in the message would start another. */
	r = write_string_file(path, "exit_code=%d\nkernel=%.*s\nmessage=%.*s\n", exit_code,
			      (int)strcspn(kernel ?: "", "\n"), kernel ?: "",
			      (int)strcspn(message ?: "", "\n"), message ?: "");
	if (r < 0)
		return r;
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return negative_errno();
	(void)unlinkat(dfd, "last-attempt", 0);
	return RET_NERRNO(symlinkat(name, dfd, "last-attempt"));
}

int report_save_attempt(const char *id, const char *kernel, int exit_code, const char *message)
{
	int r = report_save_attempt_at(REPORT_DIR, id, kernel, exit_code, message);

	if (r < 0)
		log_warning_errno(r, "Cannot record this attempt in %s, ignoring: %m", REPORT_DIR);
	return r;
}

void report_attempt_done(struct report_attempt *a)
{
	free(a->id);
	free(a->kernel);
	free(a->message);
	*a = (struct report_attempt){};
}

/* dir/name, an attempt's record (name: "ID.attempt"). */
static int load_attempt(const char *dir, const char *name, struct report_attempt *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct report_attempt a = {};
	struct stat st;
	int r;

	if (!endswith(name, ".attempt") || strchr(name, '/'))
		return -EBADMSG;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	r = read_full_file_str(path, &text);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (stat(path, &st) < 0)
		return negative_errno();
	a.id = strndup(name, strlen(name) - strlen(".attempt"));
	a.when = st.st_mtime;
	a.exit_code = -1;
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		const char *v;

		if ((v = startswith(l, "exit_code=")))
			a.exit_code = atoi(v);
		else if ((v = startswith(l, "kernel=")))
			a.kernel = strdup(v);
		else if ((v = startswith(l, "message=")))
			a.message = strdup(v);
	}
	if (!a.id || !a.kernel || !a.message) {
		report_attempt_done(&a);
		return -ENOMEM;
	}
	*ret = a;
	return 1;
}

int report_load_attempt_at(const char *dir, struct report_attempt *ret)
{
	_cleanup_free_ char *path = NULL;
	char target[256];
	ssize_t n;

	*ret = (struct report_attempt){};
	if (asprintf(&path, "%s/last-attempt", dir) < 0)
		return -ENOMEM;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : negative_errno();
	target[n] = 0;
	return load_attempt(dir, target, ret);
}

const char *report_attempt_outcome(const struct report_attempt *a)
{
	return a->exit_code == EXIT_SOFTWARE ? "rolled-back" : "failed";
}

int report_load_last(Manifest **ret)
{
	return manifest_read_file(REPORT_DIR "/last", ret);
}

int report_exit_code(const Manifest *m)
{
	for (size_t i = 0; i < m->n_units; i++) {
		Kupgrade__UnitOutcome o = m->units[i]->outcome;

		/* Restarted as the plan said: what the operator agreed to. */
		if (manifest_unit_planned_restart(m->units[i]))
			continue;
		if (o != KUPGRADE__UNIT_OUTCOME__RESTORED &&
		    o != KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS)
			return EXIT_SOFTWARE;
	}
	return 0;
}

static bool has_timing(const Manifest *m, const char *phase)
{
	for (size_t i = 0; i < m->n_timings; i++)
		if (streq(m->timings[i]->phase, phase))
			return true;
	return false;
}

void report_merge_pending(Manifest *m)
{
	Manifest *p = NULL;

	if (manifest_read_file(REPORT_PENDING, &p) < 0)
		return;
	if (p->upgrade_id && m->upgrade_id && streq(p->upgrade_id, m->upgrade_id)) {
		for (size_t i = 0; i < p->n_timings; i++)
			if (!has_timing(m, p->timings[i]->phase))
				(void)manifest_add_timing(m, p->timings[i]->phase,
							  p->timings[i]->usec);
		if (p->has_kexec_realtime_usec) {
			m->has_kexec_realtime_usec = true;
			m->kexec_realtime_usec = p->kexec_realtime_usec;
		}
	}
	manifest_free(p);
	(void)unlink(REPORT_PENDING);
}

static void print_attempt(bool json, const struct report_attempt *a)
{
	char when[64] = "";
	struct tm tm;

	if (localtime_r(&a->when, &tm))
		strftime(when, sizeof(when), json ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%d %H:%M:%S %Z",
			 &tm);
	if (json) {
		struct json_writer w;

		json_init(&w, stdout, true);
		json_begin_object(&w);
		json_kv_string(&w, "outcome", report_attempt_outcome(a));
		json_kv_bool(&w, "switched", false);
		json_kv_string(&w, "upgrade_id", a->id);
		json_kv_string(&w, "kernel", a->kernel);
		json_kv_int(&w, "exit_code", a->exit_code);
		json_kv_string(&w, "message", a->message);
		json_kv_string(&w, "time", when);
		json_end_object(&w);
		(void)json_finish(&w);
		return;
	}
	printf("The last switch did not happen (%s):\n"
	       "  upgrade:    %s\n  time:       %s\n  kernel:     %s\n  exit code:  %d\n"
	       "  message:    %s\n  details:    journalctl -u %s\n",
	       report_attempt_outcome(a), a->id, when, a->kernel, a->exit_code, a->message,
	       UPGRADE_WORKER_UNIT);
}

int report_print_last(bool json)
{
	struct report_attempt a = {};
	Manifest *m = NULL;
	bool report;
	int r;

	/* Asked before reading, so that no case logs a failed open first. */
	r = report_load_attempt_at(REPORT_DIR, &a);
	report = access(REPORT_DIR "/last", F_OK) == 0;
	if (r == -EACCES || (!report && errno == EACCES))
		return log_error_errno(-EACCES,
				       "The reports in %s are root's to read: run 'sudo kupgrade "
				       "status'.",
				       REPORT_DIR);
	if (r < 0)
		log_warning_errno(r, "Cannot read %s/last-attempt, ignoring: %m", REPORT_DIR);
	if (r > 0) {
		/* The newest outcome first; with --json only it. */
		print_attempt(json, &a);
		report_attempt_done(&a);
		if (json || !report)
			return 0;
		printf("\nThe last switch that happened:\n");
	} else if (!report) {
		log_info("No kernel switch has been reported on this machine yet.");
		return 0;
	}
	r = report_load_last(&m);
	if (r < 0)
		return log_error_errno(r, "Cannot read the last report %s/last: %m", REPORT_DIR);
	if (json)
		inspect_print_json(stdout, m);
	else
		inspect_print_text(stdout, m);
	manifest_free(m);
	return 0;
}

struct outcome_of {
	const char *id;
	Manifest *m;		 /* the report: it switched */
	struct report_attempt a; /* or the record: it did not */
	int error;
};

static int outcome_known(void *userdata)
{
	struct outcome_of *o = userdata;
	_cleanup_free_ char *path = report_path_for(o->id), *name = NULL;
	int r;

	if (!path || asprintf(&name, "%s.attempt", o->id) < 0) {
		o->error = -ENOMEM;
		return 1;
	}
	/* Asked first: manifest_read_file() logs a file it cannot open. */
	if (access(path, F_OK) == 0) {
		r = manifest_read_file(path, &o->m);
		o->error = r < 0 ? r : 0;
		return 1;
	}
	r = load_attempt(REPORT_DIR, name, &o->a);
	if (r != 0)
		o->error = r < 0 ? r : 0;
	return r != 0;
}

int report_print_outcome(const char *id, bool wait, bool json)
{
	struct outcome_of o = { .id = id };
	int r;

	if (!progress_id_valid(id))
		return log_error_errno(-EINVAL,
				       "'%s' is not an upgrade id (the hex string 'kupgrade --kernel' "
				       "printed).",
				       id);
	if (access(REPORT_DIR, X_OK) < 0 && errno == EACCES)
		return log_error_errno(-EACCES,
				       "The reports in %s are root's to read: run 'sudo kupgrade "
				       "status'.",
				       REPORT_DIR);
	r = poll_until(outcome_known, &o, wait ? REPORT_WAIT_S * 1000ULL : 0, 500);
	if (r < 0 && r != -ETIMEDOUT)
		return log_error_errno(r, "Cannot wait for the outcome of upgrade %s: %m", id);
	if (o.error < 0)
		return log_error_errno(o.error, "Cannot read the outcome of upgrade %s: %m", id);
	if (o.m) {
		if (json)
			inspect_print_json(stdout, o.m);
		else
			inspect_print_text(stdout, o.m);
		r = report_exit_code(o.m);
		manifest_free(o.m);
		return r;
	}
	if (o.a.id) {
		print_attempt(json, &o.a);
		r = o.a.exit_code > 0 && o.a.exit_code < 256 ? o.a.exit_code : EXIT_SOFTWARE;
		report_attempt_done(&o.a);
		return r;
	}
	return log_error_errno(-EAGAIN,
			       "Upgrade %s has no outcome %s: it is still running, or it is not "
			       "one of this machine's switches; see 'journalctl -u %s'.",
			       id, wait ? "after " STRINGIFY(REPORT_WAIT_S) " s" : "yet",
			       UPGRADE_WORKER_UNIT);
}
