/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dropin.h"
#include "fileio.h"
#include "macro.h"
#include "paths.h"
#include "restore-external.h"
#include "restore-lock.h"
#include "restore-service.h"
#include "test.h"

TEST(last_pid_is_raised_above_the_checkpointed_pids_only)
{
	ASSERT_EQ(restore_last_pid_target("590\n", 250), 590);
	ASSERT_EQ(restore_last_pid_target("590", 250), 590);
	/* Never lowered: the boot is past them already. */
	ASSERT_EQ(restore_last_pid_target("590\n", 590), 0);
	ASSERT_EQ(restore_last_pid_target("590\n", 4000), 0);
	ASSERT_EQ(restore_last_pid_target("", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("59x\n", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("-5\n", 250), -EINVAL);
	ASSERT_EQ(restore_last_pid_target("99999999999999999999\n", 250), -EINVAL);
}

TEST(services_restore_through_their_unit_unless_the_plan_restarted_them)
{
	Manifest *m = manifest_new("boot", "6.1.0");
	ManifestUnit *svc, *scope, *restarted;

	ASSERT_TRUE(m);
	svc = manifest_add_unit(m, "a.service", MANIFEST_UNIT_SERVICE, "a");
	scope = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SCOPE, "b");
	restarted = manifest_add_unit(m, "c.service", MANIFEST_UNIT_SERVICE, "c");
	ASSERT_TRUE(svc && scope && restarted);
	ASSERT_OK(manifest_unit_add_root(svc, 100));
	restarted->has_outcome = true;
	restarted->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
	ASSERT_TRUE(manifest_unit_restores_through_unit(svc));
	ASSERT_FALSE(manifest_unit_restores_through_unit(scope));
	ASSERT_FALSE(manifest_unit_restores_through_unit(restarted));
	manifest_free(m);
}

TEST(restore_dropin_names_the_pid_file_restore_unit_writes)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX", path[4096];
	_cleanup_free_ char *text = NULL;

	ASSERT_TRUE(mkdtemp(dir));
	ASSERT_OK(restore_service_write_dropin(dir, "a.service", "/run/kupgrade"));
	snprintf(path, sizeof(path), "%s/a.service.d/50-kupgrade-restore.conf", dir);
	ASSERT_OK(read_full_file_str(path, &text));
	ASSERT_TRUE(strstr(text, "\nPIDFile=" RESTORE_SERVICE_DIR "/a.service.pid\n"));
	ASSERT_TRUE(strstr(
		text,
		"\nExecStart=+/usr/sbin/kupgrade restore-unit --from /run/kupgrade -- a.service\n"));
	ASSERT_OK(restore_service_remove_dropin(dir, "a.service"));
	ASSERT_EQ(access(path, F_OK), -1);
	/* Gone already: fine. The empty .d directory went with it. */
	ASSERT_OK(restore_service_remove_dropin(dir, "a.service"));
	ASSERT_OK(rmdir(dir));
}

/* What a killed worker's recovery finds: the services it held still. */
TEST(quiesced_units_are_listed_from_their_dropins)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX", path[4096];
	char **units = NULL;

	ASSERT_TRUE(mkdtemp(dir));
	ASSERT_OK(dropin_list_quiesced(dir, &units));
	ASSERT_TRUE(units == NULL);
	ASSERT_OK(dropin_write_quiesce(dir, "a\\x2db.service"));
	ASSERT_OK(restore_service_write_dropin(dir, "c.service", "/run/kupgrade"));
	ASSERT_OK(dropin_list_quiesced(dir, &units));
	ASSERT_TRUE(units && units[0] && !units[1]);
	ASSERT_STREQ(units[0], "a\\x2db.service");
	dropin_units_free(units);
	ASSERT_OK(dropin_remove_quiesce(dir, "a\\x2db.service"));
	ASSERT_OK(restore_service_remove_dropin(dir, "c.service"));
	ASSERT_OK(dropin_list_quiesced(dir, &units));
	ASSERT_TRUE(units == NULL);
	snprintf(path, sizeof(path), "%s", dir);
	ASSERT_OK(rmdir(path));
}

TEST(exec_words_read_back_as_themselves)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a.service", "a.service" },
		/* systemd C-unescapes each word: "\x2d" would become "-". */
		{ "foo\\x2dbar.service", "foo\\\\x2dbar.service" },
		{ "/run/my images", "\"/run/my images\"" },
		{ "/run/100%", "/run/100%%" },
		{ "$HOME/${X}", "$$HOME/$${X}" },
		{ "a\"b'c", "a\\\"b\\'c" },
		{ "a\nb\tc", "a\\x0ab\\x09c" },
		{ "", "\"\"" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *w = dropin_exec_word(cases[i].in);

		ASSERT_STREQ(w, cases[i].out);
	}
}

