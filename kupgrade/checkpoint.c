/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "checkpoint-internal.h"
#include "criu.h"
#include "fileio.h"
#include "log.h"

/*
 * The checkpoint: the state its phases share (the plan, the units and their
 * trees, the images directory, the lock, the manifest), the manifest's last
 * writing, and the small phases. The phases are listed, in order, in the
 * one phase table (upgrade.c); "kupgrade checkpoint" runs them alone.
 *
 * All or nothing. Each tree is dumped with CRIU's killing dump: CRIU closes
 * its TCP sockets in repair mode, silently, so nothing reaches the peer and
 * the 4-tuples stay free for a restore on this same kernel. (Leaving trees
 * stopped and killing them only at the end would close those sockets the
 * normal way: a FIN, and an orphan socket holding the 4-tuple that makes a
 * same-kernel restore fail; and state could change between dump and kill.)
 * So the undo of a dump is a restore from the images just written, through
 * the very path "kupgrade restore" uses: every fault test exercises it. A
 * dump that fails is rolled back by CRIU itself (tree thawed, sockets out of
 * repair, its lock removed).
 */

/* "criu check" also fills CRIU's kernel-feature cache (/run/criu.kdat):
 * done here, before anything is locked or frozen, it takes seconds off the
 * first dump and refuses a kernel CRIU cannot work with. */
int checkpoint_phase_criu_check(void *ctx, void *arg)
{
	return criu_check_kernel();
}

int checkpoint_phase_prepare_images(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	/* 10% over the estimate: page-aligned images and CRIU's metadata. */
	return imagedir_prepare(c->opts.images_path, c->opts.on_disk,
				c->est_bytes + c->est_bytes / 10, &c->dir);
}

struct away_roots {
	uint32_t *saved;
	size_t n_saved;
};

/* Point u's manifest entry at the roots of its trees still away (dumped);
 * put_roots_back() undoes it. */
static int only_away_roots(struct ckpt_unit *u, struct away_roots *a)
{
	uint32_t *away = calloc(u->n_trees + 1, sizeof(*away));
	size_t n = 0;

	if (!away)
		return -ENOMEM;
	for (size_t j = 0; j < u->n_trees; j++)
		if (u->trees[j].dumped)
			away[n++] = (uint32_t)u->trees[j].t.root;
	a->saved = u->mu->root_pids;
	a->n_saved = u->mu->n_root_pids;
	u->mu->root_pids = away;
	u->mu->n_root_pids = n;
	return 0;
}

static void put_roots_back(struct ckpt_unit *u, struct away_roots *a)
{
	free(u->mu->root_pids);
	u->mu->root_pids = a->saved;
	u->mu->n_root_pids = a->n_saved;
}

/*
 * A manifest of the units with trees away (dumped), each with those trees
 * alone: what a restore from these images must bring back, no more. Written
 * after every dump and every undo of one (the "away" manifest, from which
 * the recovery of a worker that was killed restores, upgrade-recover.c), and
 * for the images kept after an undo failed (kept_only: those units alone).
 * c->m is as it was afterwards.
 */
static int write_away_manifest(struct checkpoint *c, bool kept_only)
{
	_cleanup_free_ ManifestUnit **units = calloc(c->n_units + 1, sizeof(*units));
	_cleanup_free_ struct away_roots *saved = calloc(c->n_units + 1, sizeof(*saved));
	_cleanup_free_ struct ckpt_unit **picked = calloc(c->n_units + 1, sizeof(*picked));
	ManifestUnit **all = c->m->units;
	size_t n_all = c->m->n_units, n = 0;
	int r = 0;

	if (!units || !saved || !picked)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_units && r >= 0; i++) {
		struct ckpt_unit *u = &c->units[i];
		bool away = false;

		for (size_t j = 0; j < u->n_trees; j++)
			away = away || u->trees[j].dumped;
		if (!away || (kept_only && !u->images_kept))
			continue;
		r = only_away_roots(u, &saved[n]);
		if (r < 0)
			break;
		picked[n] = u;
		units[n++] = u->mu;
	}
	if (r >= 0) {
		c->m->units = units;
		c->m->n_units = n;
		r = manifest_write_at(c->dir.fd, c->m);
		c->m->units = all;
		c->m->n_units = n_all;
	}
	for (size_t i = 0; i < n; i++)
		put_roots_back(picked[i], &saved[i]);
	return r;
}

