/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the macOS machine sections: OSK validation (and that no message
 * ever contains the OSK), macOS versions and the frontends each can drive,
 * and the sections in both formats. For Incus's format the override text is
 * applied to a model of Incus's own qemu.conf section list with Incus's rules
 * (qemuRawCfgOverride: an existing [name][idx] is edited in place, an unknown
 * one is appended, an empty header empties a section, empty sections are
 * dropped), and the resulting QEMU creation order is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/macos.h"
#include "coldplug/qconf.h"
#include "tap.h"
#include "util.h"

/* A made-up OSK with a marker that must never show up in a message. */
#define TEST_OSK "SECRETosk-0123456789abcdefghijklmnopqrstuvwxyz(c)ABCDEFGHIJKLMNO"

static char tmpdir[] = "/tmp/coldplug-macos.XXXXXX";

/**
 * no_osk() - check that a message holds no part of the test OSK
 * @msg:	message
 * @what:	test name
 */
static void no_osk(const char *msg, const char *what)
{
	ok(!strstr(msg, "SECRET") && !strstr(msg, "0123456789"), "%s: the OSK is not in \"%s\"",
	   what, msg);
}

/**
 * write_text() - a file in the scratch directory
 * @name:	file name
 * @text:	content
 *
 * Return: its path (caller frees)
 */
static char *write_text(const char *name, const char *text)
{
	char *path = cp_asprintf(NULL, "%s/%s", tmpdir, name);
	FILE *f = path ? fopen(path, "we") : NULL;

	if (!f)
		bail_out("%s: %s", name, strerror(errno));
	fputs(text, f);
	fclose(f);
	return path;
}

/**
 * test_osk() - length and character set, from argv and from a file
 */
static void test_osk(void)
{
	struct macos_opts m;
	struct cp_error err;
	char bad[MACOS_OSK_LEN + 1];

	macos_opts_init(&m, QCONF_INCUS);
	ok(macos_set_osk(&m, TEST_OSK, &err) == 0, "a 64-character OSK is accepted");
	is_str(m.osk, TEST_OSK, "...and kept");
	ok(macos_set_osk(&m, "SECRET123", &err) < 0 && strstr(err.msg, "9 characters, expected 64"),
	   "a short OSK: %s", err.msg);
	no_osk(err.msg, "short");
	ok(macos_set_osk(&m, TEST_OSK "x", &err) < 0 && strstr(err.msg, "65 characters"),
	   "a long OSK is refused");
	no_osk(err.msg, "long");
	memcpy(bad, TEST_OSK, sizeof(bad));
	bad[10] = '"';
	ok(macos_set_osk(&m, bad, &err) < 0 && strstr(err.msg, "position 11"),
	   "a quote is refused: %s", err.msg);
	no_osk(err.msg, "quote");
	bad[10] = '\\';
	ok(macos_set_osk(&m, bad, &err) < 0, "a backslash is refused");
	bad[10] = '\n';
	ok(macos_set_osk(&m, bad, &err) < 0, "a newline is refused");
	bad[10] = (char)0xc3;
	ok(macos_set_osk(&m, bad, &err) < 0, "a non-ASCII byte is refused");
	no_osk(err.msg, "non-ASCII");
	is_str(m.osk, TEST_OSK, "a refused OSK leaves the accepted one in place");
	macos_opts_wipe(&m);
	is_int((long long)strlen(m.osk), 0, "macos_opts_wipe() erases it");
}

/**
 * test_osk_file() - newline handling and errors of --osk-file
 */
static void test_osk_file(void)
{
	cleanup_free char *lf = write_text("lf", TEST_OSK "\n");
	cleanup_free char *crlf = write_text("crlf", TEST_OSK "\r\n");
	cleanup_free char *bare = write_text("bare", TEST_OSK);
	cleanup_free char *two = write_text("two", TEST_OSK "\n\n");
	cleanup_free char *big = NULL, *missing = cp_asprintf(NULL, "%s/missing", tmpdir);
	char huge[600];
	struct macos_opts m;
	struct cp_error err;

	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	big = write_text("big", huge);
	macos_opts_init(&m, QCONF_INCUS);
	ok(macos_read_osk_file(&m, lf, &err) == 0 && !strcmp(m.osk, TEST_OSK),
	   "file with a newline");
	ok(macos_read_osk_file(&m, crlf, &err) == 0, "file with CR LF");
	ok(macos_read_osk_file(&m, bare, &err) == 0, "file without a newline");
	ok(macos_read_osk_file(&m, two, &err) < 0 && strstr(err.msg, "65 characters") &&
		   strstr(err.msg, "two"),
	   "two newlines: %s", err.msg);
	no_osk(err.msg, "two newlines");
	ok(macos_read_osk_file(&m, missing, &err) < 0 && strstr(err.msg, "No such file"),
	   "missing file: %s", err.msg);
	ok(macos_read_osk_file(&m, big, &err) < 0 && strstr(err.msg, "larger than"),
	   "large file: %s", err.msg);
}

