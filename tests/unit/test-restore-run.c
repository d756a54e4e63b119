/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exit-status.h"
#include "fileio.h"
#include "imagedir.h"
#include "log.h"
#include "manifest.h"
#include "restore-images.h"
#include "restore-lock.h"
#include "restore-service.h"
#include "restore-tree.h"
#include "restore.h"
#include "test.h"

/*
 * A second "kupgrade restore" after one that stopped part-way must not
 * restore again what is back: a tree whose PIDs are taken by itself would
 * come back a second time, in a new PID namespace.
 */

static void set_outcome(ManifestUnit *u, Kupgrade__UnitOutcome o)
{
	u->has_outcome = true;
	u->outcome = o;
}

TEST(restore_takes_only_the_units_not_back)
{
	Manifest *m = manifest_new("boot", "6.1.0");
	ManifestUnit *scope, *svc, *planned;

	ASSERT_TRUE(m);
	scope = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SESSION, "a");
	svc = manifest_add_unit(m, "a.service", MANIFEST_UNIT_SERVICE, "b");
	planned = manifest_add_unit(m, "c.service", MANIFEST_UNIT_SERVICE, "");
	ASSERT_TRUE(scope && svc && planned);
	ASSERT_OK(manifest_unit_add_root(scope, 100));
	ASSERT_OK(manifest_unit_add_root(svc, 200));
	set_outcome(planned, KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH);

	/* Nothing recorded: every dumped unit is taken. */
	ASSERT_EQ(restore_unit_action(scope, false), RESTORE_ACTION_TREES);
	ASSERT_EQ(restore_unit_action(scope, true), RESTORE_ACTION_TREES);
	ASSERT_EQ(restore_unit_action(svc, false), RESTORE_ACTION_THROUGH_UNIT);
	ASSERT_EQ(restore_unit_action(svc, true), RESTORE_ACTION_BY_SYSTEMD);
	ASSERT_EQ(restore_unit_action(planned, false), RESTORE_ACTION_NONE);

	/* Back already: restored, in a new PID namespace, or started fresh. */
	set_outcome(scope, KUPGRADE__UNIT_OUTCOME__RESTORED);
	ASSERT_EQ(restore_unit_action(scope, false), RESTORE_ACTION_DONE);
	set_outcome(scope, KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS);
	ASSERT_EQ(restore_unit_action(scope, true), RESTORE_ACTION_DONE);
	set_outcome(svc, KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH);
	ASSERT_EQ(restore_unit_action(svc, false), RESTORE_ACTION_DONE);
	ASSERT_EQ(restore_unit_action(svc, true), RESTORE_ACTION_DONE);

	/* Failed, or pending: taken again. */
	set_outcome(scope, KUPGRADE__UNIT_OUTCOME__FAILED);
	ASSERT_EQ(restore_unit_action(scope, false), RESTORE_ACTION_TREES);
	set_outcome(svc, KUPGRADE__UNIT_OUTCOME__PENDING);
	ASSERT_EQ(restore_unit_action(svc, false), RESTORE_ACTION_THROUGH_UNIT);
	manifest_free(m);
}

/* An images root in a temporary directory, with m as its manifest. */
static void make_images(char *dir, const Manifest *m)
{
	int fd;

	ASSERT_TRUE(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(manifest_write_at(fd, m));
	close(fd);
}

static Manifest *read_images(const char *dir)
{
	char path[256];
	Manifest *m = NULL;

	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, dir);
	ASSERT_OK(manifest_read_file(path, &m));
	return m;
}

/* This boot's manifest: the restore is a rollback's, no lock to undo. */
static Manifest *this_boot_manifest(void)
{
	char boot[64];

	ASSERT_OK(read_boot_id(boot, sizeof(boot)));
	return manifest_new(boot, "6.1.0");
}

