/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "kernel-image.h"

/*
 * The only file that loads kernels: it runs kexec-tools, reads what the
 * running kernel allows (sysctl, lockdown, config, Secure Boot), and turns
 * all of it into -errno plus a message. Executing the loaded kernel is
 * systemd's job (systemctl kexec), not ours.
 */

enum kexec_method {
	KEXEC_METHOD_FILE,   /* kexec -s: kexec_file_load, signatures checked */
	KEXEC_METHOD_LEGACY, /* kexec -c: kexec_load, refused under lockdown */
	_KEXEC_METHOD_MAX,
};

struct kexec_request {
	const char *kernel;
	const char *initrd; /* NULL: none */
	const char *append; /* NULL: empty, unless reuse_cmdline */
	bool reuse_cmdline;
	/* With reuse_cmdline: the running command line (/proc/cmdline), which
	 * decides whether panic= is added; NULL: kexec_load_kernel() reads it. */
	const char *running_cmdline;
	/* kexec -i: skip purgatory's checksum of the segments. Only worth it
	 * under emulation (TCG spends ~40 s on it); also set by the environment
	 * KUPGRADE_KEXEC_NO_CHECKS=1. Only the legacy path honours it. */
	bool no_checks;
	/* The switch's mark for the new boot (KEXEC_MARK_PARAM=mark on its
	 * command line: the restore knows the images are for it); NULL: none. */
	const char *mark;
};

#define KEXEC_MARK_PARAM "kupgrade.upgrade"

/* What this kernel allows. Tristates: 1 yes, 0 no, -1 unknown. */
struct kexec_support {
	bool load_disabled; /* kernel.kexec_load_disabled = 1 */
	char lockdown[24];  /* "none", "integrity", "confidentiality"; "" if unknown */
	int file_load;	    /* kexec_file_load exists (not ENOSYS) */
	int config_kexec_file, config_kexec_sig, config_kexec_sig_force;
	int secure_boot;
	int loaded; /* /sys/kernel/kexec_loaded */
	char *tool; /* path of kexec-tools' kexec, NULL if missing */
};

int kexec_probe(struct kexec_support *ret);
void kexec_support_done(struct kexec_support *s);

/*
 * Pure: how to load here. -EPERM with a reason when nothing can be loaded.
 * no_checks prefers the legacy call when lockdown does not forbid it.
 */
int kexec_choose_method(const struct kexec_support *s, bool no_checks, enum kexec_method *ret,
			const char **ret_reason);

/* Pure: would this image load with that method here? -EKEYREJECTED + reason if not. */
int kexec_image_acceptable(const struct kexec_support *s, const struct kernel_image *k,
			   enum kexec_method m, const char **ret_reason);

/*
 * Pure: kexec-tools' argv for a load or an unload; free with strv_free-like
 * loop. The new kernel gets panic=N (it reboots after a panic, see
 * KEXEC_PANIC_TIMEOUT_SEC) unless its command line has a panic= already:
 * the operator's, or the one a previous switch added (--reuse-cmdline).
 */
int kexec_build_load_argv(const char *tool, const struct kexec_request *req, enum kexec_method m,
			  char ***ret);
void kexec_argv_free(char **argv);

/* Load the kernel (kexec -s -l ... or -c -l). Logs why on failure. */
int kexec_load_kernel(const struct kexec_request *req, enum kexec_method *ret_method);
/* The undo of a load: kexec -u with the same method. */
int kexec_unload(enum kexec_method m);
/* 1 if a kernel is loaded for kexec, 0 if not, -errno if unknown. */
int kexec_loaded(void);

/* Pure parsers, unit-tested. */
/* Where the kernel's own parameters end: before a "--" (init's), or the end. */
int kexec_cmdline_params_end(const char *cmdline);
/* The value of the last KEXEC_MARK_PARAM= in cmdline (free it), or NULL. */
char *kexec_cmdline_mark(const char *cmdline);
/* Where panic= goes in a kernel command line: the offset where the kernel's
 * parameters end (before a "--" that starts init's arguments, else the
 * end); -EEXIST when they set panic= already. NULL: empty. */
int kexec_cmdline_panic_pos(const char *cmdline);
int kexec_parse_lockdown(const char *text, char *ret, size_t size);
/* 1 for "=y"/"=m", 0 for "is not set", -ENOENT when the option is absent. */
int kexec_config_value(const char *config_text, const char *option);

const char *kexec_method_to_string(enum kexec_method m);
