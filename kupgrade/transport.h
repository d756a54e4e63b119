/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "paths.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * Image transports: how a checkpoint's image directory crosses the kexec.
 * Each transport is a small ops table in its own file (a KHO/LUO backend
 * would be one more):
 *   - initrd: the images as a newc cpio appended to a copy of the new
 *     kernel's initrd, unpacked by the new kernel, carried into
 *     /run/kupgrade by the initramfs script (carry-images);
 *   - disk: the images copied into a root-only directory on disk.
 * The images are secrets: they go to disk only when the operator asked for
 * it (--images-on-disk). Otherwise transport_pick() takes the initrd or
 * nothing, and a switch whose images do not fit fails before the kexec.
 */

/* What the initramfs side finds, and where it puts it. */
#define TRANSPORT_ARCHIVE_LIST "kupgrade-images.list" /* sizes + modes, see carry-images */

struct transport_mem {
	uint64_t total;	    /* MemTotal */
	uint64_t available; /* MemAvailable */
	/* Free bytes of the tmpfs the dump writes into (UPGRADE_IMAGES_DIR's:
	 * /run, which the initramfs caps at 10% of RAM, far below
	 * MemAvailable); 0: not known, not checked. */
	uint64_t dump_room;
};

/* The most the kernel loads as an initrd: kexec_file_load reads it with
 * kernel_read_file(), which refuses a file over INT_MAX bytes (EFBIG). */
#define TRANSPORT_INITRD_MAX 0x7fffffffULL

struct transport {
	/* inputs */
	const char *images_dir; /* the checkpoint's images (root-only tmpfs) */
	const char *initrd;	/* initrd: the new kernel's initrd */
	const char *stage_dir;	/* NULL: the transport's default (tests pass a temp dir,
				 * and then nothing is mounted) */
	struct transport_mem mem;
	/* Before the dump (images_dir NULL): the largest image file expected,
	 * the plan's biggest process; 0: not known. Once images_dir is set,
	 * its files are measured instead. */
	uint64_t largest_estimate;
	/* outputs of stage() */
	char *staged_initrd; /* initrd: what to hand kexec --initrd */
	char *staged_dir;    /* where stage() wrote */
	bool mounted;	     /* initrd: we mounted a tmpfs on staged_dir */
	uint64_t staged_bytes;
};

struct transport_ops {
	const char *name;
	/* 0 if payload bytes of images (estimated before they exist) can
	 * cross here; else -ENOSPC (or -errno) and a reason for people in
	 * *ret_reason (allocated, the caller frees it). */
	int (*fits)(const struct transport *t, uint64_t payload, char **ret_reason);
	/* Put the images where the other kernel will find them. Logs. */
	int (*stage)(struct transport *t);
	/* Remove everything stage() made, also after a partial stage. For the
	 * initrd transport this may run as soon as the kernel is loaded: the
	 * kernel keeps its own copy of the initrd. */
	int (*undo)(struct transport *t);
};

extern const struct transport_ops transport_initrd_ops;
extern const struct transport_ops transport_disk_ops;

/* Does this initrd hold the initramfs script that receives images
 * (usr/lib/kupgrade/carry-images)? Listed with lsinitramfs or lsinitrd:
 * 1 yes, 0 no, -EOPNOTSUPP when neither tool is installed. */
int transport_initrd_has_carrier(const char *initrd);

/* Pure: the initrd transport's memory need on the old kernel while
 * loading (FACTS: ~4x the payload at the peak of kexec -s -l: images in
 * tmpfs, the combined initrd, the kernel's copy, a transient) plus two
 * copies of the initrd itself. */
uint64_t transport_initrd_peak_bytes(uint64_t payload, uint64_t initrd_size);
/* Pure: what the new kernel needs to boot with it: the unpacked archive
 * and its copy in /run/kupgrade at once, plus room to boot. (The carry
 * script mounts a tmpfs of its own on /run/kupgrade, sized from the
 * archive's list: /run's cap does not apply there, RAM does. The unpacked
 * archive sits in the rootfs, a ramfs when root= is on the command line.) */
uint64_t transport_initrd_boot_bytes(uint64_t payload);

/* What the initrd transport must fit, gathered by its fits(). */
struct transport_need {
	uint64_t payload;	  /* bytes of the image files */
	uint64_t largest;	  /* the largest of them; 0: not known */
	const char *largest_path; /* which one, when measured; NULL: an estimate */
	uint64_t initrd;	  /* the new kernel's own initrd */
	bool resident;		  /* the images already sit in a tmpfs: MemAvailable
				   * no longer counts them */
	struct transport_mem mem;
};
/* Pure: 0 if it fits; else -EFBIG (a file over a cpio entry's 4 GiB, the
 * combined initrd over TRANSPORT_INITRD_MAX) or -ENOSPC (memory, on either
 * kernel), and why in *ret_reason (allocated). */
int transport_initrd_decide(const struct transport_need *n, char **ret_reason);

/* Choose a transport: disk if asked (on_disk), else the initrd if it fits;
 * never disk unasked. NULL when nothing fits, and *ret_reason (allocated)
 * says why (and whether --images-on-disk would do). Before the dump (no
 * images_dir yet) the dump itself must fit in t->mem.dump_room. */
const struct transport_ops *transport_pick(const struct transport *t, bool on_disk,
					   uint64_t payload, char **ret_reason);

/* MemTotal and MemAvailable, and the free space of the tmpfs the dump
 * writes into (dump_room). */
int transport_read_meminfo(struct transport_mem *ret);
/* Pure: parse /proc/meminfo text. */
int transport_parse_meminfo(const char *text, struct transport_mem *ret);

/* Total bytes of the image files under dir, and their count (dir_measure_at():
 * anything but directories and regular files is -EOPNOTSUPP, as it could not
 * cross). */
int transport_measure(const char *dir, uint64_t *ret_bytes, unsigned *ret_files);
/* The same, with the largest file and its path relative to dir. */
struct transport_census {
	uint64_t bytes, largest;
	unsigned files;
	char *largest_path; /* allocated; NULL for a tree without files */
};
int transport_census(const char *dir, struct transport_census *ret);

/* Copy exactly n bytes between fds at their positions; -EIO if in ends early. */
int transport_copy_bytes(int in, int out, uint64_t n);
/* rm -rf, without following symlinks; a missing path is fine. */
int transport_remove_tree(const char *path);
/* Every stage's undo when the stager is gone (upgrade-recover.c): the
 * staged initrd and its tmpfs, images this boot staged on disk. */
int transport_recover(void);

void transport_done(struct transport *t);
