/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kupgrade check: a preflight that changes nothing and answers "can this
 * switch succeed here, and if not, why". A flat table of probes, each
 * saying what it found or what is wrong and what to do about it. Probes
 * test features (what the kernel allows, what is installed), not versions.
 */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "paths.h"
#include "criu.h"
#include "kernel-image.h"
#include "kexec.h"
#include "log.h"
#include "plan.h"
#include "transport.h"
#include "verbs.h"

/* What the dump leaves to everything else while images sit in tmpfs. */
#define DUMP_RESERVE_BYTES (128 * MiB)

enum probe_state { PROBE_OK, PROBE_WARN, PROBE_FAIL, PROBE_SKIP };

struct probe_result {
	enum probe_state state;
	char *message; /* what was found, or what is wrong */
	char *action;  /* what to do about it (warn, fail) */
};

struct check {
	const char *kernel;
	char *initrd; /* --initrd, or found next to the kernel */
	struct kernel_image image;
	bool have_image;
	uint64_t images_bytes; /* estimated size of the checkpoint images */
	const char *transport;
};

static int set_result(struct probe_result *r, enum probe_state state, const char *action,
		      const char *fmt, ...) _printf_(4, 5);
static int set_result(struct probe_result *r, enum probe_state state, const char *action,
		      const char *fmt, ...)
{
	va_list ap;
	int k;

	r->state = state;
	va_start(ap, fmt);
	k = vasprintf(&r->message, fmt, ap);
	va_end(ap);
	if (k < 0 || (action && !(r->action = strdup(action))))
		return -ENOMEM;
	return 0;
}

static int probe_privileges(struct check *c, struct probe_result *r)
{
	if (geteuid() != 0)
		return set_result(r, PROBE_FAIL, "run kupgrade as root",
				  "not running as root: loading a kernel and checkpointing "
				  "need CAP_SYS_BOOT and CAP_SYS_ADMIN");
	return set_result(r, PROBE_OK, NULL, "running as root");
}

static int probe_kernel(struct check *c, struct probe_result *r)
{
	const char *native = kernel_image_native_arch();
	struct stat st;
	struct utsname u;
	int k;

	if (stat(c->kernel, &st) < 0)
		return set_result(r, PROBE_FAIL,
				  "give the path of an installed kernel, e.g. /boot/vmlinuz-VERSION",
				  "%s: %s", c->kernel, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return set_result(r, PROBE_FAIL, "give the path of a kernel image file (vmlinuz)",
				  "%s is not a regular file", c->kernel);
	k = kernel_image_read(c->kernel, &c->image);
	if (k == -ENOEXEC)
		return set_result(r, PROBE_FAIL, "give the path of a kernel image (vmlinuz-VERSION)",
				  "%s is not a Linux kernel image", c->kernel);
	if (k < 0)
		return set_result(r, PROBE_FAIL, "reinstall the kernel package",
				  "%s: cannot read its kernel header: %s", c->kernel, strerror(-k));
	if (!streq(c->image.arch, native))
		return set_result(r, PROBE_FAIL, "give a kernel built for this machine",
				  "%s is a kernel for %s, this machine runs %s", c->kernel,
				  c->image.arch, native);
	if (isempty(c->image.release))
		return set_result(r, PROBE_FAIL, "give a bzImage kernel (vmlinuz)",
				  "%s has no version string in its header", c->kernel);
	c->have_image = true;
	if (uname(&u) >= 0 && streq(u.release, c->image.release))
		return set_result(r, PROBE_WARN, "nothing to do unless it was rebuilt",
				  "Linux %s is the kernel running now", c->image.release);
	return set_result(r, PROBE_OK, NULL, "Linux %s (%s, boot protocol %u.%02u%s%s)",
			  c->image.release, c->image.arch, c->image.boot_protocol >> 8,
			  c->image.boot_protocol & 0xff, c->image.efi_stub ? ", EFI stub" : "",
			  c->image.pe_signed ? ", signed" : "");
}

static int probe_modules(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *dir = NULL, *dep = NULL, *action = NULL;
	struct stat st;

	if (!c->have_image)
		return set_result(r, PROBE_SKIP, NULL, "needs a valid kernel");
	if (asprintf(&dir, "/lib/modules/%s", c->image.release) < 0 ||
	    asprintf(&dep, "%s/modules.dep", dir) < 0)
		return -ENOMEM;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (asprintf(&action, "install the modules of %s (its linux-image package)",
			     c->image.release) < 0)
			return -ENOMEM;
		return set_result(r, PROBE_FAIL, action,
				  "%s does not exist: the new kernel would boot without its modules",
				  dir);
	}
	if (access(dep, F_OK) < 0) {
		if (asprintf(&action, "run 'depmod %s'", c->image.release) < 0)
			return -ENOMEM;
		return set_result(r, PROBE_FAIL, action, "%s is missing", dep);
	}
	return set_result(r, PROBE_OK, NULL, "%s", dir);
}