int checkpoint_write_away_manifest(struct checkpoint *c)
{
	int r = write_away_manifest(c, false);

	if (r < 0)
		return log_error_errno(r, "Cannot write the manifest of the dumped trees in %s: %m",
				       c->dir.path);
	return 0;
}

/* The images of the trees back already, or never away, go: the kept ones
 * are restored by hand. */
static void wipe_trees_not_away(struct checkpoint *c)
{
	for (size_t i = 0; i < c->n_units; i++) {
		struct ckpt_unit *u = &c->units[i];

		for (size_t j = 0; u->images_kept && j < u->n_trees; j++) {
			char rel[300];

			if (u->trees[j].dumped)
				continue;
			snprintf(rel, sizeof(rel), "%s/%d", u->dir_name, (int)u->trees[j].t.root);
			(void)imagedir_wipe_sub(&c->dir, rel);
		}
	}
}

/*
 * A unit whose undo failed has trees still away, and its images are their
 * only copy: they are kept, with a manifest of those units alone, and the
 * rest is wiped. An images root of ours is moved aside, root-only as it is,
 * so that the next switch does not find it in its way; one the operator gave
 * (or a mount point) stays where it is.
 */
static int keep_images(struct checkpoint *c)
{
	_cleanup_free_ const char **names = calloc(c->n_units + 1, sizeof(*names));
	size_t n = 0;
	int r;

	if (!names)
		return log_oom();
	for (size_t i = 0; i < c->n_units; i++)
		if (c->units[i].images_kept)
			names[n++] = c->units[i].dir_name;
	r = imagedir_wipe_except(&c->dir, names, n);
	if (r < 0)
		return log_error_errno(r, "Cannot wipe the other images in %s: %m", c->dir.path);
	wipe_trees_not_away(c);
	r = write_away_manifest(c, true);
	if (r < 0)
		return log_error_errno(r, "Cannot write the manifest of the kept images in %s: %m",
				       c->dir.path);
	if (c->dir.created && imagedir_move_aside(&c->dir, "kept") < 0)
		log_warning("Cannot move %s aside, it stays where it is.", c->dir.path);
	for (size_t i = 0; i < c->n_units; i++)
		if (c->units[i].images_kept)
			log_error("The images of %s, which could not be restored, are kept in %s/%s: "
				  "restore it with 'kupgrade restore --from %s'.",
				  c->units[i].mu->name, c->dir.path, c->units[i].dir_name,
				  c->dir.path);
	return 0;
}

int checkpoint_undo_prepare_images(void *ctx, void *arg)
{
	struct checkpoint *c = arg;

	for (size_t i = 0; i < c->n_units; i++)
		if (c->units[i].images_kept)
			return keep_images(c);
	return imagedir_wipe(&c->dir, false);
}

/* The report also names each service the plan restarts, and why. */
ManifestUnitKind ckpt_manifest_kind(enum owner_kind k)
{
	switch (k) {
	case OWNER_SERVICE:
		return MANIFEST_UNIT_SERVICE;
	case OWNER_SESSION:
		return MANIFEST_UNIT_SESSION;
	case OWNER_CONTAINER:
		return MANIFEST_UNIT_CONTAINER;
	case OWNER_SCOPE:
		return MANIFEST_UNIT_SCOPE;
	case OWNER_SLICE:
		return MANIFEST_UNIT_SLICE;
	default: /* PID 1, kernel threads, kupgrade: never checkpointed */
		return KUPGRADE__UNIT_KIND__KIND_UNKNOWN;
	}
}

