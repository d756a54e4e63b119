/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <string.h>

#include "log.h"
#include "verbs.h"

static size_t n_arg_units;

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int verb_help(int argc, char **argv);

static const struct verb verbs[] = {
	{ "help", verb_help, "show this help" },
	{ "plan", verb_plan, "show what happens to every process, and why" },
	{ "checkpoint", verb_checkpoint, "dump units to --to DIR (all or nothing)" },
	{ "restore", verb_restore, "restore every tree from --from DIR" },
	{ "restore-unit", verb_restore_unit, "(internal) restore one service from --from DIR, as its ExecStart" },
	{ "lock", verb_lock, "re-create the network lock of --from DIR" },
	{ "inspect", verb_inspect, "print the manifest of DIR [--json]" },
	{ "upgrade", verb_upgrade, "switch the running kernel to --kernel FILE (the default verb)" },
	{ "check", verb_check, "preflight: can this machine switch to --kernel FILE?" },
	{ "status", verb_status, "show the report of the last switch [--json]" },
	{ "upgrade-worker", verb_upgrade_worker, "(internal) the upgrade, run as a transient service" },
	{ "stage", verb_stage, "(test) carry --from DIR across the next kexec into --kernel" },
};

/* Verbs that take positional arguments (read from argv[optind...]). */
static const char *const verbs_with_args[] = { "inspect", "restore-unit" };

static bool takes_args(const struct verb *v)
{
	for (size_t i = 0; v && i < ELEMENTSOF(verbs_with_args); i++)
		if (streq(verbs_with_args[i], v->name))
			return true;
	return false;
}

static int verb_help(int argc, char **argv)
{
	printf("Usage: kupgrade --kernel FILE [OPTIONS]\n"
	       "       kupgrade VERB [OPTIONS]\n\n"
	       "Change the running kernel without losing processes or connections.\n\n"
	       "Verbs:\n");
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		printf("  %-12s %s\n", verbs[i].name, verbs[i].summary);
	printf("\nOptions:\n"
	       "  --kernel FILE       kernel image to switch to\n"
	       "  --initrd FILE       its initrd (default: found next to the kernel)\n"
	       "  --append ARGS       kernel command line for the new kernel\n"
	       "  --reuse-cmdline     reuse the running kernel's command line\n"
	       "  --images-on-disk    stage images on disk instead of in memory\n"
	       "  --unit NAME         limit to this unit (repeatable)\n"
	       "  --to DIR, --from DIR  image directory for checkpoint/restore\n"
	       "  --config FILE       configuration (default /etc/kupgrade.conf)\n"
	       "  --dry-run           print what would happen, change nothing\n"
	       "  --yes               do not ask for confirmation\n"
	       "  --json              print one JSON document on stdout\n"
	       "  -v, --verbose       more logging\n"
	       "  -h, --help          this help\n"
	       "See kupgrade(8).\n");
	return 0;
}

static int add_unit(const char *name)
{
	char **n = realloc(arg_units, (n_arg_units + 2) * sizeof(char *));

	if (!n)
		return log_oom();
	arg_units = n;
	arg_units[n_arg_units++] = (char *)name;
	arg_units[n_arg_units] = NULL;
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
			r = add_unit(optarg);
			if (r < 0)
				return r;
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

static const struct verb *find_verb(const char *name)
{
	/* Exact names only: no prefix matching of verbs. */
	for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
		if (streq(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct verb *v = NULL;
	int r, verb_argc;
	char **verb_argv;

	log_set_program("kupgrade");
	/* Installed as a link in systemd's generator directory. */
	if (strstr(argv[0], "kupgrade-generator"))
		return verb_generator(argc, argv) < 0 ? 1 : 0;
	if (getenv("JOURNAL_STREAM"))
		log_set_journal_prefix(true);

	/* The verb, if any, comes first; "kupgrade --kernel X" means "upgrade". */
	if (argc > 1 && argv[1][0] != '-') {
		v = find_verb(argv[1]);
		if (!v) {
			log_error("Unknown verb '%s'; see 'kupgrade help'.", argv[1]);
			return EXIT_USAGE;
		}
		verb_argc = argc - 1;
		verb_argv = argv + 1;
	} else {
		verb_argc = argc;
		verb_argv = argv;
	}

	r = parse_argv(verb_argc, verb_argv);
	if (r <= 0)
		return r < 0 ? EXIT_USAGE : 0;
	if (optind < verb_argc && !takes_args(v)) {
		log_error("Unexpected argument '%s'; see 'kupgrade help'.", verb_argv[optind]);
		return EXIT_USAGE;
	}

	if (!v)
		v = find_verb(arg_kernel ? "upgrade" : "help");
	if (!v) {
		log_error("This build cannot switch kernels yet ('upgrade' verb missing).");
		return EXIT_UNAVAILABLE;
	}

	r = v->run(verb_argc, verb_argv);
	free(arg_units);
	if (r < 0)
		return exit_code_from_errno(r);
	return r;
}
