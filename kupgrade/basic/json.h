/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A small streaming JSON writer: objects and arrays nest, commas and
 * indentation are placed for you, strings are escaped (control characters as
 * \uXXXX, invalid UTF-8 bytes replaced by U+FFFD so the output always parses).
 * Misuse (a value without a key inside an object, unbalanced ends, nesting
 * deeper than JSON_MAX_DEPTH) is remembered and reported by json_finish().
 */

#define JSON_MAX_DEPTH 32

struct json_writer {
	FILE *f;
	bool pretty;
	unsigned depth;
	bool in_object[JSON_MAX_DEPTH]; /* per level: object (true) or array */
	bool has_items[JSON_MAX_DEPTH];
	bool after_key;
	bool error;
};

void json_init(struct json_writer *w, FILE *f, bool pretty);

void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);

void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s); /* NULL writes null */
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);
/* A number with a fixed count of decimals ("%.3f"); NaN and infinities,
 * which JSON cannot hold, as null. */
void json_fixed(struct json_writer *w, double v, unsigned decimals);

/* Shorthands for "key": value inside an object. */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_int(struct json_writer *w, const char *key, int64_t v);
void json_kv_uint(struct json_writer *w, const char *key, uint64_t v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);
void json_kv_fixed(struct json_writer *w, const char *key, double v, unsigned decimals);

/* Ends the document with a newline; -EINVAL if it was misused or unbalanced,
 * -EIO if the stream failed. */
int json_finish(struct json_writer *w);
