/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel-image.h"
#include "test.h"

#define VERSION_STRING \
	"6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22)"

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = v & 0xff;
	b[off + 1] = v >> 8;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + i] = (v >> (8 * i)) & 0xff;
}

/* A bzImage head the way arch/x86/boot/header.S lays it out. */
static size_t make_bzimage(uint8_t *b, size_t size, uint16_t proto, bool x86_64, bool efi,
			   const char *version)
{
	const size_t vofs = 0x3e0; /* where Debian's 6.1 kernels put it, roughly */

	memset(b, 0, size);
	b[0x1f1] = 27; /* setup_sects */
	put16(b, 0x1fe, 0xaa55);
	memcpy(b + 0x202, "HdrS", 4);
	put16(b, 0x206, proto);
	put16(b, 0x20e, vofs);
	if (x86_64)
		b[0x236] = 0x7f; /* XLF_KERNEL_64 and friends */
	if (efi) {
		b[0] = 'M';
		b[1] = 'Z';
		put32(b, 0x3c, 0x40);
		memcpy(b + 0x40, "PE\0\0", 4);
		put16(b, 0x44, 0x8664);
	}
	strcpy((char *)b + 0x200 + vofs, version);
	return 28 * 512;
}

TEST(kernel_image_bzimage_release_and_arch)
{
	static uint8_t b[32768];
	struct kernel_image k;
	size_t n = make_bzimage(b, sizeof(b), 0x020f, true, true, VERSION_STRING);

	ASSERT_OK(kernel_image_parse(b, n, &k));
	ASSERT_STREQ(k.release, "6.1.0-56-cloud-amd64");
	ASSERT_STREQ(k.version, VERSION_STRING);
	ASSERT_STREQ(k.arch, "x86_64");
	ASSERT_EQ(k.boot_protocol, 0x020f);
	ASSERT_TRUE(k.efi_stub);
	ASSERT_FALSE(k.pe_signed);

	/* PE32+ optional header with 16 data directories, a certificate in #4. */
	put16(b, 0x40 + 24, 0x20b);
	put32(b, 0x40 + 24 + 108, 16);
	put32(b, 0x40 + 24 + 112 + 4 * 8, 0x1000);
	put32(b, 0x40 + 24 + 112 + 4 * 8 + 4, 0x2a0);
	ASSERT_OK(kernel_image_parse(b, n, &k));
	ASSERT_TRUE(k.pe_signed);
	put32(b, 0x40 + 24 + 108, 4); /* too few directories to have one */
	ASSERT_OK(kernel_image_parse(b, n, &k));
	ASSERT_FALSE(k.pe_signed);
}

TEST(kernel_image_32bit_without_efi)
{
	static uint8_t b[32768];
	struct kernel_image k;
	size_t n = make_bzimage(b, sizeof(b), 0x020a, false, false, "4.19.0-1-686 #1 SMP");

	ASSERT_OK(kernel_image_parse(b, n, &k));
	ASSERT_STREQ(k.release, "4.19.0-1-686");
	ASSERT_STREQ(k.arch, "i386");
	ASSERT_FALSE(k.efi_stub);
	/* xloadflags only mean something from protocol 2.12 on. */
	b[0x236] = 1;
	ASSERT_OK(kernel_image_parse(b, n, &k));
	ASSERT_STREQ(k.arch, "i386");
}

TEST(kernel_image_rejects_non_kernels)
{
	static uint8_t b[32768];
	struct kernel_image k;

	memset(b, 0, sizeof(b));
	ASSERT_EQ(kernel_image_parse(b, sizeof(b), &k), -ENOEXEC);
	memcpy(b, "#!/bin/sh\necho hello\n", 21);
	ASSERT_EQ(kernel_image_parse(b, sizeof(b), &k), -ENOEXEC);
	ASSERT_EQ(kernel_image_parse(b, 10, &k), -ENOEXEC);
	ASSERT_EQ(kernel_image_parse(b, 0, &k), -ENOEXEC);
	/* A PE file that is not a kernel (a boot loader, say). */
	b[0] = 'M';
	b[1] = 'Z';
	put32(b, 0x3c, 0x80);
	memcpy(b + 0x80, "PE\0\0", 4);
	put16(b, 0x84, 0x8664);
	ASSERT_EQ(kernel_image_parse(b, sizeof(b), &k), -ENOEXEC);
	ASSERT_TRUE(k.efi_stub);
}