TEST(setting_values_double_percent_and_refuse_control_characters)
{
	_cleanup_free_ char *v = dropin_setting_value("/run/a\\x2d%i.pid");

	ASSERT_STREQ(v, "/run/a\\x2d%%i.pid");
	errno = 0;
	ASSERT_TRUE(!dropin_setting_value("/run/a\n[Service]"));
	ASSERT_EQ(errno, EINVAL);
}

TEST(restore_dropin_escapes_the_unit_and_the_images_path)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX", path[4096];
	_cleanup_free_ char *text = NULL;

	ASSERT_TRUE(mkdtemp(dir));
	ASSERT_OK(restore_service_write_dropin(dir, "foo\\x2dbar.service", "/srv/my images%1"));
	snprintf(path, sizeof(path), "%s/foo\\x2dbar.service.d/50-kupgrade-restore.conf", dir);
	ASSERT_OK(read_full_file_str(path, &text));
	ASSERT_TRUE(strstr(text, "\nPIDFile=" RESTORE_SERVICE_DIR "/foo\\x2dbar.service.pid\n"));
	ASSERT_TRUE(strstr(text, "\nExecStart=+/usr/sbin/kupgrade restore-unit "
				 "--from \"/srv/my images%%1\" -- foo\\\\x2dbar.service\n"));
	/* A line break would let a unit name write settings of its own. */
	ASSERT_TRUE(restore_service_write_dropin(dir, "a\n[Service]\nUser=x.service", "/run/k") <
		    0);
	ASSERT_OK(restore_service_remove_dropin(dir, "foo\\x2dbar.service"));
	ASSERT_OK(rmdir(dir));
}

TEST(externals_come_back_as_fifos_and_nothing_else_unknown)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	Manifest *m = manifest_new("boot", "6.1.0");
	struct restore_externals x;
	ManifestUnit *u;
	struct stat st;
	int dir_fd;

	ASSERT_TRUE(m && mkdtemp(dir));
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dir_fd >= 0);
	u = manifest_add_unit(m, "session-3.scope", MANIFEST_UNIT_SCOPE, "a");
	ASSERT_TRUE(u);
	ASSERT_OK(manifest_unit_add_external(u, "file[1:2]", "/run/user/0/fifo", S_IFIFO | 0600,
					     100, 5));
	ASSERT_OK(restore_externals_open(dir_fd, u, &x));
	ASSERT_EQ(x.n, 1);
	ASSERT_STREQ(x.inherit[0].key, "file[1:2]");
	ASSERT_OK(fstat(x.inherit[0].fd, &st));
	ASSERT_TRUE(S_ISFIFO(st.st_mode));
	restore_externals_close(&x);
	/* A regular file cannot be handed back. */
	ASSERT_OK(manifest_unit_add_external(u, "file[1:3]", "/run/x", S_IFREG | 0600, 100, 6));
	ASSERT_EQ(restore_externals_open(dir_fd, u, &x), -EOPNOTSUPP);
	ASSERT_EQ(x.n, 0);
	close(dir_fd);
	/* The FIFOs are made and unlinked inside the images: nothing stays. */
	ASSERT_OK(rmdir(dir));
	manifest_free(m);
}

/* The checkpoint declares as many as a unit's trees hold (up to 64 per tree,
 * trees without number): the restore must hand back every one. */
TEST(a_unit_with_many_externals_gets_them_all_back)
{
	char dir[] = "/tmp/kupgrade-test-XXXXXX";
	Manifest *m = manifest_new("boot", "6.1.0");
	struct restore_externals x;
	ManifestUnit *u;
	struct stat st;
	int dir_fd;

	ASSERT_TRUE(m && mkdtemp(dir));
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dir_fd >= 0);
	u = manifest_add_unit(m, "session-7.scope", MANIFEST_UNIT_SESSION, "a");
	ASSERT_TRUE(u);
	for (unsigned i = 0; i < 40; i++) {
		char key[32];

		snprintf(key, sizeof(key), "file[1:%x]", i + 1);
		ASSERT_OK(manifest_unit_add_external(u, key, "/run/user/0/fifo", S_IFIFO | 0600,
						     100 + i, 3));
	}
	ASSERT_OK(restore_externals_open(dir_fd, u, &x));
	ASSERT_EQ(x.n, 40);
	for (size_t i = 0; i < x.n; i++) {
		ASSERT_STREQ(x.inherit[i].key, u->externals[i]->key);
		ASSERT_OK(fstat(x.inherit[i].fd, &st));
		ASSERT_TRUE(S_ISFIFO(st.st_mode));
	}
	restore_externals_close(&x);
	ASSERT_EQ(x.n, 0);
	close(dir_fd);
	ASSERT_OK(rmdir(dir));
	manifest_free(m);
}
