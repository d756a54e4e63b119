/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "log.h"
#include "test.h"
#include "stage.h"
#include "transport.h"

/* A scratch dir with an image tree like a checkpoint's, and a fake initrd. */
static char *scratch(void)
{
	static char dir[64];

	strcpy(dir, "/var/tmp/kupgrade-transport-XXXXXX");
	if (!mkdtemp(dir))
		test_fail("mkdtemp");
	test_sh("cd %s && mkdir -m 0700 images images/ssh.service images/session-3.scope && "
		"head -c 3000001 /dev/urandom > images/ssh.service/pages-1.img && "
		"printf 'inventory' > images/inventory.img && chmod 0600 images/inventory.img && "
		"printf '' > images/session-3.scope/empty.img && chmod 0640 images/session-3.scope/empty.img && "
		"chmod 0750 images/session-3.scope && "
		/* an "early" cpio, then junk to make the length odd, like a compressed tail */
		"mkdir early && echo microcode > early/ucode && "
		"(cd early && echo ucode | cpio -o -H newc --quiet) > initrd.img && "
		"printf 'XYZ' >> initrd.img",
		dir);
	return dir;
}

TEST(transport_initrd_stage_appends_aligned_archive)
{
	const char *d = scratch();
	char images[128], stage[128];
	struct transport t = {};
	struct stat st;
	off_t isize;

	snprintf(images, sizeof(images), "%s/images", d);
	snprintf(stage, sizeof(stage), "%s/stage", d);
	test_sh("mkdir %s", stage);
	ASSERT_EQ(stat(images, &st), 0);
	t.images_dir = images;
	t.stage_dir = stage;
	{
		char initrd[128];

		snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
		t.initrd = strdup(initrd);
		ASSERT_EQ(stat(initrd, &st), 0);
		isize = st.st_size;
		ASSERT_TRUE(isize % 4 != 0);
	}
	ASSERT_OK(transport_initrd_ops.stage(&t));
	ASSERT_FALSE(t.mounted);
	ASSERT_TRUE(t.staged_initrd);
	ASSERT_EQ(stat(t.staged_initrd, &st), 0);
	ASSERT_EQ((uint64_t)st.st_size, t.staged_bytes);
	ASSERT_EQ(st.st_mode & 0777, 0600);

	/* The original comes first, unchanged; zeros up to the boundary; then our archive. */
	test_sh("cmp -n %lld %s %s/initrd.img", (long long)isize, t.staged_initrd, d);
	test_sh("test \"$(tail -c +%lld %s | head -c %lld | od -An -tx1 | tr -d ' \\n')\" = \"%s\"",
		(long long)isize + 1, t.staged_initrd, (long long)(4 - isize % 4),
		isize % 4 == 1	 ? "000000"
		: isize % 4 == 2 ? "0000"
				 : "00");
	test_sh("test \"$(tail -c +%lld %s | head -c 6)\" = 070701",
		(long long)((isize + 3) / 4 * 4) + 1, t.staged_initrd);

	/* Unpack the appended archive alone and compare with the source tree. */
	test_sh("cd %s && mkdir out && tail -c +%lld %s | (cd out && cpio -idm --quiet) && "
		"diff -r images out/kupgrade-images && "
		"test \"$(stat -c %%a out/kupgrade-images)\" = 700 && "
		"test \"$(stat -c %%a out/kupgrade-images/session-3.scope)\" = 750 && "
		"test \"$(stat -c %%a out/kupgrade-images/session-3.scope/empty.img)\" = 640 && "
		"test \"$(stat -c %%a out/kupgrade-images/inventory.img)\" = 600",
		d, (long long)((isize + 3) / 4 * 4) + 1, t.staged_initrd);

	/* The list the boot script reads: header, parents first, sizes. */
	test_sh("cd %s/out && head -1 kupgrade-images.list | grep -qx 'kupgrade-images 1 3000010 3' && "
		"grep -qx 'd 0700 0 ssh.service' kupgrade-images.list && "
		"grep -qx 'f 0640 0 session-3.scope/empty.img' kupgrade-images.list && "
		"grep -qx 'f 0600 9 inventory.img' kupgrade-images.list && "
		"test $(grep -n 'd 0700 0 ssh.service' kupgrade-images.list | cut -d: -f1) -lt "
		"$(grep -n 'ssh.service/pages-1.img' kupgrade-images.list | cut -d: -f1) && "
		"test \"$(stat -c %%a kupgrade-images.list)\" = 600",
		d);

	ASSERT_OK(transport_initrd_ops.undo(&t));
	ASSERT_TRUE(access(t.staged_initrd, F_OK) < 0 && errno == ENOENT);
	transport_done(&t);
	test_sh("rm -rf %s", d);
}