TEST(kernel_image_rejects_bad_headers)
{
	static uint8_t b[32768];
	struct kernel_image k;
	size_t n = make_bzimage(b, sizeof(b), 0x020f, true, false, VERSION_STRING);

	/* Truncated before the version string. */
	ASSERT_EQ(kernel_image_parse(b, 0x200 + 0x3e0 + 5, &k), -EBADMSG);
	/* Version offset pointing past the setup code. */
	put16(b, 0x20e, 28 * 512);
	ASSERT_EQ(kernel_image_parse(b, n, &k), -EBADMSG);
	put16(b, 0x20e, 0);
	ASSERT_EQ(kernel_image_parse(b, n, &k), -EBADMSG);
	put16(b, 0x20e, 0x3e0);
	ASSERT_OK(kernel_image_parse(b, n, &k));
	/* No boot flag. */
	put16(b, 0x1fe, 0);
	ASSERT_EQ(kernel_image_parse(b, n, &k), -EBADMSG);
	put16(b, 0x1fe, 0xaa55);
	/* Empty or non-printable release. */
	b[0x200 + 0x3e0] = ' ';
	ASSERT_EQ(kernel_image_parse(b, n, &k), -EBADMSG);
	b[0x200 + 0x3e0] = 0x01;
	ASSERT_EQ(kernel_image_parse(b, n, &k), -EBADMSG);
}

TEST(kernel_image_arm64)
{
	static uint8_t b[4096];
	struct kernel_image k;

	memset(b, 0, sizeof(b));
	memcpy(b + 0x38, "ARM\x64", 4);
	ASSERT_OK(kernel_image_parse(b, sizeof(b), &k));
	ASSERT_STREQ(k.arch, "arm64");
	ASSERT_STREQ(k.release, "");
}

TEST(kernel_image_read_file_errors)
{
	struct kernel_image k;
	char path[] = "/tmp/kupgrade-test-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, "not a kernel", 12), 12);
	close(fd);
	ASSERT_EQ(kernel_image_read(path, &k), -ENOEXEC);
	unlink(path);
	ASSERT_EQ(kernel_image_read(path, &k), -ENOENT);
	ASSERT_EQ(kernel_image_read("/", &k), -ENOEXEC);
}

/* Real kernels when the host has them: /boot, or the VM bench's cache. */
TEST(kernel_image_real_vmlinuz)
{
	glob_t g = {};
	unsigned n = 0;

	glob("/boot/vmlinuz-*", 0, NULL, &g);
	glob("/var/cache/kupgrade-tests/*/vmlinuz-*", GLOB_APPEND, NULL, &g);
	glob("/var/cache/kupgrade-tests/vmlinuz-*", GLOB_APPEND, NULL, &g);
	/* KUPGRADE_TEST_VMLINUZ=/path/vmlinuz-VERSION: one more (e.g. from a .deb). */
	if (getenv("KUPGRADE_TEST_VMLINUZ"))
		glob(getenv("KUPGRADE_TEST_VMLINUZ"), GLOB_APPEND, NULL, &g);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *want = strrchr(g.gl_pathv[i], '/') + strlen("/vmlinuz-");
		struct kernel_image k;

		ASSERT_OK(kernel_image_read(g.gl_pathv[i], &k));
		ASSERT_STREQ(k.release, want);
		ASSERT_STREQ(k.arch, "x86_64");
		ASSERT_TRUE(k.boot_protocol >= 0x020c);
		/* Debian's images are signed for Secure Boot. */
		if (strstr(k.version, "Debian"))
			ASSERT_TRUE(k.pe_signed);
		n++;
	}
	fprintf(stderr, "    (%u real kernel image(s) checked)\n", n);
	globfree(&g);
}

TEST(kernel_image_native_arch_matches_uname)
{
	struct utsname u;

	ASSERT_EQ(uname(&u), 0);
	if (strcmp(u.machine, "x86_64") == 0)
		ASSERT_STREQ(kernel_image_native_arch(), "x86_64");
}

