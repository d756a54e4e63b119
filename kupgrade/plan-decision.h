/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What happens to an owner of processes at the switch. Its own module, below
 * both the plan (plan.h, which decides) and the configuration (config.h,
 * whose rules force a decision): each names decisions, neither includes the
 * other's header.
 */
enum plan_decision {
	DECISION_CHECKPOINT,
	DECISION_RESTART,
	DECISION_LEAVE,
	_DECISION_MAX,
};

/* "checkpoint", "restart", "leave": the plan's output and kupgrade.conf's keys. */
const char *plan_decision_to_string(enum plan_decision d);
/* The decision named s; -EINVAL if none. */
int plan_decision_from_string(const char *s, enum plan_decision *ret);