TEST(transport_initrd_fits_by_memory)
{
	const char *d = scratch();
	char initrd[128];
	struct transport t = { .mem = { .total = 4096 * MiB, .available = 3000 * MiB } };
	char *why = NULL;

	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	t.initrd = initrd;
	ASSERT_OK(transport_initrd_ops.fits(&t, 300 * MiB, &why));
	ASSERT_TRUE(!why);
	/* 4x 800 MiB > 3000 MiB available. */
	ASSERT_EQ(transport_initrd_ops.fits(&t, 800 * MiB, &why), -ENOSPC);
	ASSERT_TRUE(why && strstr(why, "3000 MiB available"));
	free(why);
	/* Plenty free now, but the new kernel could not hold 2x the images. */
	t.mem.available = 20000 * MiB;
	t.mem.total = 2048 * MiB;
	ASSERT_EQ(transport_initrd_ops.fits(&t, 900 * MiB, &why), -ENOSPC);
	ASSERT_TRUE(why && strstr(why, "twice"));
	free(why);
	t.initrd = "/nonexistent/initrd.img";
	ASSERT_EQ(transport_initrd_ops.fits(&t, 1, &why), -ENOENT);
	ASSERT_TRUE(why && strstr(why, "/nonexistent/initrd.img"));
	free(why);
	test_sh("rm -rf %s", d);
}

TEST(transport_peak_figures)
{
	ASSERT_EQ(transport_initrd_peak_bytes(100, 30), 460);
	ASSERT_EQ(transport_initrd_boot_bytes(100 * MiB), 712 * MiB);
}

TEST(transport_disk_stage_and_undo)
{
	const char *d = scratch();
	char images[128], target[128];
	struct transport t = {};
	char *why = NULL;

	snprintf(images, sizeof(images), "%s/images", d);
	snprintf(target, sizeof(target), "%s/var/lib/kupgrade/images", d);
	t.images_dir = images;
	t.stage_dir = target;
	ASSERT_OK(transport_disk_ops.fits(&t, 10 * MiB, &why));
	ASSERT_EQ(transport_disk_ops.fits(&t, 1ULL << 60, &why), -ENOSPC);
	ASSERT_TRUE(why && strstr(why, "MiB free"));
	free(why);

	ASSERT_OK(transport_disk_ops.stage(&t));
	ASSERT_EQ(t.staged_bytes, 3000010);
	test_sh("diff -r %s %s && test \"$(stat -c %%a %s/var/lib/kupgrade)\" = 700 && "
		"test \"$(stat -c %%a %s)\" = 700 && "
		"test \"$(stat -c %%a %s/session-3.scope/empty.img)\" = 640",
		images, target, d, target, target);

	/* A second run does not mix into (nor remove) what is there. */
	{
		struct transport t2 = { .images_dir = images, .stage_dir = target };

		log_set_max_level(LOG_EMERG);
		ASSERT_EQ(transport_disk_ops.stage(&t2), -EEXIST);
		ASSERT_OK(transport_disk_ops.undo(&t2));
		ASSERT_EQ(access(target, F_OK), 0);
		transport_done(&t2);
	}
	ASSERT_OK(transport_disk_ops.undo(&t));
	ASSERT_TRUE(access(target, F_OK) < 0 && errno == ENOENT);
	transport_done(&t);
	test_sh("rm -rf %s", d);
}

