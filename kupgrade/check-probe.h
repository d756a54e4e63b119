/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kernel-image.h"
#include "macro.h"
#include "options.h"

/*
 * The preflight's probes (check.c runs them in order): each fills one
 * probe_result and returns 0, or -ENOMEM. Internal to the check's files.
 */

enum probe_state { PROBE_OK, PROBE_WARN, PROBE_FAIL, PROBE_SKIP };

struct probe_result {
	enum probe_state state;
	char *message; /* what was found, or what is wrong */
	char *action;  /* what to do about it (warn, fail) */
};

/* What the probes found so far: later probes use what kernel and initrd found. */
struct check {
	const struct kupgrade_options *o;
	const char *kernel; /* o->kernel */
	char *initrd;	    /* --initrd, or found next to the kernel */
	struct kernel_image image;
	bool have_image;
	uint64_t images_bytes; /* estimated size of the checkpoint images */
	const char *transport;
};

/* Sets r: state, a copy of action (may be NULL), and the message. */
int probe_set(struct probe_result *r, enum probe_state state, const char *action, const char *fmt,
	      ...) _printf_(4, 5);

/* check-kernel.c: the kernel to switch to, its modules and initrd, kexec. */
int probe_kernel(struct check *c, struct probe_result *r);
int probe_modules(struct check *c, struct probe_result *r);
int probe_initrd(struct check *c, struct probe_result *r);
int probe_initrd_receiver(struct check *c, struct probe_result *r);
int probe_kexec(struct check *c, struct probe_result *r);

/* check-images.c: how big the images are, and whether memory or disk holds them. */
int probe_memory(struct check *c, struct probe_result *r);

/* check-host.c: root, CRIU, and kupgrade's own units on this machine. */
int probe_privileges(struct check *c, struct probe_result *r);
int probe_criu(struct check *c, struct probe_result *r);
int probe_restore_units(struct check *c, struct probe_result *r);
