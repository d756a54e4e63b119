/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>

#include "macro.h"
#include "plan-decision.h"

static const char *const decision_names[_DECISION_MAX] = {
	[DECISION_CHECKPOINT] = "checkpoint",
	[DECISION_RESTART] = "restart",
	[DECISION_LEAVE] = "leave",
};

const char *plan_decision_to_string(enum plan_decision d)
{
	return d >= 0 && d < _DECISION_MAX ? decision_names[d] : NULL;
}

int plan_decision_from_string(const char *s, enum plan_decision *ret)
{
	for (enum plan_decision d = 0; d < _DECISION_MAX; d++)
		if (streq(s, decision_names[d])) {
			*ret = d;
			return 0;
		}
	return -EINVAL;
}
