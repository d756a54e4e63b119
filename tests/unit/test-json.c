/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdlib.h>

#include "json.h"
#include "macro.h"
#include "test.h"

/* Runs fn on a writer over a memory stream; returns the text, finish() in *r. */
static char *render(void (*fn)(struct json_writer *w), bool pretty, int *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer w;

	ASSERT_TRUE(f);
	json_init(&w, f, pretty);
	fn(&w);
	*r = json_finish(&w);
	fclose(f);
	return buf;
}

static void doc_nested(struct json_writer *w)
{
	json_begin_object(w);
	json_kv_int(w, "version", 1);
	json_key(w, "units");
	json_begin_array(w);
	json_begin_object(w);
	json_kv_string(w, "name", "ssh.service");
	json_kv_bool(w, "forced", false);
	json_kv_uint(w, "big", UINT64_MAX);
	json_kv_int(w, "neg", -5);
	json_key(w, "empty");
	json_begin_array(w);
	json_end_array(w);
	json_key(w, "nothing");
	json_null(w);
	json_kv_string(w, "null_string", NULL);
	json_end_object(w);
	json_uint(w, 7);
	json_end_array(w);
	json_end_object(w);
}

TEST(json_compact_nesting_and_commas)
{
	int r;
	_cleanup_free_ char *s = render(doc_nested, false, &r);

	ASSERT_OK(r);
	ASSERT_STREQ(s, "{\"version\":1,\"units\":[{\"name\":\"ssh.service\",\"forced\":false,"
			"\"big\":18446744073709551615,\"neg\":-5,\"empty\":[],\"nothing\":null,"
			"\"null_string\":null},7]}\n");
}

static void doc_fixed(struct json_writer *w)
{
	json_begin_object(w);
	json_kv_fixed(w, "seconds", 1.23456, 3);
	json_kv_fixed(w, "whole", 2.0, 0);
	json_kv_fixed(w, "nan", NAN, 3);
	json_key(w, "list");
	json_begin_array(w);
	json_fixed(w, -0.5, 1);
	json_fixed(w, INFINITY, 1);
	json_end_array(w);
	json_end_object(w);
}

TEST(json_fixed_decimals_and_no_nan)
{
	int r;
	_cleanup_free_ char *s = render(doc_fixed, false, &r);

	ASSERT_OK(r);
	ASSERT_STREQ(s, "{\"seconds\":1.235,\"whole\":2,\"nan\":null,\"list\":[-0.5,null]}\n");
}

static void doc_small(struct json_writer *w)
{
	json_begin_object(w);
	json_kv_int(w, "a", 1);
	json_key(w, "b");
	json_begin_array(w);
	json_bool(w, true);
	json_end_array(w);
	json_key(w, "c");
	json_begin_object(w);
	json_end_object(w);
	json_end_object(w);
}

TEST(json_pretty_indents)
{
	int r;
	_cleanup_free_ char *s = render(doc_small, true, &r);

	ASSERT_OK(r);
	ASSERT_STREQ(s, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ],\n  \"c\": {}\n}\n");
}

static void doc_escapes(struct json_writer *w)
{
	json_begin_array(w);
	json_string(w, "q\"b\\n\nt\tc\x01 \x7f");
	json_string(w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* valid UTF-8 passes */
	json_string(w, "bad\xff"
		       "x\xc3"
		       "y\xe0\x80\x80"
		       "z\xed\xa0\x80"); /* invalid, overlong, surrogate */
	json_end_array(w);
}

TEST(json_escapes_strings_and_repairs_utf8)
{
	int r;
	_cleanup_free_ char *s = render(doc_escapes, false, &r);

	ASSERT_OK(r);
	ASSERT_STREQ(s, "[\"q\\\"b\\\\n\\nt\\tc\\u0001 \x7f\","
			"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
			"\"bad\\ufffdx\\ufffdy\\ufffd\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd\"]\n");
}

static void doc_value_without_key(struct json_writer *w)
{
	json_begin_object(w);
	json_int(w, 1);
	json_end_object(w);
}

static void doc_key_in_array(struct json_writer *w)
{
	json_begin_array(w);
	json_key(w, "x");
	json_int(w, 1);
	json_end_array(w);
}

static void doc_unbalanced(struct json_writer *w)
{
	json_begin_object(w);
	json_key(w, "a");
	json_begin_array(w);
	json_end_object(w);
}

static void doc_unclosed(struct json_writer *w)
{
	json_begin_array(w);
}

static void doc_dangling_key(struct json_writer *w)
{
	json_begin_object(w);
	json_key(w, "a");
	json_end_object(w);
}

static void doc_too_deep(struct json_writer *w)
{
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_begin_array(w);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_end_array(w);
}

TEST(json_misuse_is_reported)
{
	void (*docs[])(struct json_writer *) = { doc_value_without_key, doc_key_in_array,
						 doc_unbalanced,	doc_unclosed,
						 doc_dangling_key,	doc_too_deep };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		int r;
		_cleanup_free_ char *s = render(docs[i], false, &r);

		if (r != -EINVAL)
			test_fail("document %zu: expected -EINVAL, got %d (%s)", i, r, s);
	}
}
