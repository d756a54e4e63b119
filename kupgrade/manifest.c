/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "log.h"
#include "manifest.h"

#define HEADER_SIZE 8
#define MANIFEST_MAX_SIZE (64U << 20)

static int append_ptr(void *array, size_t *n, void *p)
{
	void ***a = array;

	if (!GREEDY_REALLOC(*a, *n + 1))
		return -ENOMEM;
	(*a)[(*n)++] = p;
	return 0;
}

int manifest_set_string(char **field, const char *value)
{
	char *c = strdup(value ?: "");

	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

void manifest_free(Manifest *m)
{
	if (m)
		kupgrade__manifest__free_unpacked(m, NULL);
}

Manifest *manifest_new(const char *boot_id, const char *kernel_from)
{
	Manifest *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	kupgrade__manifest__init(m);
	m->magic = MANIFEST_MAGIC;
	m->format_version = MANIFEST_FORMAT_VERSION;
	if (manifest_set_string(&m->boot_id, boot_id) < 0 ||
	    manifest_set_string(&m->kernel_from, kernel_from) < 0) {
		manifest_free(m);
		return NULL;
	}
	return m;
}

static const char *const unit_kind_names[] = {
	[MANIFEST_UNIT_SERVICE] = "service",	 [MANIFEST_UNIT_SESSION] = "session",
	[MANIFEST_UNIT_CONTAINER] = "container", [MANIFEST_UNIT_SCOPE] = "scope",
	[MANIFEST_UNIT_SLICE] = "slice",
};

const char *manifest_unit_kind_to_string(ManifestUnitKind k)
{
	return k > 0 && (size_t)k < ELEMENTSOF(unit_kind_names) ? unit_kind_names[k] : "unknown";
}

ManifestUnitKind manifest_unit_kind_from_string(const char *s)
{
	for (size_t k = 1; s && k < ELEMENTSOF(unit_kind_names); k++)
		if (streq(s, unit_kind_names[k]))
			return (ManifestUnitKind)k;
	return KUPGRADE__UNIT_KIND__KIND_UNKNOWN;
}

ManifestUnit *manifest_add_unit(Manifest *m, const char *name, ManifestUnitKind kind,
				const char *image_dir)
{
	ManifestUnit *u = malloc(sizeof(*u));

	if (!u)
		return NULL;
	kupgrade__unit_entry__init(u);
	u->has_type = true;
	u->type = kind;
	if (manifest_set_string(&u->name, name) < 0 ||
	    manifest_set_string(&u->kind, manifest_unit_kind_to_string(kind)) < 0 ||
	    manifest_set_string(&u->image_dir, image_dir) < 0 ||
	    append_ptr(&m->units, &m->n_units, u) < 0) {
		kupgrade__unit_entry__free_unpacked(u, NULL);
		return NULL;
	}
	return u;
}

static int append_u32(uint32_t **array, size_t *n, uint32_t v)
{
	if (!GREEDY_REALLOC(*array, *n + 1))
		return -ENOMEM;
	(*array)[(*n)++] = v;
	return 0;
}

int manifest_unit_add_root(ManifestUnit *u, uint32_t pid)
{
	return append_u32(&u->root_pids, &u->n_root_pids, pid);
}

void manifest_unit_remove_root(ManifestUnit *u, uint32_t pid)
{
	size_t k = 0;

	for (size_t i = 0; i < u->n_root_pids; i++)
		if (u->root_pids[i] != pid)
			u->root_pids[k++] = u->root_pids[i];
	u->n_root_pids = k;
}

int manifest_unit_add_restored_pid(ManifestUnit *u, uint32_t pid)
{
	return append_u32(&u->restored_pids, &u->n_restored_pids, pid);
}

int manifest_unit_add_connection(ManifestUnit *u, uint32_t family, const char *src, uint32_t sport,
				 const char *dst, uint32_t dport)
{
	Kupgrade__Connection *c = malloc(sizeof(*c));

	if (!c)
		return -ENOMEM;
	kupgrade__connection__init(c);
	c->family = family;
	c->sport = sport;
	c->dport = dport;
	if (manifest_set_string(&c->src, src) < 0 || manifest_set_string(&c->dst, dst) < 0 ||
	    append_ptr(&u->connections, &u->n_connections, c) < 0) {
		kupgrade__connection__free_unpacked(c, NULL);
		return -ENOMEM;
	}
	return 0;
}

int manifest_unit_add_carried(ManifestUnit *u, const char *path, const char *image, uint32_t mode,
			      uint32_t uid, uint32_t gid)
{
	Kupgrade__CarriedFile *f = malloc(sizeof(*f));

	if (!f)
		return -ENOMEM;
	kupgrade__carried_file__init(f);
	f->has_mode = f->has_uid = f->has_gid = true;
	f->mode = mode;
	f->uid = uid;
	f->gid = gid;
	if (manifest_set_string(&f->path, path) < 0 ||
	    (image && manifest_set_string(&f->image, image) < 0) ||
	    append_ptr(&u->carried, &u->n_carried, f) < 0) {
		kupgrade__carried_file__free_unpacked(f, NULL);
		return -ENOMEM;
	}
	return 0;
}

bool manifest_unit_planned_restart(const ManifestUnit *u)
{
	return u->n_root_pids == 0 && u->has_outcome &&
	       u->outcome == KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
}

int manifest_unit_add_external(ManifestUnit *u, const char *key, const char *path, uint32_t mode,
			       uint32_t pid, uint32_t fd)
{
	Kupgrade__ExternalFile *e = malloc(sizeof(*e));

	if (!e)
		return -ENOMEM;
	kupgrade__external_file__init(e);
	e->has_mode = e->has_pid = e->has_fd = true;
	e->mode = mode;
	e->pid = pid;
	e->fd = fd;
	if (manifest_set_string(&e->key, key) < 0 || manifest_set_string(&e->path, path) < 0 ||
	    append_ptr(&u->externals, &u->n_externals, e) < 0) {
		kupgrade__external_file__free_unpacked(e, NULL);
		return -ENOMEM;
	}
	return 0;
}

static int add_timing(Kupgrade__PhaseTiming ***a, size_t *n, const char *phase, uint64_t usec)
{
	Kupgrade__PhaseTiming *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	kupgrade__phase_timing__init(t);
	t->usec = usec;
	if (manifest_set_string(&t->phase, phase) < 0 || append_ptr(a, n, t) < 0) {
		kupgrade__phase_timing__free_unpacked(t, NULL);
		return -ENOMEM;
	}
	return 0;
}

int manifest_unit_add_timing(ManifestUnit *u, const char *phase, uint64_t usec)
{
	return add_timing(&u->timings, &u->n_timings, phase, usec);
}

int manifest_add_timing(Manifest *m, const char *phase, uint64_t usec)
{
	return add_timing(&m->timings, &m->n_timings, phase, usec);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

int manifest_pack(const Manifest *m, uint8_t **ret, size_t *ret_size)
{
	size_t len = kupgrade__manifest__get_packed_size(m);
	uint8_t *buf;

	if (len > MANIFEST_MAX_SIZE)
		return -EFBIG;
	buf = malloc(HEADER_SIZE + len);
	if (!buf)
		return -ENOMEM;
	put_le32(buf, MANIFEST_MAGIC);
	put_le32(buf + 4, len);
	kupgrade__manifest__pack(m, buf + HEADER_SIZE);
	*ret = buf;
	*ret_size = HEADER_SIZE + len;
	return 0;
}

int manifest_unpack(const uint8_t *buf, size_t size, Manifest **ret, const char **ret_reason)
{
	const char *reason = NULL;
	Manifest *m = NULL;
	uint32_t len;

	if (size < HEADER_SIZE || get_le32(buf) != MANIFEST_MAGIC)
		reason = "not a kupgrade manifest (no \"KUPG\" magic at its head)";
	else if ((len = get_le32(buf + 4)) != size - HEADER_SIZE)
		reason = "truncated or padded manifest (length in the header does not match the file)";
	else if (!(m = kupgrade__manifest__unpack(NULL, len, buf + HEADER_SIZE)))
		reason = "corrupt manifest (the message does not decode)";
	else if (m->magic != MANIFEST_MAGIC)
		reason = "corrupt manifest (magic inside the message is wrong)";
	else if (m->format_version > MANIFEST_FORMAT_VERSION)
		reason = "manifest written by a newer kupgrade (format version too high)";
	else if (m->format_version < 1)
		reason = "manifest format version 0 is invalid";

	if (!reason) {
		/* Format 1 recorded the kind as text only. */
		for (size_t i = 0; i < m->n_units; i++)
			if (!m->units[i]->has_type) {
				m->units[i]->has_type = true;
				m->units[i]->type = manifest_unit_kind_from_string(
					m->units[i]->kind);
			}
		(void)manifest_check(m, &reason);
	}
	if (reason) {
		manifest_free(m);
		if (ret_reason)
			*ret_reason = reason;
		return -EBADMSG;
	}
	*ret = m;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += k;
		n -= k;
	}
	return 0;
}

int manifest_write_at(int dir_fd, const Manifest *m)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t size;
	int r;

	r = manifest_pack(m, &buf, &size);
	if (r < 0)
		return r;
	fd = openat(dir_fd, MANIFEST_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return negative_errno();
	r = write_all(fd, buf, size);
	if (r == 0 && fsync(fd) < 0)
		r = negative_errno();
	if (r == 0 && renameat(dir_fd, MANIFEST_FILE ".tmp", dir_fd, MANIFEST_FILE) < 0)
		r = negative_errno();
	if (r < 0)
		(void)unlinkat(dir_fd, MANIFEST_FILE ".tmp", 0);
	return r;
}

int manifest_read_file(const char *path, Manifest **ret)
{
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	const char *reason = NULL;
	struct stat st;
	size_t got = 0;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(negative_errno(), "Cannot open manifest %s: %m", path);
	if (fstat(fd, &st) < 0)
		return log_error_errno(negative_errno(), "Cannot stat %s: %m", path);
	if (!S_ISREG(st.st_mode))
		return log_error_errno(-EBADMSG,
				       "%s is not a regular file, so not a kupgrade manifest.",
				       path);
	if ((uint64_t)st.st_size > MANIFEST_MAX_SIZE + HEADER_SIZE)
		return log_error_errno(-EBADMSG, "%s is too large to be a kupgrade manifest.",
				       path);
	buf = malloc(st.st_size ?: 1);
	if (!buf)
		return log_oom();
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + got, st.st_size - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return log_error_errno(negative_errno(), "Cannot read %s: %m", path);
		if (k == 0)
			break;
		got += k;
	}
	r = manifest_unpack(buf, got, ret, &reason);
	if (r < 0)
		return log_error_errno(r, "%s: %s.", path, reason);
	return 0;
}

const char *manifest_outcome_to_string(Kupgrade__UnitOutcome o)
{
	switch (o) {
	case KUPGRADE__UNIT_OUTCOME__PENDING:
		return "pending";
	case KUPGRADE__UNIT_OUTCOME__RESTORED:
		return "restored";
	case KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS:
		return "restored-new-pidns";
	case KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH:
		return "restarted-fresh";
	case KUPGRADE__UNIT_OUTCOME__FAILED:
		return "failed";
	default:
		return "unknown";
	}
}
