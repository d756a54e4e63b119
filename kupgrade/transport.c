/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "dirwalk.h"
#include "fileio.h"
#include "log.h"
#include "manifest.h"
#include "paths.h"
#include "transport.h"

uint64_t transport_initrd_peak_bytes(uint64_t payload, uint64_t initrd_size)
{
	return 4 * payload + 2 * initrd_size;
}

uint64_t transport_initrd_boot_bytes(uint64_t payload)
{
	/* A Debian cloud guest comes up in well under 512 MiB. */
	return 2 * payload + 512 * MiB;
}

int transport_parse_meminfo(const char *text, struct transport_mem *ret)
{
	unsigned long long total = 0, avail = 0;
	const char *p;

	p = strstr(text, "MemTotal:");
	if (!p || sscanf(p, "MemTotal: %llu kB", &total) != 1)
		return -EBADMSG;
	p = strstr(text, "MemAvailable:");
	if (!p || sscanf(p, "MemAvailable: %llu kB", &avail) != 1)
		return -EBADMSG;
	ret->total = total * 1024;
	ret->available = avail * 1024;
	return 0;
}

int transport_read_meminfo(struct transport_mem *ret)
{
	_cleanup_close_ int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	struct statfs sf;
	char buf[8192];
	ssize_t n;
	int r;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	r = transport_parse_meminfo(buf, ret);
	if (r < 0)
		return r;
	/* A ramfs has no limit (and says 0 free): not checked, like unknown. */
	ret->dump_room = 0;
	if (statfs_nearest(UPGRADE_IMAGES_DIR, &sf) >= 0 && (unsigned long)sf.f_type != RAMFS_MAGIC)
		ret->dump_room = (uint64_t)sf.f_bavail * (uint64_t)sf.f_bsize;
	return 0;
}

/* Before the dump: the images are first written into UPGRADE_IMAGES_DIR,
 * whatever the transport (10% over the estimate, as prepare-images asks). */
static int dump_fits(const struct transport *t, uint64_t payload, char **ret_reason)
{
	uint64_t need = payload + payload / 10;

	if (t->images_dir || t->mem.dump_room == 0 || need <= t->mem.dump_room)
		return 0;
	if (asprintf(ret_reason,
		     "the dump writes ~%llu MiB into %s, whose tmpfs has %llu MiB free (/run is "
		     "capped at a share of RAM)",
		     (unsigned long long)(need / MiB), UPGRADE_IMAGES_DIR,
		     (unsigned long long)(t->mem.dump_room / MiB)) < 0)
		*ret_reason = NULL;
	return -ENOSPC;
}

const struct transport_ops *transport_pick(const struct transport *t, bool on_disk,
					   uint64_t payload, char **ret_reason)
{
	_cleanup_free_ char *why_initrd = NULL, *why_disk = NULL;
	int r;

	*ret_reason = NULL;
	if (dump_fits(t, payload, ret_reason) < 0)
		return NULL;
	if (on_disk) {
		if (transport_disk_ops.fits(t, payload, &why_disk) >= 0)
			return &transport_disk_ops;
		*ret_reason = TAKE_PTR(why_disk);
		return NULL;
	}
	if (transport_initrd_ops.fits(t, payload, &why_initrd) >= 0)
		return &transport_initrd_ops;
	/* Never to disk unasked: say whether asking would do. */
	r = transport_disk_ops.fits(t, payload, &why_disk);
	if (asprintf(ret_reason, "%s; %s%s", why_initrd ?: "the initrd cannot carry them",
		     r >= 0 ? "--images-on-disk would carry them on disk" : "on disk: ",
		     r >= 0 ? "" : why_disk ?: "no room") < 0)
		*ret_reason = NULL;
	return NULL;
}

