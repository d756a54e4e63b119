/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>

#include <stddef.h>
#include <sys/types.h>

/* Read a small file whole into buf (NUL-terminated); the byte count or -errno. */
int read_small_file(const char *path, char *buf, size_t size);
/* Read a whole file into a malloc'd NUL-terminated string. */
int read_full_file_str(const char *path, char **ret);
/* The first line, without its newline. */
int read_one_line_file(const char *path, char **ret);
/* Write a formatted string to path (created 0600, truncated), atomically. */
int write_string_file(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write a formatted string into an existing file (sysfs, cgroupfs), no rename. */
int write_string_file_in_place(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The kernel's boot id (a UUID, new at every boot and kexec), without newline. */
int read_boot_id(char *buf, size_t size);
/* mkdir -p of path's parent directories (not path itself), mode for the ones created. */
int mkdir_parents(const char *path, mode_t mode);
/* A directory stream over dir_fd's directory, from its start, leaving dir_fd
 * open and where it was. */
int opendir_fd(int dir_fd, DIR **ret);
