/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "phase.h"
#include "test.h"

/* Every run and undo appends "+name" or "-name" to the journal. */
struct journal {
	char text[256];
	const char *fail_in;
	const char *fail_undo;
	const char *raise_in;
};

static int step(void *ctx, void *arg)
{
	struct journal *j = ctx;

	strcat(j->text, "+");
	strcat(j->text, arg);
	if (j->raise_in && streq(j->raise_in, arg))
		kill(getpid(), SIGTERM);
	if (j->fail_in && streq(j->fail_in, arg))
		return -ENOSPC;
	return 0;
}

static int unstep(void *ctx, void *arg)
{
	struct journal *j = ctx;

	strcat(j->text, "-");
	strcat(j->text, arg);
	return j->fail_undo && streq(j->fail_undo, arg) ? -EIO : 0;
}

static void build(struct phase_list *l)
{
	ASSERT_OK(phase_list_add(l, "prepare", step, unstep, "prepare"));
	ASSERT_OK(phase_list_add(l, "plan", step, NULL, "plan"));
	ASSERT_OK(phase_list_add(l, "lock", step, unstep, "lock"));
	ASSERT_OK(phase_list_add(l, "dump:a.service", step, unstep, "dump:a.service"));
	ASSERT_OK(phase_list_add(l, "dump:b.service", step, unstep, "dump:b.service"));
	ASSERT_OK(phase_list_add(l, "manifest", step, unstep, "manifest"));
}

TEST(phase_all_succeed_no_undo)
{
	struct phase_list l = {};
	struct journal j = {};
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	unsetenv("KUPGRADE_FAULT");
	build(&l);
	ASSERT_EQ(phase_run(&l, &j, &res), 0);
	ASSERT_STREQ(j.text, "+prepare+plan+lock+dump:a.service+dump:b.service+manifest");
	ASSERT_TRUE(res.failed_phase == NULL);
	phase_list_free(&l);
}

TEST(phase_failure_undoes_completed_in_reverse)
{
	struct phase_list l = {};
	struct journal j = { .fail_in = "dump:b.service" };
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	unsetenv("KUPGRADE_FAULT");
	build(&l);
	ASSERT_EQ(phase_run(&l, &j, &res), -ENOSPC);
	/* The failing phase's own undo does not run; "plan" has none. */
	ASSERT_STREQ(j.text, "+prepare+plan+lock+dump:a.service+dump:b.service"
			     "-dump:a.service-lock-prepare");
	ASSERT_STREQ(res.failed_phase, "dump:b.service");
	ASSERT_EQ(res.error, -ENOSPC);
	ASSERT_FALSE(res.injected);
	ASSERT_EQ(res.undo_failures, 0);
	phase_list_free(&l);
}

TEST(phase_fault_injection_by_name)
{
	struct phase_list l = {};
	struct journal j = {};
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	build(&l);
	ASSERT_TRUE(phase_run_fault(&l, &j, "dump:b.service", &res) < 0);
	/* The faulted phase does not run at all. */
	ASSERT_STREQ(j.text, "+prepare+plan+lock+dump:a.service-dump:a.service-lock-prepare");
	ASSERT_STREQ(res.failed_phase, "dump:b.service");
	ASSERT_TRUE(res.injected);
	phase_list_free(&l);
}

TEST(phase_fault_family_matches_first)
{
	struct phase_list l = {};
	struct journal j = {};
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	build(&l);
	ASSERT_TRUE(phase_run_fault(&l, &j, "dump", &res) < 0);
	ASSERT_STREQ(res.failed_phase, "dump:a.service");
	ASSERT_STREQ(j.text, "+prepare+plan+lock-lock-prepare");
	phase_list_free(&l);
}

TEST(phase_fault_first_phase_undoes_nothing)
{
	struct phase_list l = {};
	struct journal j = {};
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	build(&l);
	ASSERT_TRUE(phase_run_fault(&l, &j, "prepare", &res) < 0);
	ASSERT_STREQ(j.text, "");
	ASSERT_STREQ(res.failed_phase, "prepare");
	phase_list_free(&l);
}

