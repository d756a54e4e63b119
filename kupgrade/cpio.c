/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cpio.h"
#include "macro.h"

#define NEWC_HEADER_SIZE 110

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int pad_to_4(struct cpio_writer *w)
{
	static const char zeros[4];
	size_t n = (size_t)(ALIGN_TO(w->offset, 4) - w->offset);
	int r;

	if (n == 0)
		return 0;
	r = write_all(w->fd, zeros, n);
	if (r < 0)
		return r;
	w->offset += n;
	return 0;
}

int cpio_writer_init(struct cpio_writer *w, int fd, uint32_t mtime)
{
	static const char zeros[4];
	off_t end = lseek(fd, 0, SEEK_END);
	size_t pad;
	int r;

	if (end < 0)
		return negative_errno();
	pad = (size_t)(ALIGN_TO((uint64_t)end, 4) - (uint64_t)end);
	if (pad > 0) {
		r = write_all(fd, zeros, pad);
		if (r < 0)
			return r;
	}
	*w = (struct cpio_writer){ .fd = fd, .next_ino = 1, .mtime = mtime };
	return 0;
}

static int write_header(struct cpio_writer *w, const char *name, mode_t mode, uint32_t nlink,
			uint64_t size)
{
	char hdr[NEWC_HEADER_SIZE + 64];
	size_t namesize = strlen(name) + 1;
	int r;

	if (size > CPIO_NEWC_MAX_FILE)
		return -EFBIG;
	/* The kernel refuses names over PATH_MAX; absolute names are unsafe. */
	if (namesize < 2 || namesize > 4096 || name[0] == '/')
		return -EINVAL;

	/* magic ino mode uid gid nlink mtime filesize devmajor devminor
	 * rdevmajor rdevminor namesize check: 13 fields of 8 hex digits. */
	r = snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		     w->next_ino++, (unsigned)mode, 0u, 0u, nlink, w->mtime, (uint32_t)size, 0u, 0u,
		     0u, 0u, (uint32_t)namesize, 0u);
	if (r != NEWC_HEADER_SIZE)
		return -EINVAL;
	r = write_all(w->fd, hdr, NEWC_HEADER_SIZE);
	if (r < 0)
		return r;
	r = write_all(w->fd, name, namesize);
	if (r < 0)
		return r;
	w->offset += NEWC_HEADER_SIZE + namesize;
	return pad_to_4(w);
}

int cpio_write_directory(struct cpio_writer *w, const char *name, mode_t mode)
{
	return write_header(w, name, S_IFDIR | (mode & 07777), 2, 0);
}

int cpio_write_file_data(struct cpio_writer *w, const char *name, mode_t mode, const void *data,
			 size_t size)
{
	int r = write_header(w, name, S_IFREG | (mode & 07777), 1, size);

	if (r < 0)
		return r;
	r = write_all(w->fd, data, size);
	if (r < 0)
		return r;
	w->offset += size;
	return pad_to_4(w);
}

int cpio_write_file_fd(struct cpio_writer *w, const char *name, mode_t mode, int src_fd,
		       uint64_t size)
{
	_cleanup_free_ char *buf = NULL;
	const size_t bufsize = MiB;
	uint64_t left = size;
	int r;

	r = write_header(w, name, S_IFREG | (mode & 07777), 1, size);
	if (r < 0)
		return r;
	buf = malloc(bufsize);
	if (!buf)
		return -ENOMEM;
	while (left > 0) {
		ssize_t k = read(src_fd, buf, (size_t)MIN(left, (uint64_t)bufsize));

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		/* The file shrank under us: the header already promised size. */
		if (k == 0)
			return -EIO;
		r = write_all(w->fd, buf, (size_t)k);
		if (r < 0)
			return r;
		left -= (uint64_t)k;
	}
	w->offset += size;
	return pad_to_4(w);
}

int cpio_write_trailer(struct cpio_writer *w)
{
	return write_header(w, "TRAILER!!!", 0, 1, 0);
}
