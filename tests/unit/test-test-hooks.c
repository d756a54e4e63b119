/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdbool.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "phase.h"
#include "test-hooks.h"
#include "test.h"

/* The decision, for both builds whichever this one is. */
TEST(test_hook_decide_production_ignores_and_says_so)
{
	bool ignored = false;

	ASSERT_TRUE(test_hook_decide(false, "dump", &ignored) == NULL);
	ASSERT_TRUE(ignored);
	ASSERT_TRUE(test_hook_decide(false, NULL, &ignored) == NULL);
	ASSERT_FALSE(ignored);
	ASSERT_TRUE(test_hook_decide(false, "", &ignored) == NULL);
	ASSERT_FALSE(ignored);
}

TEST(test_hook_decide_test_build_reads)
{
	bool ignored = true;

	ASSERT_STREQ(test_hook_decide(true, "dump", &ignored), "dump");
	ASSERT_FALSE(ignored);
	ASSERT_TRUE(test_hook_decide(true, NULL, &ignored) == NULL);
	ASSERT_FALSE(ignored);
}

/* Runs fn with stderr into a file; what it printed, in a static buffer. */
static const char *stderr_of(void (*fn)(void))
{
	static char text[4096];
	char path[] = "/tmp/kupgrade-test-hooks-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	ASSERT_TRUE(fd >= 0 && saved >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	text[n > 0 ? n : 0] = 0;
	return text;
}

static void read_fault_twice(void)
{
	const char *a = test_hook("KUPGRADE_FAULT"), *b = test_hook("KUPGRADE_FAULT");

	if (test_hooks_enabled()) {
		ASSERT_STREQ(a, "lock-network");
		ASSERT_STREQ(b, "lock-network");
	} else {
		ASSERT_TRUE(a == NULL && b == NULL);
	}
}

/* In this build: a test build reads the variable; a production build
 * ignores it and says so once. */
TEST(test_hook_in_this_build)
{
	static const char warning[] =
		"KUPGRADE_FAULT is set, but this build has no test hooks; ignoring.";
	const char *text, *first;

	log_set_max_level(LOG_INFO);
	setenv("KUPGRADE_FAULT", "lock-network", 1);
	text = stderr_of(read_fault_twice);
	first = strstr(text, warning);
	if (test_hooks_enabled()) {
		ASSERT_TRUE(first == NULL);
	} else {
		ASSERT_TRUE(first != NULL);
		ASSERT_TRUE(strstr(first + 1, warning) == NULL);
	}
	unsetenv("KUPGRADE_FAULT");
	ASSERT_TRUE(test_hook("KUPGRADE_FAULT") == NULL);
}

TEST(test_hook_unknown_name_is_never_read)
{
	log_set_max_level(LOG_EMERG);
	setenv("KUPGRADE_NOT_A_HOOK", "1", 1);
	ASSERT_TRUE(test_hook("KUPGRADE_NOT_A_HOOK") == NULL);
}

/* The worker gets the test hooks set, in a test build, and no other
 * variable: not PATH, not an unknown KUPGRADE_* one. */
TEST(test_hooks_env_passes_known_hooks_only)
{
	char **env = NULL;
	size_t n = 0;

	log_set_max_level(LOG_EMERG);
	setenv("KUPGRADE_FAULT", "dump", 1);
	setenv("KUPGRADE_KEXEC", "/tmp/fake-kexec", 1);
	setenv("KUPGRADE_SOMETHING_ELSE", "1", 1);
	unsetenv("KUPGRADE_BOOT_FAULT");
	ASSERT_OK(test_hooks_env(&env));
	for (; env[n]; n++)
		ASSERT_TRUE(streq(env[n], "KUPGRADE_FAULT=dump") ||
			    streq(env[n], "KUPGRADE_KEXEC=/tmp/fake-kexec"));
	ASSERT_EQ(n, test_hooks_enabled() ? 2 : 0);
	test_hooks_env_free(env);
}

static int journal_step(void *ctx, void *arg)
{
	strcat(ctx, arg);
	return 0;
}

/* The phase runner reads KUPGRADE_FAULT only in a test build. */
TEST(phase_run_fault_hook_only_in_test_build)
{
	struct phase_list l = {};
	struct phase_result res = {};
	char journal[64] = "";
	int r;

	log_set_max_level(LOG_EMERG);
	setenv("KUPGRADE_FAULT", "b", 1);
	ASSERT_OK(phase_list_add(&l, "a", journal_step, NULL, "a"));
	ASSERT_OK(phase_list_add(&l, "b", journal_step, NULL, "b"));
	r = phase_run(&l, journal, &res);
	if (test_hooks_enabled()) {
		ASSERT_EQ(r, -EIO);
		ASSERT_TRUE(res.injected);
		ASSERT_STREQ(journal, "a");
	} else {
		ASSERT_EQ(r, 0);
		ASSERT_FALSE(res.injected);
		ASSERT_STREQ(journal, "ab");
	}
	phase_list_free(&l);
}

/* The class: no KUPGRADE_* variable is read but through test_hook(). */
TEST(no_kupgrade_variable_read_around_test_hook)
{
	static const char *const dirs[] = { "kupgrade", "kupgrade/cli", "kupgrade/basic" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		DIR *d = opendir(dirs[i]);
		struct dirent *de;

		ASSERT_TRUE(d);
		while ((de = readdir(d))) {
			char path[512];
			char *text = NULL;
			size_t len = strlen(de->d_name);

			if (len < 3 || strcmp(de->d_name + len - 2, ".c") != 0 ||
			    streq(de->d_name, "test-hooks.c"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			ASSERT_OK(read_full_file_str(path, &text));
			if (strstr(text, "getenv(\"KUPGRADE_"))
				test_fail("%s reads a KUPGRADE_* variable with getenv(): use test_hook()",
					  path);
			free(text);
		}
		closedir(d);
	}
}