/**
 * test_versions() - what macos_parse_version() accepts
 */
static void test_versions(void)
{
	static const char *const bad[] = { "",	       "10",  "10.16", "10.20", "16",	 "25",
					   "9.0",      "abc", "11.",   ".11",	"11..2", "1000",
					   "11.2.3.4", "11a", "100",   "-11" };
	struct macos_version v;
	struct cp_error err;
	size_t i;

	ok(macos_parse_version("10.13", &v, &err) == 0 && v.major == 10 && v.minor == 13, "10.13");
	ok(macos_parse_version("10.15.7", &v, &err) == 0 && v.major == 10 && v.minor == 15,
	   "10.15.7");
	ok(macos_parse_version("11", &v, &err) == 0 && v.major == 11 && v.minor == 0, "11");
	ok(macos_parse_version("14.4.1", &v, &err) == 0 && v.major == 14 && v.minor == 0,
	   "14.4.1 is 14");
	ok(macos_parse_version("15", &v, &err) == 0 && v.major == 15, "15");
	ok(macos_parse_version("26", &v, &err) == 0 && v.major == 26, "26");
	for (i = 0; i < CP_ARRAY_SIZE(bad); i++)
		ok(macos_parse_version(bad[i], &v, &err) < 0, "'%s' is refused: %s", bad[i],
		   err.msg);
}

/**
 * macos_for() - macOS options with an OSK, for @format and @version
 * @m:		options to fill
 * @format:	format
 * @version:	"10.15" etc., or NULL
 */
static void macos_for(struct macos_opts *m, enum qconf_format format, const char *version)
{
	struct cp_error err;

	macos_opts_init(m, format);
	if (macos_set_osk(m, TEST_OSK, &err) < 0 ||
	    (version && macos_parse_version(version, &m->version, &err) < 0))
		bail_out("%s", err.msg);
	if (format == QCONF_READCONFIG)
		m->add_xhci = true;
}

/**
 * generate() - render @o with @m in @m's format
 * @o:		options (its macos member is set to @m)
 * @m:		macOS options
 * @err:	filled on failure
 *
 * Return: new text, or NULL
 */
static char *generate(struct qconf_opts *o, struct macos_opts *m, struct cp_error *err)
{
	o->macos = m;
	return qconf_generate(o, m->format, err);
}

/**
 * test_frontends() - the macOS version chooses and refuses frontends
 */