static int add_planned_restarts(struct checkpoint *c)
{
	if (c->opts.units)
		return 0;
	for (size_t i = 0; i < c->plan->n_units; i++) {
		const struct plan_unit *pu = &c->plan->units[i];
		ManifestUnit *mu;

		if (pu->kind != OWNER_SERVICE || pu->decision != DECISION_RESTART)
			continue;
		mu = manifest_add_unit(c->m, pu->name, ckpt_manifest_kind(pu->kind), "");
		if (!mu)
			return -ENOMEM;
		mu->has_outcome = true;
		mu->outcome = KUPGRADE__UNIT_OUTCOME__RESTARTED_FRESH;
		if (manifest_set_string(&mu->outcome_reason, pu->reason ?: "planned") < 0)
			return -ENOMEM;
	}
	return 0;
}

int checkpoint_phase_write_manifest(void *ctx, void *arg)
{
	struct checkpoint *c = arg;
	struct timespec ts;
	char v[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	c->m->has_created_realtime_usec = true;
	c->m->created_realtime_usec = (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (criu_version_string(v, sizeof(v)) == 0 &&
	    manifest_set_string(&c->m->criu_version, v) < 0)
		return log_oom();
	if (checkpoint_record_timings(c) < 0 || add_planned_restarts(c) < 0)
		return log_oom();
	return checkpoint_write_manifest(c);
}

static bool has_timing(const Manifest *m, const char *phase)
{
	for (size_t i = 0; i < m->n_timings; i++)
		if (streq(m->timings[i]->phase, phase))
			return true;
	return false;
}

int checkpoint_record_timings(struct checkpoint *c)
{
	for (size_t i = 0; c->opts.phases && i < c->opts.phases->n; i++) {
		const struct phase *p = &c->opts.phases->phases[i];

		/* Per-unit dump times live in the unit's own timings. */
		if (!p->done || strncmp(p->name, "dump:", 5) == 0 || has_timing(c->m, p->name))
			continue;
		if (manifest_add_timing(c->m, p->name, p->usec) < 0)
			return -ENOMEM;
	}
	return 0;
}

int checkpoint_write_manifest(struct checkpoint *c)
{
	int r = manifest_write_at(c->dir.fd, c->m);

	if (r < 0)
		return log_error_errno(r, "Cannot write the manifest in %s: %m", c->dir.path);
	return 0;
}

int checkpoint_new(const struct checkpoint_options *o, struct checkpoint **ret)
{
	struct checkpoint *c;
	char boot_id[64];
	struct utsname u;

	if (read_boot_id(boot_id, sizeof(boot_id)) < 0 || uname(&u) < 0)
		return log_error_errno(-EIO, "Cannot read the boot id or the kernel release.");
	c = calloc(1, sizeof(*c));
	if (!c)
		return log_oom();
	c->dir.fd = -EBADF;
	c->opts = *o;
	c->m = manifest_new(boot_id, u.release);
	if (!c->m || manifest_set_string(&c->m->transport, o->transport ?: "local") < 0 ||
	    (o->upgrade_id && manifest_set_string(&c->m->upgrade_id, o->upgrade_id) < 0) ||
	    (o->kernel_to && manifest_set_string(&c->m->kernel_to, o->kernel_to) < 0)) {
		checkpoint_free(c);
		return log_oom();
	}
	*ret = c;
	return 0;
}

Manifest *checkpoint_manifest(struct checkpoint *c)
{
	return c->m;
}

const char *checkpoint_images_path(const struct checkpoint *c)
{
	return c->dir.path ?: c->opts.images_path;
}

size_t checkpoint_n_units(const struct checkpoint *c)
{
	return c->n_units;
}

struct ckpt_unit *checkpoint_unit(struct checkpoint *c, size_t i)
{
	return i < c->n_units ? &c->units[i] : NULL;
}

const char *checkpoint_unit_name(const struct checkpoint *c, size_t i)
{
	return i < c->n_units ? c->units[i].mu->name : NULL;
}

void checkpoint_free(struct checkpoint *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_units; i++) {
		ckpt_release_cgroup(&c->units[i].holder);
		for (size_t j = 0; j < c->units[i].n_trees; j++)
			tree_done(&c->units[i].trees[j].t);
		free(c->units[i].trees);
	}
	free(c->units);
	manifest_free(c->m);
	plan_free(c->plan);
	imagedir_close(&c->dir);
	free(c->cgroup_mount);
	free(c);
}
