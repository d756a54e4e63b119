/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "inspect.h"
#include "json.h"
#include "log.h"
#include "paths.h"

static void json_timings(struct json_writer *w, const char *key, Kupgrade__PhaseTiming *const *t,
			 size_t n)
{
	json_key(w, key);
	json_begin_object(w);
	for (size_t i = 0; i < n; i++)
		json_kv_uint(w, t[i]->phase, t[i]->usec);
	json_end_object(w);
}

static void json_unit(struct json_writer *w, const ManifestUnit *u)
{
	json_begin_object(w);
	json_kv_string(w, "name", u->name);
	json_kv_string(w, "kind", u->kind);
	json_kv_string(w, "image_dir", u->image_dir);
	json_kv_string(w, "cgroup", u->cgroup);
	json_kv_uint(w, "main_pid", u->main_pid);
	json_key(w, "root_pids");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_root_pids; i++)
		json_uint(w, u->root_pids[i]);
	json_end_array(w);
	json_key(w, "restored_pids");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_restored_pids; i++)
		json_uint(w, u->restored_pids[i]);
	json_end_array(w);
	json_key(w, "connections");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_connections; i++) {
		const Kupgrade__Connection *c = u->connections[i];

		json_begin_object(w);
		json_kv_string(w, "family", c->family == AF_INET6 ? "ipv6" : "ipv4");
		json_kv_string(w, "src", c->src);
		json_kv_uint(w, "sport", c->sport);
		json_kv_string(w, "dst", c->dst);
		json_kv_uint(w, "dport", c->dport);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "externals");
	json_begin_array(w);
	for (size_t i = 0; i < u->n_externals; i++) {
		const Kupgrade__ExternalFile *e = u->externals[i];

		json_begin_object(w);
		json_kv_string(w, "key", e->key);
		json_kv_string(w, "path", e->path);
		json_kv_uint(w, "mode", e->mode);
		json_kv_uint(w, "pid", e->pid);
		json_kv_uint(w, "fd", e->fd);
		json_kv_bool(w, "systemd_socket", e->systemd_socket);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_bool(w, "shell_job", u->shell_job);
	json_kv_uint(w, "image_bytes", u->image_bytes);
	json_kv_uint(w, "processes", u->n_processes);
	json_timings(w, "timings_usec", u->timings, u->n_timings);
	json_kv_string(w, "outcome", manifest_outcome_to_string(u->outcome));
	if (u->outcome_reason)
		json_kv_string(w, "outcome_reason", u->outcome_reason);
	json_end_object(w);
}

int inspect_print_json(FILE *f, const Manifest *m)
{
	struct json_writer w;

	json_init(&w, f, false);
	json_begin_object(&w);
	json_kv_uint(&w, "format_version", m->format_version);
	json_kv_string(&w, "boot_id", m->boot_id);
	json_kv_string(&w, "kernel_from", m->kernel_from);
	json_kv_string(&w, "kernel_to", m->kernel_to);
	json_kv_uint(&w, "created_realtime_usec", m->created_realtime_usec);
	json_kv_string(&w, "criu_version", m->criu_version);
	json_kv_string(&w, "lock_method", m->lock_method ?: "none");
	json_kv_string(&w, "lock_table", m->lock_table);
	json_kv_string(&w, "transport", m->transport);
	json_kv_string(&w, "upgrade_id", m->upgrade_id);
	json_kv_string(&w, "kernel_restored", m->kernel_restored);
	json_timings(&w, "timings_usec", m->timings, m->n_timings);
	json_key(&w, "units");
	json_begin_array(&w);
	for (size_t i = 0; i < m->n_units; i++)
		json_unit(&w, m->units[i]);
	json_end_array(&w);
	json_end_object(&w);
	return json_finish(&w);
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
	if (m->kernel_restored)
		fprintf(f, "  restored on: %s\n", m->kernel_restored);
	if (m->upgrade_id)
		fprintf(f, "  upgrade:    %s\n", m->upgrade_id);
	if (m->criu_version)
		fprintf(f, "  criu:       %s\n", m->criu_version);
	fprintf(f, "  lock:       %s%s%s\n", m->lock_method ?: "none",
		m->lock_table ? ", table " : "", m->lock_table ?: "");
	if (m->transport)
		fprintf(f, "  transport:  %s\n", m->transport);
	if (m->n_timings) {
		fputs("  timings:    ", f);
		text_timings(f, m->timings, m->n_timings);
		fputc('\n', f);
	}
	for (size_t i = 0; i < m->n_units; i++) {
		const ManifestUnit *u = m->units[i];

		if (manifest_unit_planned_restart(u)) {
			fprintf(f, "\n%s (%s), %s by plan\n  reason:     %s\n", u->name, u->kind,
				manifest_outcome_to_string(u->outcome), u->outcome_reason ?: "-");
			continue;
		}
		fprintf(f, "\n%s (%s), images in %s/, %s\n", u->name, u->kind, u->image_dir,
			manifest_outcome_to_string(u->outcome));
		if (u->cgroup)
			fprintf(f, "  cgroup:     %s\n", u->cgroup);
		fputs("  trees:      ", f);
		for (size_t j = 0; j < u->n_root_pids; j++)
			fprintf(f, "%s%u", j ? ", " : "", u->root_pids[j]);
		fprintf(f, " (%u processes%s)", u->n_processes, u->shell_job ? ", shell job" : "");
		for (size_t j = 0; j < u->n_restored_pids; j++)
			fprintf(f, "%s%u", j ? ", " : "; restored as PID ", u->restored_pids[j]);
		fputc('\n', f);
		if (u->has_image_bytes)
			fprintf(f, "  images:     %.1f MiB\n", u->image_bytes / (double)MiB);
		for (size_t j = 0; j < u->n_connections; j++)
			fprintf(f, "  tcp:        %s:%u <-> %s:%u (locked)\n",
				u->connections[j]->src, u->connections[j]->sport,
				u->connections[j]->dst, u->connections[j]->dport);
		for (size_t j = 0; j < u->n_externals; j++)
			fprintf(f, "  external:   %s %s%s (PID %u fd %u, mode %o)\n",
				u->externals[j]->key, u->externals[j]->path,
				u->externals[j]->systemd_socket ? ", systemd's listening socket"
								: "",
				u->externals[j]->pid, u->externals[j]->fd, u->externals[j]->mode);
		if (u->n_timings) {
			fputs("  timings:    ", f);
			text_timings(f, u->timings, u->n_timings);
			fputc('\n', f);
		}
		if (u->outcome_reason)
			fprintf(f, "  reason:     %s\n", u->outcome_reason);
	}
}

int inspect_path(const char *path, bool json)
{
	_cleanup_free_ char *file = NULL;
	Manifest *m = NULL;
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return log_error_errno(negative_errno(), "Cannot access %s: %m", path);
	if (S_ISDIR(st.st_mode)) {
		if (asprintf(&file, "%s/" MANIFEST_FILE, path) < 0)
			return log_oom();
	} else if (!(file = strdup(path)))
		return log_oom();
	r = manifest_read_file(file, &m);
	if (r < 0)
		return r;
	if (json)
		r = inspect_print_json(stdout, m);
	else
		inspect_print_text(stdout, m);
	manifest_free(m);
	return r;
}