TEST(transport_disk_refuses_tmpfs)
{
	struct transport t = { .stage_dir = "/dev/shm/kupgrade-test/images" };
	char *why = NULL;

	if (access("/dev/shm", F_OK) < 0)
		return;
	ASSERT_EQ(transport_disk_ops.fits(&t, 1, &why), -EOPNOTSUPP);
	ASSERT_TRUE(why && strstr(why, "tmpfs"));
	free(why);
}

TEST(transport_pick_order)
{
	const char *d = scratch();
	char initrd[128], target[128];
	struct transport t = { .mem = { .total = 4096 * MiB, .available = 3000 * MiB } };
	char *why = NULL;

	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	snprintf(target, sizeof(target), "%s/disk", d);
	t.initrd = initrd;
	t.stage_dir = target;
	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(transport_pick(&t, false, 100 * MiB, &why) == &transport_initrd_ops);
	ASSERT_TRUE(transport_pick(&t, true, 100 * MiB, &why) == &transport_disk_ops);
	ASSERT_TRUE(!why);
	/* Too big for memory: never to disk unasked, but say that it would do. */
	ASSERT_TRUE(transport_pick(&t, false, 2000 * MiB, &why) == NULL);
	ASSERT_TRUE(why && strstr(why, "3000 MiB available") &&
		    strstr(why, "--images-on-disk would carry them"));
	free(why);
	ASSERT_TRUE(transport_pick(&t, true, 2000 * MiB, &why) == &transport_disk_ops);
	ASSERT_TRUE(transport_pick(&t, false, 1ULL << 60, &why) == NULL);
	ASSERT_TRUE(why && strstr(why, "; on disk: ") && strstr(why, "MiB free"));
	free(why);
	ASSERT_TRUE(transport_pick(&t, true, 1ULL << 60, &why) == NULL);
	ASSERT_TRUE(why && strstr(why, "MiB free"));
	free(why);
	test_sh("rm -rf %s", d);
}

/* Before the dump, the images must first fit where the dump writes them:
 * /run, capped at a share of RAM, whatever MemAvailable says. */
TEST(transport_pick_checks_the_dump_room)
{
	const char *d = scratch();
	char initrd[128], target[128], images[128];
	struct transport t = {
		.mem = { .total = 8192 * MiB, .available = 6000 * MiB, .dump_room = 400 * MiB }
	};
	char *why = NULL;

	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	snprintf(target, sizeof(target), "%s/disk", d);
	snprintf(images, sizeof(images), "%s/images", d);
	t.initrd = initrd;
	t.stage_dir = target;
	log_set_max_level(LOG_EMERG);
	ASSERT_TRUE(transport_pick(&t, false, 300 * MiB, &why) == &transport_initrd_ops);
	ASSERT_TRUE(transport_pick(&t, false, 500 * MiB, &why) == NULL);
	ASSERT_TRUE(why && strstr(why, UPGRADE_IMAGES_DIR) && strstr(why, "400 MiB free"));
	free(why);
	ASSERT_TRUE(transport_pick(&t, true, 500 * MiB, &why) == NULL);
	free(why);
	/* Once the images are written, the room they took is no question. */
	t.images_dir = images;
	ASSERT_TRUE(transport_pick(&t, false, 500 * MiB, &why) == &transport_initrd_ops);
	test_sh("rm -rf %s", d);
}

