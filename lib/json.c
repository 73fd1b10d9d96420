/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The json-c wrapper: see coldplug/json.h. The only file besides the QMP
 * stream framer (qmp_stream.c) that includes json-c.
 */
#include <string.h>

#include <json-c/json.h>

#include "coldplug/json.h"
#include "util.h"

/**
 * cp_json_parse() - parse one complete JSON text
 * @text:	the text; need not be NUL-terminated
 * @len:	its length in bytes
 * @err:	filled on failure
 *
 * Strict JSON, valid UTF-8, nesting at most CP_JSON_MAX_DEPTH, one value
 * with nothing but whitespace after it.
 *
 * Return: new reference, or NULL
 */
cp_json *cp_json_parse(const char *text, size_t len, struct cp_error *err)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	cp_json *v;
	size_t end;

	if (len > 0x7fffffff || memchr(text, '\0', len))
		return cp_error_set(err, CP_ERR_INVALID, "invalid JSON: NUL byte or too long"),
		       NULL;
	tok = json_tokener_new_ex(CP_JSON_MAX_DEPTH);
	if (!tok)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					    JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!v && jerr == json_tokener_continue)
		cp_error_set(err, CP_ERR_INVALID, "invalid JSON: truncated");
	else if (!v)
		cp_error_set(err, CP_ERR_INVALID, "invalid JSON at byte %zu: %s", end,
			     json_tokener_error_desc(jerr));
	json_tokener_free(tok);
	if (!v)
		return NULL;
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", text[end])) {
			json_object_put(v);
			cp_error_set(err, CP_ERR_INVALID, "invalid JSON: trailing data at byte %zu",
				     end);
			return NULL;
		}
	}
	return v;
}

/**
 * cp_json_ref() - take another reference
 * @v:	value, may be NULL
 *
 * Return: @v
 */
cp_json *cp_json_ref(cp_json *v)
{
	return v ? json_object_get(v) : NULL;
}

/**
 * cp_json_unref() - drop a reference
 * @v:	value, may be NULL
 */
void cp_json_unref(cp_json *v)
{
	if (v)
		json_object_put(v);
}

/**
 * cp_json_new_object() - new empty object
 *
 * Return: new reference, or NULL when out of memory
 */
cp_json *cp_json_new_object(void)
{
	return json_object_new_object();
}

/**
 * cp_json_new_array() - new empty array
 *
 * Return: new reference, or NULL when out of memory
 */
cp_json *cp_json_new_array(void)
{
	return json_object_new_array();
}

/**
 * cp_json_new_string() - new string value
 * @s:	NUL-terminated text, copied
 *
 * Return: new reference, or NULL when out of memory
 */
cp_json *cp_json_new_string(const char *s)
{
	return json_object_new_string(s);
}

/**
 * cp_json_new_int() - new integer value
 * @v:	the integer
 *
 * Return: new reference, or NULL when out of memory
 */
cp_json *cp_json_new_int(int64_t v)
{
	return json_object_new_int64(v);
}

/**
 * cp_json_new_bool() - new boolean value
 * @v:	the boolean
 *
 * Return: new reference, or NULL when out of memory
 */
cp_json *cp_json_new_bool(bool v)
{
	return json_object_new_boolean(v);
}

/**
 * cp_json_set() - set @key of @obj to @val, replacing any previous value
 * @obj:	object
 * @key:	member name, copied
 * @val:	value, stolen (dropped even on failure); NULL fails
 *
 * Return: 0, or -1 if @obj is not an object, @val is NULL or out of memory
 */
