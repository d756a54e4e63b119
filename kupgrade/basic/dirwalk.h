/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/stat.h>

/*
 * Walk a directory tree: fn gets each directory before its contents, then
 * each regular file, with its path relative to the root of the walk, sorted
 * by name, and an fd open on it (read-only; closed after fn returns).
 * Anything else (symlinks, devices, sockets, FIFOs) stops the walk with
 * -EOPNOTSUPP: it is not looked into, let alone opened. The walk stops at
 * the first error, fn's included; *ret_bad_path (when asked for) then names
 * the entry it stopped at.
 */
typedef int (*dir_walk_fn)(const char *relpath, int fd, const struct stat *st, void *userdata);

/* The tree is path, relative to dir_fd (AT_FDCWD, or "." for dir_fd itself). */
int dir_walk_at(int dir_fd, const char *path, dir_walk_fn fn, void *userdata, char **ret_bad_path);

/* Total bytes of the regular files of the tree, and (ret_files) their count. */
int dir_measure_at(int dir_fd, const char *path, uint64_t *ret_bytes, unsigned *ret_files);
