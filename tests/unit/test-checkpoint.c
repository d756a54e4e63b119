/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint-internal.h"
#include "fileio.h"
#include "log.h"
#include "test.h"

/*
 * A checkpoint's state without a plan or CRIU: two units in an images
 * directory under /tmp, "session-3.scope" (two trees: 100, still away, and
 * 101) and "counter.service" (tree 200).
 */
struct fake {
	char dir[64];
	struct checkpoint *c;
	struct plan_unit pu[2];
};

static void put_file(const char *dir, const char *rel, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ASSERT_OK(write_string_file(path, "%s", text));
}

static void add_unit(struct fake *f, size_t i, const char *name, enum owner_kind kind,
		     ManifestUnitKind mkind, const pid_t *roots, size_t n_roots)
{
	struct ckpt_unit *u = &f->c->units[i];
	char sub[300];

	f->pu[i] = (struct plan_unit){ .kind = kind };
	*u = (struct ckpt_unit){ .c = f->c, .pu = &f->pu[i] };
	snprintf(u->dir_name, sizeof(u->dir_name), "%s", name);
	u->mu = manifest_add_unit(f->c->m, name, mkind, name);
	ASSERT_TRUE(u->mu);
	u->trees = calloc(n_roots, sizeof(*u->trees));
	ASSERT_TRUE(u->trees || n_roots == 0);
	u->n_trees = n_roots;
	snprintf(sub, sizeof(sub), "%s/%s", f->dir, name);
	ASSERT_OK(mkdir(sub, 0700));
	for (size_t j = 0; j < n_roots; j++) {
		char rel[300];

		u->trees[j].t.root = roots[j];
		u->trees[j].dumped = true;
		ASSERT_OK(manifest_unit_add_root(u->mu, roots[j]));
		snprintf(sub, sizeof(sub), "%s/%s/%d", f->dir, name, (int)roots[j]);
		ASSERT_OK(mkdir(sub, 0700));
		snprintf(rel, sizeof(rel), "%s/%d/pages-1.img", name, (int)roots[j]);
		put_file(f->dir, rel, "secret");
	}
}

static void fake_setup(struct fake *f, bool created)
{
	static const pid_t session[] = { 100, 101 }, service[] = { 200 };

	*f = (struct fake){};
	snprintf(f->dir, sizeof(f->dir), "/tmp/kupgrade-test-ckpt-XXXXXX");
	ASSERT_TRUE(mkdtemp(f->dir));
	f->c = calloc(1, sizeof(*f->c));
	ASSERT_TRUE(f->c);
	f->c->m = manifest_new("boot", "6.1.0");
	ASSERT_TRUE(f->c->m);
	ASSERT_OK(imagedir_open(f->dir, &f->c->dir));
	f->c->dir.created = created;
	f->c->units = calloc(2, sizeof(*f->c->units));
	ASSERT_TRUE(f->c->units);
	f->c->n_units = 2;
	add_unit(f, 0, "session-3.scope", OWNER_SESSION, MANIFEST_UNIT_SESSION, session, 2);
	add_unit(f, 1, "counter.service", OWNER_SERVICE, MANIFEST_UNIT_SERVICE, service, 1);
	ASSERT_OK(manifest_write_at(f->c->dir.fd, f->c->m));
	put_file(f->dir, "max-pid", "300\n");
}

static void remove_tree(const char *path)
{
	struct imagedir d;

	if (imagedir_open(path, &d) == 0) {
		(void)imagedir_wipe(&d, true);
		imagedir_close(&d);
	}
}

/* A unit whose manifest entry the restore would refuse is refused before
 * its trees are dumped. */
TEST(dump_refuses_a_unit_the_restore_would_refuse)
{
	struct fake f;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, true);
	ASSERT_OK(manifest_set_string(&f.c->units[0].mu->name, "a;b.scope"));
	free(f.c->units[0].trees);
	f.c->units[0].trees = NULL;
	f.c->units[0].n_trees = 0; /* nothing would reach CRIU */
	ASSERT_EQ(checkpoint_phase_dump_unit(NULL, &f.c->units[0]), -EOPNOTSUPP);
	remove_tree(f.dir);
	checkpoint_free(f.c);
}
