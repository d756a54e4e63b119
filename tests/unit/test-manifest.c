/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "manifest.h"
#include "test.h"

static Manifest *sample(void)
{
	Manifest *m = manifest_new("0123456789abcdef0123456789abcdef", "6.1.0-26-amd64");
	ManifestUnit *u;

	ASSERT_TRUE(m);
	ASSERT_OK(manifest_set_string(&m->lock_method, "nftables"));
	ASSERT_OK(manifest_set_string(&m->lock_table, "inet kupgrade"));
	u = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SESSION, "session-3.scope/1234");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_root(u, 1234));
	ASSERT_OK(manifest_unit_add_connection(u, 2, "10.0.2.15", 22, "10.0.2.2", 51234));
	ASSERT_OK(manifest_unit_add_external(u, "file[2b:4c1]", "/run/systemd/sessions/3.ref",
					     S_IFIFO | 0600, 1234, 7));
	ASSERT_OK(manifest_unit_add_timing(u, "dump", 712345));
	u->has_shell_job = true;
	u->shell_job = false;
	u = manifest_add_unit(m, "counter.service", MANIFEST_UNIT_SERVICE, "counter.service/999");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_root(u, 999));
	ASSERT_OK(manifest_unit_add_root(u, 1001));
	u->has_outcome = true;
	u->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED;
	ASSERT_OK(manifest_add_timing(m, "lock-network", 81000));
	return m;
}

static void check_sample(const Manifest *m)
{
	ASSERT_EQ(m->magic, MANIFEST_MAGIC);
	ASSERT_EQ(m->format_version, 2);
	ASSERT_STREQ(m->boot_id, "0123456789abcdef0123456789abcdef");
	ASSERT_STREQ(m->kernel_from, "6.1.0-26-amd64");
	ASSERT_STREQ(m->lock_table, "inet kupgrade");
	ASSERT_EQ(m->n_units, 2);
	ASSERT_STREQ(m->units[0]->name, "session-3.scope");
	ASSERT_EQ(m->units[0]->type, MANIFEST_UNIT_SESSION);
	ASSERT_STREQ(m->units[0]->kind, "session");
	ASSERT_EQ(m->units[1]->type, MANIFEST_UNIT_SERVICE);
	ASSERT_STREQ(m->units[1]->kind, "service");
	ASSERT_EQ(m->units[0]->n_root_pids, 1);
	ASSERT_EQ(m->units[0]->root_pids[0], 1234);
	ASSERT_EQ(m->units[0]->n_connections, 1);
	ASSERT_STREQ(m->units[0]->connections[0]->dst, "10.0.2.2");
	ASSERT_EQ(m->units[0]->connections[0]->dport, 51234);
	ASSERT_EQ(m->units[0]->n_externals, 1);
	ASSERT_STREQ(m->units[0]->externals[0]->key, "file[2b:4c1]");
	ASSERT_EQ(m->units[0]->externals[0]->mode, S_IFIFO | 0600);
	ASSERT_EQ(m->units[0]->externals[0]->fd, 7);
	ASSERT_EQ(m->units[0]->timings[0]->usec, 712345);
	ASSERT_TRUE(m->units[0]->has_shell_job);
	ASSERT_EQ(m->units[1]->n_root_pids, 2);
	ASSERT_EQ(m->units[1]->root_pids[1], 1001);
	ASSERT_EQ(m->units[1]->outcome, KUPGRADE__UNIT_OUTCOME__RESTORED);
	ASSERT_STREQ(m->timings[0]->phase, "lock-network");
}

TEST(manifest_round_trip)
{
	Manifest *m = sample(), *back = NULL;
	uint8_t *buf;
	size_t size;

	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_TRUE(memcmp(buf, "GPUK", 4) == 0); /* little-endian "KUPG" */
	ASSERT_OK(manifest_unpack(buf, size, &back, NULL));
	check_sample(back);
	manifest_free(back);
	manifest_free(m);
	free(buf);
}