static void test_frontends(void)
{
	cleanup_free char *t = NULL;
	struct qconf_opts o;
	struct macos_opts m;
	struct cp_error err;

	qconf_opts_init(&o);
	o.nic_slots = 1;
	macos_for(&m, QCONF_INCUS, NULL);
	t = generate(&o, &m, &err);
	like(t, "driver = \"virtio-net-pci\"", "no version: virtio-net NIC slots");
	free(steal_pointer(&t));
	macos_for(&m, QCONF_INCUS, "10.15");
	t = generate(&o, &m, &err);
	like(t, "driver = \"vmxnet3\"", "10.15: vmxnet3 NIC slots by default");
	like(t, "driver = \"virtio-blk-pci\"", "10.15: virtio-blk disk slots");
	free(steal_pointer(&t));
	o.nic_model = "virtio-net-pci";
	ok(!generate(&o, &m, &err) && strstr(err.msg, "virtio-net needs macOS 11") &&
		   strstr(err.msg, "macOS 10.15 has no driver"),
	   "10.15 + virtio-net: %s", err.msg);
	no_osk(err.msg, "refusal");
	o.nic_slots = 0;
	ok(!generate(&o, &m, &err), "...refused even without NIC slots (explicit model)");
	o.nic_model = "e1000-82545em";
	o.nic_slots = 1;
	t = generate(&o, &m, &err);
	like(t, "driver = \"e1000-82545em\"", "10.15 + e1000-82545em is accepted");
	free(steal_pointer(&t));
	o.nic_model = NULL;
	macos_for(&m, QCONF_INCUS, "10.14");
	ok(!generate(&o, &m, &err) && strstr(err.msg, "macOS 10.14 has no virtio-blk driver"),
	   "10.14 + disk slots: %s", err.msg);
	o.disk_slots = 0;
	t = generate(&o, &m, &err);
	ok(t != NULL, "10.14 without disk slots is accepted");
	free(steal_pointer(&t));
	macos_for(&m, QCONF_INCUS, "10.10");
	ok(!generate(&o, &m, &err) && strstr(err.msg, "vmxnet3 needs macOS 10.11"),
	   "10.10 + vmxnet3: %s", err.msg);
	macos_for(&m, QCONF_INCUS, "11");
	o.disk_slots = 2;
	t = generate(&o, &m, &err);
	like(t, "driver = \"virtio-net-pci\"", "11: virtio-net NIC slots by default");
}

/**
 * struct conf_model - Incus's section list, as qemuRawCfgOverride() sees it
 * @name:	section names in file order ("device \"qemu_usb\"", "global")
 * @keys:	how many keys each has
 * @n:		count
 */
struct conf_model {
	char name[64][64];
	int keys[64];
	size_t n;
};

/**
 * model_find() - the @idx-th section called @name, appended if missing
 * @c:		model
 * @name:	section name
 * @idx:	index among the sections of that name
 *
 * Return: its position
 */
static size_t model_find(struct conf_model *c, const char *name, unsigned idx)
{
	unsigned seen = 0;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name) && seen++ == idx)
			return i;
	if (c->n == 64)
		bail_out("model full");
	cp_strlcpy(c->name[c->n], name, sizeof(c->name[0]));
	c->keys[c->n] = 0;
	return c->n++;
}

/**
 * model_apply() - apply override text to @c with Incus's rules
 * @c:		model
 * @text:	raw.qemu.conf
 */
static void model_apply(struct conf_model *c, const char *text)
{
	cleanup_free char *copy = cp_strdup(text, NULL);
	char *line, *save = NULL, *end;
	size_t cur = 0;
	bool any = true, have = false;
	unsigned idx;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '[') {
			c->keys[cur]++;
			any = true;
			continue;
		}
		if (have && !any)
			c->keys[cur] = -1;
		end = strchr(line, ']');
		*end = '\0';
		idx = end[1] == '[' ? (unsigned)strtoul(end + 2, NULL, 10) : 0;
		cur = model_find(c, line + 1, idx);
		have = true;
		any = false;
	}
	if (have && !any)
		c->keys[cur] = -1;
}

/**
 * model_pos() - position of a section after the override, dropped ones skipped
 * @c:		model
 * @name:	section name
 *
 * Return: its position, or -1 if absent or dropped
 */
static int model_pos(const struct conf_model *c, const char *name)
{
	int pos = 0;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->keys[i] <= 0)
			continue;
		if (!strcmp(c->name[i], name))
			return pos;
		pos++;
	}
	return -1;
}

/**
 * incus_model() - the sections of Incus's qemu.conf that matter here, in order
 * @c:	model to fill
 */
static void incus_model(struct conf_model *c)
{
	static const char *const names[] = {
		"machine",
		"global",
		"global",
		"device \"qemu_pcie0\"",
		"device \"qemu_balloon\"",
		"device \"qemu_keyboard\"",
		"device \"qemu_tablet\"",
		"chardev \"qemu_spice-chardev\"",
		"device \"qemu_usb\"",
		"chardev \"qemu_spice-usb-chardev1\"",
		"device \"qemu_spice-usb1\"",
		"chardev \"qemu_spice-usb-chardev2\"",
		"device \"qemu_spice-usb2\"",
		"chardev \"qemu_spice-usb-chardev3\"",
		"device \"qemu_spice-usb3\"",
		"device \"qemu_pcie3\"",
		"device \"qemu_gpu\"",
	};
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CP_ARRAY_SIZE(names); i++) {
		cp_strlcpy(c->name[i], names[i], sizeof(c->name[0]));
		c->keys[i] = 2;
	}
	c->n = CP_ARRAY_SIZE(names);
}

