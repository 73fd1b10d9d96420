/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulator's raw.qemu.conf override is Incus's: the cases of Incus's own
 * test (internal/server/instance/drivers/driver_qemu_config_test.go,
 * "qemu_raw_cfg_override", lxc/incus be7afc5df3), copied verbatim with its
 * base configuration and compared the way that test compares them (leading
 * indentation and surrounding space ignored); then Incus's error messages
 * and the corners of its parser (Go's Unquote, Atoi, TrimSpace, line
 * splitting); the qemu.conf writer; and the profile reader of incus-emu
 * --profile. No QEMU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "incus.h"
#include "tap.h"
#include "util.h"

/* Incus's test configuration (conf in qemu_raw_cfg_override). */
static const char base_conf[] =
	"[{\"name\":\"global\",\"comment\":\"\",\"entries\":{\"driver\":\"ICH9-LPC\","
	"\"property\":\"disable_s3\",\"value\":\"1\"}},"
	"{\"name\":\"global\",\"comment\":\"\",\"entries\":{\"driver\":\"ICH9-LPC\","
	"\"property\":\"disable_s4\",\"value\":\"0\"}},"
	"{\"name\":\"memory\",\"comment\":\"\",\"entries\":{\"size\":\"1024M\"}},"
	"{\"name\":\"device \\\"qemu_gpu\\\"\",\"comment\":\"\",\"entries\":{"
	"\"driver\":\"virtio-gpu-pci\",\"bus\":\"qemu_pci3\",\"addr\":\"00.0\"}},"
	"{\"name\":\"device \\\"qemu_keyboard\\\"\",\"comment\":\"\",\"entries\":{"
	"\"driver\":\"virtio-keyboard-pci\",\"bus\":\"qemu_pci2\",\"addr\":\"00.1\"}}]";

/**
 * struct override_case - one case: what it tests, the override, the result
 * @what:	Incus's comment
 * @override:	raw.qemu.conf
 * @expected:	qemu.conf after it
 */
struct override_case {
	const char *what;
	const char *override;
	const char *expected;
};

