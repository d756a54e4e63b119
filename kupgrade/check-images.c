/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The preflight's probe of the images: their estimated size (the plan's),
 * and whether memory, or else the disk, can carry them across. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-probe.h"
#include "log.h"
#include "paths.h"
#include "plan.h"
#include "test-hooks.h"
#include "transport.h"

/* What the dump leaves to everything else while images sit in tmpfs. */
#define DUMP_RESERVE_BYTES (128 * MiB)

/*
 * How big the images will be: the plan's estimate for the units it would
 * checkpoint (anonymous + swapped + shared-memory pages, docs/plan-json.md),
 * and the biggest one process would write.
 */
static int estimate_image_bytes(const char *config, uint64_t *ret, uint64_t *ret_largest)
{
	struct plan *p = NULL;
	int r;

	/* Quiet: the plan's own notes (no D-Bus, say) are not the probe's. */
	int level = log_get_max_level();

	log_set_max_level(LOG_ERR);
	r = plan_build(config, &p);
	log_set_max_level(level);
	if (r < 0)
		return r;
	*ret = p->est_image_bytes;
	*ret_largest = plan_largest_process_estimate(p);
	plan_free(p);
	return 0;
}

/* KUPGRADE_MEMORY_LIMIT=SIZE[K|M|G]: pretend no more than this is available. */
static int apply_memory_limit(struct transport_mem *mem)
{
	const char *e = test_hook("KUPGRADE_MEMORY_LIMIT");
	unsigned long long v;
	char *end;

	if (isempty(e))
		return 0;
	errno = 0;
	v = strtoull(e, &end, 10);
	if (errno || end == e)
		return -EINVAL;
	switch (*end) {
	case 'G':
	case 'g':
		v <<= 10; /* fall through */
	case 'M':
	case 'm':
		v <<= 10; /* fall through */
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 0:
		break;
	default:
		return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	mem->available = MIN(mem->available, (uint64_t)v);
	mem->total = MIN(mem->total, (uint64_t)v);
	return 0;
}

int probe_memory(struct check *c, struct probe_result *r)
{
	struct transport t = { .initrd = c->initrd };
	_cleanup_free_ char *why = NULL;
	const struct transport_ops *ops;
	unsigned long long need, avail;
	int k;

	/* A process over what a cpio entry holds is refused here, not after
	 * its dump (transport-initrd.c). */
	k = estimate_image_bytes(c->o->config, &c->images_bytes, &t.largest_estimate);
	if (k < 0)
		return probe_set(r, PROBE_FAIL, "see 'kupgrade plan'",
				 "cannot estimate the image size: %s", strerror(-k));
	k = transport_read_meminfo(&t.mem);
	if (k >= 0)
		k = apply_memory_limit(&t.mem);
	if (k < 0)
		return probe_set(r, PROBE_FAIL, "check KUPGRADE_MEMORY_LIMIT and /proc/meminfo",
				 "cannot tell the memory available: %s", strerror(-k));

	need = (c->images_bytes + DUMP_RESERVE_BYTES) / MiB;
	avail = t.mem.available / MiB;
	/* The dump writes into a tmpfs first, whatever the transport. */
	if (!c->o->images_on_disk && need > avail)
		return probe_set(r, PROBE_FAIL,
				 "free memory, checkpoint fewer units (--unit), or use --images-on-disk",
				 "the images (~%llu MiB) need ~%llu MiB of memory to be written, "
				 "%llu MiB are available",
				 (unsigned long long)(c->images_bytes / MiB), need, avail);

	ops = transport_pick(&t, c->o->images_on_disk, c->images_bytes, &why);
	if (!ops)
		return probe_set(r, PROBE_FAIL,
				 "free memory or disk space, or checkpoint fewer "
				 "units (--unit)",
				 "no way to carry ~%llu MiB of images: %s",
				 (unsigned long long)(c->images_bytes / MiB), why ?: "unknown");
	c->transport = ops->name;
	return probe_set(r, PROBE_OK, NULL, "~%llu MiB of images, carried %s (%llu MiB available)",
			 (unsigned long long)(c->images_bytes / MiB),
			 ops == &transport_disk_ops ? "on disk" : "in memory (initrd)", avail);
}