TEST(transport_initrd_decide_limits)
{
	struct transport_need n = { .payload = 800 * MiB,
				    .initrd = 30 * MiB,
				    .mem = { .total = 16384 * MiB, .available = 2700 * MiB } };
	char *why = NULL;

	/* Before the dump: 4x 800 + 2x 30 + 128 = 3388 MiB > 2700. */
	ASSERT_EQ(transport_initrd_decide(&n, &why), -ENOSPC);
	ASSERT_TRUE(why && strstr(why, "about 3388 MiB") && strstr(why, "2700 MiB available"));
	free(why);
	/* After it, the images already sit in a tmpfs that MemAvailable no
	 * longer counts: 3x 800 + 2x 30 + 128 = 2588 MiB fits. */
	n.resident = true;
	ASSERT_OK(transport_initrd_decide(&n, &why));
	ASSERT_TRUE(!why);

	/* Over a cpio entry's 4 GiB: estimated, then measured. */
	n.mem.available = n.mem.total = 1ULL << 40;
	n.payload = 5 * GiB;
	n.largest = 4 * GiB + 1;
	ASSERT_EQ(transport_initrd_decide(&n, &why), -EFBIG);
	ASSERT_TRUE(why && strstr(why, "a process's image (~4096 MiB) would be over") &&
		    strstr(why, "4 GiB"));
	free(why);
	n.largest_path = "ssh.service/pages-1.img";
	ASSERT_EQ(transport_initrd_decide(&n, &why), -EFBIG);
	ASSERT_TRUE(why && strstr(why, "the image file ssh.service/pages-1.img (4096 MiB)"));
	free(why);

	/* The combined initrd over what the kernel loads. */
	n.largest = 0;
	n.payload = 2 * GiB - 20 * MiB;
	ASSERT_EQ(transport_initrd_decide(&n, &why), -EFBIG);
	ASSERT_TRUE(why && strstr(why, "2 GiB"));
	free(why);
	n.payload = 2 * GiB - 40 * MiB;
	ASSERT_OK(transport_initrd_decide(&n, &why));

	/* The new kernel holds the images twice while it boots. */
	n.mem.total = 3 * GiB;
	ASSERT_EQ(transport_initrd_decide(&n, &why), -ENOSPC);
	ASSERT_TRUE(why && strstr(why, "twice"));
	free(why);
}

/* After the dump the images sit in a tmpfs (here /dev/shm) and MemAvailable
 * no longer counts them: the fit must not count them a second time, or
 * the switch would stop at the stage when the check said yes. */
TEST(transport_initrd_fits_after_the_dump)
{
	char images[] = "/dev/shm/kupgrade-transport-XXXXXX";
	const char *d = scratch();
	char initrd[128];
	struct transport t = { .mem = { .total = 16384 * MiB, .available = 2700 * MiB } };
	char *why = NULL;

	if (!mkdtemp(images))
		return; /* no /dev/shm here */
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	t.initrd = initrd;
	/* Before the dump: 4x 800 MiB + 128 MiB reserve > 2700 MiB. */
	ASSERT_EQ(transport_initrd_ops.fits(&t, 800 * MiB, &why), -ENOSPC);
	free(why);
	t.images_dir = images;
	ASSERT_OK(transport_initrd_ops.fits(&t, 800 * MiB, &why));
	/* The same images on a disk are not in memory yet. */
	t.images_dir = d;
	ASSERT_EQ(transport_initrd_ops.fits(&t, 800 * MiB, &why), -ENOSPC);
	free(why);
	rmdir(images);
	test_sh("rm -rf %s", d);
}

/* A file over 4 GiB (sparse: nothing real written) is refused by the fit
 * and by the stage before anything is written. */
TEST(transport_initrd_refuses_a_file_over_4_gib)
{
	const char *d = scratch();
	char images[128], initrd[128], stage[128];
	struct transport t = { .mem = { .total = 1ULL << 50, .available = 1ULL << 50 } };
	char *why = NULL;

	snprintf(images, sizeof(images), "%s/images", d);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	snprintf(stage, sizeof(stage), "%s/stage", d);
	test_sh("mkdir %s && truncate -s 4294967296 %s/ssh.service/pages-2.img", stage, images);
	t = (struct transport){
		.images_dir = images, .initrd = initrd, .stage_dir = stage, .mem = t.mem
	};
	log_set_max_level(LOG_EMERG);
	ASSERT_EQ(transport_initrd_ops.fits(&t, 10 * MiB, &why), -EFBIG);
	ASSERT_TRUE(why && strstr(why, "ssh.service/pages-2.img (4096 MiB)"));
	free(why);
	ASSERT_TRUE(transport_pick(&t, false, 10 * MiB, &why) == NULL);
	ASSERT_TRUE(why && strstr(why, "4 GiB"));
	free(why);
	ASSERT_EQ(transport_initrd_ops.stage(&t), -EFBIG);
	ASSERT_TRUE(!t.staged_initrd || access(t.staged_initrd, F_OK) < 0);
	ASSERT_OK(transport_initrd_ops.undo(&t));
	transport_done(&t);
	test_sh("rm -rf %s", d);
}

