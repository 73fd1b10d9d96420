/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The json-c wrapper (lib/json.c): strict parsing with its caps, accessors
 * that check types instead of coercing, setters that steal, serialisation
 * without slash escaping, equality and deep copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "tap.h"

/**
 * parse_ok() - whether @text parses as one JSON document
 * @text:	NUL-terminated JSON text
 *
 * Return: true if cp_json_parse() accepted it
 */
static bool parse_ok(const char *text)
{
	cleanup_json cp_json *v = NULL;
	struct cp_error err;

	v = cp_json_parse(text, strlen(text), &err);
	return v != NULL;
}

/**
 * nested() - "[[[...]]]" nested @depth levels deep
 * @depth:	how many arrays
 *
 * Return: new string, caller frees
 */
static char *nested(size_t depth)
{
	char *s = malloc(depth * 2 + 1);
	size_t i;

	if (!s)
		bail_out("out of memory");
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth * 2 - 1 - i] = ']';
	}
	s[depth * 2] = '\0';
	return s;
}

/**
 * test_parse() - what cp_json_parse() accepts and rejects, and its messages
 */
static void test_parse(void)
{
	cleanup_free char *deep_ok = nested(CP_JSON_MAX_DEPTH - 1);
	cleanup_free char *deep_bad = nested(CP_JSON_MAX_DEPTH + 1);
	struct cp_error err = { 0 };
	cleanup_json cp_json *v = NULL;

	ok(parse_ok("{\"a\": [1, 2, {\"b\": null}]}"), "parse: nested object");
	ok(parse_ok("  {}\r\n\t "), "parse: surrounding whitespace is fine");
	ok(parse_ok("\"caf\xc3\xa9\""), "parse: valid UTF-8 string");
	ok(!parse_ok("{} {}"), "parse: two documents rejected");
	ok(!parse_ok("{\"a\": 1} x"), "parse: trailing garbage rejected");
	ok(!parse_ok("{\"a\": "), "parse: truncated rejected");
	ok(!parse_ok("{\"a\": 'x'}"), "parse: single-quoted value rejected (strict)");
	ok(!parse_ok("[1, 2,]"), "parse: trailing comma rejected (strict)");
	ok(!parse_ok("\"\xff\xfe\""), "parse: invalid UTF-8 rejected");
	ok(!parse_ok("\"\xc3\""), "parse: truncated UTF-8 sequence rejected");
	ok(!parse_ok(""), "parse: empty input rejected");
	ok(parse_ok(deep_ok), "parse: nesting %d accepted", CP_JSON_MAX_DEPTH - 1);
	ok(!parse_ok(deep_bad), "parse: nesting %d rejected", CP_JSON_MAX_DEPTH + 1);

	v = cp_json_parse("{\"a\":1}\0{}", 10, &err);
	ok(!v, "parse: embedded NUL byte rejected");
	is_int(err.code, CP_ERR_INVALID, "parse: NUL byte is CP_ERR_INVALID");
	v = cp_json_parse("{\"a\": 1} x", 10, &err);
	ok(!v && strstr(err.msg, "trailing data at byte 9"), "parse: trailing data names the byte");
	v = cp_json_parse("{\"a\": ", 6, &err);
	ok(!v && strstr(err.msg, "truncated"), "parse: truncated input says so");
	v = cp_json_parse("{\"a\": 1}xyz", 8, &err);
	ok(cp_json_is_object(v), "parse: only @len bytes are read");
}

/**
 * test_build() - constructors, setters (stealing) and typed accessors
 */
static void test_build(void)
{
	cleanup_json cp_json *o = cp_json_new_object();
	cleanup_json cp_json *arr = cp_json_new_array();
	cleanup_json cp_json *str = cp_json_new_string("x");
	int64_t i = 42;
	bool b = false;

	ok(cp_json_set_str(o, "s", "text") == 0, "set_str");
	ok(cp_json_set_int(o, "i", -7) == 0, "set_int");
	ok(cp_json_set_bool(o, "b", true) == 0, "set_bool");
	ok(cp_json_set(o, "n", NULL) < 0, "set: NULL value fails");
	ok(cp_json_set(str, "k", cp_json_new_int(1)) < 0,
	   "set: on a non-object fails (value dropped)");
	ok(cp_json_append(arr, cp_json_new_int(1)) == 0 &&
		   cp_json_append(arr, cp_json_new_int(2)) == 0,
	   "append");
	ok(cp_json_append(o, cp_json_new_int(1)) < 0, "append: to a non-array fails");
	ok(cp_json_set(o, "arr", cp_json_ref(arr)) == 0, "set: an array member");

	is_str(cp_json_get_str(o, "s"), "text", "get_str");
	ok(cp_json_get_int(o, "i", &i) && i == -7, "get_int");
	ok(cp_json_get_bool(o, "b", &b) && b, "get_bool");
	i = 42;
	ok(!cp_json_get_int(o, "s", &i) && i == 42, "get_int on a string fails, out untouched");
	ok(!cp_json_get_bool(o, "i", &b), "get_bool on an int fails (no coercion)");
	ok(!cp_json_get_str(o, "i"), "get_str on an int is NULL (no coercion)");
	ok(!cp_json_get_object(o, "s") && !cp_json_get_array(o, "s"), "typed getters check type");
	ok(cp_json_get_array(o, "arr") == arr, "get_array borrows the same value");
	ok(!cp_json_get(o, "missing") && !cp_json_get(arr, "s") && !cp_json_get(NULL, "s"),
	   "get: missing member, non-object, NULL");
	is_int((long long)cp_json_len(arr), 2, "len of an array");
	is_int((long long)cp_json_len(o), 0, "len of a non-array is 0");
	ok(cp_json_as_int(cp_json_at(arr, 1), &i) && i == 2, "at(1)");
	ok(!cp_json_at(arr, 2), "at: out of range is NULL");
	cp_json_del(o, "b");
	ok(!cp_json_get(o, "b"), "del removes a member");
	cp_json_del(arr, "b");
	is_int((long long)cp_json_len(arr), 2, "del on a non-object is ignored");
	ok(cp_json_is_string(str) && !cp_json_is_int(str) && !cp_json_is_object(NULL),
	   "type tests");
}