TEST(manifest_rejects_foreign_and_damaged)
{
	Manifest *m = sample(), *back = NULL;
	const char *reason = NULL;
	uint8_t *buf;
	size_t size;
	static const uint8_t text[] = "#!/bin/sh\necho not a manifest\n";

	ASSERT_EQ(manifest_unpack(text, sizeof(text), &back, &reason), -EBADMSG);
	ASSERT_TRUE(strstr(reason, "not a kupgrade manifest"));
	ASSERT_EQ(manifest_unpack(text, 0, &back, &reason), -EBADMSG);

	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_EQ(manifest_unpack(buf, size - 3, &back, &reason), -EBADMSG);
	ASSERT_TRUE(strstr(reason, "length"));

	/* A valid header around garbage. */
	memset(buf + 8, 0xff, size - 8);
	ASSERT_EQ(manifest_unpack(buf, size, &back, &reason), -EBADMSG);
	ASSERT_TRUE(back == NULL);
	manifest_free(m);
	free(buf);
}

TEST(manifest_rejects_newer_format)
{
	Manifest *m = sample(), *back = NULL;
	const char *reason = NULL;
	uint8_t *buf;
	size_t size;

	m->format_version = MANIFEST_FORMAT_VERSION + 1;
	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_EQ(manifest_unpack(buf, size, &back, &reason), -EBADMSG);
	ASSERT_TRUE(strstr(reason, "newer"));
	manifest_free(m);
	free(buf);
}

/* Format 1 had the kind as text only: reading it fills in the enum. */
TEST(manifest_reads_format_1_kinds)
{
	Manifest *m = sample(), *back = NULL;
	uint8_t *buf;
	size_t size;

	m->format_version = 1;
	for (size_t i = 0; i < m->n_units; i++)
		m->units[i]->has_type = false;
	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_OK(manifest_unpack(buf, size, &back, NULL));
	ASSERT_TRUE(back->units[0]->has_type);
	ASSERT_EQ(back->units[0]->type, MANIFEST_UNIT_SESSION);
	ASSERT_EQ(back->units[1]->type, MANIFEST_UNIT_SERVICE);
	ASSERT_EQ(manifest_unit_kind_from_string("slice"), MANIFEST_UNIT_SLICE);
	ASSERT_EQ(manifest_unit_kind_from_string("nonsense"), KUPGRADE__UNIT_KIND__KIND_UNKNOWN);
	ASSERT_STREQ(manifest_unit_kind_to_string(MANIFEST_UNIT_CONTAINER), "container");
	manifest_free(back);
	manifest_free(m);
	free(buf);
}

TEST(manifest_write_read_file)
{
	char dir[] = "/tmp/test-manifest-XXXXXX", path[64];
	Manifest *m = sample(), *back = NULL;
	struct stat st;
	int dfd;

	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(mkdtemp(dir));
	dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dfd >= 0);
	ASSERT_OK(manifest_write_at(dfd, m));
	snprintf(path, sizeof(path), "%s/manifest", dir);
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0600);
	ASSERT_OK(manifest_read_file(path, &back));
	check_sample(back);
	/* A directory is not a manifest. */
	ASSERT_EQ(manifest_read_file(dir, &back), -EBADMSG);
	unlink(path);
	rmdir(dir);
	manifest_free(m);
}

TEST(manifest_remove_root)
{
	Manifest *m = sample();
	ManifestUnit *u = m->units[1];

	manifest_unit_remove_root(u, 999);
	ASSERT_EQ(u->n_root_pids, 1);
	ASSERT_EQ(u->root_pids[0], 1001);
	manifest_unit_remove_root(u, 4242); /* not a root: nothing changes */
	ASSERT_EQ(u->n_root_pids, 1);
	manifest_unit_remove_root(u, 1001);
	ASSERT_EQ(u->n_root_pids, 0);
	/* With no tree and "restarted fresh", a unit reads as nothing to restore. */
	u->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	ASSERT_TRUE(manifest_unit_planned_restart(u));
	manifest_free(m);
}

/* Packs m (freed), unpacks it: refused, with a reason naming field. */
static void assert_refused(Manifest *m, const char *field)
{
	Manifest *back = NULL;
	const char *reason = NULL;
	uint8_t *buf;
	size_t size;

	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_EQ(manifest_unpack(buf, size, &back, &reason), -EBADMSG);
	ASSERT_TRUE(back == NULL);
	ASSERT_TRUE(reason);
	if (!strstr(reason, field))
		test_fail("reason \"%s\" does not name %s", reason, field);
	free(buf);
	manifest_free(m);
}

static Manifest *sample_with(char **(*field)(Manifest *m), const char *value)
{
	Manifest *m = sample();

	ASSERT_OK(manifest_set_string(field(m), value));
	return m;
}

