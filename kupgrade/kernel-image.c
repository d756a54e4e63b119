/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/utsname.h>

#include "kernel-image.h"
#include "macro.h"

/* Documentation/arch/x86/boot.rst: offsets into the real-mode header. */
#define X86_SETUP_SECTS 0x1f1
#define X86_BOOT_FLAG 0x1fe	 /* 0xAA55 */
#define X86_HEADER 0x202	 /* "HdrS" */
#define X86_VERSION 0x206	 /* boot protocol, e.g. 0x020f */
#define X86_KERNEL_VERSION 0x20e /* string offset - 0x200 */
#define X86_XLOADFLAGS 0x236	 /* protocol >= 2.12 */
#define XLF_KERNEL_64 (1 << 0)

/* Documentation/arch/arm64/booting.rst: "ARM\x64" at 0x38. */
#define ARM64_MAGIC 0x38

/* PE/COFF: e_lfanew at 0x3c points to "PE\0\0", then the machine type. */
#define PE_OFFSET 0x3c
#define PE_MACHINE_AMD64 0x8664
#define PE_MACHINE_I386 0x014c
#define PE_MACHINE_ARM64 0xaa64

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The certificate table is data directory 4 of the PE optional header. */
static bool pe_has_certificate(const uint8_t *b, size_t size, size_t pe)
{
	size_t opt = pe + 24, dirs;
	uint16_t magic;

	if (opt + 2 > size)
		return false;
	magic = le16(b + opt);
	if (magic == 0x20b) /* PE32+ */
		dirs = opt + 112;
	else if (magic == 0x10b) /* PE32 */
		dirs = opt + 96;
	else
		return false;
	if (le32(b + dirs - 4) <= 4 || dirs + 5 * 8 > size)
		return false;
	return le32(b + dirs + 4 * 8 + 4) > 0;
}

static bool has_efi_stub(const uint8_t *b, size_t size, uint16_t *ret_machine, bool *ret_signed)
{
	uint32_t pe;

	if (size < 0x40 || b[0] != 'M' || b[1] != 'Z')
		return false;
	pe = le32(b + PE_OFFSET);
	if (pe > size - 6 || memcmp(b + pe, "PE\0\0", 4) != 0)
		return false;
	*ret_machine = le16(b + pe + 4);
	*ret_signed = pe_has_certificate(b, size, pe);
	return true;
}

/* Copy the NUL-terminated version string and its first word (the release). */
static int copy_version(const uint8_t *b, size_t size, size_t off, struct kernel_image *ret)
{
	size_t n = 0;

	if (off >= size)
		return -EBADMSG;
	while (off + n < size && b[off + n] && n < sizeof(ret->version) - 1)
		n++;
	if (n == 0 || off + n >= size || (b[off + n] && n == sizeof(ret->version) - 1))
		return -EBADMSG;
	memcpy(ret->version, b + off, n);
	ret->version[n] = 0;

	n = strcspn(ret->version, " \t");
	if (n == 0 || n >= sizeof(ret->release))
		return -EBADMSG;
	memcpy(ret->release, ret->version, n);
	ret->release[n] = 0;
	for (const char *p = ret->release; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return -EBADMSG;
	return 0;
}

static int parse_x86(const uint8_t *b, size_t size, struct kernel_image *ret)
{
	unsigned setup_sects;
	uint16_t vofs;

	if (size < X86_XLOADFLAGS + 2 || memcmp(b + X86_HEADER, "HdrS", 4) != 0)
		return -ENOEXEC;
	if (le16(b + X86_BOOT_FLAG) != 0xaa55)
		return -EBADMSG;

	ret->boot_protocol = le16(b + X86_VERSION);
	/* kernel_version exists from protocol 2.00 on; bzImage needs 2.00+. */
	if (ret->boot_protocol < 0x0200)
		return -EBADMSG;

	setup_sects = b[X86_SETUP_SECTS] ?: 4; /* 0 means 4, for old kernels */
	vofs = le16(b + X86_KERNEL_VERSION);
	/* The string lives in the setup code, which is (setup_sects+1) sectors. */
	if (vofs == 0 || (size_t)vofs + 0x200 >= (size_t)(setup_sects + 1) * 512)
		return -EBADMSG;

	if (ret->boot_protocol >= 0x020c && (b[X86_XLOADFLAGS] & XLF_KERNEL_64))
		ret->arch = "x86_64";
	else
		ret->arch = "i386";
	return copy_version(b, size, (size_t)vofs + 0x200, ret);
}

int kernel_image_parse(const void *buf, size_t size, struct kernel_image *ret)
{
	const uint8_t *b = buf;
	uint16_t machine = 0;
	int r;

	*ret = (struct kernel_image){};
	ret->efi_stub = has_efi_stub(b, size, &machine, &ret->pe_signed);

	r = parse_x86(b, size, ret);
	if (r != -ENOEXEC)
		return r;

	/* An arm64 Image has no version string in its header; say what it is. */
	if (size >= ARM64_MAGIC + 4 && memcmp(b + ARM64_MAGIC, "ARM\x64", 4) == 0) {
		ret->arch = "arm64";
		return 0;
	}
	if (ret->efi_stub && machine == PE_MACHINE_ARM64) {
		ret->arch = "arm64";
		return 0;
	}
	/* A PE binary that is not a kernel we know (a UKI, a boot loader). */
	return -ENOEXEC;
}

int kernel_image_read(const char *path, struct kernel_image *ret)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t n = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	buf = malloc(KERNEL_IMAGE_HEADER_MAX);
	if (!buf)
		return -ENOMEM;
	while (n < KERNEL_IMAGE_HEADER_MAX) {
		ssize_t k = read(fd, buf + n, KERNEL_IMAGE_HEADER_MAX - n);

		if (k < 0)
			return errno == EISDIR ? -ENOEXEC : negative_errno();
		if (k == 0)
			break;
		n += (size_t)k;
	}
	return kernel_image_parse(buf, n, ret);
}