int transport_copy_bytes(int in, int out, uint64_t n)
{
	static char buf[MiB];

	while (n > 0) {
		ssize_t k = copy_file_range(in, NULL, out, NULL, (size_t)MIN(n, (uint64_t)1 << 30),
					    0);

		if (k < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
			/* Not between these file systems: plain read/write. */
			k = read(in, buf, (size_t)MIN(n, (uint64_t)sizeof(buf)));
			if (k > 0) {
				for (ssize_t w = 0, d; w < k; w += d) {
					d = write(out, buf + w, (size_t)(k - w));
					if (d < 0)
						return negative_errno();
				}
			}
		}
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -EIO;
		n -= (uint64_t)k;
	}
	return 0;
}

static int remove_at(int dfd, const char *name)
{
	struct stat st;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd = openat(dfd, name,
						O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;

		if (fd < 0)
			return negative_errno();
		d = fdopendir(fd);
		if (!d)
			return negative_errno();
		fd = -EBADF; /* owned by d now */
		while ((de = readdir(d)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
				r = remove_at(dirfd(d), de->d_name) ?: r;
		if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && r == 0)
			r = negative_errno();
		return r;
	}
	if (unlinkat(dfd, name, 0) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	return 0;
}

int transport_remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path);
}

/* Images on disk that this boot staged (a switch on its way), not those an
 * earlier boot left for a restore. */
static bool staged_by_this_boot(const char *dir)
{
	char path[256], boot_id[64];
	Manifest *m = NULL;
	bool ours;

	snprintf(path, sizeof(path), "%s/" MANIFEST_FILE, dir);
	if (access(path, F_OK) < 0 || manifest_read_file(path, &m) < 0)
		return false;
	ours = read_boot_id(boot_id, sizeof(boot_id)) >= 0 && streq(boot_id, m->boot_id);
	manifest_free(m);
	return ours;
}

int transport_recover(void)
{
	int r = 0;

	if (unlink(TRANSPORT_STAGE_DIR "/" TRANSPORT_STAGED_INITRD) < 0 && errno != ENOENT)
		r = log_error_errno(negative_errno(), "Cannot remove %s: %m",
				    TRANSPORT_STAGE_DIR "/" TRANSPORT_STAGED_INITRD);
	if (umount2(TRANSPORT_STAGE_DIR, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		r = log_error_errno(negative_errno(), "Cannot unmount %s: %m", TRANSPORT_STAGE_DIR);
	(void)rmdir(TRANSPORT_STAGE_DIR);
	if (staged_by_this_boot(TRANSPORT_DISK_DIR)) {
		int k = transport_remove_tree(TRANSPORT_DISK_DIR);

		if (k < 0)
			r = log_error_errno(k, "Cannot remove the images staged in %s: %m",
					    TRANSPORT_DISK_DIR);
	}
	return r;
}

int transport_measure(const char *dir, uint64_t *ret_bytes, unsigned *ret_files)
{
	return dir_measure_at(AT_FDCWD, dir, ret_bytes, ret_files);
}

static int census_one(const char *relpath, int fd, const struct stat *st, void *userdata)
{
	struct transport_census *c = userdata;

	if (S_ISDIR(st->st_mode))
		return 0;
	c->bytes += (uint64_t)st->st_size;
	c->files++;
	if (!c->largest_path || (uint64_t)st->st_size > c->largest) {
		char *p = strdup(relpath);

		if (!p)
			return -ENOMEM;
		free(c->largest_path);
		c->largest_path = p;
		c->largest = (uint64_t)st->st_size;
	}
	return 0;
}

int transport_census(const char *dir, struct transport_census *ret)
{
	struct transport_census c = {};
	int r = dir_walk_at(AT_FDCWD, dir, census_one, &c, NULL);

	if (r < 0) {
		free(c.largest_path);
		return r;
	}
	*ret = c;
	return 0;
}

void transport_done(struct transport *t)
{
	free(t->staged_initrd);
	free(t->staged_dir);
	t->staged_initrd = t->staged_dir = NULL;
}