/* Incus's cases, in its order. */
static const struct override_case incus_cases[] = {
	{ "override some keys",
	  "[memory]\n"
	  "\t\t\tsize = \"4096M\"\n"
	  "\n"
	  "\t\t\t[device \"qemu_gpu\"]\n"
	  "\t\t\tdriver = \"qxl-vga\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"4096M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"qxl-vga\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"" },
	{ "delete some keys",
	  "[device \"qemu_keyboard\"]\n"
	  "\t\t\tdriver = \"\"\n"
	  "\n"
	  "\t\t\t[device \"qemu_gpu\"]\n"
	  "\t\t\taddr = \"\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"" },
	{ "add some keys to existing sections",
	  "[memory]\n"
	  "\t\t\tsomekey = \"somevalue\"\n"
	  "\t\t\tsomekey2 =             \"somevalue2\"\n"
	  "\t\t\tsomekey3 =   \"somevalue3\"\n"
	  "\t\t\tsomekey4=\"somevalue4\"\n"
	  "\n"
	  "\t\t\t[device \"qemu_keyboard\"]\n"
	  "\t\t\tmultifunction=\"off\"\n"
	  "\n"
	  "\t\t\t[device \"qemu_gpu\"]\n"
	  "\t\t\tmultifunction=      \"on\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "somekey = \"somevalue\"\n"
	  "somekey2 = \"somevalue2\"\n"
	  "somekey3 = \"somevalue3\"\n"
	  "somekey4 = \"somevalue4\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "multifunction = \"on\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "multifunction = \"off\"" },
	{ "edit/add/remove",
	  "[memory]\n"
	  "\t\t\tsize = \"2048M\"\n"
	  "\t\t\t[device \"qemu_gpu\"]\n"
	  "\t\t\tmultifunction = \"on\"\n"
	  "\t\t\t[device \"qemu_keyboard\"]\n"
	  "\t\t\taddr = \"\"\n"
	  "\t\t\tbus = \"\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"2048M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "multifunction = \"on\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "driver = \"virtio-keyboard-pci\"" },
	{ "delete sections",
	  "[memory]\n"
	  "\t\t\t[device \"qemu_keyboard\"]\n"
	  "\t\t\t[global][1]",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"" },
	{ "add sections",
	  "[object1]\n"
	  "\t\t\tkey1     = \"value1\"\n"
	  "\t\t\tkey2     = \"value2\"\n"
	  "\n"
	  "\t\t\t[object \"2\"]\n"
	  "\t\t\tkey3  = \"value3\"\n"
	  "\t\t\t[object \"3\"]\n"
	  "\t\t\tkey4  = \"value4\"\n"
	  "\n"
	  "\t\t\t[object \"2\"]\n"
	  "\t\t\tkey5  = \"value5\"\n"
	  "\n"
	  "\t\t\t[object1]\n"
	  "\t\t\tkey6     = \"value6\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "\n"
	  "[object1]\n"
	  "key1 = \"value1\"\n"
	  "key2 = \"value2\"\n"
	  "key6 = \"value6\"\n"
	  "\n"
	  "[object \"2\"]\n"
	  "key3 = \"value3\"\n"
	  "key5 = \"value5\"\n"
	  "\n"
	  "[object \"3\"]\n"
	  "key4 = \"value4\"" },
	{ "add/remove sections",
	  "[device \"qemu_gpu\"]\n"
	  "\t\t\t[object \"2\"]\n"
	  "\t\t\tkey3  = \"value3\"\n"
	  "\t\t\t[object \"3\"]\n"
	  "\t\t\tkey4  = \"value4\"\n"
	  "\t\t\t[object \"2\"]\n"
	  "\t\t\tkey5  = \"value5\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "\n"
	  "[object \"2\"]\n"
	  "key3 = \"value3\"\n"
	  "key5 = \"value5\"\n"
	  "\n"
	  "[object \"3\"]\n"
	  "key4 = \"value4\"" },
	{ "edit keys of repeated sections",
	  "[global][1]\n"
	  "\t\t\tproperty =\"disable_s1\"\n"
	  "\t\t\t[global]\n"
	  "\t\t\tproperty =\"disable_s5\"\n"
	  "\t\t\t[global][1]\n"
	  "\t\t\tvalue = \"\"\n"
	  "\t\t\t[global][0]\n"
	  "\t\t\tsomekey =\"somevalue\"\n"
	  "\t\t\t[global][1]\n"
	  "\t\t\tanotherkey = \"anothervalue\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s5\"\n"
	  "somekey = \"somevalue\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "anotherkey = \"anothervalue\"\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s1\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"" },
	{ "create multiple sections with same name",
	  "[global][2]\n"
	  "\t\t\tproperty =  \"new section\"\n"
	  "\t\t\t[global][2]\n"
	  "\t\t\tvalue =     \"new value\"\n"
	  "\t\t\t[object][3]\n"
	  "\t\t\tk1 =        \"v1\"\n"
	  "\t\t\t[object][3]\n"
	  "\t\t\tk2 =        \"v2\"\n"
	  "\t\t\t[object][4]\n"
	  "\t\t\tk3 =        \"v1\"\n"
	  "\t\t\t[object][4]\n"
	  "\t\t\tk2 =        \"v2\"\n"
	  "\t\t\t[object][11]\n"
	  "\t\t\tk11 =  \"v11\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "\n"
	  "[global]\n"
	  "property = \"new section\"\n"
	  "value = \"new value\"\n"
	  "\n"
	  "[object]\n"
	  "k1 = \"v1\"\n"
	  "k2 = \"v2\"\n"
	  "\n"
	  "[object]\n"
	  "k2 = \"v2\"\n"
	  "k3 = \"v1\"\n"
	  "\n"
	  "[object]\n"
	  "k11 = \"v11\"" },
	{ "create multiple sections with same name, with decreasing indices",
	  "[object][3]\n"
	  "\t\t\tk1 =        \"v1\"\n"
	  "\t\t\t[object][3]\n"
	  "\t\t\tk2 =        \"v2\"\n"
	  "\t\t\t[object][2]\n"
	  "\t\t\tk3 =        \"v1\"\n"
	  "\t\t\t[object][2]\n"
	  "\t\t\tk2 =        \"v2\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"1024M\"\n"
	  "\n"
	  "[device \"qemu_gpu\"]\n"
	  "addr = \"00.0\"\n"
	  "bus = \"qemu_pci3\"\n"
	  "driver = \"virtio-gpu-pci\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "bus = \"qemu_pci2\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "\n"
	  "[object]\n"
	  "k1 = \"v1\"\n"
	  "k2 = \"v2\"\n"
	  "\n"
	  "[object]\n"
	  "k2 = \"v2\"\n"
	  "k3 = \"v1\"" },
	{ "mix all operations",
	  "[memory]\n"
	  "\t\t\tsize = \"8192M\"\n"
	  "\t\t\t[device \"qemu_keyboard\"]\n"
	  "\t\t\tmultifunction=on\n"
	  "\t\t\tbus =\n"
	  "\t\t\t[device \"qemu_gpu\"]\n"
	  "\t\t\t[object \"3\"]\n"
	  "\t\t\tkey4 = \" value4 \"\n"
	  "\t\t\t[object \"2\"]\n"
	  "\t\t\tkey3 =   value3\n"
	  "\t\t\t[object \"3\"]\n"
	  "\t\t\tkey5 = \"value5\"",
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s3\"\n"
	  "value = \"1\"\n"
	  "\n"
	  "[global]\n"
	  "driver = \"ICH9-LPC\"\n"
	  "property = \"disable_s4\"\n"
	  "value = \"0\"\n"
	  "\n"
	  "[memory]\n"
	  "size = \"8192M\"\n"
	  "\n"
	  "[device \"qemu_keyboard\"]\n"
	  "addr = \"00.1\"\n"
	  "driver = \"virtio-keyboard-pci\"\n"
	  "multifunction = \"on\"\n"
	  "\n"
	  "[object \"3\"]\n"
	  "key4 = \" value4 \"\n"
	  "key5 = \"value5\"\n"
	  "\n"
	  "[object \"2\"]\n"
	  "key3 = \"value3\"" },
};

/**
 * normalize() - as Incus's test: leading indentation off, then TrimSpace
 * @text:	text (modified)
 *
 * Return: @text, trimmed
 */
static char *normalize(char *text)
{
	char *r = text, *w = text, *end;
	bool bol = true;

	for (; *r; r++) {
		if (bol && (*r == ' ' || *r == '\t'))
			continue;
		bol = *r == '\n';
		*w++ = *r;
	}
	*w = '\0';
	while (*text == ' ' || *text == '\t' || *text == '\n')
		text++;
	end = text + strlen(text);
	while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		*--end = '\0';
	return text;
}

/**
 * base() - Incus's test configuration
 *
 * Return: new reference
 */
static cp_json *base(void)
{
	struct cp_error err = { 0 };
	cp_json *v = cp_json_parse(base_conf, strlen(base_conf), &err);

	if (!v)
		bail_out("base configuration: %s", err.msg);
	return v;
}

/**
 * apply() - override the base configuration and write it
 * @override:	raw.qemu.conf
 * @err:	filled on failure
 *
 * Return: the qemu.conf text (caller frees), or NULL
 */
static char *apply(const char *override, struct cp_error *err)
{
	cleanup_json cp_json *conf = base();
	cleanup_json cp_json *res = lab_incus_conf_override(conf, override, err);

	return res ? lab_incus_conf_stringify(res) : NULL;
}

/**
 * test_incus_cases() - Incus's own cases give Incus's results
 */
static void test_incus_cases(void)
{
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(incus_cases); i++) {
		const struct override_case *c = &incus_cases[i];
		struct cp_error err = { 0 };
		cleanup_free char *got = apply(c->override, &err);
		cleanup_free char *want = strdup(c->expected);

		if (!ok(got != NULL, "Incus case '%s': accepted", c->what)) {
			diag("%s", err.msg);
			continue;
		}
		is_str(normalize(got), normalize(want), "Incus case '%s': same qemu.conf", c->what);
	}
}

/**
 * expect_error() - an override Incus refuses, with Incus's message
 * @override:	raw.qemu.conf
 * @message:	the whole expected message
 */
static void expect_error(const char *override, const char *message)
{
	struct cp_error err = { 0 };
	cleanup_free char *got = apply(override, &err);

	ok(got == NULL, "refused: %s", message);
	is_str(err.msg, message, "Incus's message");
}

/**
 * test_errors() - Incus's error messages (fmt %q of the offending text)
 */
static void test_errors(void)
{
	expect_error("size = \"1M\"", "Expected section header, got: \"size = \\\"1M\\\"\"");
	expect_error("[]", "Invalid section header (must be a section name enclosed in square "
			   "brackets): \"[]\"");
	expect_error("  [memory", "Invalid section header (must be a section name enclosed in "
				  "square brackets): \"[memory\"");
	expect_error("[global]x", "Invalid section index (must be an integer enclosed in square "
				  "brackets): \"x\"");
	expect_error("[global]\t[1]", "Invalid section index (must be an integer enclosed in "
				      "square brackets): \"\\t[1]\"");
	expect_error("[global][a]", "Invalid section index (must be an integer enclosed in square "
				    "brackets): \"[a]\"");
	expect_error("[global][ 1]", "Invalid section index (must be an integer enclosed in "
				     "square brackets): \"[ 1]\"");
	expect_error("[global][9223372036854775808]",
		     "Invalid section index (must be an integer enclosed in square brackets): "
		     "\"[9223372036854775808]\"");
	expect_error("[memory]\n# no comments", "Invalid property override line (must be "
						"`key=value`): \"# no comments\"");
	expect_error("[memory]\n=1M", "Invalid property override line (must be `key=value`): "
				      "\"=1M\"");
	expect_error("[memory]\nsize = \"4096M", "Invalid quoted value: \"\"");
	expect_error("[memory]\nsize = \"4096M\" # big", "Invalid quoted value: \"\"");
	expect_error("[memory]\nsize = \"\\'\"", "Invalid quoted value: \"\"");
	expect_error("[memory]\nsize = \"\\400\"", "Invalid quoted value: \"\"");
	expect_error("[memory]\nsize = \"\\ud800\"", "Invalid quoted value: \"\"");
	expect_error("[ ]\nk = v", "Expected section header, got: \"k = v\"");
	expect_error("[memory]\nk\xc2\xa0v", "Invalid property override line (must be "
					     "`key=value`): \"k\\u00a0v\"");
	expect_error("[memory]\nk\xffv", "Invalid property override line (must be `key=value`): "
					 "\"k\\xffv\"");
}

/**
 * expect_conf() - an override gives this qemu.conf (exactly)
 * @what:	label
 * @override:	raw.qemu.conf
 * @want:	the whole qemu.conf
 */
static void expect_conf(const char *what, const char *override, const char *want)
{
	struct cp_error err = { 0 };
	cleanup_free char *got = apply(override, &err);

	if (!ok(got != NULL, "%s: accepted", what))
		diag("%s", err.msg);
	else
		is_str(got, want, "%s", what);
}

/* The base configuration as written, a section at a time. */
#define G0  "[global]\ndriver = \"ICH9-LPC\"\nproperty = \"disable_s3\"\nvalue = \"1\"\n\n"
#define G1  "[global]\ndriver = \"ICH9-LPC\"\nproperty = \"disable_s4\"\nvalue = \"0\"\n\n"
#define MEM "[memory]\nsize = \"1024M\"\n\n"
#define GPU                                                                                        \
	"[device \"qemu_gpu\"]\naddr = \"00.0\"\nbus = \"qemu_pci3\"\ndriver = \"virtio-gpu-pci\"\n\n"
#define KBD                                                                                        \
	"[device \"qemu_keyboard\"]\naddr = \"00.1\"\nbus = \"qemu_pci2\"\n"                       \
	"driver = \"virtio-keyboard-pci\"\n\n"

/**
 * test_corners() - what Go's library functions make of unusual input
 */
static void test_corners(void)
{
	cleanup_free char *longline = malloc(70000);

	expect_conf("no override", "", G0 G1 MEM GPU KBD);
	expect_conf("CRLF lines, Unicode spaces trimmed (NBSP, U+3000)",
		    "[memory]\r\n\xc2\xa0size = 2048M\xe3\x80\x80\r\n",
		    G0 G1 "[memory]\nsize = \"2048M\"\n\n" GPU KBD);
	expect_conf("Go escapes in a quoted value",
		    "[memory]\nsize = \"\\x31\\u0030\\U00000032\\064M\\t\\\\\\\"\"",
		    G0 G1 "[memory]\nsize = \"1024M\t\\\"\"\n\n" GPU KBD);
	expect_conf("invalid UTF-8 in a quoted value becomes U+FFFD", "[memory]\nsize = \"1\xff\"",
		    G0 G1 "[memory]\nsize = \"1\xef\xbf\xbd\"\n\n" GPU KBD);
	expect_conf("unquoted values are taken as they are", "[memory]\nsize = a=b\"c",
		    G0 G1 "[memory]\nsize = \"a=b\"c\"\n\n" GPU KBD);
	expect_conf("`key =` deletes the key", "[device \"qemu_gpu\"]\naddr =\nbus = \"\"",
		    G0 G1 MEM "[device \"qemu_gpu\"]\ndriver = \"virtio-gpu-pci\"\n\n" KBD);
	expect_conf("[name][+1] is index 1", "[global][+1]\nvalue = 1",
		    G0 "[global]\ndriver = \"ICH9-LPC\"\nproperty = \"disable_s4\"\nvalue = "
		       "\"1\"\n\n" MEM GPU KBD);
	expect_conf("a negative index is a new section", "[global][-1]\nk = v",
		    G0 G1 MEM GPU KBD "[global]\nk = \"v\"\n\n");
	expect_conf("a new section without keys is nothing", "[device \"x\"]\n[memory]\nk = v",
		    G0 G1 "[memory]\nk = \"v\"\nsize = \"1024M\"\n\n" GPU KBD);
	expect_conf("a header repeated without keys empties the section",
		    "[memory]\nk = v\n[memory]", G0 G1 GPU KBD);
	expect_conf("deleting every key deletes the section", "[memory]\nsize = \"\"",
		    G0 G1 GPU KBD);
	if (longline) {
		struct cp_error err = { 0 };
		cleanup_free char *got = NULL;

		memset(longline, 'x', 69999);
		longline[69999] = '\0';
		memcpy(longline, "[memory]\n", 9);
		memcpy(longline + 9, "k = ", 4);
		longline[9 + 4 + 65536] = '\n';
		memcpy(longline + 9 + 4 + 65537, "[device \"qemu_gpu\"]\n", 20);
		longline[9 + 4 + 65537 + 20] = '\0';
		got = apply(longline, &err);
		is_str(got ? got : err.msg, G0 G1 GPU KBD,
		       "a line over 64 KiB silently ends the parse (bufio.Scanner), the last "
		       "header empties its section");
		free(got);
		longline[9 + 4 + 65531] = '\0'; /* "k = x...x" is now 65535 bytes */
		got = apply(longline, &err);
		ok(got && strstr(got, "[memory]\nk = \"xxx") &&
			   strstr(got, "xxx\"\nsize = \"1024M\"\n\n") &&
			   strlen(got) == strlen(G0 G1 MEM GPU KBD) + 65531 + strlen("k = \"\"\n"),
		   "a line of 65535 bytes is still read%s%s", got ? "" : ": ", got ? "" : err.msg);
	}
}

/**
 * test_stringify() - qemuStringifyCfg: comments, sorted keys, empty values
 */
static void test_stringify(void)
{
	static const char in[] =
		"[{\"name\":\"machine\",\"comment\":\"Machine\",\"entries\":{\"type\":\"q35\","
		"\"accel\":\"kvm\",\"empty\":\"\"}},{\"name\":\"empty\",\"comment\":\"\","
		"\"entries\":{}}]";
	struct cp_error err = { 0 };
	cleanup_json cp_json *conf = cp_json_parse(in, strlen(in), &err);
	cleanup_json cp_json *res = conf ? lab_incus_conf_override(conf, "", &err) : NULL;
	cleanup_free char *text = conf ? lab_incus_conf_stringify(conf) : NULL;
	cleanup_free char *text2 = res ? lab_incus_conf_stringify(res) : NULL;

	is_str(text, "# Machine\n[machine]\naccel = \"kvm\"\ntype = \"q35\"\n\n[empty]\n\n",
	       "stringify: comment, keys sorted, empty values left out, empty sections kept");
	is_str(text2, "# Machine\n[machine]\naccel = \"kvm\"\ntype = \"q35\"\n\n",
	       "an override (even \"\") drops sections with no entries; an entry with an empty "
	       "value still counts");
}

/**
 * test_profile() - lab_incus_profile_read()
 */
static void test_profile(void)
{
	static const char yaml[] = "name: coldplug\n"
				   "description: test\n"
				   "config:\n"
				   "  raw.apparmor: '/run/x rw,'\n"
				   "  raw.qemu.conf: |-\n"
				   "    [device \"qemu_tablet\"]\n"
				   "    [device \"t\"]\n"
				   "    driver = \"usb-tablet\"\n"
				   "  raw.qemu.scriptlet: |\n"
				   "    def qemu_hook(instance, stage):\n"
				   "        pass\n"
				   "devices: {}\n";
	struct cp_error err = { 0 };
	char *name = NULL, *conf = NULL, *script = NULL;
	int rc = lab_incus_profile_read(yaml, strlen(yaml), &name, &conf, &script, &err);

	ok(rc == 0, "profile: read%s%s", rc ? ": " : "", rc ? err.msg : "");
	is_str(name, "coldplug", "profile: name");
	is_str(conf, "[device \"qemu_tablet\"]\n[device \"t\"]\ndriver = \"usb-tablet\"",
	       "profile: raw.qemu.conf (block scalar, stripped)");
	is_str(script, "def qemu_hook(instance, stage):\n    pass\n",
	       "profile: raw.qemu.scriptlet");
	free(name);
	free(conf);
	free(script);
	rc = lab_incus_profile_read("name: x\n", 8, &name, &conf, &script, &err);
	ok(rc == 0 && name && !conf && !script, "profile: keys that are not set are NULL");
	free(name);
	rc = lab_incus_profile_read("config: [\n", 10, &name, &conf, &script, &err);
	ok(rc < 0 && !name, "profile: invalid YAML is refused: %s", err.msg);
}

int main(void)
{
	test_incus_cases();
	test_errors();
	test_corners();
	test_stringify();
	test_profile();
	return done_testing();
}