static int probe_initrd(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *action = NULL;
	struct stat st;

	if (arg_initrd) {
		if (stat(arg_initrd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
			return set_result(r, PROBE_FAIL, "give the initrd built for this kernel",
					  "%s is missing, empty or not a file", arg_initrd);
		c->initrd = strdup(arg_initrd);
		return c->initrd ? set_result(r, PROBE_OK, NULL, "%s", c->initrd) : -ENOMEM;
	}
	if (!c->have_image)
		return set_result(r, PROBE_SKIP, NULL, "needs a valid kernel to find its initrd");
	c->initrd = kernel_image_find_initrd(c->kernel, c->image.release);
	if (c->initrd)
		return set_result(r, PROBE_OK, NULL, "%s", c->initrd);
	if (asprintf(&action, "build it ('update-initramfs -c -k %s' or 'dracut --kver %s'), "
			      "or pass --initrd FILE",
		     c->image.release, c->image.release) < 0)
		return -ENOMEM;
	return set_result(r, PROBE_FAIL, action,
			  "no initrd.img-%s or initramfs-%s.img next to %s", c->image.release,
			  c->image.release, c->kernel);
}

static int probe_initrd_receiver(struct check *c, struct probe_result *r)
{
	_cleanup_free_ char *action = NULL;
	int k;

	if (arg_images_on_disk)
		return set_result(r, PROBE_SKIP, NULL, "images go on disk (--images-on-disk)");
	if (!c->initrd)
		return set_result(r, PROBE_SKIP, NULL, "needs an initrd");
	k = transport_initrd_has_carrier(c->initrd);
	if (k > 0)
		return set_result(r, PROBE_OK, NULL, "%s holds kupgrade's initramfs script",
				  c->initrd);
	if (k == 0) {
		if (asprintf(&action, "rebuild it with kupgrade installed ('update-initramfs -u -k "
				      "%s' or 'dracut -f --kver %s'), or use --images-on-disk",
			     c->have_image ? c->image.release : "VERSION",
			     c->have_image ? c->image.release : "VERSION") < 0)
			return -ENOMEM;
		return set_result(r, PROBE_FAIL, action,
				  "%s lacks kupgrade's initramfs script: images sent in memory "
				  "would be lost at boot", c->initrd);
	}
	return set_result(r, PROBE_WARN, "install initramfs-tools or dracut to let check list it",
			  "cannot list %s (%s): not known whether it can receive images",
			  c->initrd, k == -EOPNOTSUPP ? "no lsinitramfs or lsinitrd" : strerror(-k));
}

static int probe_kexec(struct check *c, struct probe_result *r)
{
	struct kexec_support s;
	const char *why = NULL;
	enum kexec_method m;
	int k;

	kexec_probe(&s);
	k = !!s.tool;
	kexec_support_done(&s); /* only the tool path is allocated */
	if (!k)
		return set_result(r, PROBE_FAIL, "install the kexec-tools package",
				  "kexec-tools is not installed");
	k = kexec_choose_method(&s, false, &m, &why);
	if (k < 0)
		return set_result(r, PROBE_FAIL, "reboot into the new kernel instead", "%s", why);
	if (c->have_image && kexec_image_acceptable(&s, &c->image, m, &why) < 0)
		return set_result(r, PROBE_FAIL,
				  "use a kernel signed with a trusted key (Debian's are), or "
				  "reboot into it instead", "%s", why);
	return set_result(r, PROBE_OK, NULL, "%s (lockdown: %s, Secure Boot: %s)%s",
			  m == KEXEC_METHOD_FILE ? "kexec -s (kexec_file_load)" : "kexec -c (kexec_load)",
			  isempty(s.lockdown) ? "unknown" : s.lockdown,
			  s.secure_boot == 1 ? "on" : s.secure_boot == 0 ? "off" : "unknown",
			  s.loaded == 1 ? "; a kernel is loaded already and would be replaced" : "");
}

static int probe_criu(struct check *c, struct probe_result *r)
{
	/* "criu check" as a command: libcriu's CHECK request crashes criu
	 * 3.17.1's swrk in the guest. criu.c logs why it failed. */
	int k = criu_check_kernel();

	if (k == -EOPNOTSUPP)
		return set_result(r, PROBE_FAIL, "install criu 3.17 or later and a kernel it supports",
				  "'criu check' fails here (see " CRIU_LOG_DIR "/check.log)");
	if (k < 0)
		return set_result(r, PROBE_FAIL, "run 'criu check' by hand to see why",
				  "cannot run 'criu check': %s", strerror(-k));
	return set_result(r, PROBE_OK, NULL, "criu check passes");
}

/*
 * How big the images will be: the plan's estimate for the units it would
 * checkpoint (anonymous + swapped + shared-memory pages, docs/plan-json.md).
 */
static int estimate_image_bytes(uint64_t *ret)
{
	struct plan *p = NULL;
	int r;

	/* Quiet: the plan's own notes (no D-Bus, say) are not the probe's. */
	int level = log_get_max_level();

	log_set_max_level(LOG_ERR);
	r = plan_build(arg_config, &p);
	log_set_max_level(level);
	if (r < 0)
		return r;
	*ret = p->est_image_bytes;
	plan_free(p);
	return 0;
}

/* KUPGRADE_MEMORY_LIMIT=SIZE[K|M|G]: pretend no more than this is available. */
static int apply_memory_limit(struct transport_mem *mem)
{
	const char *e = getenv("KUPGRADE_MEMORY_LIMIT");
	unsigned long long v;
	char *end;

	if (isempty(e))
		return 0;
	errno = 0;
	v = strtoull(e, &end, 10);
	if (errno || end == e)
		return -EINVAL;
	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	case 0: break;
	default: return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	mem->available = MIN(mem->available, (uint64_t)v);
	mem->total = MIN(mem->total, (uint64_t)v);
	return 0;
}

static int probe_memory(struct check *c, struct probe_result *r)
{
	struct transport t = { .initrd = c->initrd };
	_cleanup_free_ char *why = NULL;
	const struct transport_ops *ops;
	unsigned long long need, avail;
	int k;

	k = estimate_image_bytes(&c->images_bytes);
	if (k < 0)
		return set_result(r, PROBE_FAIL, "see 'kupgrade plan'", "cannot estimate the image size: %s",
				  strerror(-k));
	k = transport_read_meminfo(&t.mem);
	if (k >= 0)
		k = apply_memory_limit(&t.mem);
	if (k < 0)
		return set_result(r, PROBE_FAIL, "check KUPGRADE_MEMORY_LIMIT and /proc/meminfo",
				  "cannot tell the memory available: %s", strerror(-k));

	need = (c->images_bytes + DUMP_RESERVE_BYTES) / MiB;
	avail = t.mem.available / MiB;
	/* The dump writes into a tmpfs first, whatever the transport. */
	if (!arg_images_on_disk && need > avail)
		return set_result(r, PROBE_FAIL,
				  "free memory, checkpoint fewer units (--unit), or use --images-on-disk",
				  "the images (~%llu MiB) need ~%llu MiB of memory to be written, "
				  "%llu MiB are available",
				  (unsigned long long)(c->images_bytes / MiB), need, avail);

	ops = transport_pick(&t, arg_images_on_disk, c->images_bytes, &why);
	if (!ops)
		return set_result(r, PROBE_FAIL, "free memory or disk space, or checkpoint fewer "
						 "units (--unit)",
				  "no way to carry ~%llu MiB of images: %s",
				  (unsigned long long)(c->images_bytes / MiB), why ?: "unknown");
	c->transport = ops->name;
	if (ops == &transport_disk_ops && !arg_images_on_disk)
		return set_result(r, PROBE_WARN, "see above, or pass --images-on-disk to choose disk",
				  "~%llu MiB of images would go through %s, not memory: %s",
				  (unsigned long long)(c->images_bytes / MiB), TRANSPORT_DISK_DIR,
				  why ?: "unknown");
	return set_result(r, PROBE_OK, NULL, "~%llu MiB of images, carried %s (%llu MiB available)",
			  (unsigned long long)(c->images_bytes / MiB),
			  ops == &transport_disk_ops ? "on disk" : "in memory (initrd)", avail);
}

static int probe_restore_units(struct check *c, struct probe_result *r)
{
	static const char *const units[] = { "kupgrade-netlock.service", "kupgrade-restore.service" };
	static const char *const dirs[] = { "/etc/systemd/system", "/lib/systemd/system",
					    "/usr/lib/systemd/system" };
	const char *generator = GENERATOR_PATH;

	for (size_t u = 0; u < ELEMENTSOF(units); u++) {
		bool installed = false;

		for (size_t i = 0; i < ELEMENTSOF(dirs) && !installed; i++) {
			char p[256];

			snprintf(p, sizeof(p), "%s/%s", dirs[i], units[u]);
			installed = access(p, F_OK) == 0;
		}
		if (!installed)
			return set_result(r, PROBE_FAIL, "install kupgrade completely (make install)",
					  "%s is not installed: nothing would restore the processes "
					  "after the switch", units[u]);
	}
	/* The generator pulls the units in on the boot after a switch: they
	 * need not be enabled, but it must be there and runnable. */
	if (access(generator, X_OK) < 0)
		return set_result(r, PROBE_FAIL, "install kupgrade completely (make install)",
				  "%s is missing: the new boot would not restore anything", generator);
	return set_result(r, PROBE_OK, NULL, "restore units and %s installed", generator);
}

static const struct probe {
	const char *name;
	int (*run)(struct check *c, struct probe_result *r);
} probes[] = {
	/* Order matters: later probes use what kernel and initrd found. */
	{ "privileges", probe_privileges },
	{ "kernel", probe_kernel },
	{ "modules", probe_modules },
	{ "initrd", probe_initrd },
	{ "initrd-script", probe_initrd_receiver },
	{ "kexec", probe_kexec },
	{ "criu", probe_criu },
	{ "memory", probe_memory },
	{ "restore-units", probe_restore_units },
};

static const char *state_to_string(enum probe_state s)
{
	static const char *const names[] = { "ok", "warn", "fail", "skip" };
	return names[s];
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void print_json(const struct check *c, const struct probe_result *res, bool ok)
{
	printf("{\"kernel\":");
	json_string(stdout, c->kernel);
	printf(",\"release\":");
	if (c->have_image)
		json_string(stdout, c->image.release);
	else
		printf("null");
	printf(",\"initrd\":");
	if (c->initrd)
		json_string(stdout, c->initrd);
	else
		printf("null");
	printf(",\"can_switch\":%s,\"images_bytes_estimate\":%llu,\"transport\":", ok ? "true" : "false",
	       (unsigned long long)c->images_bytes);
	if (c->transport)
		json_string(stdout, c->transport);
	else
		printf("null");
	printf(",\"probes\":[");
	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		printf("%s{\"name\":\"%s\",\"result\":\"%s\",\"message\":", i ? "," : "",
		       probes[i].name, state_to_string(res[i].state));
		json_string(stdout, res[i].message);
		printf(",\"action\":");
		if (res[i].action)
			json_string(stdout, res[i].action);
		else
			printf("null");
		printf("}");
	}
	printf("]}\n");
}

static void print_human(const struct probe_result *res)
{
	static const char *const labels[] = { "ok", "warn", "FAIL", "skip" };

	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		fprintf(stderr, "  %-5s %-14s %s\n", labels[res[i].state], probes[i].name,
			res[i].message);
		if (res[i].action && res[i].state != PROBE_OK)
			fprintf(stderr, "  %-5s %-14s -> %s\n", "", "", res[i].action);
	}
}

int verb_check(int argc, char **argv)
{
	struct probe_result res[ELEMENTSOF(probes)] = {};
	struct check c = { .kernel = arg_kernel };
	unsigned failed = 0;
	int r = 0;

	if (!arg_kernel) {
		log_error("check needs --kernel FILE; see 'kupgrade help'.");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < ELEMENTSOF(probes) && r >= 0; i++) {
		r = probes[i].run(&c, &res[i]);
		if (res[i].state == PROBE_FAIL)
			failed++;
	}
	if (r < 0) {
		log_oom();
	} else {
		print_human(res);
		if (arg_json)
			print_json(&c, res, failed == 0);
		if (failed)
			log_error("Cannot switch to %s: %u problem%s above.", arg_kernel, failed,
				  failed > 1 ? "s" : "");
		else
			log_info("Ready to switch to Linux %s.", c.image.release);
	}
	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		free(res[i].message);
		free(res[i].action);
	}
	free(c.initrd);
	if (r < 0)
		return EXIT_SOFTWARE;
	return failed ? EXIT_CANNOT_SWITCH : 0;
}

int check_preflight(const char *kernel, const char *initrd, char **ret_release, char **ret_initrd)
{
	struct probe_result res[ELEMENTSOF(probes)] = {};
	struct check c = { .kernel = kernel };
	unsigned failed = 0, warned = 0;
	int r = 0;

	/* The probes read the --initrd option themselves. */
	if (initrd != arg_initrd)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(probes) && r >= 0; i++) {
		r = probes[i].run(&c, &res[i]);
		failed += res[i].state == PROBE_FAIL;
		warned += res[i].state == PROBE_WARN;
	}
	if (r >= 0 && (failed || warned))
		print_human(res);
	if (r < 0)
		r = log_oom();
	else if (failed)
		r = log_error_errno(-ECANCELED, "Cannot switch to %s: %u problem%s above; nothing was changed.",
				    kernel, failed, failed > 1 ? "s" : "");
	else {
		*ret_release = strdup(c.image.release);
		*ret_initrd = TAKE_PTR(c.initrd);
		if (!*ret_release)
			r = log_oom();
	}
	for (size_t i = 0; i < ELEMENTSOF(probes); i++) {
		free(res[i].message);
		free(res[i].action);
	}
	free(c.initrd);
	return r;
}
