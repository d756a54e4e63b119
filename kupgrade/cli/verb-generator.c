/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "generator.h"
#include "log.h"
#include "verbs.h"

/* Run by systemd as kupgrade-generator NORMAL EARLY LATE (main.c), not
 * through the verb table: argv is the program's own. */
int verb_generator(int argc, char **argv)
{
	log_set_journal_prefix(false);
	return generator_run(argc > 1 ? argv[1] : "/tmp");
}