/**
 * test_incus() - Incus's format: deletions, additions, creation order
 */
static void test_incus(void)
{
	cleanup_free char *t = NULL;
	struct conf_model c;
	struct qconf_opts o;
	struct macos_opts m;
	struct cp_error err;
	int usb, kbd, tablet;

	qconf_opts_init(&o);
	o.disk_slots = 1;
	macos_for(&m, QCONF_INCUS, "14");
	t = generate(&o, &m, &err);
	if (!t)
		bail_out("%s", err.msg);
	ok(!strncmp(t,
		    "[device \"qemu_keyboard\"]\n[device \"qemu_tablet\"]\n[device \"qemu_gpu\"]\n",
		    64),
	   "the deletions come first, as empty headers");
	incus_model(&c);
	model_apply(&c, t);
	ok(model_pos(&c, "device \"qemu_keyboard\"") < 0 &&
		   model_pos(&c, "device \"qemu_tablet\"") < 0,
	   "Incus's virtio keyboard and tablet are deleted");
	ok(model_pos(&c, "device \"qemu_gpu\"") < 0, "Incus's virtio GPU is deleted");
	ok(model_pos(&c, "device \"qemu_spice-usb1\"") < 0 &&
		   model_pos(&c, "device \"qemu_spice-usb3\"") < 0 &&
		   model_pos(&c, "chardev \"qemu_spice-usb-chardev2\"") < 0,
	   "SPICE's USB redirection is deleted");
	ok(model_pos(&c, "device \"qemu_balloon\"") >= 0 && model_pos(&c, "global") >= 0,
	   "nothing else of Incus's is touched");
	usb = model_pos(&c, "device \"qemu_usb\"");
	kbd = model_pos(&c, "device \"coldplug-usb-kbd\"");
	tablet = model_pos(&c, "device \"coldplug-usb-tablet\"");
	ok(usb >= 0 && kbd > usb && tablet > usb,
	   "keyboard (%d) and tablet (%d) are created after Incus's xHCI (%d)", kbd, tablet, usb);
	like(t, "[device \"coldplug-usb-kbd\"]\ndriver = \"usb-kbd\"\nbus = \"qemu_usb.0\"\n",
	     "the keyboard on qemu_usb.0");
	like(t, "[device \"coldplug-usb-tablet\"]\ndriver = \"usb-tablet\"\nbus = \"qemu_usb.0\"\n",
	     "the tablet on qemu_usb.0");
	ok(!strstr(t, "qemu-xhci"), "no xHCI of our own in Incus's format");
	like(t,
	     "[device \"coldplug-applesmc\"]\ndriver = \"isa-applesmc\"\nosk = \"" TEST_OSK "\"\n",
	     "isa-applesmc with the OSK");
	like(t, "[device][100]\ndriver = \"VGA\"\nbus = \"pcie.0\"\naddr = \"0f.0\"\n",
	     "the display: anonymous, appended ([device][100]), at pcie.0 slot 0x0f");
	like(t, "[device][101]\ndriver = \"virtio-blk-pci\"", "the disk slot follows it");
	ok(model_pos(&c, "device") >= 0 && model_pos(&c, "device") > usb, "...appended at the end");
	ok(strstr(t, TEST_OSK) && !strstr(strstr(t, TEST_OSK) + 1, TEST_OSK),
	   "the OSK appears once, in isa-applesmc");
}

/**
 * test_incus_options() - display, USB bus, and --add-xhci in Incus's format
 */
