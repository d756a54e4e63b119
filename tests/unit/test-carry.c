/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Carried files, both halves, against the tricks a local user can play with
 * a path they control: a symlink in a component, a FIFO or another file
 * swapped in, a directory of theirs on the way. Runs in a temp dir; the
 * ownership cases need root (as make check-unit runs) and skip without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "carry.h"
#include "fileio.h"
#include "log.h"
#include "test.h"

static const char *scratch(void)
{
	static char dir[64];

	strcpy(dir, "/tmp/kupgrade-carry-XXXXXX");
	if (!mkdtemp(dir))
		test_fail("mkdtemp");
	return dir;
}

static char *at(const char *dir, const char *rel)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		test_fail("asprintf");
	return p;
}

static bool exists(const char *dir, const char *rel)
{
	struct stat st;

	return fstatat(AT_FDCWD, at(dir, rel), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* An images root holding unit/carried/0 ("secret\n"), and a unit entry
 * whose carried files the test adds. */
static ManifestUnit *put_back_setup(const char *d, struct imagedir *ret)
{
	Manifest *m = manifest_new("b00t", "6.1.0-55-cloud-amd64");
	ManifestUnit *u;

	test_sh("mkdir -p %s/images/unit/carried && printf 'secret\\n' > %s/images/unit/carried/0",
		d, d);
	ASSERT_OK(imagedir_open(at(d, "images"), ret));
	u = manifest_add_unit(m, "foo.service", MANIFEST_UNIT_SERVICE, "unit");
	ASSERT_TRUE(u);
	log_set_max_level(LOG_EMERG);
	return u;
}

TEST(carry_put_back_refuses_symlinked_component)
{
	const char *d = scratch();
	struct imagedir img;
	ManifestUnit *u = put_back_setup(d, &img);

	/* The user's "run dir" is a link to where root should not write. */
	test_sh("mkdir %s/target && ln -s %s/target %s/link", d, d, d);
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "link/foo.pid"), "carried/0", S_IFREG | 0644,
					    0, 0));
	ASSERT_EQ(carry_put_back(&img, u), -ELOOP);
	ASSERT_FALSE(exists(d, "target/foo.pid"));

	/* Deeper: a link to a directory that does not exist yet is not made
	 * through either. */
	u->n_carried = 0;
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "link/sub/foo.pid"), "carried/0",
					    S_IFREG | 0644, 0, 0));
	ASSERT_EQ(carry_put_back(&img, u), -ELOOP);
	ASSERT_FALSE(exists(d, "target/sub"));

	/* The last component a symlink: nothing written through it. */
	u->n_carried = 0;
	test_sh("mkdir %s/run && ln -s %s/target/planted %s/run/foo.pid", d, d, d);
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "run/foo.pid"), "carried/0", S_IFREG | 0644, 0,
					    0));
	ASSERT_EQ(carry_put_back(&img, u), -EEXIST);
	ASSERT_FALSE(exists(d, "target/planted"));
	test_sh("rm -rf %s", d);
}

TEST(carry_put_back_creates_with_recorded_mode_and_owner)
{
	const char *d = scratch();
	struct imagedir img;
	ManifestUnit *u = put_back_setup(d, &img);
	uid_t uid = geteuid() == 0 ? 1234 : geteuid();
	struct stat st;

	/* Children listed before their parent directory: the parent is still
	 * made by its own entry, with its own mode and owner. */
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "run/app/sub/app.pid"), "carried/0",
					    S_IFREG | 0640, uid, uid));
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "run/app"), NULL, S_IFDIR | 0750, uid, uid));
	ASSERT_OK(carry_put_back(&img, u));
	test_sh("test \"$(cat %s/run/app/sub/app.pid)\" = secret", d);
	ASSERT_EQ(stat(at(d, "run/app/sub/app.pid"), &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0640);
	ASSERT_EQ(st.st_uid, uid);
	ASSERT_EQ(st.st_gid, uid);
	ASSERT_EQ(stat(at(d, "run/app"), &st), 0);
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(st.st_mode & 07777, 0750);
	ASSERT_EQ(st.st_uid, uid);

	/* Again (a restore on the same boot): left alone. */
	test_sh("echo changed > %s/run/app/sub/app.pid", d);
	ASSERT_OK(carry_put_back(&img, u));
	test_sh("test \"$(cat %s/run/app/sub/app.pid)\" = changed", d);
	test_sh("rm -rf %s", d);
}

