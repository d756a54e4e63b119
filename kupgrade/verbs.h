/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * Command-line state: options land in arg_* globals (main.c), each verb is a
 * function in the file that owns its concern. A verb returns >= 0 as the exit
 * code, or a negative errno that main() maps to a documented exit code.
 */

/* Documented exit codes (sysexits where they fit), see docs/kupgrade.8.scd. */
enum {
	EXIT_DECLINED = 1,	/* the operator did not confirm: nothing changed */
	EXIT_CANNOT_SWITCH = 2, /* preflight: this switch cannot succeed here */
	EXIT_USAGE = 64,	/* EX_USAGE: bad command line */
	EXIT_DATAERR = 65,	/* EX_DATAERR: bad input data (not a kernel, bad manifest) */
	EXIT_NOINPUT = 66,	/* EX_NOINPUT: a named file does not exist */
	EXIT_UNAVAILABLE = 69,	/* EX_UNAVAILABLE: a needed facility is missing */
	EXIT_SOFTWARE = 70,	/* EX_SOFTWARE: failed, system restored as it was */
	EXIT_OSERR = 71,	/* EX_OSERR */
	EXIT_IOERR = 74,	/* EX_IOERR */
	EXIT_TEMPFAIL = 75,	/* EX_TEMPFAIL: busy, try again */
	EXIT_NOPERM = 77,	/* EX_NOPERM: must be root */
};

extern bool arg_json;
extern bool arg_dry_run;
extern bool arg_yes;
extern bool arg_reuse_cmdline;
extern bool arg_images_on_disk;
extern const char *arg_kernel;
extern const char *arg_initrd;
extern const char *arg_append;
extern const char *arg_to;
extern const char *arg_from;
extern const char *arg_config;
extern char **arg_units; /* NULL-terminated, from repeated --unit */
extern const char *arg_id;   /* upgrade id: client and worker share it */

int exit_code_from_errno(int r);

int verb_plan(int argc, char **argv);
int verb_checkpoint(int argc, char **argv); /* dump.c */
int verb_restore(int argc, char **argv);    /* restore.c */
int verb_restore_unit(int argc, char **argv); /* restore.c */
int verb_generator(int argc, char **argv);  /* generator.c */
int verb_lock(int argc, char **argv);	    /* restore.c */
int verb_inspect(int argc, char **argv);    /* inspect.c */
int verb_check(int argc, char **argv); /* check.c */
int verb_upgrade(int argc, char **argv);        /* upgrade-client.c */
int verb_upgrade_worker(int argc, char **argv); /* upgrade.c */
int verb_status(int argc, char **argv);         /* report.c */
int verb_stage(int argc, char **argv); /* stage.c: test verb, carry a directory */