static void test_incus_options(void)
{
	cleanup_free char *t = NULL;
	struct qconf_opts o;
	struct macos_opts m;
	struct cp_error err;

	qconf_opts_init(&o);
	macos_for(&m, QCONF_INCUS, NULL);
	m.display = MACOS_DISPLAY_VMWARE_SVGA;
	m.usb_bus = "myxhci.0";
	t = generate(&o, &m, &err);
	like(t, "[device][100]\ndriver = \"vmware-svga\"\nbus = \"pcie.0\"\naddr = \"0f.0\"\n",
	     "vmware-svga, anonymous, at 0x0f");
	like(t, "driver = \"usb-kbd\"\nbus = \"myxhci.0\"", "--usb-bus overrides qemu_usb.0");
	m.usb_bus = NULL;
	m.add_xhci = true;
	ok(!generate(&o, &m, &err) && strstr(err.msg, "--add-xhci is for plain QEMU") &&
		   strstr(err.msg, "hot-plug allocator"),
	   "--add-xhci in Incus's format: %s", err.msg);
	no_osk(err.msg, "add-xhci");
	m.add_xhci = false;
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "other format"),
	   "options made for Incus's format are refused for readconfig");
}

/**
 * test_readconfig() - plain QEMU: the xHCI must be named or added
 */
static void test_readconfig(void)
{
	cleanup_free char *t = NULL;
	struct qconf_opts o;
	struct macos_opts m;
	struct cp_error err;
	const char *xhci, *kbd, *tablet;

	qconf_opts_init(&o);
	macos_for(&m, QCONF_READCONFIG, "13");
	m.add_xhci = false;
	ok(!generate(&o, &m, &err) && strstr(err.msg, "--usb-bus") && strstr(err.msg, "--add-xhci"),
	   "no xHCI: refused, naming --usb-bus and --add-xhci: %s", err.msg);
	no_osk(err.msg, "no xHCI");
	m.usb_bus = "xhci";
	ok(!generate(&o, &m, &err) && strstr(err.msg, "like xhci.0"), "a bus without .N: %s",
	   err.msg);
	m.usb_bus = "xhci.0";
	m.add_xhci = true;
	ok(!generate(&o, &m, &err) && strstr(err.msg, "not both"), "both: %s", err.msg);
	m.add_xhci = false;
	t = generate(&o, &m, &err);
	like(t, "[device \"coldplug-usb-kbd\"]\n  driver = \"usb-kbd\"\n  bus = \"xhci.0\"\n",
	     "--usb-bus xhci.0");
	ok(!strstr(t, "qemu_keyboard") && !strstr(t, "qemu_gpu"), "nothing is deleted");
	free(steal_pointer(&t));
	m.usb_bus = NULL;
	m.add_xhci = true;
	t = generate(&o, &m, &err);
	xhci = strstr(t, "[device \"coldplug-xhci\"]\n  driver = \"qemu-xhci\"\n  p2 = \"8\"\n"
			 "  p3 = \"8\"\n  bus = \"pcie.0\"\n  addr = \"0e.0\"\n");
	kbd = strstr(t, "  driver = \"usb-kbd\"\n  bus = \"coldplug-xhci.0\"\n");
	tablet = strstr(t, "  driver = \"usb-tablet\"\n  bus = \"coldplug-xhci.0\"\n");
	ok(xhci && kbd > xhci && tablet > xhci, "--add-xhci: qemu-xhci at 0x0e, then keyboard "
						"and tablet on it");
	like(t, "\n[device]\n  driver = \"VGA\"\n  bus = \"pcie.0\"\n  addr = \"0f.0\"\n",
	     "the display is anonymous");
	like(t, "osk = \"" TEST_OSK "\"", "the OSK is in the file");
}

/**
 * test_no_osk() - --macos without an OSK is refused
 */
static void test_no_osk(void)
{
	struct qconf_opts o;
	struct macos_opts m;
	struct cp_error err;

	qconf_opts_init(&o);
	macos_opts_init(&m, QCONF_INCUS);
	ok(!generate(&o, &m, &err) && strstr(err.msg, "--osk-file"), "no OSK: %s", err.msg);
}

/**
 * remove_scratch() - remove the files test_osk_file() wrote, and the directory
 */
static void remove_scratch(void)
{
	static const char *const names[] = { "lf", "crlf", "bare", "two", "big" };
	char path[sizeof(tmpdir) + 16];
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	if (rmdir(tmpdir) < 0)
		diag("could not remove %s: %s", tmpdir, strerror(errno));
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	if (!mkdtemp(tmpdir))
		bail_out("mkdtemp: %s", strerror(errno));
	test_osk();
	test_osk_file();
	test_versions();
	test_frontends();
	test_incus();
	test_incus_options();
	test_readconfig();
	test_no_osk();
	remove_scratch();
	return done_testing();
}
