/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building the plan: fetch what systemd (bus.h), the cgroup tree (cgroup.h)
 * and /proc (proc.h, unixsock.h) say, group every process under its owner,
 * find blockers, and let the pure policy (plan.c, blockers.c) decide. The
 * steps live in plan-owner.c, plan-process.c, plan-scan.c and plan-socket.c.
 */
#include <stdlib.h>
#include <unistd.h>

#include "bus.h"
#include "config.h"
#include "criu.h"
#include "log.h"
#include "plan-build.h"
#include "plan-unit.h"
#include "proc.h"
#include "timeutil.h"

static int decide_all(struct build *b)
{
	for (size_t i = 0; i < b->plan->n_units; i++)
		if (plan_decide(&b->plan->units[i], b->config) < 0)
			return log_oom();
	return 0;
}

static int finish_all(struct build *b)
{
	return plan_finish(b->plan) < 0 ? log_oom() : 0;
}

/* Each step logs its duration at debug level (-v): the plan runs before
 * anything is frozen, but it should stay quick. */
#define PLAN_STEP(name, expr)                                               \
	({                                                                  \
		uint64_t _t0 = now_usec(CLOCK_MONOTONIC);                   \
		int _r = (expr);                                            \
		log_debug("plan: %s took %.1f ms", name,                    \
			  (double)(now_usec(CLOCK_MONOTONIC) - _t0) / 1e3); \
		_r;                                                         \
	})

static int build_plan(struct build *b)
{
	int r;

	r = PLAN_STEP("listing units over D-Bus", plan_fetch_units(b));
	if (r >= 0)
		r = PLAN_STEP("collecting processes", plan_collect_processes(b));
	if (r >= 0)
		r = plan_mark_self(b);
	/* A first decision says where blockers matter; the final one counts them. */
	if (r >= 0)
		r = decide_all(b);
	/* What CRIU cannot dump depends on its version. */
	if (r >= 0) {
		int v = criu_version();

		b->plan->criu_version = v > 0 ? v : 0;
		if (v < 0)
			log_debug_errno(v, "Cannot ask criu its version, judging as CRIU 3.17: %m");
	}
	if (r >= 0 && proc_read_ns(1, "mnt", &b->init_mnt_ns) < 0)
		log_debug("Cannot read PID 1's mount namespace; not comparing namespaces.");
	if (r >= 0)
		r = PLAN_STEP("reading memory and open files", plan_scan_processes(b));
	if (r >= 0)
		r = PLAN_STEP("checking unix socket peers", plan_check_unix_peers(b));
	if (r >= 0)
		r = plan_check_socket_activation(b);
	if (r >= 0)
		r = plan_check_children_elsewhere(b);
	if (r >= 0)
		r = decide_all(b);
	if (r >= 0)
		r = finish_all(b);
	return r;
}

static void build_done(struct build *b)
{
	bus_units_free(b->bus, b->n_bus);
	for (size_t i = 0; i < b->n_walked; i++)
		free(b->walked[i].cgroup);
	free(b->walked);
	free(b->socks);
	free(b->mount);
	free(b->self_cgroup);
}

int plan_build(const char *config_path, struct plan **ret)
{
	struct config config = {};
	struct build b = { .self = getpid() };
	int r;

	if (config_path) {
		r = config_load(config_path, &config);
		if (r < 0)
			return r;
	}
	b.config = &config;
	b.plan = calloc(1, sizeof(struct plan));
	if (!b.plan) {
		config_done(&config);
		return log_oom();
	}
	r = build_plan(&b);
	build_done(&b);
	config_done(&config);
	if (r < 0) {
		plan_free(b.plan);
		return r;
	}
	*ret = b.plan;
	return 0;
}
