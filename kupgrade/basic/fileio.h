/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dirent.h>

#include <stdbool.h>
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
struct statfs;
/* statfs of path, or of its nearest existing parent (a directory not made yet). */
int statfs_nearest(const char *path, struct statfs *ret);
/* A directory stream over dir_fd's directory, from its start, leaving dir_fd
 * open and where it was. */
int opendir_fd(int dir_fd, DIR **ret);

/* Flags of open_parent_nofollow(). */
#define WALK_MKDIR (1U << 0)	   /* create missing directories, 0755, owned by the caller */
#define WALK_CHECK_OWNER (1U << 1) /* every directory belongs to root or to owner */

/*
 * Open the directory that holds the absolute path, for the *at() calls on
 * its last component, walking from "/" one component at a time with
 * O_NOFOLLOW: a symbolic link (a /proc magic link too) in any component is
 * -ELOOP, never followed; a component that is no directory -ENOTDIR; ".",
 * ".." and an empty last component -EINVAL. A missing directory is created
 * with WALK_MKDIR, else -ENOENT. With WALK_CHECK_OWNER a directory owned by
 * anyone but root and owner is -EPERM: whoever owns a directory decides
 * what its names lead to. Returns the fd (O_CLOEXEC); *ret_name points to
 * the last component inside path; *ret_bad (optional, allocated) is the
 * path up to the component refused.
 */
int open_parent_nofollow(const char *path, unsigned flags, uid_t owner, const char **ret_name,
			 char **ret_bad);
/*
 * Create path (absolute) holding a formatted string, with mode, never
 * following a symlink on the way (open_parent_nofollow(), no directory
 * created) nor at the end (O_EXCL): -EEXIST if anything is there already.
 */
int write_string_file_exclusive(const char *path, mode_t mode, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