static int count_entries(const char *relpath, int fd, const struct stat *st, void *userdata)
{
	(*(unsigned *)userdata)++;
	return 0;
}

TEST(dir_walk_rejects_special_files)
{
	const char *d = scratch();
	char images[128];
	char *bad = NULL;
	uint64_t bytes;
	unsigned files;

	snprintf(images, sizeof(images), "%s/images", d);
	ASSERT_OK(transport_measure(images, &bytes, &files));
	ASSERT_EQ(bytes, 3000010);
	ASSERT_EQ(files, 3);
	test_sh("ln -s /etc/passwd %s/ssh.service/link", images);
	files = 0;
	ASSERT_EQ(dir_walk_at(AT_FDCWD, images, count_entries, &files, &bad), -EOPNOTSUPP);
	ASSERT_EQ(transport_measure(images, &bytes, &files), -EOPNOTSUPP);
	ASSERT_STREQ(bad, "ssh.service/link");
	/* inventory.img, session-3.scope, its empty.img, ssh.service; then the
	 * link (sorted before pages-1.img) stops the walk. */
	ASSERT_EQ(files, 4);
	free(bad);
	test_sh("rm -rf %s", d);
}

TEST(transport_meminfo_parse)
{
	struct transport_mem m;

	ASSERT_OK(transport_parse_meminfo("MemTotal:        4015740 kB\nMemFree:  1 kB\n"
					  "MemAvailable:    3694420 kB\n",
					  &m));
	ASSERT_EQ(m.total, 4015740ULL * 1024);
	ASSERT_EQ(m.available, 3694420ULL * 1024);
	ASSERT_EQ(transport_parse_meminfo("MemTotal: 5 kB\n", &m), -EBADMSG);
}

/*
 * The whole chain on the host: stage, unpack the appended archive the way
 * the kernel would (into an empty root), run the initramfs script on it
 * (without its tmpfs mount), and find the same tree, modes included.
 */
/* The shell initramfs-tools runs the script with (klibc's, without busybox),
 * when installed (tests/deps.sh), and sh. */
#define KLIBC_SH "/usr/lib/klibc/bin/sh"

static const char *stage_and_unpack_with(const char *d, const char *shell)
{
	static char cmd[1024];
	struct transport t = {};
	char images[128], initrd[128], stage[128];
	struct stat st;

	snprintf(images, sizeof(images), "%s/images", d);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d);
	snprintf(stage, sizeof(stage), "%s/stage", d);
	test_sh("mkdir %s %s/root", stage, d);
	t = (struct transport){ .images_dir = images, .initrd = initrd, .stage_dir = stage };
	log_set_max_level(LOG_EMERG);
	ASSERT_OK(transport_initrd_ops.stage(&t));
	ASSERT_EQ(stat(initrd, &st), 0);
	test_sh("tail -c +%lld %s | (cd %s/root && cpio -idm --quiet)",
		(long long)((st.st_size + 3) / 4 * 4) + 1, t.staged_initrd, d);
	transport_done(&t);
	snprintf(cmd, sizeof(cmd),
		 "KUPGRADE_CARRY_SRC=%s/root/kupgrade-images "
		 "KUPGRADE_CARRY_LIST=%s/root/kupgrade-images.list "
		 "KUPGRADE_CARRY_DST=%s/run/kupgrade KUPGRADE_CARRY_FAILED=%s/run/failed "
		 "KUPGRADE_CARRY_KMSG=%s/kmsg KUPGRADE_CARRY_NO_MOUNT=1 "
		 "%s hooks/carry-images 2>/dev/null",
		 d, d, d, d, d, shell);
	test_sh("mkdir %s/run", d);
	return cmd;
}

static const char *stage_and_unpack(const char *d)
{
	return stage_and_unpack_with(d, "sh");
}

