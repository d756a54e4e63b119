/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * Test hooks: environment variables that make kupgrade fail on purpose
 * (KUPGRADE_FAULT, KUPGRADE_BOOT_FAULT), run another kexec binary, skip the
 * purgatory's checks or pretend the machine is smaller
 * (docs/fault-injection.md). They exist for tests only: a build made with
 * 'make TEST_HOOKS=1' (-DKUPGRADE_TEST_HOOKS, the build tests/vm installs)
 * reads them; a production build ignores them and says so, once per
 * variable. Every one of them is read through test_hook(), nowhere else.
 */

/* The known test hooks, NULL-terminated: the only variables the client
 * passes on to the worker, and only in a test build. */
extern const char *const test_hook_names[];

/* Whether this build reads test hooks (made with TEST_HOOKS=1). */
bool test_hooks_enabled(void);

/*
 * The value of the test hook name (one of test_hook_names), or NULL: unset,
 * or this is a production build ("NAME is set, but this build has no test
 * hooks; ignoring", logged once).
 */
const char *test_hook(const char *name);

/* The decision alone, for either build: value when enabled, else NULL, and
 * *ret_ignored tells whether a value was there to ignore. */
const char *test_hook_decide(bool enabled, const char *value, bool *ret_ignored);

/* "NAME=value" of each test hook set, NULL-terminated: the environment the
 * client gives the worker. Empty in a production build. */
int test_hooks_env(char ***ret);
void test_hooks_env_free(char **env);