TEST(kernel_image_finds_initrd_by_distribution_naming)
{
	char dir[] = "/tmp/kupgrade-boot-XXXXXX", kernel[128], path[128];
	char *found;
	FILE *f;

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz-6.1.0-56-cloud-amd64", dir);
	ASSERT_TRUE(kernel_image_find_initrd(kernel, "6.1.0-56-cloud-amd64") == NULL);

	/* Fedora's name. */
	snprintf(path, sizeof(path), "%s/initramfs-6.1.0-56-cloud-amd64.img", dir);
	ASSERT_TRUE((f = fopen(path, "we")));
	fclose(f);
	found = kernel_image_find_initrd(kernel, "6.1.0-56-cloud-amd64");
	ASSERT_STREQ(found, path);
	free(found);

	/* Debian's wins when both exist; another version's does not count. */
	snprintf(path, sizeof(path), "%s/initrd.img-6.1.0-56-cloud-amd64", dir);
	ASSERT_TRUE((f = fopen(path, "we")));
	fclose(f);
	found = kernel_image_find_initrd(kernel, "6.1.0-56-cloud-amd64");
	ASSERT_STREQ(found, path);
	free(found);
	ASSERT_TRUE(kernel_image_find_initrd(kernel, "6.1.0-55-cloud-amd64") == NULL);

	/* A directory of that name is not an initrd. */
	snprintf(path, sizeof(path), "%s/initrd.img-6.1.0-55-cloud-amd64", dir);
	ASSERT_EQ(mkdir(path, 0700), 0);
	ASSERT_TRUE(kernel_image_find_initrd(kernel, "6.1.0-55-cloud-amd64") == NULL);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ASSERT_EQ(system(path), 0);
}

TEST(kernel_image_newest_is_the_highest_version_above_the_running_one)
{
	char dir[] = "/tmp/kupgrade-boot-XXXXXX";
	char *path, *rel;

	ASSERT_TRUE(mkdtemp(dir));
	/* Nothing installed: nothing newer, no newest. */
	ASSERT_EQ(kernel_image_find_newest(dir, "6.1.0-56-cloud-amd64", &path, &rel), 0);
	ASSERT_TRUE(path == NULL && rel == NULL);

	/* 57 beats 9 (numbers compared as numbers), a backup, a dpkg leftover,
	 * a directory and a symlink to nowhere do not count, nor does "vmlinuz". */
	test_sh("cd %s && touch vmlinuz-6.1.0-9-cloud-amd64 vmlinuz-6.1.0-56-cloud-amd64 "
		"vmlinuz-6.1.0-57-cloud-amd64 vmlinuz-6.1.0-99-cloud-amd64.dpkg-tmp "
		"vmlinuz-6.1.0-98-cloud-amd64.old vmlinuz config-6.1.0-99-cloud-amd64 && "
		"mkdir vmlinuz-6.1.0-97-cloud-amd64 && ln -s /nonexistent vmlinuz-6.1.0-96-cloud-amd64",
		dir);
	ASSERT_EQ(kernel_image_find_newest(dir, "6.1.0-56-cloud-amd64", &path, &rel), 1);
	ASSERT_TRUE(strstr(path, "/vmlinuz-6.1.0-57-cloud-amd64") &&
		    strncmp(path, dir, strlen(dir)) == 0);
	ASSERT_STREQ(rel, "6.1.0-57-cloud-amd64");
	free(path);
	free(rel);

	/* Running the newest already, or a newer one than any installed. */
	ASSERT_EQ(kernel_image_find_newest(dir, "6.1.0-57-cloud-amd64", &path, &rel), 0);
	ASSERT_TRUE(path == NULL);
	ASSERT_STREQ(rel, "6.1.0-57-cloud-amd64");
	free(rel);
	ASSERT_EQ(kernel_image_find_newest(dir, "6.12.118+deb13-cloud-amd64", &path, NULL), 0);

	/* Debian 13's releases. */
	test_sh("cd %s && rm -rf vmlinuz-* && touch vmlinuz-6.12.117+deb13-cloud-amd64 "
		"vmlinuz-6.12.118+deb13-cloud-amd64",
		dir);
	ASSERT_EQ(kernel_image_find_newest(dir, "6.12.117+deb13-cloud-amd64", &path, NULL), 1);
	ASSERT_TRUE(strstr(path, "vmlinuz-6.12.118+deb13-cloud-amd64") != NULL);
	free(path);

	ASSERT_EQ(kernel_image_find_newest("/nonexistent-boot", "6.1.0-1-amd64", &path, NULL),
		  -ENOENT);
	test_sh("rm -rf %s", dir);
}