static char **unit_name(Manifest *m)
{
	return &m->units[0]->name;
}
static char **service_name(Manifest *m)
{
	return &m->units[1]->name;
}
static char **image_dir(Manifest *m)
{
	return &m->units[0]->image_dir;
}
static char **conn_src(Manifest *m)
{
	return &m->units[0]->connections[0]->src;
}
static char **conn_dst(Manifest *m)
{
	return &m->units[0]->connections[0]->dst;
}
static char **external_path(Manifest *m)
{
	return &m->units[0]->externals[0]->path;
}
static char **external_key(Manifest *m)
{
	return &m->units[0]->externals[0]->key;
}
static char **cgroup(Manifest *m)
{
	return &m->units[0]->cgroup;
}
static char **pid_file(Manifest *m)
{
	return &m->units[1]->pid_file;
}
static char **lock_table(Manifest *m)
{
	return &m->lock_table;
}
static char **upgrade_id(Manifest *m)
{
	return &m->upgrade_id;
}
static char **kernel_to(Manifest *m)
{
	return &m->kernel_to;
}
static char **identifier(Manifest *m)
{
	return &m->units[0]->externals[0]->identifier;
}

/* The manifest is read back as root after the kexec: strings that become
 * file names, unit text, nft scripts or CRIU keys are refused, naming the
 * field. */
TEST(manifest_refuses_hostile_strings)
{
	static const struct {
		char **(*field)(Manifest *m);
		const char *value, *named;
	} cases[] = {
		{ unit_name, "../../etc/x.service", "name" },
		{ unit_name, "a;b", "name" },
		{ unit_name, "x.scope\nExecStart=/bin/sh", "name" },
		{ service_name, "a b.service", "name" },
		{ service_name, "sshd.socket", "name" },
		{ image_dir, "../x", "image_dir" },
		{ image_dir, "/etc", "image_dir" },
		{ image_dir, "a/../../x", "image_dir" },
		{ conn_src, "1.2.3.4; flush ruleset", "src" },
		{ conn_src, "fd00::1", "src" }, /* an IPv6 address in an IPv4 connection */
		{ conn_dst, "10.0.2.2 } ; delete table inet x", "dst" },
		{ external_path, "/run/a\nb", "path" },
		{ external_path, "run/x", "path" },
		{ external_path, "/run/../etc/shadow", "path" },
		{ external_key, "file[2b:4c1]; rm", "key" },
		{ cgroup, "/system.slice/../../x", "cgroup" },
		{ pid_file, "../../etc/passwd", "pid_file" },
		{ lock_table, "inet kupgrade; flush ruleset", "lock_table" },
		{ upgrade_id, "../../etc/cron.d/x", "upgrade_id" },
		{ kernel_to, "6.1/../../x", "kernel_to" },
		{ identifier, "sshd\n_SYSTEMD_UNIT=x", "identifier" },
	};

	log_set_max_level(LOG_EMERG);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_refused(sample_with(cases[i].field, cases[i].value), cases[i].named);
}

TEST(manifest_refuses_hostile_numbers_and_files)
{
	Manifest *m = sample();
	ManifestUnit *u;

	m->units[0]->connections[0]->dport = 0;
	assert_refused(m, "port");
	m = sample();
	m->units[0]->connections[0]->sport = 70000;
	assert_refused(m, "port");
	m = sample();
	m->units[0]->connections[0]->family = 1; /* AF_UNIX */
	assert_refused(m, "family");
	m = sample();
	ASSERT_OK(manifest_unit_add_carried(m->units[0], "/run/user/1000/x\n", "carried/0", 0600,
					    1000, 1000));
	assert_refused(m, "carried 1: path");
	m = sample();
	ASSERT_OK(manifest_unit_add_carried(m->units[0], "/run/x", "../../../etc/shadow", 0600, 0,
					    0));
	assert_refused(m, "carried 1: image");
	m = sample();
	ASSERT_OK(manifest_unit_add_external(m->units[0], "socket:[77]", "tcp 1.2.3.4:80; x",
					     S_IFSOCK, 1234, 3));
	u = m->units[0];
	u->externals[1]->has_systemd_socket = u->externals[1]->systemd_socket = true;
	assert_refused(m, "external 2: path");
	/* A unit with trees and no image_dir would read its images from "/<pid>". */
	m = sample();
	ASSERT_OK(manifest_set_string(&m->units[0]->image_dir, ""));
	assert_refused(m, "image_dir");
}

