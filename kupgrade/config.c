/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <fnmatch.h>
#include <string.h>

#include "alloc.h"
#include "config.h"
#include "log.h"

static char *strip(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static bool is_glob(const char *p)
{
	return strpbrk(p, "*?[") != NULL;
}

static int add_rule(struct config *c, const char *pattern, enum plan_decision d, unsigned line)
{
	struct config_rule *n;

	/* The same pattern under two decisions is a contradiction, not an override. */
	for (size_t i = 0; i < c->n_rules; i++)
		if (streq(c->rules[i].pattern, pattern) && c->rules[i].decision != d)
			return log_error_errno(-EBADMSG,
					       "%s:%u: '%s' is already set to %s on line %u; "
					       "list each unit under one decision.",
					       c->path, line, pattern,
					       plan_decision_to_string(c->rules[i].decision),
					       c->rules[i].line);

	n = GREEDY_REALLOC(c->rules, c->n_rules + 1);
	if (!n)
		return log_oom();
	n[c->n_rules].pattern = strdup(pattern);
	if (!n[c->n_rules].pattern)
		return log_oom();
	n[c->n_rules].decision = d;
	n[c->n_rules].line = line;
	c->n_rules++;
	return 0;
}

static int parse_assignment(struct config *c, char *l, unsigned line)
{
	enum plan_decision d;
	char *eq = strchr(l, '='), *key, *value, *tok, *save = NULL;
	int r;

	if (!eq)
		return log_error_errno(-EBADMSG,
				       "%s:%u: expected 'KEY = VALUE' or '[SECTION]', got '%s'.",
				       c->path, line, l);
	*eq = 0;
	key = strip(l);
	value = strip(eq + 1);
	if (plan_decision_from_string(key, &d) < 0)
		return log_error_errno(
			-EBADMSG,
			"%s:%u: unknown key '%s' in [plan]; use checkpoint, restart or leave.",
			c->path, line, key);
	if (isempty(value))
		return log_error_errno(-EBADMSG,
				       "%s:%u: '%s =' needs one or more unit names or globs.",
				       c->path, line, key);

	for (tok = strtok_r(value, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (strchr(tok, '/'))
			return log_error_errno(-EBADMSG,
					       "%s:%u: '%s' is not a unit name or glob (it has a '/').",
					       c->path, line, tok);
		r = add_rule(c, tok, d, line);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_line(struct config *c, char *raw, unsigned line, char **section)
{
	char *l = strip(raw);
	size_t n = strlen(l);

	if (n == 0 || l[0] == '#' || l[0] == ';')
		return 0;
	if (l[0] == '[') {
		if (l[n - 1] != ']' || n < 3)
			return log_error_errno(-EBADMSG,
					       "%s:%u: bad section header '%s'; expected '[NAME]'.",
					       c->path, line, l);
		l[n - 1] = 0;
		free(*section);
		*section = strdup(strip(l + 1));
		if (!*section)
			return log_oom();
		/* Other sections belong to other parts of kupgrade (or future versions). */
		if (!streq(*section, "plan"))
			log_warning("%s:%u: unknown section [%s], ignoring.", c->path, line,
				    *section);
		return 0;
	}
	if (!*section)
		return log_error_errno(-EBADMSG,
				       "%s:%u: '%s' is outside any section; put it under [plan].",
				       c->path, line, l);
	if (!streq(*section, "plan"))
		return 0;
	return parse_assignment(c, l, line);
}

int config_parse(FILE *f, const char *path, struct config *ret)
{
	struct config c = {};
	_cleanup_free_ char *line = NULL, *section = NULL;
	size_t size = 0;
	unsigned lineno = 0;
	int r = 0;

	c.path = strdup(path ?: "(config)");
	if (!c.path)
		return log_oom();
	for (;;) {
		ssize_t k = getline(&line, &size, f);

		if (k < 0)
			break;
		lineno++;
		if ((size_t)k != strlen(line)) {
			r = log_error_errno(-EBADMSG, "%s:%u: line contains a NUL byte.", c.path,
					    lineno);
			break;
		}
		r = parse_line(&c, line, lineno, &section);
		if (r < 0)
			break;
	}
	if (r >= 0 && ferror(f))
		r = log_error_errno(-EIO, "%s: read error.", c.path);
	if (r < 0) {
		config_done(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int config_load(const char *path, struct config *ret)
{
	_cleanup_fclose_ FILE *f = NULL;

	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			*ret = (struct config){ .path = strdup(path) };
			return ret->path ? 0 : log_oom();
		}
		return log_error_errno(negative_errno(), "Cannot open %s: %m", path);
	}
	return config_parse(f, path, ret);
}

void config_done(struct config *c)
{
	for (size_t i = 0; i < c->n_rules; i++)
		free(c->rules[i].pattern);
	free(c->rules);
	free(c->path);
	*c = (struct config){};
}

const struct config_rule *config_match(const struct config *c, const char *unit)
{
	const struct config_rule *glob = NULL;

	for (size_t i = 0; i < c->n_rules; i++) {
		const struct config_rule *rule = &c->rules[i];

		if (!is_glob(rule->pattern)) {
			if (streq(rule->pattern, unit))
				return rule;
		} else if (fnmatch(rule->pattern, unit, 0) == 0)
			glob = rule;
	}
	return glob;
}
