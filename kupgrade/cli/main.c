/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "args.h"
#include "exit-status.h"
#include "macro.h"
#include "paths.h"
#include "verbs.h"

enum {
	VERB_ANY = -1,
	VERB_INTERNAL = 1 << 0, /* started by kupgrade itself or systemd: not in the help */
	VERB_ROOT = 1 << 1,	/* acts on the machine: refused to other users before anything */
};

struct verb {
	const char *name;
	int min_args, max_args; /* positional arguments after the verb */
	unsigned flags;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int verb_help(int argc, char **argv);

/* Every verb, once. Exact names only: no prefix matching. */
static const struct verb verbs[] = {
	{ "help", 0, 0, 0, verb_help, "show this help" },
	{ "upgrade", 0, 0, VERB_ROOT, verb_upgrade,
	  "switch the running kernel to --kernel FILE (the default verb)" },
	{ "check", 0, 0, 0, verb_check, "preflight: can this machine switch to --kernel FILE?" },
	{ "plan", 0, 0, 0, verb_plan, "show what happens to every process, and why" },
	{ "status", 0, 0, 0, verb_status,
	  "show the report of the last switch [--json] (--id ID [--wait]: of that one)" },
	{ "inspect", 1, 1, 0, verb_inspect, "print the manifest of DIR [--json]" },
	{ "checkpoint", 0, 0, VERB_ROOT, verb_checkpoint,
	  "dump units to --to DIR (all or nothing)" },
	{ "restore", 0, 0, VERB_ROOT, verb_restore, "restore every tree from --from DIR" },
	{ "lock", 0, 0, VERB_ROOT, verb_lock, "re-create the network lock of --from DIR" },
	{ "restore-unit", 1, 1, VERB_INTERNAL | VERB_ROOT, verb_restore_unit,
	  "restore one service from --from DIR, as its ExecStart" },
	{ "upgrade-worker", 0, 0, VERB_INTERNAL | VERB_ROOT, verb_upgrade_worker,
	  "the upgrade, run as a transient service" },
	{ "upgrade-recover", 0, 0, VERB_INTERNAL | VERB_ROOT, verb_upgrade_recover,
	  "after a worker that was killed: undo what it did" },
	{ "stage", 0, 0, VERB_INTERNAL | VERB_ROOT, verb_stage,
	  "(test) carry --from DIR across the next kexec into --kernel" },
};

static int verb_help(int argc, char **argv)
{
	printf("Usage: kupgrade --kernel FILE [OPTIONS]\n"
	       "       kupgrade VERB [OPTIONS]\n\n"
	       "Change the running kernel without losing processes or connections.\n\n"
	       "Verbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (!(verbs[i].flags & VERB_INTERNAL))
			printf("  %-12s %s\n", verbs[i].name, verbs[i].summary);
	printf("\nInternal verbs (run by kupgrade itself, systemd, or the tests):\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (verbs[i].flags & VERB_INTERNAL)
			printf("  %-14s %s\n", verbs[i].name, verbs[i].summary);
	printf("\nOptions:\n"
	       "  --kernel FILE       kernel image to switch to (\"newest\": the newest in /boot)\n"
	       "  --initrd FILE       its initrd (default: found next to the kernel)\n"
	       "  --append ARGS       kernel command line for the new kernel\n"
	       "  --reuse-cmdline     reuse the running kernel's command line\n"
	       "  --images-on-disk    stage images on disk instead of in memory\n"
	       "  --unit NAME         limit to this unit (repeatable)\n"
	       "  --to DIR, --from DIR  image directory for checkpoint/restore\n"
	       "  --config FILE       configuration (default " CONFIG_FILE ")\n"
	       "  --dry-run           print what would happen, change nothing\n"
	       "  --finish            restore: give up what is not back yet, unlock, clean up\n"
	       "  --wait-apt          wait for a running dpkg or apt instead of refusing\n"
	       "  --detach            start the switch and return its upgrade id at once\n"
	       "  --id ID, --wait     status: the outcome of switch ID; wait for it\n"
	       "  --yes               do not ask for confirmation\n"
	       "  --json              print one JSON document on stdout\n"
	       "  -v, --verbose       more logging\n"
	       "  -h, --help          this help\n"
	       "See kupgrade(8).\n");
	return 0;
}

static int parse_argv(int argc, char **argv)
{
	enum {
		ARG_KERNEL = 0x100,
		ARG_INITRD,
		ARG_APPEND,
		ARG_REUSE_CMDLINE,
		ARG_IMAGES_ON_DISK,
		ARG_UNIT,
		ARG_TO,
		ARG_FROM,
		ARG_CONFIG,
		ARG_DRY_RUN,
		ARG_YES,
		ARG_JSON,
		ARG_ID,
		ARG_FINISH,
		ARG_WAIT_APT,
		ARG_DETACH,
		ARG_WAIT,
	};
	static const struct option options[] = {
		{ "kernel", required_argument, NULL, ARG_KERNEL },
		{ "initrd", required_argument, NULL, ARG_INITRD },
		{ "append", required_argument, NULL, ARG_APPEND },
		{ "reuse-cmdline", no_argument, NULL, ARG_REUSE_CMDLINE },
		{ "images-on-disk", no_argument, NULL, ARG_IMAGES_ON_DISK },
		{ "unit", required_argument, NULL, ARG_UNIT },
		{ "to", required_argument, NULL, ARG_TO },
		{ "from", required_argument, NULL, ARG_FROM },
		{ "config", required_argument, NULL, ARG_CONFIG },
		{ "dry-run", no_argument, NULL, ARG_DRY_RUN },
		{ "yes", no_argument, NULL, ARG_YES },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "id", required_argument, NULL, ARG_ID },
		{ "finish", no_argument, NULL, ARG_FINISH },
		{ "wait-apt", no_argument, NULL, ARG_WAIT_APT },
		{ "detach", no_argument, NULL, ARG_DETACH },
		{ "wait", no_argument, NULL, ARG_WAIT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, r;

	while ((c = getopt_long(argc, argv, "vhy", options, NULL)) >= 0) {
		switch (c) {
		case ARG_KERNEL:
			arg_kernel = optarg;
			break;
		case ARG_INITRD:
			arg_initrd = optarg;
			break;
		case ARG_APPEND:
			arg_append = optarg;
			break;
		case ARG_REUSE_CMDLINE:
			arg_reuse_cmdline = true;
			break;
		case ARG_IMAGES_ON_DISK:
			arg_images_on_disk = true;
			break;
		case ARG_UNIT:
			r = args_add_unit(optarg);
			if (r < 0)
				return log_oom();
			break;
		case ARG_TO:
			arg_to = optarg;
			break;
		case ARG_FROM:
			arg_from = optarg;
			break;
		case ARG_CONFIG:
			arg_config = optarg;
			break;
		case ARG_DRY_RUN:
			arg_dry_run = true;
			break;
		case 'y':
		case ARG_YES:
			arg_yes = true;
			break;
		case ARG_JSON:
			arg_json = true;
			break;
		case ARG_ID:
			arg_id = optarg;
			break;
		case ARG_FINISH:
			arg_finish = true;
			break;
		case ARG_WAIT_APT:
			arg_wait_apt = true;
			break;
		case ARG_DETACH:
			arg_detach = true;
			break;
		case ARG_WAIT:
			arg_wait = true;
			break;
		case 'v':
			log_set_max_level(LOG_DEBUG);
			break;
		case 'h':
			verb_help(0, NULL);
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (arg_append && arg_reuse_cmdline)
		return log_error_errno(-EINVAL, "--append and --reuse-cmdline exclude each other.");
	return 1;
}

/* Once, for every verb that acts: a clear refusal before anything is read or
 * made, rather than whichever call first needs root (77). */
static int check_root(const struct verb *v)
{
	if ((v->flags & VERB_ROOT) && geteuid() != 0)
		return log_error_errno(-EPERM, "kupgrade %s must run as root.", v->name);
	return 0;
}

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

/* argv: the positional arguments, the verb first (or none: the default). */
static int dispatch(int argc, char **argv)
{
	const struct verb *v;
	int n;

	if (argc == 0) {
		/* "kupgrade --kernel X" means "upgrade". */
		v = find_verb(arg_kernel ? "upgrade" : "help");
		if (check_root(v) < 0)
			return -EPERM;
		return v->run(1, (char *[]){ (char *)v->name, NULL });
	}
	v = find_verb(argv[0]);
	if (!v)
		return log_error_errno(-EINVAL, "Unknown verb '%s'; see 'kupgrade help'.", argv[0]);
	n = argc - 1;
	if (n < v->min_args)
		return log_error_errno(-EINVAL, "'%s' needs %d argument%s; see 'kupgrade help'.",
				       v->name, v->min_args, v->min_args == 1 ? "" : "s");
	if (v->max_args != VERB_ANY && n > v->max_args)
		return log_error_errno(-EINVAL, "Unexpected argument '%s'; see 'kupgrade help'.",
				       argv[1 + v->max_args]);
	if (check_root(v) < 0)
		return -EPERM;
	return v->run(argc, argv);
}

int main(int argc, char **argv)
{
	int r;

	log_set_program("kupgrade");
	/* Installed as a link in systemd's generator directory. */
	if (strstr(argv[0], "kupgrade-generator"))
		return verb_generator(argc, argv) < 0 ? 1 : 0;
	if (getenv("JOURNAL_STREAM"))
		log_set_journal_prefix(true);

	r = parse_argv(argc, argv);
	if (r <= 0) {
		args_free();
		return r < 0 ? EXIT_USAGE : 0;
	}
	r = dispatch(argc - optind, argv + optind);
	args_free();
	return r < 0 ? exit_code_from_errno(r) : r;
}
