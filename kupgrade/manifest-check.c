/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "manifest.h"
#include "netlock.h"

/*
 * What a manifest may hold. It crosses a kexec on disk or in an initrd and is
 * read back as root, where its strings become file names, unit names and
 * drop-in text, nft scripts and CRIU keys: it is untrusted input. Every
 * reader goes through manifest_unpack(), which refuses a manifest that fails
 * here; the checkpoint checks each unit before its dump, so that it never
 * writes what a reader would refuse.
 */

#define UNIT_NAME_MAX 256 /* systemd's, terminating NUL included */
#define UNIT_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@"
#define ID_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
#define WORD_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"
#define HEX_CHARS "0123456789abcdefABCDEF"

static bool has_control_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool made_of(const char *s, const char *chars, size_t min, size_t max)
{
	size_t n = strlen(s);

	return n >= min && n <= max && strspn(s, chars) == n;
}

/* systemd's unit_name_is_valid() for a plain name or an instance: the
 * characters above, a known type after the last dot, no template. */
bool manifest_unit_name_valid(const char *n)
{
	static const char *const types[] = { "service", "socket",    "target", "device",
					     "mount",	"automount", "swap",   "timer",
					     "path",	"slice",     "scope" };
	const char *dot = n ? strrchr(n, '.') : NULL, *at;
	bool known = false;

	if (!dot || dot == n || n[0] == '@' || !made_of(n, UNIT_NAME_CHARS, 3, UNIT_NAME_MAX - 1))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		known = known || streq(dot + 1, types[i]);
	at = strchr(n, '@');
	return known && (!at || at + 1 < dot);
}

