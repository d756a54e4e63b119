/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * What the operator asked for, as the domain layer sees it. The command line
 * (kupgrade/cli/) fills one from its arg_* globals and hands it down; no
 * domain module reads a command-line global.
 */
struct kupgrade_options {
	const char *kernel;  /* --kernel: the image to switch to */
	const char *initrd;  /* --initrd; NULL: found next to the kernel */
	const char *append;  /* --append; NULL: the running command line */
	bool reuse_cmdline;  /* --reuse-cmdline */
	bool images_on_disk; /* --images-on-disk */
	const char *config;  /* --config; never NULL */
	char *const *units;  /* --unit..., NULL-terminated; NULL: every unit */
	const char *to;	     /* --to DIR (checkpoint) */
	const char *from;    /* --from DIR (restore, lock, restore-unit, stage) */
	const char *id;	     /* --id: the upgrade id client and worker share */
	bool json;	     /* --json: one JSON document on stdout */
	bool dry_run;	     /* --dry-run: say what would happen, change nothing */
	bool yes;	     /* --yes: do not ask */
	bool finish;	     /* restore --finish: give up what is not back, clean up */
	bool wait_apt;	     /* --wait-apt: wait for dpkg/apt instead of refusing */
	bool detach;	     /* --detach: start the switch, do not follow it */
	bool wait;	     /* status --wait: until the outcome of the switch --id */
};