TEST(carry_put_back_refuses_a_directory_of_another_user)
{
	const char *d = scratch();
	struct imagedir img;
	ManifestUnit *u;

	if (geteuid() != 0)
		return; /* making a directory another user's needs root */
	u = put_back_setup(d, &img);
	/* Like /run/user/4321: that user's own files go there, root's do not. */
	test_sh("mkdir -p %s/user && chown 4321:4321 %s/user", d, d);
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "user/root.pid"), "carried/0", S_IFREG | 0644,
					    0, 0));
	ASSERT_EQ(carry_put_back(&img, u), -EPERM);
	ASSERT_FALSE(exists(d, "user/root.pid"));

	u->n_carried = 0;
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "user/app/their.pid"), "carried/0",
					    S_IFREG | 0600, 4321, 4321));
	ASSERT_OK(carry_put_back(&img, u));
	test_sh("test \"$(stat -c '%%u %%a' %s/user/app/their.pid)\" = '4321 600'", d);

	/* Something of another owner where root's file was: not the file. */
	u->n_carried = 0;
	test_sh("mkdir %s/run && echo x > %s/run/other && chown 4321 %s/run/other", d, d, d);
	ASSERT_OK(manifest_unit_add_carried(u, at(d, "run/other"), "carried/0", S_IFREG | 0600, 0,
					    0));
	ASSERT_EQ(carry_put_back(&img, u), -EEXIST);
	test_sh("test \"$(cat %s/run/other)\" = x", d);
	test_sh("rm -rf %s", d);
}

/* A unit holding path open (fd), as the plan saw it; images in d/images. */
struct carry_case {
	struct plan_external e;
	struct plan_unit pu;
	ManifestUnit *mu;
	struct imagedir img;
};

static void carry_setup(struct carry_case *c, const char *d, const char *path)
{
	Manifest *m = manifest_new("b00t", "6.1.0-55-cloud-amd64");
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(fstat(fd, &st), 0);
	c->e = (struct plan_external){ .kind = EXTERNAL_CARRIED_FILE,
				       .pid = getpid(),
				       .fd = fd,
				       .inode = st.st_ino,
				       .path = strdup(path) };
	c->pu = (struct plan_unit){ .name = "foo.service", .externals = &c->e, .n_externals = 1 };
	c->mu = manifest_add_unit(m, "foo.service", MANIFEST_UNIT_SERVICE, "unit");
	ASSERT_OK(imagedir_prepare(at(d, "images"), true, 0, &c->img));
	log_set_max_level(LOG_EMERG);
}

TEST(carry_files_copies_the_planned_file)
{
	const char *d = scratch();
	struct carry_case c;

	test_sh("mkdir %s/run && printf '4242\\n' > %s/run/foo.pid && chmod 0640 %s/run/foo.pid", d,
		d, d);
	carry_setup(&c, d, at(d, "run/foo.pid"));
	ASSERT_OK(carry_files(&c.pu, c.mu, &c.img, "unit"));
	ASSERT_EQ(c.mu->n_carried, 1);
	ASSERT_STREQ(c.mu->carried[0]->image, "carried/0");
	ASSERT_EQ(c.mu->carried[0]->mode & 07777, 0640);
	test_sh("cmp %s/run/foo.pid %s/images/unit/carried/0", d, d);
	test_sh("rm -rf %s", d);
}

TEST(carry_files_refuses_a_fifo_swapped_in)
{
	const char *d = scratch();
	struct carry_case c;

	test_sh("mkdir %s/run && echo 1 > %s/run/foo.pid", d, d);
	carry_setup(&c, d, at(d, "run/foo.pid"));
	/* The process still holds the old file; its path is now a FIFO that
	 * no writer will ever open. A blocking open would hang here. */
	test_sh("rm %s/run/foo.pid && mkfifo %s/run/foo.pid", d, d);
	alarm(10);
	ASSERT_EQ(carry_files(&c.pu, c.mu, &c.img, "unit"), -ESTALE);
	alarm(0);
	ASSERT_EQ(c.mu->n_carried, 0);
	test_sh("rm -rf %s", d);
}