int cp_json_set(cp_json *obj, const char *key, cp_json *val)
{
	if (!val)
		return -1;
	if (!json_object_is_type(obj, json_type_object) ||
	    json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/**
 * cp_json_set_str() - set @key of @obj to a string
 * @obj:	object
 * @key:	member name
 * @s:		text, copied
 *
 * Return: 0, or -1
 */
int cp_json_set_str(cp_json *obj, const char *key, const char *s)
{
	return cp_json_set(obj, key, cp_json_new_string(s));
}

/**
 * cp_json_set_int() - set @key of @obj to an integer
 * @obj:	object
 * @key:	member name
 * @v:		the integer
 *
 * Return: 0, or -1
 */
int cp_json_set_int(cp_json *obj, const char *key, int64_t v)
{
	return cp_json_set(obj, key, cp_json_new_int(v));
}

/**
 * cp_json_set_bool() - set @key of @obj to a boolean
 * @obj:	object
 * @key:	member name
 * @v:		the boolean
 *
 * Return: 0, or -1
 */
int cp_json_set_bool(cp_json *obj, const char *key, bool v)
{
	return cp_json_set(obj, key, cp_json_new_bool(v));
}

/**
 * field_value() - the JSON value of one member
 * @f:	the member (a CP_FIELD_JSON value is taken over)
 *
 * Return: new value, or NULL
 */
static cp_json *field_value(const struct cp_json_field *f)
{
	switch (f->type) {
	case CP_FIELD_STR:
		return f->s ? cp_json_new_string(f->s) : NULL;
	case CP_FIELD_INT:
		return cp_json_new_int(f->i);
	case CP_FIELD_BOOL:
		return cp_json_new_bool(f->b);
	case CP_FIELD_JSON:
		return f->v;
	}
	return NULL;
}

/**
 * cp_json_obj_n() - an object of @n members, in order (see cp_json_obj())
 * @f:	the members; skipped ones are left out
 * @n:	their count
 *
 * Every CP_FIELD_JSON value is consumed, whatever happens: the caller never
 * has to track which were.
 *
 * Return: new object, or NULL when out of memory or a string or JSON value
 * is NULL
 */
cp_json *cp_json_obj_n(const struct cp_json_field *f, size_t n)
{
	cp_json *obj = cp_json_new_object();
	size_t i;

	for (i = 0; i < n; i++) {
		if (f[i].skip || !obj) {
			if (f[i].type == CP_FIELD_JSON)
				cp_json_unref(f[i].v);
			continue;
		}
		if (cp_json_set(obj, f[i].key, field_value(&f[i])) < 0) {
			cp_json_unref(obj);
			obj = NULL;
		}
	}
	return obj;
}

/**
 * cp_json_append() - append @val to array @arr
 * @arr:	array
 * @val:	value, stolen (dropped even on failure); NULL fails
 *
 * Return: 0, or -1
 */
int cp_json_append(cp_json *arr, cp_json *val)
{
	if (!val)
		return -1;
	if (!json_object_is_type(arr, json_type_array) || json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

/**
 * cp_json_del() - remove @key from @obj if present
 * @obj:	object (anything else is ignored)
 * @key:	member name
 */
void cp_json_del(cp_json *obj, const char *key)
{
	if (json_object_is_type(obj, json_type_object))
		json_object_object_del(obj, key);
}

/**
 * cp_json_is_object() - type test
 * @v:	value, may be NULL
 *
 * Return: true if @v is an object
 */
bool cp_json_is_object(const cp_json *v)
{
	return v && json_object_is_type(v, json_type_object);
}

/**
 * cp_json_is_array() - type test
 * @v:	value, may be NULL
 *
 * Return: true if @v is an array
 */
bool cp_json_is_array(const cp_json *v)
{
	return v && json_object_is_type(v, json_type_array);
}

/**
 * cp_json_is_string() - type test
 * @v:	value, may be NULL
 *
 * Return: true if @v is a string
 */
bool cp_json_is_string(const cp_json *v)
{
	return v && json_object_is_type(v, json_type_string);
}

/**
 * cp_json_is_int() - type test
 * @v:	value, may be NULL
 *
 * Return: true if @v is an integer
 */
bool cp_json_is_int(const cp_json *v)
{
	return v && json_object_is_type(v, json_type_int);
}

/**
 * cp_json_is_bool() - type test
 * @v:	value, may be NULL
 *
 * Return: true if @v is a boolean
 */
bool cp_json_is_bool(const cp_json *v)
{
	return v && json_object_is_type(v, json_type_boolean);
}

/**
 * cp_json_get() - member of an object
 * @obj:	object; anything else yields NULL
 * @key:	member name
 *
 * Return: borrowed value, or NULL if absent (a JSON null also gives NULL)
 */
cp_json *cp_json_get(const cp_json *obj, const char *key)
{
	struct json_object *v = NULL;

	if (!cp_json_is_object(obj))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

/**
 * cp_json_get_object() - member that must be an object
 * @obj:	object
 * @key:	member name
 *
 * Return: borrowed object, or NULL if absent or of another type
 */
cp_json *cp_json_get_object(const cp_json *obj, const char *key)
{
	cp_json *v = cp_json_get(obj, key);

	return cp_json_is_object(v) ? v : NULL;
}

/**
 * cp_json_get_array() - member that must be an array
 * @obj:	object
 * @key:	member name
 *
 * Return: borrowed array, or NULL if absent or of another type
 */
cp_json *cp_json_get_array(const cp_json *obj, const char *key)
{
	cp_json *v = cp_json_get(obj, key);

	return cp_json_is_array(v) ? v : NULL;
}

/**
 * cp_json_get_str() - member that must be a string
 * @obj:	object
 * @key:	member name
 *
 * Return: borrowed text, or NULL if absent or not a string
 */
const char *cp_json_get_str(const cp_json *obj, const char *key)
{
	return cp_json_as_str(cp_json_get(obj, key));
}

/**
 * cp_json_get_int() - member that must be an integer
 * @obj:	object
 * @key:	member name
 * @out:	the integer, set only on success
 *
 * Return: true if present and an integer
 */
bool cp_json_get_int(const cp_json *obj, const char *key, int64_t *out)
{
	return cp_json_as_int(cp_json_get(obj, key), out);
}

/**
 * cp_json_get_bool() - member that must be a boolean
 * @obj:	object
 * @key:	member name
 * @out:	the boolean, set only on success
 *
 * Return: true if present and a boolean
 */
bool cp_json_get_bool(const cp_json *obj, const char *key, bool *out)
{
	return cp_json_as_bool(cp_json_get(obj, key), out);
}

/**
 * cp_json_as_str() - text of a string value
 * @v:	value, may be NULL
 *
 * Return: borrowed text, or NULL if @v is not a string
 */
const char *cp_json_as_str(const cp_json *v)
{
	return cp_json_is_string(v) ? json_object_get_string((cp_json *)v) : NULL;
}

/**
 * cp_json_as_int() - integer of an integer value (no coercion)
 * @v:		value, may be NULL
 * @out:	the integer, set only on success
 *
 * Return: true if @v is an integer
 */
bool cp_json_as_int(const cp_json *v, int64_t *out)
{
	if (!cp_json_is_int(v))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/**
 * cp_json_as_bool() - boolean of a boolean value (no coercion)
 * @v:		value, may be NULL
 * @out:	the boolean, set only on success
 *
 * Return: true if @v is a boolean
 */
bool cp_json_as_bool(const cp_json *v, bool *out)
{
	if (!cp_json_is_bool(v))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

/**
 * cp_json_len() - number of elements of an array
 * @arr:	array; anything else has length 0
 *
 * Return: element count
 */
size_t cp_json_len(const cp_json *arr)
{
	return cp_json_is_array(arr) ? json_object_array_length(arr) : 0;
}

/**
 * cp_json_at() - element of an array
 * @arr:	array
 * @i:		index
 *
 * Return: borrowed element, or NULL if out of range or not an array
 */
cp_json *cp_json_at(const cp_json *arr, size_t i)
{
	if (i >= cp_json_len(arr))
		return NULL;
	return json_object_array_get_idx(arr, i);
}

/**
 * cp_json_object_each() - call @fn for every member of @obj, in order
 * @obj:	object; anything else has no members
 * @fn:		callback; a non-zero return stops the walk
 * @userdata:	passed to @fn
 *
 * Return: the first non-zero value @fn returned, or 0
 */
int cp_json_object_each(const cp_json *obj, cp_json_each_fn fn, void *userdata)
{
	struct json_object_iterator it, end;
	int rc;

	if (!cp_json_is_object(obj))
		return 0;
	it = json_object_iter_begin((cp_json *)obj);
	end = json_object_iter_end(obj);
	while (!json_object_iter_equal(&it, &end)) {
		rc = fn(json_object_iter_peek_name(&it), json_object_iter_peek_value(&it),
			userdata);
		if (rc)
			return rc;
		json_object_iter_next(&it);
	}
	return 0;
}

/**
 * cp_json_dump() - serialise a value
 * @v:		value (NULL serialises as null)
 * @flags:	CP_JSON_PRETTY for indented output; default is compact
 *
 * Slashes are not escaped (QEMU paths stay readable).
 *
 * Return: new string, caller frees; NULL when out of memory
 */
char *cp_json_dump(const cp_json *v, unsigned flags)
{
	int jflags = JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *s;

	jflags |= (flags & CP_JSON_PRETTY) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
					   : JSON_C_TO_STRING_PLAIN;
	s = json_object_to_json_string_ext((cp_json *)v, jflags);
	return s ? strdup(s) : NULL;
}

/**
 * cp_json_equal() - deep equality (object member order does not matter)
 * @a:	value or NULL
 * @b:	value or NULL
 *
 * Return: true if equal
 */
bool cp_json_equal(const cp_json *a, const cp_json *b)
{
	return json_object_equal((cp_json *)a, (cp_json *)b);
}

/**
 * cp_json_copy() - deep copy
 * @v:	value, may be NULL
 *
 * Return: new reference, or NULL (for NULL input or out of memory)
 */
cp_json *cp_json_copy(const cp_json *v)
{
	struct json_object *dst = NULL;

	if (!v || json_object_deep_copy((cp_json *)v, &dst, NULL) < 0)
		return NULL;
	return dst;
}