/**
 * test_obj() - cp_json_obj(): every member type, in order, optional members,
 * and every JSON value consumed on failure too (ASan's leak check)
 */
static void test_obj(void)
{
	cleanup_free char *text = NULL;
	cp_json *o;

	o = cp_json_obj(CP_STR("id", "dev0"), CP_INT("bootindex", 2), CP_BOOL("on", true),
			CP_JSON("value", cp_json_new_string("node")),
			CP_STR_IF(false, "serial", "x"), CP_INT_IF(true, "n", -1),
			CP_JSON_IF(false, "skipped", cp_json_new_int(9)));
	text = o ? cp_json_dump(o, 0) : NULL;
	is_str(text, "{\"id\":\"dev0\",\"bootindex\":2,\"on\":true,\"value\":\"node\",\"n\":-1}",
	       "obj: every type, in order; _IF(false) members left out");
	cp_json_unref(o);
	ok(!cp_json_obj(CP_STR("id", NULL), CP_JSON("v", cp_json_new_int(1))),
	   "obj: a NULL string fails (and the JSON value after it is not leaked)");
	ok(!cp_json_obj(CP_JSON("v", cp_json_new_int(1)), CP_JSON("w", NULL)),
	   "obj: a NULL JSON value fails (and the one before it is not leaked)");
	o = cp_json_obj(CP_STR("only", "one"));
	ok(o && cp_json_get_str(o, "only"), "obj: a single member");
	cp_json_unref(o);
}

/**
 * count_keys() - cp_json_object_each() callback: append keys, stop at "stop"
 * @key:	member name
 * @val:	member value (unused)
 * @userdata:	a char[64] accumulating the keys
 *
 * Return: 7 at key "stop", else 0
 */
static int count_keys(const char *key, cp_json *val, void *userdata)
{
	char *acc = userdata;

	(void)val;
	strncat(acc, key, 63 - strlen(acc));
	return strcmp(key, "stop") == 0 ? 7 : 0;
}

/**
 * test_each() - member iteration in insertion order, and early stop
 */
static void test_each(void)
{
	cleanup_json cp_json *o = NULL;
	char acc[64] = "";
	struct cp_error err;

	const char *text = "{\"a\":1,\"b\":2,\"stop\":3,\"z\":4}";

	o = cp_json_parse(text, strlen(text), &err);
	is_int(cp_json_object_each(o, count_keys, acc), 7, "each: the callback's value stops it");
	is_str(acc, "abstop", "each: members in document order, none after the stop");
	is_int(cp_json_object_each(NULL, count_keys, acc), 0, "each: NULL has no members");
}

/**
 * test_dump() - serialisation, equality and copies
 */
static void test_dump(void)
{
	cleanup_json cp_json *a = NULL, *b = NULL, *c = NULL, *copy = NULL;
	cleanup_free char *compact = NULL, *pretty = NULL;
	struct cp_error err;
	const char *ta = "{\"path\":\"/machine/peripheral\",\"n\":[1,{\"x\":true}]}";
	const char *tb = "{\"n\":[1,{\"x\":true}],\"path\":\"/machine/peripheral\"}";
	const char *tc = "{\"n\":[{\"x\":true},1],\"path\":\"/machine/peripheral\"}";

	a = cp_json_parse(ta, strlen(ta), &err);
	b = cp_json_parse(tb, strlen(tb), &err);
	c = cp_json_parse(tc, strlen(tc), &err);
	compact = cp_json_dump(a, 0);
	is_str(compact, ta, "dump: compact, slashes not escaped");
	pretty = cp_json_dump(a, CP_JSON_PRETTY);
	ok(pretty && strchr(pretty, '\n') && !strstr(pretty, "\\/"), "dump: pretty is multi-line");
	ok(cp_json_equal(a, b), "equal: member order does not matter");
	ok(!cp_json_equal(a, c), "equal: array order matters");
	ok(cp_json_equal(NULL, NULL) && !cp_json_equal(a, NULL), "equal: NULL");
	copy = cp_json_copy(a);
	ok(copy && copy != a && cp_json_equal(copy, a), "copy: equal, distinct");
	cp_json_set_int(cp_json_at(cp_json_get_array(copy, "n"), 1), "x", 5);
	ok(!cp_json_equal(copy, a), "copy: deep (changing the copy leaves the original)");
	ok(!cp_json_copy(NULL), "copy: NULL");
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_parse();
	test_build();
	test_obj();
	test_each();
	test_dump();
	return done_testing();
}
