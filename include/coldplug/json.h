/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A thin wrapper over json-c, so that the rest of coldplug depends on a few
 * functions with our conventions (accessors that check types and return
 * NULL/false rather than coercing, setters that steal, serialisation without
 * slash escaping) and not on json-c's headers.
 *
 * Ownership: "new" values and cp_json_ref() return a reference the caller
 * drops with cp_json_unref(); cp_json_get*() and cp_json_at() return borrowed
 * values, valid while the container is.
 */
#ifndef COLDPLUG_JSON_H
#define COLDPLUG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

struct json_object;
typedef struct json_object cp_json;

#define CP_JSON_MAX_DEPTH 64

/* cp_json_dump() flags */
#define CP_JSON_PRETTY 0x1

cp_json *cp_json_parse(const char *text, size_t len, struct cp_error *err);
cp_json *cp_json_ref(cp_json *v);
void cp_json_unref(cp_json *v);

cp_json *cp_json_new_object(void);
cp_json *cp_json_new_array(void);
cp_json *cp_json_new_string(const char *s);
cp_json *cp_json_new_int(int64_t v);
cp_json *cp_json_new_bool(bool v);

int cp_json_set(cp_json *obj, const char *key, cp_json *val);
int cp_json_set_str(cp_json *obj, const char *key, const char *s);
int cp_json_set_int(cp_json *obj, const char *key, int64_t v);
int cp_json_set_bool(cp_json *obj, const char *key, bool v);
int cp_json_append(cp_json *arr, cp_json *val);
void cp_json_del(cp_json *obj, const char *key);

bool cp_json_is_object(const cp_json *v);
bool cp_json_is_array(const cp_json *v);
bool cp_json_is_string(const cp_json *v);
bool cp_json_is_int(const cp_json *v);
bool cp_json_is_bool(const cp_json *v);

cp_json *cp_json_get(const cp_json *obj, const char *key);
cp_json *cp_json_get_object(const cp_json *obj, const char *key);
cp_json *cp_json_get_array(const cp_json *obj, const char *key);
const char *cp_json_get_str(const cp_json *obj, const char *key);
bool cp_json_get_int(const cp_json *obj, const char *key, int64_t *out);
bool cp_json_get_bool(const cp_json *obj, const char *key, bool *out);

const char *cp_json_as_str(const cp_json *v);
bool cp_json_as_int(const cp_json *v, int64_t *out);
bool cp_json_as_bool(const cp_json *v, bool *out);

size_t cp_json_len(const cp_json *arr);
cp_json *cp_json_at(const cp_json *arr, size_t i);

typedef int (*cp_json_each_fn)(const char *key, cp_json *val, void *userdata);
int cp_json_object_each(const cp_json *obj, cp_json_each_fn fn, void *userdata);

/**
 * struct cp_json_field - one member for cp_json_obj(): build it with
 * CP_STR(), CP_INT(), CP_BOOL() or CP_JSON(), or their _IF forms, which add
 * the member only when a condition holds
 * @key:	member name
 * @type:	CP_FIELD_*
 * @skip:	leave the member out
 * @s:		string value, copied (CP_FIELD_STR)
 * @i:		integer value (CP_FIELD_INT)
 * @b:		boolean value (CP_FIELD_BOOL)
 * @v:		JSON value, stolen, also when it is skipped or the build fails
 *		(CP_FIELD_JSON); NULL fails the build
 */
struct cp_json_field {
	const char *key;
	enum { CP_FIELD_STR, CP_FIELD_INT, CP_FIELD_BOOL, CP_FIELD_JSON } type;
	bool skip;
	const char *s;
	int64_t i;
	bool b;
	cp_json *v;
};

#define CP_STR_IF(cond, k, val)                                                                    \
	{                                                                                          \
		.key = (k), .type = CP_FIELD_STR, .skip = !(cond), .s = (val)                      \
	}
#define CP_INT_IF(cond, k, val)                                                                    \
	{                                                                                          \
		.key = (k), .type = CP_FIELD_INT, .skip = !(cond), .i = (val)                      \
	}
#define CP_BOOL_IF(cond, k, val)                                                                   \
	{                                                                                          \
		.key = (k), .type = CP_FIELD_BOOL, .skip = !(cond), .b = (val)                     \
	}
#define CP_JSON_IF(cond, k, val)                                                                   \
	{                                                                                          \
		.key = (k), .type = CP_FIELD_JSON, .skip = !(cond), .v = (val)                     \
	}
#define CP_STR(k, val)	CP_STR_IF(true, k, val)
#define CP_INT(k, val)	CP_INT_IF(true, k, val)
#define CP_BOOL(k, val) CP_BOOL_IF(true, k, val)
#define CP_JSON(k, val) CP_JSON_IF(true, k, val)

/*
 * cp_json_obj() - a new object of the members given, in order, e.g.
 *	cp_json_obj(CP_STR("id", id), CP_INT_IF(n >= 0, "bootindex", n))
 * Return: new object, or NULL (out of memory, or a NULL string or JSON
 * value); every CP_JSON value is consumed either way.
 */
#define cp_json_obj(...)                                                                           \
	cp_json_obj_n((const struct cp_json_field[]){ __VA_ARGS__ },                               \
		      sizeof((const struct cp_json_field[]){ __VA_ARGS__ }) /                      \
			      sizeof(struct cp_json_field))
cp_json *cp_json_obj_n(const struct cp_json_field *f, size_t n);

char *cp_json_dump(const cp_json *v, unsigned flags);
bool cp_json_equal(const cp_json *a, const cp_json *b);
cp_json *cp_json_copy(const cp_json *v);

#endif /* COLDPLUG_JSON_H */
