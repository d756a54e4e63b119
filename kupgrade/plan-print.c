/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* "kupgrade plan": print the plan as a table, or as JSON (docs/plan-json.md). */
#include <inttypes.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "criu.h"
#include "json.h"
#include "log.h"
#include "options.h"
#include "paths.h"
#include "plan.h"

#define PLAN_JSON_VERSION 1

static void json_pids(struct json_writer *w, const char *key, const pid_t *pids, size_t n)
{
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < n; i++)
		json_int(w, pids[i]);
	json_end_array(w);
}

static void json_processes(struct json_writer *w, const struct plan_unit *u)
{
	json_key(w, "processes");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_procs; i++) {
		const struct plan_process *pp = &u->procs[i];

		json_begin_object(w);
		json_kv_int(w, "pid", pp->pid);
		json_kv_int(w, "ppid", pp->ppid);
		json_kv_string(w, "comm", pp->comm);
		json_kv_uint(w, "threads", pp->threads);
		json_kv_uint(w, "rss_bytes", pp->rss_bytes);
		json_kv_uint(w, "est_image_bytes", pp->est_image_bytes);
		json_end_object(w);
	}
	json_end_array(w);
}

static void json_unit(struct json_writer *w, const struct plan_unit *u)
{
	json_begin_object(w);
	json_kv_string(w, "name", u->name);
	json_kv_string(w, "kind", owner_kind_to_string(u->kind));
	json_kv_string(w, "decision", plan_decision_to_string(u->decision));
	json_kv_string(w, "reason", u->reason);
	json_kv_bool(w, "forced", u->forced);
	json_kv_bool(w, "contains_self", u->contains_self);
	json_kv_int(w, "main_pid", u->main_pid);
	json_kv_string(w, "cgroup", u->cgroup);
	json_kv_string(w, "service_type", u->service_type);
	json_kv_uint(w, "threads", u->n_threads);
	json_kv_uint(w, "rss_bytes", u->rss_bytes);
	json_kv_uint(w, "est_image_bytes", u->est_image_bytes);
	json_processes(w, u);
	json_pids(w, "roots", u->roots, u->n_roots);
	json_key(w, "blockers");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_blockers; i++)
		json_string(w, u->blockers[i]);
	json_end_array(w);
	json_key(w, "externals");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_externals; i++) {
		json_begin_object(w);
		json_kv_int(w, "pid", u->externals[i].pid);
		json_kv_int(w, "fd", u->externals[i].fd);
		json_kv_uint(w, "inode", u->externals[i].inode);
		json_kv_string(w, "what", u->externals[i].what);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static void count_decisions(const struct plan *p, unsigned counts[_DECISION_MAX])
{
	memset(counts, 0, sizeof(unsigned) * _DECISION_MAX);
	for (size_t i = 0; i < p->n_units; i++)
		counts[p->units[i].decision]++;
}

static int print_json(const struct plan *p)
{
	unsigned counts[_DECISION_MAX];
	struct json_writer w;
	struct utsname un;

	uname(&un);
	count_decisions(p, counts);
	json_init(&w, stdout, true);
	json_begin_object(&w);
	json_kv_int(&w, "version", PLAN_JSON_VERSION);
	json_kv_string(&w, "kernel", un.release);
	json_kv_int(&w, "generated_at", (int64_t)time(NULL));
	json_key(&w, "units");
	json_begin_array(&w);
	for (size_t i = 0; i < p->n_units; i++)
		json_unit(&w, &p->units[i]);
	json_end_array(&w);
	json_key(&w, "totals");
	json_begin_object(&w);
	json_kv_uint(&w, "units", p->n_units);
	json_kv_uint(&w, "processes", p->n_processes);
	json_kv_uint(&w, "threads", p->n_threads);
	json_kv_uint(&w, "rss_bytes", p->rss_bytes);
	json_kv_uint(&w, "est_image_bytes", p->est_image_bytes);
	if (p->criu_version > 0)
		json_kv_uint(&w, "criu_version", p->criu_version);
	for (enum plan_decision d = 0; d < _DECISION_MAX; d++)
		json_kv_uint(&w, plan_decision_to_string(d), counts[d]);
	json_end_object(&w);
	json_end_object(&w);
	return json_finish(&w) < 0 ? log_error_errno(-EIO, "Cannot write the plan to stdout.") : 0;
}

static const char *format_bytes(char buf[static 16], uint64_t b)
{
	static const char units[] = "BKMGT";
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, 16, "%" PRIu64 "B", b);
	else
		snprintf(buf, 16, "%.1f%c", v, units[i]);
	return buf;
}