/* klibc's sh cannot parse all that dash can (a newline inside ${v%%...}
 * once broke the script at boot only): every initramfs script must parse. */
TEST(initramfs_scripts_parse_with_klibc_sh)
{
	if (access(KLIBC_SH, X_OK) < 0) {
		fprintf(stderr, "    skipped: no %s (klibc-utils)\n", KLIBC_SH);
		return;
	}
	test_sh("for f in hooks/carry-images hooks/initramfs-tools/scripts/*/*; do "
		"%s -n \"$f\" || exit 1; done",
		KLIBC_SH);
}

TEST(transport_carry_images_script_round_trip)
{
	const char *shells[] = { "sh", KLIBC_SH };

	for (size_t i = 0; i < ELEMENTSOF(shells); i++) {
		const char *d, *carry;

		if (access(shells[i], X_OK) < 0 && shells[i][0] == '/')
			continue;
		d = scratch();
		carry = stage_and_unpack_with(d, shells[i]);

		/* An unpacked mode that is not the list's is put right. */
		test_sh("chmod 600 %s/root/kupgrade-images/session-3.scope/empty.img", d);
		test_sh("%s", carry);
		test_sh("cd %s && diff -r images run/kupgrade && ! test -e run/failed && "
			"test \"$(stat -c %%a run/kupgrade/session-3.scope)\" = 750 && "
			"test \"$(stat -c %%a run/kupgrade/session-3.scope/empty.img)\" = 640 && "
			"grep -q 'carried 3 image files (2 MiB)' kmsg && "
			/* the sources are gone: the images are in memory once */
			"test -z \"$(ls root)\"",
			d);
		test_sh("rm -rf %s", d);
	}
}

TEST(transport_carry_images_script_reports_damage)
{
	const char *d = scratch();
	const char *carry = stage_and_unpack(d);

	/* A file cut short on the way (what a full /run did in FACTS). */
	test_sh("truncate -s 1000 %s/root/kupgrade-images/ssh.service/pages-1.img", d);
	test_sh("%s", carry);
	test_sh("cd %s && grep -q 'pages-1.img has 1000 bytes, expected 3000001' run/failed && "
		"grep -q 'ERROR: .*did not reach' kmsg && test -z \"$(ls root)\"",
		d);
	test_sh("rm -rf %s", d);

	/* A list that does not match what arrived. */
	d = scratch();
	carry = stage_and_unpack(d);
	test_sh("sed -i '1s/ 3$/ 4/' %s/root/kupgrade-images.list", d);
	test_sh("%s", carry);
	test_sh("grep -q 'copied 3 files, the list announced 4' %s/run/failed", d);
	test_sh("rm -rf %s", d);

	/* Nothing sent: nothing done, nothing logged. */
	d = scratch();
	carry = stage_and_unpack(d);
	test_sh("rm -rf %s/root/kupgrade-images", d);
	test_sh("%s", carry);
	test_sh("cd %s && ! test -e run/kupgrade && ! test -e kmsg", d);
	test_sh("rm -rf %s", d);
}

/* Staging mounts a tmpfs and loads a kernel: another user is refused before
 * anything, with -EPERM (exit 77), not by whichever call first needs root
 * (before: -ENOENT for the kernel, or a mount that failed). Each case runs
 * in its own child: giving up root here is for this case only. */
TEST(stage_refuses_a_non_root_caller)
{
	char *dir = scratch();
	char from[128], kernel[128];
	struct kupgrade_options o = { .from = from, .kernel = kernel };

	snprintf(from, sizeof(from), "%s/images", dir);
	snprintf(kernel, sizeof(kernel), "%s/no-such-vmlinuz", dir);
	if (geteuid() == 0)
		ASSERT_OK(setresuid(65534, 65534, 65534) < 0 ? -errno : 0);
	log_set_max_level(LOG_EMERG);
	ASSERT_EQ(stage_run(&o), -EPERM);
	o.dry_run = true; /* says what would happen; changes nothing */
	ASSERT_TRUE(stage_run(&o) != -EPERM);
}
