/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "alloc.h"
#include "plan-unit.h"
#include "test.h"

static void add_proc(struct plan_unit *u, pid_t pid, pid_t ppid, unsigned threads, uint64_t rss,
		     uint64_t est)
{
	ASSERT_TRUE(GREEDY_REALLOC(u->procs, u->n_procs + 1));
	u->procs[u->n_procs++] = (struct plan_process){ .pid = pid,
							.ppid = ppid,
							.threads = threads,
							.rss_bytes = rss,
							.est_image_bytes = est };
}

TEST(plan_ensure_unit_adds_each_name_once)
{
	struct plan *p = calloc(1, sizeof(*p));
	size_t a, b, c;

	ASSERT_TRUE(p);
	ASSERT_EQ(plan_ensure_unit(p, "ssh.service", OWNER_SERVICE, "/system.slice/ssh.service",
				   &a),
		  1);
	ASSERT_EQ(plan_ensure_unit(p, "kernel", OWNER_KERNEL, "/", &b), 1);
	ASSERT_EQ(plan_ensure_unit(p, "ssh.service", OWNER_SERVICE, "/elsewhere", &c), 0);
	ASSERT_EQ(a, c);
	ASSERT_TRUE(a != b);
	ASSERT_EQ(p->n_units, 2);
	ASSERT_STREQ(p->units[a].cgroup, "/system.slice/ssh.service");
	ASSERT_TRUE(plan_find_unit(p, "kernel") == &p->units[b]);
	ASSERT_TRUE(!plan_find_unit(p, "nope.service"));
	plan_free(p);
}

TEST(plan_unit_blockers_are_listed_once_per_reason)
{
	struct plan *p = calloc(1, sizeof(*p));
	struct plan_unit *u;
	size_t i;

	ASSERT_TRUE(p);
	ASSERT_EQ(plan_ensure_unit(p, "db.service", OWNER_SERVICE, "/system.slice/db.service", &i),
		  1);
	u = &p->units[i];
	ASSERT_OK(plan_unit_add_blocker(u, "holds a pidfd", 7, "db", 4));
	ASSERT_OK(plan_unit_add_blocker(u, "holds a pidfd", 8, "db-worker", 9));
	ASSERT_OK(plan_unit_add_blocker(u, "holds a pidfd, and more", 7, "db", -1));
	ASSERT_EQ(u->n_blockers, 2);
	ASSERT_STREQ(u->blockers[0], "holds a pidfd (pid 7 db, fd 4)");
	ASSERT_STREQ(u->blockers[1], "holds a pidfd, and more (pid 7 db)");
	plan_free(p);
}

TEST(plan_unit_external_is_copied_with_its_kind)
{
	struct plan *p = calloc(1, sizeof(*p));
	char what[] = "holds a file on a tmpfs", path[] = "/run/x.pid";
	struct plan_unit *u;
	size_t i;

	ASSERT_TRUE(p);
	ASSERT_EQ(plan_ensure_unit(p, "x.service", OWNER_SERVICE, "/system.slice/x.service", &i),
		  1);
	u = &p->units[i];
	ASSERT_OK(plan_unit_add_external(u, &(struct plan_external){ .kind = EXTERNAL_CARRIED_FILE,
								     .pid = 3,
								     .fd = 5,
								     .inode = 99,
								     .what = what,
								     .path = path }));
	what[0] = path[0] = 'X';
	ASSERT_EQ(u->n_externals, 1);
	ASSERT_EQ(u->externals[0].kind, EXTERNAL_CARRIED_FILE);
	ASSERT_EQ(u->externals[0].inode, 99);
	ASSERT_STREQ(u->externals[0].what, "holds a file on a tmpfs");
	ASSERT_STREQ(u->externals[0].path, "/run/x.pid");
	ASSERT_TRUE(!u->externals[0].listen);
	plan_free(p);
}

TEST(plan_finish_sorts_sums_and_finds_roots)
{
	struct plan *p = calloc(1, sizeof(*p));
	struct plan_unit *svc, *ses;
	size_t a, b;

	ASSERT_TRUE(p);
	ASSERT_EQ(plan_ensure_unit(p, "session-2.scope", OWNER_SESSION,
				   "/user.slice/session-2.scope", &b),
		  1);
	ASSERT_EQ(plan_ensure_unit(p, "web.service", OWNER_SERVICE, "/system.slice/web.service",
				   &a),
		  1);
	svc = &p->units[a];
	ses = &p->units[b];
	svc->decision = DECISION_CHECKPOINT;
	ses->decision = DECISION_RESTART;
	add_proc(svc, 30, 20, 2, 100, 10);
	add_proc(svc, 20, 1, 1, 200, 20);
	add_proc(svc, 40, 30, 1, 300, 30);
	add_proc(ses, 50, 7, 1, 1000, 500);
	ASSERT_OK(plan_finish(p));

	/* Services sort before sessions (enum owner_kind order). */
	svc = &p->units[0];
	ses = &p->units[1];
	ASSERT_STREQ(svc->name, "web.service");
	ASSERT_EQ(svc->procs[0].pid, 20);
	ASSERT_EQ(svc->procs[1].pid, 30);
	ASSERT_EQ(svc->procs[2].pid, 40);
	ASSERT_EQ(svc->n_roots, 1);
	ASSERT_EQ(svc->roots[0], 20);
	ASSERT_EQ(svc->n_threads, 4);
	ASSERT_EQ(svc->rss_bytes, 600);
	ASSERT_EQ(svc->est_image_bytes, 60);
	ASSERT_EQ(ses->n_roots, 1);
	ASSERT_EQ(p->n_processes, 4);
	ASSERT_EQ(p->n_threads, 5);
	ASSERT_EQ(p->rss_bytes, 1600);
	/* Only what would be dumped counts towards the images. */
	ASSERT_EQ(p->est_image_bytes, 60);
	plan_free(p);
}

TEST(plan_unsupported_external_decides_by_kind)
{
	struct plan_external carried = { .kind = EXTERNAL_CARRIED_FILE,
					 .pid = 9,
					 .what = (char *)"x",
					 .path = (char *)"/run/x" };
	struct plan_external stream = { .kind = EXTERNAL_JOURNAL_STREAM,
					.pid = 9,
					.what = (char *)"y" };
	struct plan_external both[2] = { carried, stream };
	struct plan_unit scope = { .name = (char *)"run-u1.scope", .kind = OWNER_SCOPE };
	struct plan_unit svc = { .name = (char *)"a.service", .kind = OWNER_SERVICE };

	scope.externals = &carried;
	scope.n_externals = 1;
	ASSERT_TRUE(!plan_unit_unsupported_external(&scope));
	scope.externals = both;
	scope.n_externals = 2;
	ASSERT_TRUE(plan_unit_unsupported_external(&scope) == &both[1]);
	svc.externals = both;
	svc.n_externals = 2;
	ASSERT_TRUE(!plan_unit_unsupported_external(&svc));
}