TEST(phase_fault_matching_rules)
{
	ASSERT_TRUE(phase_fault_matches("lock", "lock"));
	ASSERT_TRUE(phase_fault_matches("dump", "dump:a.service"));
	ASSERT_TRUE(phase_fault_matches("dump:a.service", "dump:a.service"));
	ASSERT_FALSE(phase_fault_matches("dum", "dump:a.service"));
	ASSERT_FALSE(phase_fault_matches("dump:b.service", "dump:a.service"));
	ASSERT_FALSE(phase_fault_matches("lock-network", "lock"));
	ASSERT_FALSE(phase_fault_matches("", "lock"));
	ASSERT_FALSE(phase_fault_matches(NULL, "lock"));
}

TEST(phase_signal_during_run_triggers_undo)
{
	struct phase_list l = {};
	struct journal j = { .raise_in = "lock" };
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	unsetenv("KUPGRADE_FAULT");
	build(&l);
	/* SIGTERM is held during the run: we survive it and roll back. */
	ASSERT_EQ(phase_run(&l, &j, &res), -EINTR);
	ASSERT_EQ(res.signal, SIGTERM);
	ASSERT_STREQ(res.failed_phase, "dump:a.service");
	ASSERT_STREQ(j.text, "+prepare+plan+lock-lock-prepare");
	phase_list_free(&l);
}

TEST(phase_signal_in_last_phase_still_undoes)
{
	struct phase_list l = {};
	struct journal j = { .raise_in = "manifest" };
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	unsetenv("KUPGRADE_FAULT");
	build(&l);
	ASSERT_EQ(phase_run(&l, &j, &res), -EINTR);
	ASSERT_STREQ(j.text, "+prepare+plan+lock+dump:a.service+dump:b.service+manifest"
			     "-manifest-dump:b.service-dump:a.service-lock-prepare");
	phase_list_free(&l);
}

TEST(phase_undo_failure_counted_and_rest_continue)
{
	struct phase_list l = {};
	struct journal j = { .fail_in = "manifest", .fail_undo = "dump:b.service" };
	struct phase_result res;

	log_set_max_level(LOG_EMERG);
	unsetenv("KUPGRADE_FAULT");
	build(&l);
	ASSERT_TRUE(phase_run(&l, &j, &res) < 0);
	ASSERT_EQ(res.undo_failures, 1);
	ASSERT_STREQ(j.text, "+prepare+plan+lock+dump:a.service+dump:b.service+manifest"
			     "-dump:b.service-dump:a.service-lock-prepare");
	phase_list_free(&l);
}

static void note_start(void *ctx, const char *name)
{
	struct journal *j = ctx;

	strcat(j->text, "^");
	strcat(j->text, name);
}

/* KUPGRADE_PAUSE: the run holds before the phase until a signal, then rolls
 * back as for any signal between phases; each phase is announced first. */
TEST(phase_pause_holds_until_a_signal_then_undoes)
{
	struct phase_list l = {};
	struct journal j = {};
	struct phase_result res;
	pid_t child, parent = getpid();

	log_set_max_level(LOG_EMERG);
	build(&l);
	l.on_start = note_start;
	child = fork();
	ASSERT_TRUE(child >= 0);
	if (child == 0) {
		usleep(300 * 1000);
		kill(parent, SIGTERM);
		_exit(0);
	}
	ASSERT_EQ(phase_run_hooks(&l, &j, NULL, "lock", &res), -EINTR);
	ASSERT_EQ(waitpid(child, NULL, 0), child);
	ASSERT_EQ(res.signal, SIGTERM);
	ASSERT_STREQ(res.failed_phase, "lock");
	ASSERT_STREQ(j.text, "^prepare+prepare^plan+plan^lock-prepare");
	phase_list_free(&l);
}
