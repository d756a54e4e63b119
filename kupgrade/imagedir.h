/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The images root: a root-only (0700) directory, on a tmpfs unless told
 * otherwise, holding one 0700 directory per dumped tree and the manifest.
 * Process memory images are secrets: wiping overwrites every file with
 * zeros before unlinking it.
 */

struct imagedir {
	char *path;
	int fd;
	bool created; /* we made it: the undo removes it too */
};

/* Refuses a non-empty directory, a non-directory, and (unless on_disk) one
 * not on tmpfs; creates it 0700 if missing. need_bytes: free space wanted,
 * 0 to skip the check. */
int imagedir_prepare(const char *path, bool on_disk, uint64_t need_bytes, struct imagedir *ret);
/* Open an existing images root for restore. */
int imagedir_open(const char *path, struct imagedir *ret);
/* Create (0700) and open dir_fd/name/sub; sub may be NULL. */
int imagedir_mkdir_sub(struct imagedir *d, const char *name, const char *sub, int *ret_fd);
int imagedir_open_sub(struct imagedir *d, const char *rel, int *ret_fd);
/* A file (not a directory) under the root, read-only. */
int imagedir_open_file(struct imagedir *d, const char *rel, int *ret_fd);
/* Bytes of every file below rel (NULL: the whole root); -EOPNOTSUPP if
 * anything there is neither a directory nor a regular file. */
int imagedir_size(struct imagedir *d, const char *rel, uint64_t *ret);
/* Overwrite and unlink everything inside; remove the root itself if we
 * created it or remove_root is set. */
int imagedir_wipe(struct imagedir *d, bool remove_root);
int imagedir_wipe_sub(struct imagedir *d, const char *rel);
/* Wipe every entry of the root but those named in keep[]; the root stays. */
int imagedir_wipe_except(struct imagedir *d, const char *const *keep, size_t n_keep);
/* Rename the root, with what is in it, to "<path>.<what>-<YYYYmmdd-HHMMSS>"
 * beside it (".N" added if that exists) and follow it there (d->path).
 * -EBUSY for a mount point, which stays where it is. */
int imagedir_move_aside(struct imagedir *d, const char *what);
void imagedir_close(struct imagedir *d);
