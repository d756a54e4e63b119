/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "test.h"

static int parse_string(const char *text, struct config *c)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	ASSERT_TRUE(f);
	r = config_parse(f, "test.conf", c);
	fclose(f);
	return r;
}

TEST(config_parses_rules_and_matches)
{
	struct config c;
	const struct config_rule *rule;

	ASSERT_OK(parse_string("# kupgrade\n"
			       "\n"
			       "[plan]\n"
			       "checkpoint = foo.service  bar-*.service\n"
			       "  restart=noisy.service\t\n"
			       "; another comment\n"
			       "leave = bar-special.service\n",
			       &c));
	ASSERT_EQ(c.n_rules, 4);

	rule = config_match(&c, "foo.service");
	ASSERT_TRUE(rule);
	ASSERT_EQ(rule->decision, DECISION_CHECKPOINT);
	ASSERT_EQ(rule->line, 4);

	rule = config_match(&c, "bar-1.service");
	ASSERT_TRUE(rule);
	ASSERT_EQ(rule->decision, DECISION_CHECKPOINT);
	ASSERT_STREQ(rule->pattern, "bar-*.service");

	/* The exact name beats the glob that also matches. */
	rule = config_match(&c, "bar-special.service");
	ASSERT_TRUE(rule);
	ASSERT_EQ(rule->decision, DECISION_LEAVE);

	rule = config_match(&c, "noisy.service");
	ASSERT_TRUE(rule);
	ASSERT_EQ(rule->decision, DECISION_RESTART);
	ASSERT_EQ(rule->line, 5);

	ASSERT_TRUE(config_match(&c, "foo.socket") == NULL);
	ASSERT_TRUE(config_match(&c, "bar-.scope") == NULL);
	config_done(&c);
}

TEST(config_last_matching_glob_wins)
{
	struct config c;
	const struct config_rule *rule;

	ASSERT_OK(parse_string("[plan]\ncheckpoint = *.service\nrestart = db-*.service\n", &c));
	rule = config_match(&c, "db-main.service");
	ASSERT_EQ(rule->decision, DECISION_RESTART);
	rule = config_match(&c, "web.service");
	ASSERT_EQ(rule->decision, DECISION_CHECKPOINT);
	config_done(&c);
}

TEST(config_empty_and_other_sections)
{
	struct config c;

	ASSERT_OK(parse_string("", &c));
	ASSERT_EQ(c.n_rules, 0);
	ASSERT_TRUE(config_match(&c, "x.service") == NULL);
	config_done(&c);

	log_set_max_level(LOG_EMERG);
	/* A section owned by someone else is skipped, whatever its keys. */
	ASSERT_OK(parse_string("[checkpoint]\nwhatever = 1\n[plan]\nleave = a.service\n", &c));
	ASSERT_EQ(c.n_rules, 1);
	ASSERT_EQ(config_match(&c, "a.service")->decision, DECISION_LEAVE);
	config_done(&c);
}

TEST(config_rejects_malformed_input)
{
	static const char *const bad[] = {
		"checkpoint = a.service\n",	       /* outside a section */
		"[plan]\nfreeze = a.service\n",	       /* unknown key */
		"[plan]\ncheckpoint a.service\n",      /* no '=' */
		"[plan]\ncheckpoint =\n",	       /* no value */
		"[plan\ncheckpoint = a.service\n",     /* bad header */
		"[]\n",				       /* empty header */
		"[plan]\nrestart = /system.slice/x\n", /* a path, not a unit */
		"[plan]\ncheckpoint = a.service\nrestart = b.service a.service\n", /* contradiction */
	};
	struct config c;

	log_set_max_level(LOG_EMERG);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int r = parse_string(bad[i], &c);

		if (r != -EBADMSG)
			test_fail("input %zu: expected -EBADMSG, got %d", i, r);
	}
}

TEST(config_error_names_file_and_line)
{
	char path[] = "/tmp/kupgrade-test-conf-XXXXXX";
	int fd = mkstemp(path), saved, pipefd[2], r;
	struct config c;
	char buf[512] = {};
	FILE *f;

	ASSERT_TRUE(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[plan]\n\ncheckpoint = ok.service\nbogus line\n", f);
	fclose(f);

	/* Capture stderr to see the message. */
	ASSERT_OK(pipe(pipefd));
	saved = dup(2);
	dup2(pipefd[1], 2);
	r = config_load(path, &c);
	fflush(stderr);
	dup2(saved, 2);
	close(pipefd[1]);
	ASSERT_TRUE(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
	unlink(path);

	ASSERT_EQ(r, -EBADMSG);
	ASSERT_TRUE(strstr(buf, path));
	ASSERT_TRUE(strstr(buf, ":4:"));
	ASSERT_TRUE(strstr(buf, "bogus line"));
}

TEST(config_missing_file_is_empty)
{
	struct config c;

	ASSERT_OK(config_load("/nonexistent/kupgrade.conf", &c));
	ASSERT_EQ(c.n_rules, 0);
	config_done(&c);
}

TEST(plan_decision_names_round_trip)
{
	enum plan_decision d;

	for (enum plan_decision i = 0; i < _DECISION_MAX; i++) {
		ASSERT_OK(plan_decision_from_string(plan_decision_to_string(i), &d));
		ASSERT_EQ(d, i);
	}
	ASSERT_STREQ(plan_decision_to_string(DECISION_RESTART), "restart");
	ASSERT_EQ(plan_decision_from_string("Restart", &d), -EINVAL);
	ASSERT_EQ(plan_decision_from_string("", &d), -EINVAL);
	ASSERT_TRUE(!plan_decision_to_string(_DECISION_MAX));
}
