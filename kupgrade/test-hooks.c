/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "test-hooks.h"

/* The test hooks, read through test_hook() only (docs/fault-injection.md). */
const char *const test_hook_names[] = {
	"KUPGRADE_FAULT",	    /* phase.c, restore-tree.c: fail a phase */
	"KUPGRADE_BOOT_FAULT",	    /* upgrade.c: KUPGRADE_FAULT for the boot after the switch */
	"KUPGRADE_KEXEC",	    /* kexec.c: another kexec binary, run as root */
	"KUPGRADE_KEXEC_NO_CHECKS", /* kexec.c: kexec_load and kexec -i (no purgatory check) */
	"KUPGRADE_MEMORY_LIMIT",    /* check-images.c: pretend less memory */
	"KUPGRADE_PAUSE",	    /* phase.c: hold before a phase until a signal */
	NULL,
};

bool test_hooks_enabled(void)
{
#ifdef KUPGRADE_TEST_HOOKS
	return true;
#else
	return false;
#endif
}

const char *test_hook_decide(bool enabled, const char *value, bool *ret_ignored)
{
	*ret_ignored = !enabled && !isempty(value);
	return enabled ? value : NULL;
}

static int hook_index(const char *name)
{
	for (int i = 0; test_hook_names[i]; i++)
		if (streq(test_hook_names[i], name))
			return i;
	return -1;
}

const char *test_hook(const char *name)
{
	static bool warned[ELEMENTSOF(test_hook_names)];
	int i = hook_index(name);
	const char *v;
	bool ignored;

	if (i < 0) {
		log_error("Internal error: %s is not a known test hook; ignoring.", name);
		return NULL;
	}
	v = test_hook_decide(test_hooks_enabled(), getenv(name), &ignored);
	if (ignored && !warned[i]) {
		warned[i] = true;
		log_warning("%s is set, but this build has no test hooks; ignoring.", name);
	}
	return v;
}

void test_hooks_env_free(char **env)
{
	for (char **p = env; p && *p; p++)
		free(*p);
	free(env);
}

int test_hooks_env(char ***ret)
{
	size_t n = 0, k = 0;
	char **env;

	while (test_hook_names[n])
		n++;
	env = calloc(n + 1, sizeof(char *));
	if (!env)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *v = test_hook(test_hook_names[i]);

		if (v && asprintf(&env[k++], "%s=%s", test_hook_names[i], v) < 0) {
			env[--k] = NULL; /* undefined after a failure */
			test_hooks_env_free(env);
			return -ENOMEM;
		}
	}
	*ret = env;
	return 0;
}
