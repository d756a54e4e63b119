/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

struct test_case {
	const char *name;
	const char *file;
	void (*fn)(void);
};

static struct test_case cases[512];
static unsigned n_cases;

void test_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		test_fail("command failed: %s", cmd);
}

void test_register(const char *name, const char *file, void (*fn)(void))
{
	if (n_cases >= sizeof(cases) / sizeof(cases[0])) {
		fprintf(stderr, "too many test cases\n");
		abort();
	}
	cases[n_cases++] = (struct test_case){ name, file, fn };
}

static int run_one(const struct test_case *c)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		c->fn();
		fflush(NULL);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;

	for (unsigned i = 0; i < n_cases; i++) {
		const struct test_case *c = &cases[i];

		if (argc > 1 && !strstr(c->name, argv[1]) && !strstr(c->file, argv[1]))
			continue;
		if (run_one(c) == 0) {
			printf("ok   %s (%s)\n", c->name, c->file);
			passed++;
		} else {
			printf("FAIL %s (%s)\n", c->name, c->file);
			failed++;
		}
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
