/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <sys/wait.h>

#include "pidns.h"
#include "test.h"

static int report_own_pid(void *userdata)
{
	/* Inside: PID 1 of the new namespace, with a /proc that says so. */
	FILE *f = fopen("/proc/self/stat", "re");
	int pid = 0;

	if (!f || fscanf(f, "%d", &pid) != 1)
		pid = -1;
	if (f)
		fclose(f);
	return getpid() == 1 && pid == 1 ? 4242 : -1;
}

/* Needs CAP_SYS_ADMIN (CI and the VM run as root). */
TEST(pidns_runs_fn_as_pid_1_and_leaves_an_init)
{
	pid_t init = 0;
	int r;

	if (geteuid() != 0)
		test_fail("needs root to create a PID namespace");
	r = pidns_run(report_own_pid, NULL, &init);
	ASSERT_EQ(r, 4242);
	ASSERT_TRUE(init > 1);
	/* The init stays to reap; it is ours to end here. */
	ASSERT_EQ(kill(init, 0), 0);
	ASSERT_EQ(kill(init, SIGKILL), 0);
}