/* What kupgrade itself writes passes. */
TEST(manifest_accepts_what_kupgrade_writes)
{
	Manifest *m = sample(), *back = NULL;
	const char *reason = NULL;
	ManifestUnit *u;
	uint8_t *buf;
	size_t size;

	ASSERT_OK(manifest_set_string(&m->upgrade_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0"));
	ASSERT_OK(manifest_set_string(&m->kernel_to, "6.1.0-27-amd64"));
	ASSERT_OK(manifest_set_string(&m->transport, "initrd"));
	ASSERT_OK(manifest_set_string(&m->units[0]->cgroup,
				      "/user.slice/user-0.slice/session-3.scope"));
	ASSERT_OK(manifest_set_string(&m->units[0]->externals[0]->identifier, "sshd"));
	ASSERT_OK(manifest_set_string(&m->units[1]->pid_file, "/run/counter.pid"));
	ASSERT_OK(manifest_unit_add_carried(m->units[1], "/run/counter/state", "carried/0", 0644, 0,
					    0));
	ASSERT_OK(manifest_unit_add_carried(m->units[1], "/run/counter", NULL, 040755, 0, 0));
	ASSERT_OK(manifest_unit_add_external(m->units[1], "socket:[4242]", "tcp6 [::]:7100",
					     S_IFSOCK, 999, 3));
	m->units[1]->externals[0]->has_systemd_socket = m->units[1]->externals[0]->systemd_socket =
		true;
	ASSERT_OK(manifest_unit_add_connection(m->units[1], 10, "fd00::1", 7100, "fd00::2", 40000));
	u = manifest_add_unit(m, "/system.slice", MANIFEST_UNIT_SLICE, "_system.slice");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_root(u, 77));
	u = manifest_add_unit(m, "systemd-nspawn@web\\x2d1.service", MANIFEST_UNIT_CONTAINER,
			      "systemd-nspawn@web\\x2d1.service");
	ASSERT_TRUE(u);
	u = manifest_add_unit(m, "dbus.service", MANIFEST_UNIT_SERVICE, ""); /* planned restart */
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_pack(m, &buf, &size));
	ASSERT_EQ(manifest_unpack(buf, size, &back, &reason), 0);
	ASSERT_EQ(back->n_units, 5);
	manifest_free(back);
	manifest_free(m);
	free(buf);
}

/* Every reader goes through manifest_read_file(): it refuses too. */
TEST(manifest_read_file_refuses_hostile)
{
	char dir[] = "/tmp/test-manifest-XXXXXX", path[64];
	Manifest *m = sample(), *back = NULL;
	int dfd;

	log_set_max_level(LOG_EMERG);
	ASSERT_OK(manifest_set_string(&m->units[0]->name, "../../etc/x.service"));
	ASSERT_TRUE(mkdtemp(dir));
	dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dfd >= 0);
	ASSERT_OK(manifest_write_at(dfd, m));
	snprintf(path, sizeof(path), "%s/manifest", dir);
	ASSERT_EQ(manifest_read_file(path, &back), -EBADMSG);
	ASSERT_TRUE(back == NULL);
	unlink(path);
	rmdir(dir);
	close(dfd);
	manifest_free(m);
}

TEST(manifest_unit_names_as_systemd)
{
	static const char *const valid[] = {
		"ssh.service",	   "getty@tty1.service", "foo\\x2dbar.service", "-.slice",
		"session-3.scope", "a:b_c.d-e.socket",	 "user@1000.service",
	};
	static const char *const invalid[] = {
		"foo@.service", "@a.service",  "foo",	      "foo.bogus", ".service",
		"a;b.service",	"a/b.service", "a b.service", "",	   "x.service\n",
	};
	char longname[300];

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (!manifest_unit_name_valid(valid[i]))
			test_fail("%s refused", valid[i]);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (manifest_unit_name_valid(invalid[i]))
			test_fail("%s accepted", invalid[i]);
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 247, ".service"); /* 255 characters: the longest systemd takes */
	ASSERT_TRUE(manifest_unit_name_valid(longname));
	strcpy(longname + 248, ".service");
	ASSERT_FALSE(manifest_unit_name_valid(longname));
	ASSERT_FALSE(manifest_unit_name_valid(NULL));
}
