/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "inspect.h"
#include "log.h"
#include "verbs.h"

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ?: ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void json_timings(FILE *f, Kupgrade__PhaseTiming *const *t, size_t n)
{
	fputs("{", f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", f);
		json_string(f, t[i]->phase);
		fprintf(f, ":%llu", (unsigned long long)t[i]->usec);
	}
	fputs("}", f);
}

static void json_unit(FILE *f, const ManifestUnit *u)
{
	fputs("{\"name\":", f);
	json_string(f, u->name);
	fputs(",\"kind\":", f);
	json_string(f, u->kind);
	fputs(",\"image_dir\":", f);
	json_string(f, u->image_dir);
	fputs(",\"cgroup\":", f);
	json_string(f, u->cgroup);
	fprintf(f, ",\"main_pid\":%u,\"root_pids\":[", u->main_pid);
	for (size_t i = 0; i < u->n_root_pids; i++)
		fprintf(f, "%s%u", i ? "," : "", u->root_pids[i]);
	fputs("],\"connections\":[", f);
	for (size_t i = 0; i < u->n_connections; i++) {
		const Kupgrade__Connection *c = u->connections[i];

		fprintf(f, "%s{\"family\":\"%s\",\"src\":", i ? "," : "",
			c->family == AF_INET6 ? "ipv6" : "ipv4");
		json_string(f, c->src);
		fprintf(f, ",\"sport\":%u,\"dst\":", c->sport);
		json_string(f, c->dst);
		fprintf(f, ",\"dport\":%u}", c->dport);
	}
	fputs("],\"externals\":[", f);
	for (size_t i = 0; i < u->n_externals; i++) {
		const Kupgrade__ExternalFile *e = u->externals[i];

		fputs(i ? ",{\"key\":" : "{\"key\":", f);
		json_string(f, e->key);
		fputs(",\"path\":", f);
		json_string(f, e->path);
		fprintf(f, ",\"mode\":\"%o\",\"pid\":%u,\"fd\":%u}", e->mode, e->pid, e->fd);
	}
	fprintf(f, "],\"shell_job\":%s,\"image_bytes\":%llu,\"processes\":%u,\"timings_usec\":",
		u->shell_job ? "true" : "false", (unsigned long long)u->image_bytes, u->n_processes);
	json_timings(f, u->timings, u->n_timings);
	fputs(",\"outcome\":", f);
	json_string(f, manifest_outcome_to_string(u->outcome));
	if (u->outcome_reason) {
		fputs(",\"outcome_reason\":", f);
		json_string(f, u->outcome_reason);
	}
	fputs("}", f);
}

void inspect_print_json(FILE *f, const Manifest *m)
{
	fprintf(f, "{\"format_version\":%u,\"boot_id\":", m->format_version);
	json_string(f, m->boot_id);
	fputs(",\"kernel_from\":", f);
	json_string(f, m->kernel_from);
	fputs(",\"kernel_to\":", f);
	json_string(f, m->kernel_to);
	fprintf(f, ",\"created_realtime_usec\":%llu,\"criu_version\":",
		(unsigned long long)m->created_realtime_usec);
	json_string(f, m->criu_version);
	fputs(",\"lock_method\":", f);
	json_string(f, m->lock_method ?: "none");
	fputs(",\"lock_table\":", f);
	json_string(f, m->lock_table);
	fputs(",\"transport\":", f);
	json_string(f, m->transport);
	fputs(",\"timings_usec\":", f);
	json_timings(f, m->timings, m->n_timings);
	fputs(",\"units\":[", f);
	for (size_t i = 0; i < m->n_units; i++) {
		fputs(i ? "," : "", f);
		json_unit(f, m->units[i]);
	}
	fputs("]}\n", f);
}

static void text_timings(FILE *f, Kupgrade__PhaseTiming *const *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s %.3f s", i ? ", " : "", t[i]->phase, t[i]->usec / 1e6);
}

void inspect_print_text(FILE *f, const Manifest *m)
{
	fprintf(f, "kupgrade manifest, format %u\n", m->format_version);
	fprintf(f, "  boot id:    %s\n  kernel:     %s%s%s\n", m->boot_id, m->kernel_from,
		m->kernel_to ? " -> " : "", m->kernel_to ?: "");
	if (m->criu_version)
		fprintf(f, "  criu:       %s\n", m->criu_version);
	fprintf(f, "  lock:       %s%s%s\n", m->lock_method ?: "none", m->lock_table ? ", table " : "",
		m->lock_table ?: "");
	if (m->n_timings) {
		fputs("  timings:    ", f);
		text_timings(f, m->timings, m->n_timings);
		fputc('\n', f);
	}
	for (size_t i = 0; i < m->n_units; i++) {
		const ManifestUnit *u = m->units[i];

		fprintf(f, "\n%s (%s), images in %s/, %s\n", u->name, u->kind, u->image_dir,
			manifest_outcome_to_string(u->outcome));
		if (u->cgroup)
			fprintf(f, "  cgroup:     %s\n", u->cgroup);
		fputs("  trees:      ", f);
		for (size_t j = 0; j < u->n_root_pids; j++)
			fprintf(f, "%s%u", j ? ", " : "", u->root_pids[j]);
		fprintf(f, " (%u processes%s)\n", u->n_processes, u->shell_job ? ", shell job" : "");
		if (u->has_image_bytes)
			fprintf(f, "  images:     %.1f MiB\n", u->image_bytes / 1048576.0);
		for (size_t j = 0; j < u->n_connections; j++)
			fprintf(f, "  tcp:        %s:%u <-> %s:%u (locked)\n", u->connections[j]->src,
				u->connections[j]->sport, u->connections[j]->dst, u->connections[j]->dport);
		for (size_t j = 0; j < u->n_externals; j++)
			fprintf(f, "  external:   %s %s (PID %u fd %u, mode %o)\n", u->externals[j]->key,
				u->externals[j]->path, u->externals[j]->pid, u->externals[j]->fd,
				u->externals[j]->mode);
		if (u->n_timings) {
			fputs("  timings:    ", f);
			text_timings(f, u->timings, u->n_timings);
			fputc('\n', f);
		}
		if (u->outcome_reason)
			fprintf(f, "  reason:     %s\n", u->outcome_reason);
	}
}

/* "kupgrade inspect DIR|FILE [--json]" */
int verb_inspect(int argc, char **argv)
{
	_cleanup_free_ char *path = NULL;
	Manifest *m = NULL;
	struct stat st;
	int r;

	if (optind != argc - 1)
		return log_error_errno(-EINVAL, "Usage: kupgrade inspect DIR|FILE [--json]");
	if (stat(argv[optind], &st) < 0)
		return log_error_errno(-errno, "Cannot access %s: %m", argv[optind]);
	if (S_ISDIR(st.st_mode)) {
		if (asprintf(&path, "%s/" MANIFEST_FILE, argv[optind]) < 0)
			return log_oom();
	} else if (!(path = strdup(argv[optind])))
		return log_oom();
	r = manifest_read_file(path, &m);
	if (r < 0)
		return r;
	if (arg_json)
		inspect_print_json(stdout, m);
	else
		inspect_print_text(stdout, m);
	manifest_free(m);
	return 0;
}
