/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a kernel image file says about itself, read from its header without
 * loading it: the x86 boot protocol header ("HdrS" at 0x202, the version
 * string pointed to by 0x20E) of a bzImage, and whether it carries an EFI
 * stub (a PE "MZ" header at 0). Pure: kernel_image_parse() works on bytes.
 */

/* The setup code holding the version string fits in this many bytes. */
#define KERNEL_IMAGE_HEADER_MAX (64 * 1024)

struct kernel_image {
	char release[65];	/* "6.1.0-56-cloud-amd64": uname -r of that kernel */
	char version[256];	/* the whole version string, for messages */
	const char *arch;	/* "x86_64", "i386", "arm64" (static string) */
	uint16_t boot_protocol; /* x86: 0x020f for 2.15; 0 elsewhere */
	bool efi_stub;		/* starts with a PE header (bootable by EFI) */
	bool pe_signed;		/* that PE header lists an attribute certificate
				 * (Authenticode: what KEXEC_SIG verifies) */
};

/*
 * Parse the first bytes of a kernel image. Returns 0, -ENOEXEC when this is
 * not a Linux kernel image, -EBADMSG when it looks like one but the header
 * is inconsistent (truncated, bad version offset).
 */
int kernel_image_parse(const void *buf, size_t size, struct kernel_image *ret);

/* Read the head of the file at path and parse it; -errno from open/read. */
int kernel_image_read(const char *path, struct kernel_image *ret);

/* The architecture name this program runs on, as kernel_image reports it. */
const char *kernel_image_native_arch(void);

/* The initrd installed next to a kernel: Debian's initrd.img-VERSION or
 * Fedora's initramfs-VERSION.img in the kernel's directory. NULL if none. */
char *kernel_image_find_initrd(const char *kernel, const char *release);

/*
 * "--kernel newest": the newest kernel installed in boot_dir (vmlinuz-RELEASE,
 * compared as versions, the order GRUB's menu puts them in), if it is newer
 * than the running release. Returns 1 and its path in *ret_path (and release
 * in *ret_release when not NULL); 0 when none is newer (*ret_path NULL, the
 * newest found, if any, in *ret_release); -errno when boot_dir cannot be read.
 */
int kernel_image_find_newest(const char *boot_dir, const char *running, char **ret_path,
			     char **ret_release);
