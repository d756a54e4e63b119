/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "fileio.h"
#include "log.h"
#include "paths.h"
#include "timeutil.h"
#include "phase.h"
#include "test-hooks.h"

int phase_list_add(struct phase_list *l, const char *name, int (*run)(void *ctx, void *arg),
		   int (*undo)(void *ctx, void *arg), void *arg)
{
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	if (!GREEDY_REALLOC(l->phases, l->n + 1)) {
		free(copy);
		return -ENOMEM;
	}
	l->phases[l->n++] = (struct phase){ .name = copy, .run = run, .undo = undo, .arg = arg };
	return 0;
}

void phase_list_free(struct phase_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->phases[i].name);
	free(l->phases);
	*l = (struct phase_list){};
}

bool phase_fault_matches(const char *fault, const char *phase_name)
{
	const char *colon;

	if (isempty(fault))
		return false;
	if (streq(fault, phase_name))
		return true;
	colon = strchr(phase_name, ':');
	return colon && strlen(fault) == (size_t)(colon - phase_name) &&
	       strncmp(fault, phase_name, colon - phase_name) == 0;
}

static void held_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
}

/* A held signal that arrived since the last look, consumed; 0 if none. */
static int pending_signal(void)
{
	static const struct timespec zero = {};
	sigset_t s;
	int sig;

	held_signals(&s);
	sig = sigtimedwait(&s, NULL, &zero);
	return sig > 0 ? sig : 0;
}

unsigned phase_undo_all(struct phase_list *l, void *ctx)
{
	unsigned failures = 0;

	for (size_t i = l->n; i-- > 0;) {
		struct phase *p = &l->phases[i];
		int r;

		if (!p->done)
			continue;
		p->done = false;
		if (!p->undo)
			continue;
		log_info("Undoing %s...", p->name);
		r = p->undo(ctx, p->arg);
		if (r < 0) {
			log_error_errno(r, "Undo of phase '%s' failed: %m", p->name);
			failures++;
		}
	}
	return failures;
}

/*
 * The KUPGRADE_PAUSE test hook: hold still before the phase, as if it took
 * for ever, until one of the held signals comes (the run is then
 * interrupted as by any signal between phases) or SIGKILL. Tests stop or
 * kill the process at a phase of their choosing this way; they see it has
 * got there in PHASE_PAUSED_FILE.
 */
static int pause_before(const char *pause, const char *name)
{
	sigset_t s;
	int sig;

	if (!phase_fault_matches(pause, name))
		return 0;
	log_notice("Paused before phase '%s' (KUPGRADE_PAUSE=%s) until a signal comes.", name,
		   pause);
	(void)write_string_file(PHASE_PAUSED_FILE, "%s %d\n", name, (int)getpid());
	held_signals(&s);
	do
		sig = sigwaitinfo(&s, NULL);
	while (sig < 0 && errno == EINTR);
	(void)unlink(PHASE_PAUSED_FILE);
	return sig > 0 ? sig : 0;
}

/* By index: a phase may append phases to the running list (the plan decides
 * which dump phases exist), which may move the array. */
static int run_one(struct phase_list *l, size_t i, void *ctx, const char *fault,
		   struct phase_result *res)
{
	const char *name = l->phases[i].name; /* strdup'd: stable */
	uint64_t t0;
	int r;

	if (phase_fault_matches(fault, name)) {
		res->injected = true;
		return log_error_errno(-EIO,
				       "Phase '%s' failed: fault injected by KUPGRADE_FAULT=%s.",
				       name, fault);
	}
	log_debug("Phase %s...", name);
	t0 = now_usec(CLOCK_MONOTONIC);
	r = l->phases[i].run(ctx, l->phases[i].arg);
	l->phases[i].usec = now_usec(CLOCK_MONOTONIC) - t0;
	if (r < 0)
		return r;
	l->phases[i].done = true;
	return 0;
}

int phase_run(struct phase_list *l, void *ctx, struct phase_result *ret)
{
	return phase_run_hooks(l, ctx, test_hook("KUPGRADE_FAULT"), test_hook("KUPGRADE_PAUSE"),
			       ret);
}

int phase_run_fault(struct phase_list *l, void *ctx, const char *fault, struct phase_result *ret)
{
	return phase_run_hooks(l, ctx, fault, NULL, ret);
}

int phase_run_hooks(struct phase_list *l, void *ctx, const char *fault, const char *pause,
		    struct phase_result *ret)
{
	struct phase_result res = {};
	sigset_t held, saved;
	int r = 0;

	held_signals(&held);
	sigprocmask(SIG_BLOCK, &held, &saved);

	for (size_t i = 0; i < l->n && r == 0; i++) {
		if (l->on_start)
			l->on_start(ctx, l->phases[i].name);
		res.signal = pending_signal() ?: pause_before(pause, l->phases[i].name);
		if (res.signal) {
			r = log_error_errno(-EINTR, "Interrupted by SIG%s before phase '%s'.",
					    sigabbrev_np(res.signal), l->phases[i].name);
			res.failed_phase = l->phases[i].name;
			break;
		}
		r = run_one(l, i, ctx, fault, &res);
		if (r < 0)
			res.failed_phase = l->phases[i].name;
	}
	if (r == 0) {
		res.signal = pending_signal();
		if (res.signal && l->n > 0) {
			res.failed_phase = l->phases[l->n - 1].name;
			r = log_error_errno(-EINTR, "Interrupted by SIG%s after phase '%s'.",
					    sigabbrev_np(res.signal), res.failed_phase);
		}
	}
	if (r < 0) {
		res.error = r;
		res.undo_failures = phase_undo_all(l, ctx);
	}

	/* Signals that came during the undo are dropped: we are exiting anyway. */
	while (pending_signal() > 0)
		;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (ret)
		*ret = res;
	return r;
}
