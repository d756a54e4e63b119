/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The verbs: each in its own file, cli/verb-<name>.c, listed once in the
 * table of cli/main.c with how many arguments it takes. A verb gets its
 * positional arguments only (argv[0] is the verb's name; options are already
 * in the arg_* globals), turns them into the domain layer's options and
 * calls it. It returns 0, a negative errno, or a non-error outcome code of
 * exit-status.h.
 */
int verb_plan(int argc, char **argv);
int verb_checkpoint(int argc, char **argv);
int verb_restore(int argc, char **argv);
int verb_restore_unit(int argc, char **argv);
int verb_generator(int argc, char **argv);
int verb_lock(int argc, char **argv);
int verb_inspect(int argc, char **argv);
int verb_check(int argc, char **argv);
int verb_upgrade(int argc, char **argv);
int verb_upgrade_worker(int argc, char **argv);
int verb_upgrade_recover(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_stage(int argc, char **argv);
