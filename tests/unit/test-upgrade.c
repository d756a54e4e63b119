/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "exit-status.h"
#include "macro.h"
#include "manifest.h"
#include "progress.h"
#include "report.h"
#include "test.h"
#include "upgrade.h"

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
	a = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SESSION, "session-3.scope");
	b = manifest_add_unit(m, "counter.service", MANIFEST_UNIT_SERVICE, "counter.service");
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
	a = manifest_add_unit(m, "dbus.service", MANIFEST_UNIT_SERVICE, "");
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

TEST(report_attempt_is_kept_until_read_and_names_its_outcome)
{
	char dir[] = "/tmp/kupgrade-reports-XXXXXX", sub[128];
	struct report_attempt a;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/reports", dir);
	ASSERT_EQ(report_load_attempt_at(sub, &a), 0);

	/* Created 0700; the newest one is read; a newline cannot add a line. */
	ASSERT_OK(report_save_attempt_at(sub, "00aa00aa", "/boot/vmlinuz-1", EXIT_OSERR, "first"));
	ASSERT_OK(
		report_save_attempt_at(sub, "0123abcd", "/boot/vmlinuz-2", EXIT_SOFTWARE,
				       "Upgrade failed in phase 'dump': rolled back.\nexit_code=0"));
	test_sh("test \"$(stat -c %%a %s)\" = 700", sub);
	ASSERT_EQ(report_load_attempt_at(sub, &a), 1);
	ASSERT_STREQ(a.id, "0123abcd");
	ASSERT_STREQ(a.kernel, "/boot/vmlinuz-2");
	ASSERT_STREQ(a.message, "Upgrade failed in phase 'dump': rolled back.");
	ASSERT_EQ(a.exit_code, EXIT_SOFTWARE);
	ASSERT_STREQ(report_attempt_outcome(&a), "rolled-back");
	ASSERT_TRUE(a.when > 0);
	report_attempt_done(&a);

	/* An id is hex, as the client makes them: nothing else names a file. */
	ASSERT_EQ(report_save_attempt_at(sub, "../x", "k", 70, "m"), -EINVAL);
	ASSERT_EQ(report_save_attempt_at(sub, "", "k", 70, "m"), -EINVAL);

	/* Superseded (what report_save does after a switch): none. */
	test_sh("rm %s/last-attempt", sub);
	ASSERT_EQ(report_load_attempt_at(sub, &a), 0);
	test_sh("rm -rf %s", dir);
}

/* Phase names are an interface: KUPGRADE_FAULT and the scenarios name them. */
TEST(phase_table_names_and_order)
{
	static const char *const all[] = {
		"check",	  "load",	    "quiet-client",	"plan",		"scan",
		"criu-check",	  "prepare-images", "quiesce-services", "lock-network", "dump",
		"write-manifest", "stage",	    "load-images",	"save-pending", "kexec",
	};
	/* "kupgrade checkpoint" runs these, as scenario 30 expects. */
	static const char *const ckpt[] = {
		"plan",		"scan", "criu-check",	  "prepare-images", "quiesce-services",
		"lock-network", "dump", "write-manifest",
	};
	const struct upgrade_phase *p;
	size_t n, k = 0;

	p = upgrade_phases(&n);
	ASSERT_EQ(n, ELEMENTSOF(all));
	for (size_t i = 0; i < n; i++) {
		ASSERT_STREQ(p[i].name, all[i]);
		ASSERT_TRUE(p[i].run != NULL);
		ASSERT_TRUE(p[i].description && p[i].description[0]);
		/* Only the dumps are per unit. */
		ASSERT_EQ(!!(p[i].flags & UPGRADE_PHASE_PER_UNIT), streq(p[i].name, "dump"));
		if (p[i].flags & UPGRADE_PHASE_CHECKPOINT) {
			ASSERT_TRUE(k < ELEMENTSOF(ckpt));
			ASSERT_STREQ(p[i].name, ckpt[k++]);
		}
	}
	ASSERT_EQ(k, ELEMENTSOF(ckpt));
}

/* Scenario 51 takes the phase names from --dry-run's list: "  N. name  what". */
TEST(dry_run_prints_the_phase_table)
{
	const struct upgrade_phase *p;
	char *text = NULL, line[256];
	size_t size = 0, n, i = 0;
	FILE *f = open_memstream(&text, &size);

	ASSERT_TRUE(f);
	p = upgrade_phases(&n);
	upgrade_print_phases(f, "6.1.0-99-amd64");
	fclose(f);
	f = fmemopen(text, size, "r");
	ASSERT_TRUE(f);
	ASSERT_TRUE(fgets(line, sizeof(line), f));
	ASSERT_TRUE(strstr(line, "Linux 6.1.0-99-amd64") != NULL);
	while (fgets(line, sizeof(line), f) && line[0] != '\n') {
		char name[64], want[64];
		size_t number;

		ASSERT_EQ(sscanf(line, " %zu. %63s", &number, name), 2);
		ASSERT_TRUE(i < n);
		ASSERT_EQ(number, i + 1);
		snprintf(want, sizeof(want), "%s%s", p[i].name,
			 p[i].flags & UPGRADE_PHASE_PER_UNIT ? ":<unit>" : "");
		ASSERT_STREQ(name, want);
		ASSERT_TRUE(strstr(line, p[i].description) != NULL);
		i++;
	}
	ASSERT_EQ(i, n);
	fclose(f);
	free(text);
}

/* kupgrade(8)'s PHASES section lists the table: "- *name*" or
 * "- *dump:*_UNIT_", in order, " (checkpoint)" on the checkpoint's. */
TEST(man_page_lists_the_phase_table)
{
	const struct upgrade_phase *p;
	FILE *f = fopen("docs/kupgrade.8.scd", "re");
	char line[512];
	bool in = false;
	size_t n, i = 0;

	ASSERT_TRUE(f);
	p = upgrade_phases(&n);
	while (fgets(line, sizeof(line), f)) {
		char want[64], *name = line + 3, *rest;
		bool per_unit;

		if (strncmp(line, "# ", 2) == 0) {
			in = streq(line, "# PHASES\n");
			continue;
		}
		if (!in || strncmp(line, "- *", 3) != 0)
			continue;
		rest = strchr(name, '*');
		ASSERT_TRUE(rest);
		*rest++ = 0;
		ASSERT_TRUE(i < n);
		per_unit = p[i].flags & UPGRADE_PHASE_PER_UNIT;
		snprintf(want, sizeof(want), "%s%s", p[i].name, per_unit ? ":" : "");
		ASSERT_STREQ(name, want);
		if (per_unit && strncmp(rest, "_UNIT_", 6) == 0)
			rest += 6;
		ASSERT_EQ(strncmp(rest, " (checkpoint)", 13) == 0,
			  !!(p[i].flags & UPGRADE_PHASE_CHECKPOINT));
		i++;
	}
	fclose(f);
	ASSERT_EQ(i, n);
}