/* One line per kind of external file; the JSON lists every fd. */
static void print_externals(const struct plan_unit *u)
{
	for (size_t j = 0; j < u->n_externals; j++) {
		const struct plan_external *e = &u->externals[j];
		unsigned fds = 0, procs = 0;
		bool seen = false;

		for (size_t k = 0; k < j && !seen; k++)
			seen = streq(u->externals[k].what, e->what);
		if (seen)
			continue;
		for (size_t k = j; k < u->n_externals; k++) {
			if (!streq(u->externals[k].what, e->what))
				continue;
			fds++;
			/* Count each pid once: entries of one process are adjacent. */
			if (k == j || u->externals[k].pid != u->externals[k - 1].pid)
				procs++;
		}
		printf("    external: %s (%u fd%s in %u process%s)\n", e->what, fds,
		       fds == 1 ? "" : "s", procs, procs == 1 ? "" : "es");
	}
}

static void print_table(const struct plan *p)
{
	unsigned counts[_DECISION_MAX];
	char a[16], b[16];

	printf("%-36s %-9s %-10s %5s %7s %8s %8s  %s\n", "OWNER", "KIND", "DECISION", "PROCS",
	       "THREADS", "RSS", "IMAGE", "REASON");
	for (size_t i = 0; i < p->n_units; i++) {
		const struct plan_unit *u = &p->units[i];

		printf("%-36s %-9s %-10s %5zu %7u %8s %8s  %s%s\n", u->name,
		       owner_kind_to_string(u->kind), plan_decision_to_string(u->decision),
		       u->n_procs, u->n_threads, format_bytes(a, u->rss_bytes),
		       format_bytes(b, u->est_image_bytes), u->forced ? "[forced] " : "",
		       u->reason);
		for (size_t j = 0; j < u->n_blockers; j++)
			printf("    blocker: %s\n", u->blockers[j]);
		print_externals(u);
	}
	count_decisions(p, counts);
	printf("\n%zu owners: %u checkpoint, %u restart, %u leave; %u processes, %u threads, RSS %s, "
	       "estimated image %s (checkpointed owners only)\n",
	       p->n_units, counts[DECISION_CHECKPOINT], counts[DECISION_RESTART],
	       counts[DECISION_LEAVE], p->n_processes, p->n_threads, format_bytes(a, p->rss_bytes),
	       format_bytes(b, p->est_image_bytes));
	if (p->criu_version > 0)
		printf("Judged for CRIU %s, the version installed.\n",
		       criu_version_format(p->criu_version, a, sizeof(a)));
	else
		printf("Judged for CRIU 3.17: criu did not tell its version.\n");
}

int plan_print(const struct kupgrade_options *o)
{
	struct plan *p = NULL;
	int r;

	/* Other users' open files and memory maps are root's to read. */
	if (geteuid() != 0)
		return log_error_errno(
			-EPERM,
			"kupgrade plan must run as root: it reads every process's open files.");
	/* The default file may be missing; a file named on the command line may not. */
	if (!streq(o->config, CONFIG_FILE) && access(o->config, F_OK) < 0)
		return log_error_errno(negative_errno(), "Cannot use --config %s: %m", o->config);
	r = plan_build(o->config, &p);
	if (r < 0)
		return r;
	if (o->json)
		r = print_json(p);
	else
		print_table(p);
	plan_free(p);
	return r;
}
