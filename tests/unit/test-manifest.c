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
