/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest.h"
#include "progress.h"
#include "report.h"
#include "test.h"
#include "verbs.h"

TEST(progress_ids_are_hex_file_names)
{
	char id[65], id2[65];

	ASSERT_OK(progress_new_id(id, sizeof(id)));
	ASSERT_OK(progress_new_id(id2, sizeof(id2)));
	ASSERT_EQ(strlen(id), 32);
	ASSERT_TRUE(progress_id_valid(id));
	ASSERT_TRUE(strcmp(id, id2) != 0);
	ASSERT_FALSE(progress_id_valid("../../etc/passwd"));
	ASSERT_FALSE(progress_id_valid("abc"));
	ASSERT_FALSE(progress_id_valid("ABCDEF0123"));
	ASSERT_FALSE(progress_id_valid(""));
}

TEST(report_exit_code_fails_unless_every_unit_came_back)
{
	Manifest *m = manifest_new("boot", "6.1.0-55-cloud-amd64");
	ManifestUnit *a, *b;

	ASSERT_TRUE(m);
	a = manifest_add_unit(m, "session-3.scope", "session", "session-3.scope");
	b = manifest_add_unit(m, "counter.service", "service", "counter.service");
	ASSERT_TRUE(a && b);
	a->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED;
	b->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED_NEW_PIDNS;
	ASSERT_EQ(report_exit_code(m), 0);
	b->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	ASSERT_EQ(report_exit_code(m), EXIT_SOFTWARE);
	b->outcome = KUPGRADE__UNIT_OUTCOME__FAILED;
	ASSERT_EQ(report_exit_code(m), EXIT_SOFTWARE);
	b->outcome = KUPGRADE__UNIT_OUTCOME__PENDING;
	ASSERT_EQ(report_exit_code(m), EXIT_SOFTWARE);
	/* A service the plan restarts (no trees) does not fail the switch. */
	b->outcome = KUPGRADE__UNIT_OUTCOME__RESTORED;
	a = manifest_add_unit(m, "dbus.service", "service", "");
	ASSERT_TRUE(a);
	a->has_outcome = true;
	a->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	ASSERT_TRUE(manifest_unit_planned_restart(a));
	ASSERT_EQ(report_exit_code(m), 0);
	manifest_free(m);
}

TEST(report_path_names_the_upgrade)
{
	char *p = report_path_for("0123456789abcdef");

	ASSERT_STREQ(p, REPORT_DIR "/0123456789abcdef.manifest");
	free(p);
}
