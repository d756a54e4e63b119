/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdio.h>

#include "plan-decision.h"

/*
 * /etc/kupgrade.conf, see kupgrade.conf(5). The [plan] section forces units
 * to a decision by name or fnmatch(3) glob:
 *
 *   [plan]
 *   checkpoint = foo.service bar-*.service
 *   restart = noisy.service
 *   leave = ...
 *
 * An exact name beats any glob; among globs the last matching rule wins.
 */

struct config_rule {
	char *pattern;
	enum plan_decision decision;
	unsigned line;
};

struct config {
	char *path; /* for messages: "path:line" */
	struct config_rule *rules;
	size_t n_rules;
};

/* Parse a stream; path only names it in messages. -EBADMSG on bad syntax,
 * logged as "path:line: problem". */
int config_parse(FILE *f, const char *path, struct config *ret);
/* Load a file; a missing file gives an empty config. */
int config_load(const char *path, struct config *ret);
void config_done(struct config *c);

/* The rule deciding this unit, or NULL. */
const struct config_rule *config_match(const struct config *c, const char *unit);