const char *kernel_image_native_arch(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		return "unknown";
	if (streq(u.machine, "x86_64"))
		return "x86_64";
	if (streq(u.machine, "aarch64"))
		return "arm64";
	if (u.machine[0] == 'i' && streq(u.machine + 2, "86"))
		return "i386";
	return "unknown";
}

/* Debian: initrd.img-VERSION; Fedora: initramfs-VERSION.img; next to the kernel. */
char *kernel_image_find_initrd(const char *kernel, const char *release)
{
	static const char *const patterns[] = { "%s/initrd.img-%s", "%s/initramfs-%s.img" };
	_cleanup_free_ char *copy = strdup(kernel);
	const char *dir;

	if (!copy)
		return NULL;
	dir = dirname(copy);
	for (size_t i = 0; i < ELEMENTSOF(patterns); i++) {
		char *p;
		struct stat st;

		if (asprintf(&p, patterns[i], dir, release) < 0)
			return NULL;
		if (stat(p, &st) >= 0 && S_ISREG(st.st_mode))
			return p;
		free(p);
	}
	return NULL;
}

/* A file name of an installed kernel image: vmlinuz-RELEASE, not a backup
 * or a package manager's leftover. */
static const char *kernel_release_of_name(const char *name)
{
	static const char *const skip[] = { ".old",	 ".bak",      ".dpkg-tmp",  ".dpkg-new",
					    ".dpkg-old", ".dpkg-bak", ".dpkg-dist", "~" };
	const char *rel;
	size_t n;

	if (strncmp(name, "vmlinuz-", 8) != 0 || !name[8])
		return NULL;
	rel = name + 8;
	n = strlen(rel);
	for (size_t i = 0; i < ELEMENTSOF(skip); i++) {
		size_t k = strlen(skip[i]);

		if (n >= k && streq(rel + n - k, skip[i]))
			return NULL;
	}
	return rel;
}

int kernel_image_find_newest(const char *boot_dir, const char *running, char **ret_path,
			     char **ret_release)
{
	_cleanup_free_ char *best = NULL;
	DIR *d = opendir(boot_dir);
	struct dirent *de;
	struct stat st;
	int r = 0;

	*ret_path = NULL;
	if (ret_release)
		*ret_release = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		const char *rel = kernel_release_of_name(de->d_name);

		if (!rel || fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (best && strverscmp(rel, best) <= 0)
			continue;
		free(best);
		best = strdup(rel);
		if (!best) {
			r = -ENOMEM;
			break;
		}
	}
	closedir(d);
	if (r < 0)
		return r;
	if (best && strverscmp(best, running) > 0) {
		if (asprintf(ret_path, "%s/vmlinuz-%s", boot_dir, best) < 0)
			return -ENOMEM;
		r = 1;
	}
	if (ret_release)
		*ret_release = TAKE_PTR(best);
	return r;
}
