/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/*
 * A newc ("070701") cpio writer, the format the kernel unpacks as an
 * initramfs. Pure over an fd: it writes what it is given and knows nothing
 * of the file system it comes from. Every entry is owned by root (uid/gid 0).
 *
 * Alignment: header+name and file data are padded to 4 bytes counted from
 * the start of the archive. The kernel counts from the start of the whole
 * initrd, so an archive appended to another must itself start 4-byte aligned
 * (cpio_writer_init pads the fd with zeros to get there).
 */

struct cpio_writer {
	int fd;
	uint64_t offset; /* bytes written since the archive started */
	uint32_t next_ino;
	uint32_t mtime;
};

/*
 * Start an archive at the fd's current end. When the fd already holds data,
 * pad it with zeros to a 4-byte boundary first (the kernel skips zeros
 * between archives). mtime is stamped on every entry.
 */
int cpio_writer_init(struct cpio_writer *w, int fd, uint32_t mtime);

/* A directory; its parent must have been written first. mode: permission bits. */
int cpio_write_directory(struct cpio_writer *w, const char *name, mode_t mode);

/* A regular file from a buffer. */
int cpio_write_file_data(struct cpio_writer *w, const char *name, mode_t mode, const void *data,
			 size_t size);

/* newc's size fields are 8 hex digits: no entry can hold more. */
#define CPIO_NEWC_MAX_FILE 0xffffffffULL

/* A regular file of exactly size bytes read from src_fd at its position.
 * -EFBIG over CPIO_NEWC_MAX_FILE, before anything is written; -EIO if
 * src_fd ends early. */
int cpio_write_file_fd(struct cpio_writer *w, const char *name, mode_t mode, int src_fd,
		       uint64_t size);

/* The end-of-archive entry "TRAILER!!!", padded to 4 bytes. */
int cpio_write_trailer(struct cpio_writer *w);
