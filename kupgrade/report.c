/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exit-status.h"
#include "fileio.h"
#include "inspect.h"
#include "log.h"
#include "paths.h"
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

int report_print_last(bool json)
{
	Manifest *m = NULL;
	int r;

	/* Asked before reading, so that neither case logs a failed open first. */
	if (access(REPORT_DIR "/last", F_OK) < 0) {
		if (errno == ENOENT) {
			log_info("No kernel switch has been reported on this machine yet.");
			return 0;
		}
		if (errno == EACCES)
			return log_error_errno(-EACCES,
					       "The reports in %s are root's to read: run 'sudo kupgrade "
					       "status'.",
					       REPORT_DIR);
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