/* "a/b/c": no empty, "." or ".." component, no trailing '/'. */
static bool components_valid(const char *p)
{
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* A path below a directory: relative, normalised, no control characters. */
static bool relative_path_valid(const char *p)
{
	return !isempty(p) && p[0] != '/' && strlen(p) < PATH_MAX && !has_control_chars(p) &&
	       components_valid(p);
}

/* An absolute, normalised path without control characters. */
static bool absolute_path_valid(const char *p)
{
	return p && p[0] == '/' && strlen(p) < PATH_MAX && !has_control_chars(p) &&
	       (streq(p, "/") || components_valid(p + 1));
}

static bool address_valid(uint32_t family, const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (family == AF_INET || family == AF_INET6) && s && inet_pton(family, s, buf) == 1;
}

static bool port_valid(uint32_t port)
{
	return port >= 1 && port <= 65535;
}

static bool port_text_valid(const char *s)
{
	return made_of(s, "0123456789", 1, 5) && port_valid(strtoul(s, NULL, 10));
}

/* "tcp ADDR:PORT", "tcp6 [ADDR]:PORT", "unix /path", "unix @abstract": what
 * listen_sock_name() writes. */
static bool listen_name_valid(const char *s)
{
	char addr[INET6_ADDRSTRLEN];
	const char *end;

	if (strncmp(s, "unix @", 6) == 0)
		return !has_control_chars(s);
	if (strncmp(s, "unix ", 5) == 0)
		return absolute_path_valid(s + 5);
	if (strncmp(s, "tcp ", 4) == 0 && (end = strrchr(s, ':')) &&
	    end - s - 4 < (long)sizeof(addr)) {
		snprintf(addr, sizeof(addr), "%.*s", (int)(end - s - 4), s + 4);
		return address_valid(AF_INET, addr) && port_text_valid(end + 1);
	}
	if (strncmp(s, "tcp6 [", 6) == 0 && (end = strstr(s, "]:")) &&
	    end - s - 6 < (long)sizeof(addr)) {
		snprintf(addr, sizeof(addr), "%.*s", (int)(end - s - 6), s + 6);
		return address_valid(AF_INET6, addr) && port_text_valid(end + 2);
	}
	return false;
}

/* "file[MNT:INODE]" (hex) or "socket:[INODE]": the keys the dump writes. */
static bool external_key_valid(const char *k)
{
	size_t n;

	if (strncmp(k, "file[", 5) == 0) {
		k += 5;
		n = strspn(k, HEX_CHARS);
		if (n == 0 || n > 16 || k[n] != ':')
			return false;
		k += n + 1;
		n = strspn(k, HEX_CHARS);
		return n > 0 && n <= 16 && streq(k + n, "]");
	}
	if (strncmp(k, "socket:[", 8) == 0) {
		k += 8;
		n = strspn(k, "0123456789");
		return n > 0 && n <= 20 && streq(k + n, "]");
	}
	return false;
}

/* The reason of the last refusal, naming the field: for the message. */
static char reason_buf[512];

_printf_(2, 3) static int refuse(const char **ret_reason, const char *fmt, ...)
{
	size_t k = strlen("invalid manifest (");
	va_list ap;

	memcpy(reason_buf, "invalid manifest (", k);
	va_start(ap, fmt);
	vsnprintf(reason_buf + k, sizeof(reason_buf) - k - 1, fmt, ap);
	va_end(ap);
	strcat(reason_buf, ")");
	if (ret_reason)
		*ret_reason = reason_buf;
	return -EBADMSG;
}

/* A service by its unit name; the processes directly in a slice or the root
 * cgroup, when systemd names no unit for them, by their cgroup path. */
static bool unit_name_ok(const ManifestUnit *u)
{
	if (u->type == MANIFEST_UNIT_SERVICE)
		return manifest_unit_name_valid(u->name) && strlen(u->name) > 8 &&
		       streq(u->name + strlen(u->name) - 8, ".service");
	if (manifest_unit_name_valid(u->name))
		return true;
	return u->type == MANIFEST_UNIT_SLICE && absolute_path_valid(u->name) &&
	       made_of(u->name, UNIT_NAME_CHARS "/", 1, PATH_MAX - 1);
}

/* What a unit is called in a reason: its name, or its place when the name
 * itself is wrong. */
static const char *unit_label(const ManifestUnit *u, size_t idx, char *buf, size_t size)
{
	if (unit_name_ok(u))
		return u->name;
	snprintf(buf, size, "#%zu", idx + 1);
	return buf;
}

static int check_unit_fields(const ManifestUnit *u, const char *l, const char **r)
{
	if (!made_of(u->kind ?: "", WORD_CHARS, 0, 32))
		return refuse(r, "unit %s: kind is not a word", l);
	if (isempty(u->image_dir)
		    ? u->n_root_pids > 0 || u->n_carried > 0
		    : !relative_path_valid(u->image_dir) || strlen(u->image_dir) >= UNIT_NAME_MAX)
		return refuse(r,
			      "unit %s: image_dir is not a relative path inside the images (no '..' "
			      "or '.' component, no leading '/', no control characters)",
			      l);
	if (!isempty(u->cgroup) && !absolute_path_valid(u->cgroup))
		return refuse(r,
			      "unit %s: cgroup is not an absolute, normalised path without control "
			      "characters",
			      l);
	if (!isempty(u->pid_file) && !absolute_path_valid(u->pid_file))
		return refuse(r,
			      "unit %s: pid_file is not an absolute, normalised path without control "
			      "characters",
			      l);
	if (!made_of(u->service_type ?: "", WORD_CHARS, 0, 32))
		return refuse(r, "unit %s: service_type is not a word", l);
	return 0;
}

static int check_connections(const ManifestUnit *u, const char *l, const char **r)
{
	for (size_t i = 0; i < u->n_connections; i++) {
		const Kupgrade__Connection *c = u->connections[i];
		const char *fam = c->family == AF_INET ? "IPv4" : "IPv6";

		if (c->family != AF_INET && c->family != AF_INET6)
			return refuse(r,
				      "unit %s: connection %zu: family is not AF_INET or AF_INET6",
				      l, i + 1);
		if (!address_valid(c->family, c->src))
			return refuse(r, "unit %s: connection %zu: src is not an %s address", l,
				      i + 1, fam);
		if (!address_valid(c->family, c->dst))
			return refuse(r, "unit %s: connection %zu: dst is not an %s address", l,
				      i + 1, fam);
		if (!port_valid(c->sport) || !port_valid(c->dport))
			return refuse(r, "unit %s: connection %zu: a port is not in 1-65535", l,
				      i + 1);
	}
	return 0;
}

static int check_files(const ManifestUnit *u, const char *l, const char **r)
{
	for (size_t i = 0; i < u->n_externals; i++) {
		const Kupgrade__ExternalFile *e = u->externals[i];
		bool listen = e->has_systemd_socket && e->systemd_socket;

		if (!external_key_valid(e->key))
			return refuse(r,
				      "unit %s: external %zu: key is not one kupgrade writes "
				      "(file[MNT:INODE], socket:[INODE])",
				      l, i + 1);
		if (listen ? !listen_name_valid(e->path) : !absolute_path_valid(e->path))
			return refuse(r,
				      listen ? "unit %s: external %zu: path is not a listening address "
					       "(tcp ADDR:PORT, tcp6 [ADDR]:PORT, unix PATH)"
					     : "unit %s: external %zu: path is not an absolute, "
					       "normalised path without control characters",
				      l, i + 1);
		if (e->identifier &&
		    (has_control_chars(e->identifier) || strlen(e->identifier) >= UNIT_NAME_MAX))
			return refuse(r, "unit %s: external %zu: identifier has control characters",
				      l, i + 1);
	}
	for (size_t i = 0; i < u->n_carried; i++) {
		const Kupgrade__CarriedFile *f = u->carried[i];

		if (!absolute_path_valid(f->path))
			return refuse(r,
				      "unit %s: carried %zu: path is not an absolute, normalised path "
				      "without control characters",
				      l, i + 1);
		if (f->image && !relative_path_valid(f->image))
			return refuse(r,
				      "unit %s: carried %zu: image is not a relative path inside the "
				      "images",
				      l, i + 1);
	}
	return 0;
}

static int check_unit(const ManifestUnit *u, size_t idx, const char **ret_reason)
{
	char buf[32];
	const char *l = unit_label(u, idx, buf, sizeof(buf));
	int r;

	if (!unit_name_ok(u))
		return refuse(ret_reason, "unit %s: name is not a valid systemd unit name%s", l,
			      u->type == MANIFEST_UNIT_SLICE ? " or cgroup path" : "");
	r = check_unit_fields(u, l, ret_reason);
	if (r >= 0)
		r = check_connections(u, l, ret_reason);
	if (r >= 0)
		r = check_files(u, l, ret_reason);
	return r;
}

int manifest_check_unit(const ManifestUnit *u, const char **ret_reason)
{
	return check_unit(u, 0, ret_reason);
}

/* A kernel release (uname -r): printable, no '/', no space. */
static bool release_valid(const char *s)
{
	for (const char *p = s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/')
			return false;
	return strlen(s) <= 64 && !streq(s, ".") && !streq(s, "..");
}

static int check_header(const Manifest *m, const char **r)
{
	const struct {
		const char *name, *value;
	} releases[] = {
		{ "kernel_from", m->kernel_from },
		{ "kernel_to", m->kernel_to },
		{ "kernel_restored", m->kernel_restored },
	};
	const struct netlock_ops *lock = NULL;

	if (!made_of(m->boot_id ?: "", ID_CHARS, 1, 64))
		return refuse(r, "boot_id is not an id ([A-Za-z0-9_-], at most 64)");
	if (m->upgrade_id && !made_of(m->upgrade_id, ID_CHARS, 1, 64))
		return refuse(r, "upgrade_id is not an id ([A-Za-z0-9_-], at most 64)");
	for (size_t i = 0; i < ELEMENTSOF(releases); i++)
		if (!release_valid(releases[i].value ?: ""))
			return refuse(r, "%s is not a kernel release", releases[i].name);
	if (!made_of(m->transport ?: "", WORD_CHARS, 0, 32))
		return refuse(r, "transport is not a word");
	/* An unknown lock method is refused by the restore, with its own message. */
	if (!made_of(m->lock_method ?: "", WORD_CHARS, 0, 32))
		return refuse(r, "lock_method is not a word");
	if (!isempty(m->lock_method))
		lock = netlock_get(m->lock_method);
	if (!isempty(m->lock_table) && (lock ? !streq(m->lock_table, lock->table_desc())
					     : !made_of(m->lock_table, ID_CHARS " ", 0, 64)))
		return refuse(r, "lock_table is not a table kupgrade uses");
	if (m->boot_fault && has_control_chars(m->boot_fault))
		return refuse(r, "boot_fault has control characters");
	return 0;
}

int manifest_check(const Manifest *m, const char **ret_reason)
{
	int r = check_header(m, ret_reason);

	for (size_t i = 0; r >= 0 && i < m->n_units; i++)
		r = check_unit(m->units[i], i, ret_reason);
	return r;
}