TEST(carry_files_refuses_another_file)
{
	const char *d = scratch();
	struct carry_case c;

	test_sh("mkdir %s/run && echo 1 > %s/run/foo.pid", d, d);
	carry_setup(&c, d, at(d, "run/foo.pid"));
	/* Another inode renamed over the path: not the file the plan saw. */
	test_sh("echo other > %s/run/new && mv %s/run/new %s/run/foo.pid", d, d, d);
	ASSERT_EQ(carry_files(&c.pu, c.mu, &c.img, "unit"), -ESTALE);
	ASSERT_EQ(c.mu->n_carried, 0);
	ASSERT_FALSE(exists(d, "images/unit/carried/0"));
	test_sh("rm -rf %s", d);
}

TEST(carry_files_refuses_a_symlinked_component)
{
	const char *d = scratch();
	struct carry_case c;

	test_sh("mkdir %s/real && echo 1 > %s/real/foo.pid && ln -s %s/real %s/run", d, d, d, d);
	/* The same inode, reached through a link the plan's path did not have. */
	carry_setup(&c, d, at(d, "run/foo.pid"));
	ASSERT_EQ(carry_files(&c.pu, c.mu, &c.img, "unit"), -ELOOP);
	ASSERT_EQ(c.mu->n_carried, 0);
	test_sh("rm -rf %s", d);
}

TEST(open_parent_nofollow_walks_without_links)
{
	const char *d = scratch();
	const char *name;
	char *bad = NULL;
	int fd;

	test_sh("mkdir -p %s/a/b && ln -s %s/a %s/l && touch %s/a/f", d, d, d, d);
	fd = open_parent_nofollow(at(d, "a/b/x"), 0, 0, &name, &bad);
	ASSERT_TRUE(fd >= 0);
	ASSERT_STREQ(name, "x");
	close(fd);
	ASSERT_EQ(open_parent_nofollow(at(d, "l/b/x"), WALK_MKDIR, 0, &name, &bad), -ELOOP);
	ASSERT_STREQ(bad, at(d, "l"));
	ASSERT_EQ(open_parent_nofollow(at(d, "a/f/x"), 0, 0, &name, NULL), -ENOTDIR);
	ASSERT_EQ(open_parent_nofollow(at(d, "a/c/x"), 0, 0, &name, NULL), -ENOENT);
	ASSERT_EQ(open_parent_nofollow(at(d, "a/../a/x"), 0, 0, &name, NULL), -EINVAL);
	ASSERT_EQ(open_parent_nofollow("relative/x", 0, 0, &name, NULL), -EINVAL);
	ASSERT_EQ(open_parent_nofollow(at(d, "a/"), 0, 0, &name, NULL), -EINVAL);
	fd = open_parent_nofollow(at(d, "a/c/d/x"), WALK_MKDIR, 0, &name, NULL);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	ASSERT_TRUE(exists(d, "a/c/d"));
	fd = open_parent_nofollow("/x", 0, 0, &name, NULL);
	ASSERT_TRUE(fd >= 0);
	ASSERT_STREQ(name, "x");
	close(fd);

	ASSERT_OK(write_string_file_exclusive(at(d, "a/b/pid"), 0644, "%d\n", 42));
	test_sh("test \"$(cat %s/a/b/pid)\" = 42", d);
	ASSERT_EQ(write_string_file_exclusive(at(d, "a/b/pid"), 0644, "%d\n", 43), -EEXIST);
	test_sh("ln -s %s/a/planted %s/a/b/link", d, d);
	ASSERT_EQ(write_string_file_exclusive(at(d, "a/b/link"), 0644, "1\n"), -EEXIST);
	ASSERT_EQ(write_string_file_exclusive(at(d, "l/b/new"), 0644, "1\n"), -ELOOP);
	ASSERT_FALSE(exists(d, "a/planted") || exists(d, "a/b/new"));
	test_sh("rm -rf %s", d);
}
