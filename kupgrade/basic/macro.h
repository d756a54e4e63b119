/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * basic/ knows nothing of kupgrade: these helpers could live in any C tool.
 * Scope-bound cleanup for memory and fds, in the systemd manner.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define XSTRINGIFY(x) #x
#define STRINGIFY(x) XSTRINGIFY(x)
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_TO(x, a) (((x) + (a)-1) / (a) * (a))
#define STRLEN(s) (sizeof(s) - 1)

#define KiB (1024ULL)
#define MiB (1024ULL * 1024ULL)
#define GiB (1024ULL * 1024ULL * 1024ULL)

/* Move ownership out of a cleanup variable. */
#define TAKE_PTR(p)                      \
	({                               \
		__typeof__(p) _p_ = (p); \
		(p) = NULL;              \
		_p_;                     \
	})
#define TAKE_FD(fd)              \
	({                       \
		int _fd_ = (fd); \
		(fd) = -EBADF;   \
		_fd_;            \
	})

/* Convert libc's -1/errno into negative errno at the call site. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
#define RET_NERRNO(expr)                               \
	({                                             \
		long _r_ = (long)(expr);               \
		_r_ < 0 ? negative_errno() : (int)_r_; \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return __builtin_strcmp(a, b) == 0;
}
#define streq(a, b) (__builtin_strcmp((a), (b)) == 0)
#define isempty(s) (!(s) || !(s)[0])

/* What follows prefix in s, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix)
{
	size_t n = __builtin_strlen(prefix);

	return __builtin_strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static inline bool endswith(const char *s, const char *suffix)
{
	size_t n = __builtin_strlen(s), k = __builtin_strlen(suffix);

	return n >= k && __builtin_strcmp(s + n - k, suffix) == 0;
}
