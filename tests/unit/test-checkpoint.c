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

static bool exists(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

static void remove_tree(const char *path)
{
	struct imagedir d;

	if (imagedir_open(path, &d) == 0) {
		(void)imagedir_wipe(&d, true);
		imagedir_close(&d);
	}
}

/* The manifest in dir names tree 100 of session-3.scope, and nothing else. */
static void check_only_tree_100(const char *dir)
{
	char path[512];
	Manifest *m = NULL;

	snprintf(path, sizeof(path), "%s/manifest", dir);
	ASSERT_OK(manifest_read_file(path, &m));
	ASSERT_EQ(m->n_units, 1);
	ASSERT_STREQ(m->units[0]->name, "session-3.scope");
	ASSERT_EQ(m->units[0]->n_root_pids, 1);
	ASSERT_EQ(m->units[0]->root_pids[0], 100);
	manifest_free(m);
}

/* What the rollback keeps in dir: tree 100 of session-3.scope alone, and a
 * manifest that names it alone; tree 101, counter.service and the rest are
 * gone. */
static void check_kept(const char *dir)
{
	char path[512], *text = NULL;
	ASSERT_TRUE(exists(dir, "session-3.scope/100/pages-1.img"));
	snprintf(path, sizeof(path), "%s/session-3.scope/100/pages-1.img", dir);
	ASSERT_OK(read_full_file_str(path, &text));
	ASSERT_STREQ(text, "secret");
	free(text);
	ASSERT_FALSE(exists(dir, "session-3.scope/101"));
	ASSERT_FALSE(exists(dir, "counter.service"));
	ASSERT_FALSE(exists(dir, "max-pid"));
	check_only_tree_100(dir);
}

/* A unit whose undo failed: its images are the only copy of its processes.
 * The prepare-images undo keeps them, moved aside with a manifest of their
 * own, and wipes the others. */
TEST(undo_prepare_images_keeps_the_images_of_a_unit_not_restored)
{
	char pattern[128];
	struct fake f;
	glob_t g;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, true);
	f.c->units[0].images_kept = true;
	f.c->units[0].trees[1].dumped = false; /* tree 101 came back */
	ASSERT_OK(checkpoint_undo_prepare_images(NULL, f.c));
	ASSERT_TRUE(access(f.dir, F_OK) < 0); /* out of the next switch's way */
	snprintf(pattern, sizeof(pattern), "%s.kept-*", f.dir);
	ASSERT_EQ(glob(pattern, 0, NULL, &g), 0);
	ASSERT_EQ(g.gl_pathc, 1);
	ASSERT_STREQ(f.c->dir.path, g.gl_pathv[0]);
	check_kept(g.gl_pathv[0]);
	remove_tree(g.gl_pathv[0]);
	globfree(&g);
	checkpoint_free(f.c);
}

/* An images directory kupgrade did not create stays where it is. */
TEST(undo_prepare_images_keeps_them_in_place_in_a_given_directory)
{
	struct fake f;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, false);
	f.c->units[0].images_kept = true;
	f.c->units[0].trees[1].dumped = false;
	ASSERT_OK(checkpoint_undo_prepare_images(NULL, f.c));
	ASSERT_STREQ(f.c->dir.path, f.dir);
	check_kept(f.dir);
	remove_tree(f.dir);
	checkpoint_free(f.c);
}

/* Nothing kept: everything goes, as before. */
TEST(undo_prepare_images_wipes_all_when_every_unit_came_back)
{
	struct fake f;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, true);
	ASSERT_OK(checkpoint_undo_prepare_images(NULL, f.c));
	ASSERT_TRUE(access(f.dir, F_OK) < 0);
	checkpoint_free(f.c);
}

/* The undo of a dump that cannot restore a tree marks the unit, and leaves
 * its images for the prepare-images undo. */
TEST(undo_dump_marks_a_unit_it_cannot_restore)
{
	struct fake f;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, true);
	/* No images where the undo looks: the restore of tree 101 fails. */
	ASSERT_OK(imagedir_wipe_sub(&f.c->dir, "session-3.scope/101"));
	ASSERT_EQ(checkpoint_undo_dump_unit(NULL, &f.c->units[0]), -EIO);
	ASSERT_TRUE(f.c->units[0].images_kept);
	ASSERT_FALSE(f.c->units[1].images_kept);
	ASSERT_TRUE(exists(f.dir, "session-3.scope/100/pages-1.img"));
	remove_tree(f.dir);
	checkpoint_free(f.c);
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
	ASSERT_FALSE(f.c->units[0].images_kept);
	remove_tree(f.dir);
	checkpoint_free(f.c);
}

/* The away manifest: the units with trees dumped and not back, each with
 * those trees alone; the checkpoint's own manifest is left as it was. */
TEST(away_manifest_names_only_the_trees_still_away)
{
	char path[512];
	Manifest *m = NULL;
	struct fake f;

	log_set_max_level(LOG_EMERG);
	fake_setup(&f, true);
	f.c->units[0].trees[1].dumped = false; /* tree 101 came back */
	f.c->units[1].trees[0].dumped = false; /* counter.service never went */
	ASSERT_OK(checkpoint_write_away_manifest(f.c));
	check_only_tree_100(f.dir);
	snprintf(path, sizeof(path), "%s/manifest", f.dir);
	ASSERT_EQ(f.c->m->n_units, 2);
	ASSERT_EQ(f.c->m->units[0]->n_root_pids, 2);
	ASSERT_EQ(f.c->m->units[0]->root_pids[1], 101);

	/* Nothing away: a manifest of no unit, which restores nothing. */
	f.c->units[0].trees[0].dumped = false;
	ASSERT_OK(checkpoint_write_away_manifest(f.c));
	ASSERT_OK(manifest_read_file(path, &m));
	ASSERT_EQ(m->n_units, 0);
	manifest_free(m);
	remove_tree(f.dir);
	checkpoint_free(f.c);
}
