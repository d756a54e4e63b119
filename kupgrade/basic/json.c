/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "json.h"

void json_init(struct json_writer *w, FILE *f, bool pretty)
{
	*w = (struct json_writer){ .f = f, .pretty = pretty };
}

static void newline_indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (unsigned i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Called before every value and every key: places the comma and indentation. */
static void before_item(struct json_writer *w, bool is_key)
{
	if (w->depth == 0)
		return;
	if (w->after_key) {
		/* A value right after its key: no comma, no newline. */
		if (is_key)
			w->error = true;
		w->after_key = false;
		return;
	}
	/* In an object only keys may start an item; in an array only values. */
	if (w->in_object[w->depth - 1] != is_key)
		w->error = true;
	if (w->has_items[w->depth - 1])
		fputc(',', w->f);
	w->has_items[w->depth - 1] = true;
	newline_indent(w);
}

static void begin(struct json_writer *w, bool object)
{
	before_item(w, false);
	fputc(object ? '{' : '[', w->f);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->error = true;
		return;
	}
	w->in_object[w->depth] = object;
	w->has_items[w->depth] = false;
	w->depth++;
}

static void end(struct json_writer *w, bool object)
{
	bool had_items;

	if (w->depth == 0 || w->in_object[w->depth - 1] != object || w->after_key) {
		w->error = true;
		fputc(object ? '}' : ']', w->f);
		return;
	}
	had_items = w->has_items[w->depth - 1];
	w->depth--;
	if (had_items)
		newline_indent(w);
	fputc(object ? '}' : ']', w->f);
}

void json_begin_object(struct json_writer *w)
{
	begin(w, true);
}

void json_end_object(struct json_writer *w)
{
	end(w, true);
}

void json_begin_array(struct json_writer *w)
{
	begin(w, false);
}

void json_end_array(struct json_writer *w)
{
	end(w, false);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not valid. */
static size_t utf8_valid_len(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and values beyond Unicode. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static void write_escaped(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*s < 0x20) {
				fprintf(f, "\\u%04x", *s);
				break;
			}
			n = utf8_valid_len(s);
			if (n == 0) {
				fputs("\\ufffd", f);
				break;
			}
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', f);
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->depth == 0 || !key) {
		w->error = true;
		return;
	}
	before_item(w, true);
	write_escaped(w->f, key);
	fputs(w->pretty ? ": " : ":", w->f);
	w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
	before_item(w, false);
	if (s)
		write_escaped(w->f, s);
	else
		fputs("null", w->f);
}

void json_int(struct json_writer *w, int64_t v)
{
	before_item(w, false);
	fprintf(w->f, "%" PRId64, v);
}

void json_uint(struct json_writer *w, uint64_t v)
{
	before_item(w, false);
	fprintf(w->f, "%" PRIu64, v);
}

void json_bool(struct json_writer *w, bool v)
{
	before_item(w, false);
	fputs(v ? "true" : "false", w->f);
}

void json_null(struct json_writer *w)
{
	before_item(w, false);
	fputs("null", w->f);
}

void json_fixed(struct json_writer *w, double v, unsigned decimals)
{
	before_item(w, false);
	if (isfinite(v))
		fprintf(w->f, "%.*f", (int)decimals, v);
	else
		fputs("null", w->f);
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_kv_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_kv_uint(struct json_writer *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_uint(w, v);
}

void json_kv_bool(struct json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

void json_kv_fixed(struct json_writer *w, const char *key, double v, unsigned decimals)
{
	json_key(w, key);
	json_fixed(w, v, decimals);
}

int json_finish(struct json_writer *w)
{
	fputc('\n', w->f);
	if (w->error || w->depth != 0 || w->after_key)
		return -EINVAL;
	if (fflush(w->f) != 0 || ferror(w->f))
		return -EIO;
	return 0;
}
