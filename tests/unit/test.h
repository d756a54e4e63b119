/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small test harness: TEST(name) { ... } registers a case; every case runs
 * in its own child so that one failing assertion (or crash) fails that case
 * alone. build/unit-tests prints one line per case and "N passed, N failed".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void test_register(const char *name, const char *file, void (*fn)(void));
/* Run a shell command (formatted); the case fails if it does not exit 0. */
void test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST(name)                                                          \
	static void test_##name(void);                                      \
	__attribute__((constructor)) static void test_register_##name(void) \
	{                                                                   \
		test_register(#name, __FILE__, test_##name);                \
	}                                                                   \
	static void test_##name(void)

#define test_fail(...)                                              \
	do {                                                        \
		fprintf(stderr, "    %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                       \
		fputc('\n', stderr);                                \
		exit(1);                                            \
	} while (0)

#define ASSERT_TRUE(e)                                      \
	do {                                                \
		if (!(e))                                   \
			test_fail("expected true: %s", #e); \
	} while (0)
#define ASSERT_FALSE(e) ASSERT_TRUE(!(e))

#define ASSERT_EQ(a, b)                                                      \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b)                                                \
			test_fail("%s == %s: %lld != %lld", #a, #b, _a, _b); \
	} while (0)

#define ASSERT_OK(e)                                                        \
	do {                                                                \
		long long _r = (long long)(e);                              \
		if (_r < 0)                                                 \
			test_fail("%s failed: %s", #e, strerror((int)-_r)); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                  \
	do {                                                                                \
		const char *_a = (a), *_b = (b);                                            \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                      \
			test_fail("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", \
				  _b ? _b : "(null)");                                      \
	} while (0)