TEST(a_tree_back_already_is_not_restored_again)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	Manifest *m = manifest_new("boot", "6.1.0");
	struct imagedir d;
	ManifestUnit *u;

	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(m);
	u = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SESSION, "a");
	ASSERT_TRUE(u);
	/* Its one tree came back, then the run stopped before the outcome. */
	ASSERT_OK(manifest_unit_add_root(u, 100));
	ASSERT_OK(manifest_unit_add_restored_pid(u, 100));
	make_images(dir, m);
	ASSERT_OK(imagedir_open(dir, &d));
	/* No images for it here: restoring the tree again would fail. */
	ASSERT_OK(restore_unit_trees(&d, m, u));
	ASSERT_EQ(u->n_restored_pids, 1);
	ASSERT_EQ(u->outcome, KUPGRADE__UNIT_OUTCOME__RESTORED);
	ASSERT_OK(imagedir_wipe(&d, true));
	imagedir_close(&d);
	manifest_free(m);
}

/* This boot's manifest with a.scope (tree 100) and b.scope (tree 200). */
static Manifest *two_scopes(void)
{
	Manifest *m = this_boot_manifest();
	ManifestUnit *a, *b;

	ASSERT_TRUE(m);
	a = manifest_add_unit(m, "a.scope", MANIFEST_UNIT_SCOPE, "a");
	b = manifest_add_unit(m, "b.scope", MANIFEST_UNIT_SCOPE, "b");
	ASSERT_TRUE(a && b);
	ASSERT_OK(manifest_unit_add_root(a, 100));
	ASSERT_OK(manifest_unit_add_root(b, 200));
	return m;
}

TEST(a_restore_stopped_part_way_has_recorded_each_outcome)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	struct kupgrade_options o = { .from = dir };
	Manifest *m = two_scopes(), *after;

	log_set_max_level(LOG_EMERG);
	make_images(dir, m);
	/* a fails (it has no images), then the run stops at b. */
	ASSERT_EQ(restore_run_fault(&o, "restore:b.scope"), EXIT_SOFTWARE);
	after = read_images(dir);
	ASSERT_TRUE(after->n_units == 2 && after->units[0]->has_outcome);
	ASSERT_EQ(after->units[0]->outcome, KUPGRADE__UNIT_OUTCOME__FAILED);
	ASSERT_FALSE(after->units[1]->has_outcome);
	ASSERT_TRUE(after->has_restore_realtime_usec);
	manifest_free(after);
	manifest_free(m);
	/* The next run takes both again (a failed), and the images go. */
	ASSERT_EQ(restore_run(&o), EXIT_SOFTWARE);
	ASSERT_EQ(access(dir, F_OK), -1);
}

TEST(a_second_restore_skips_the_units_the_first_brought_back)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	struct kupgrade_options o = { .from = dir };
	Manifest *m = this_boot_manifest();
	ManifestUnit *u;

	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(m);
	u = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SESSION, "a");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_root(u, 100));
	ASSERT_OK(manifest_unit_add_restored_pid(u, 100));
	set_outcome(u, KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS);
	m->has_restore_realtime_usec = true;
	make_images(dir, m);
	/* Nothing to restore: no failure, and the images are wiped. */
	ASSERT_EQ(restore_run(&o), 0);
	ASSERT_EQ(access(dir, F_OK), -1);
	manifest_free(m);
}

/* --finish after a restore that stopped part-way: what is not back is
 * reported failed without being restored, the images go. */
TEST(finish_gives_up_what_is_not_back_and_wipes)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	struct kupgrade_options o = { .from = dir, .finish = true };
	Manifest *m = two_scopes();

	log_set_max_level(LOG_EMERG);
	set_outcome(m->units[0], KUPGRADE__UNIT_OUTCOME__RESTORED);
	m->has_restore_realtime_usec = true;
	make_images(dir, m);
	/* Stopped before the wipe, to look: b.scope was not tried (its
	 * restore, with no images here, would have failed otherwise), it is
	 * failed and says why; a.scope stays restored. */
	ASSERT_EQ(restore_run_fault(&o, "wipe-images"), EXIT_SOFTWARE);
	manifest_free(m);
	m = read_images(dir);
	ASSERT_EQ(m->units[0]->outcome, KUPGRADE__UNIT_OUTCOME__RESTORED);
	ASSERT_EQ(m->units[1]->outcome, KUPGRADE__UNIT_OUTCOME__FAILED);
	ASSERT_TRUE(strstr(m->units[1]->outcome_reason, "restore stopped before it"));
	ASSERT_EQ(m->units[1]->n_restored_pids, 0);
	manifest_free(m);
	/* Again, to the end: the images go. */
	ASSERT_EQ(restore_run(&o), EXIT_SOFTWARE);
	ASSERT_EQ(access(dir, F_OK), -1);

	/* Nothing left: nothing to finish. */
	o.from = NULL;
	ASSERT_EQ(restore_run(&o), 0);
}

