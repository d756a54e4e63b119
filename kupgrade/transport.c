/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "dirwalk.h"
#include "log.h"
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
	char buf[8192];
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = 0;
	return transport_parse_meminfo(buf, ret);
}

const struct transport_ops *transport_pick(const struct transport *t, bool on_disk,
					   uint64_t payload, char **ret_reason)
{
	_cleanup_free_ char *why_initrd = NULL, *why_disk = NULL;

	*ret_reason = NULL;
	if (!on_disk && transport_initrd_ops.fits(t, payload, &why_initrd) >= 0)
		return &transport_initrd_ops;
	if (transport_disk_ops.fits(t, payload, &why_disk) >= 0) {
		*ret_reason = TAKE_PTR(why_initrd); /* why not in memory, if asked */
		return &transport_disk_ops;
	}
	if (asprintf(ret_reason, "%s%s%s", why_initrd ?: "", why_initrd ? "; on disk: " : "",
		     why_disk ?: "no room") < 0)
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

int transport_measure(const char *dir, uint64_t *ret_bytes, unsigned *ret_files)
{
	return dir_measure_at(AT_FDCWD, dir, ret_bytes, ret_files);
}

void transport_done(struct transport *t)
{
	free(t->staged_initrd);
	free(t->staged_dir);
	t->staged_initrd = t->staged_dir = NULL;
}