TEST(services_back_already_are_not_waited_for)
{
	Manifest *m = manifest_new("boot", "6.1.0");
	ManifestUnit *u;

	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(m);
	u = manifest_add_unit(m, "kupgrade-test-never-started.service", MANIFEST_UNIT_SERVICE, "a");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_root(u, 100));
	set_outcome(u, KUPGRADE__UNIT_OUTCOME__RESTORED);
	/* Its report was read by the earlier run: none is coming. */
	alarm(30);
	ASSERT_EQ(restore_services_collect(m), 0);
	ASSERT_EQ(u->outcome, KUPGRADE__UNIT_OUTCOME__RESTORED);
	manifest_free(m);
}

/* A unit an earlier run brought back keeps its connections flowing: only the
 * units not yet back are locked again. */
TEST(lock_again_takes_only_the_units_not_back)
{
	Manifest *m = manifest_new("0123456789abcdef0123456789abcdef", "6.1.0-56-cloud-amd64");
	ManifestUnit *back, *pending;
	_cleanup_free_ struct tcp_conn *c = NULL;
	size_t n = 0;

	back = manifest_add_unit(m, "a.scope", MANIFEST_UNIT_SCOPE, "a");
	pending = manifest_add_unit(m, "b.scope", MANIFEST_UNIT_SCOPE, "b");
	ASSERT_OK(manifest_unit_add_connection(back, AF_INET, "10.0.2.15", 22, "10.0.2.2", 40000));
	ASSERT_OK(manifest_unit_add_connection(pending, AF_INET, "10.0.2.15", 7777, "10.0.2.2",
					       40001));
	back->has_outcome = true;
	back->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED;
	ASSERT_OK(restore_lock_connections(m, &c, &n));
	ASSERT_EQ(n, 1);
	ASSERT_EQ(c[0].sport, 7777);
	manifest_free(m);
}

/* Images of a switch are restored only on the boot its kexec started: the
 * one whose command line carries its mark. */
TEST(images_are_stale_on_a_boot_their_switch_did_not_start)
{
	Manifest *m = manifest_new("0123456789abcdef0123456789abcdef", "6.1.0-56-cloud-amd64");

	ASSERT_TRUE(m);
	ASSERT_OK(manifest_set_string(&m->upgrade_id, "ab12"));
	/* Written before marks existed: restored as before. */
	ASSERT_FALSE(restore_images_stale(m, "root=/dev/vda1"));
	m->has_boot_marked = m->boot_marked = true;
	ASSERT_FALSE(restore_images_stale(m, "root=/dev/vda1 panic=10 kupgrade.upgrade=ab12\n"));
	ASSERT_TRUE(restore_images_stale(m, "root=/dev/vda1 kupgrade.upgrade=ab12 "
					    "kupgrade.upgrade=cd34"));
	ASSERT_TRUE(restore_images_stale(m, "root=/dev/vda1 ro quiet"));
	ASSERT_TRUE(restore_images_stale(m, "root=/dev/vda1 -- kupgrade.upgrade=ab12"));
	manifest_free(m);

	/* This boot's own images (a rollback's) are never stale. */
	m = this_boot_manifest();
	ASSERT_TRUE(m);
	ASSERT_OK(manifest_set_string(&m->upgrade_id, "ab12"));
	m->has_boot_marked = m->boot_marked = true;
	ASSERT_FALSE(restore_images_stale(m, "root=/dev/vda1"));
	manifest_free(m);
}
