/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the codeless kext: the USB id table, the Info.plist and the
 * OpenCore entry (content, XML escaping), the bundle writer (refusal to
 * overwrite, --force), and a real plist parser: libplist's plistutil
 * (Debian libplist-utils) converts each document to the binary format and
 * back, and the XML it writes must be ours byte for byte. plistutil 2.2
 * exits 0 even when it cannot parse its input, so the test judges by the
 * files it writes, never by its exit status alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/kext.h"
#include "tap.h"
#include "util.h"

static char tmpdir[] = "/tmp/coldplug-kext.XXXXXX";

/**
 * squeeze() - @s without whitespace between tags, for content checks
 * @s:	XML text
 *
 * Return: new string (caller frees)
 */
static char *squeeze(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		bail_out("out of memory");
	for (; *s; s++) {
		if (*s == '\n' || *s == '\t')
			continue;
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/**
 * test_table() - the one table of ids is QEMU's usb-net
 */
static void test_table(void)
{
	const struct kext_usb_match *m = &kext_usb_matches[0];

	is_int((long long)kext_usb_nmatches, 1, "one personality");
	is_str(m->qemu_device, "usb-net", "for QEMU's usb-net");
	is_int(m->id_vendor, 0x0525, "idVendor 0x0525 (NetChip)");
	is_int(m->id_product, 0xa4a2, "idProduct 0xa4a2 (RNDIS/Ethernet gadget)");
	is_int(m->bcd_device, 0, "bcdDevice 0");
	is_int(m->configuration, 1, "prefers configuration 1 (CDC-ECM)");
}

/**
 * test_plist() - the Info.plist's keys and values
 */
static void test_plist(void)
{
	cleanup_free char *t = NULL, *sq = NULL;
	struct kext_opts o;
	struct cp_error err;

	kext_opts_init(&o);
	t = kext_info_plist(&o, &err);
	if (!t)
		bail_out("%s", err.msg);
	sq = squeeze(t);
	like(t, "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\"", "Apple's doctype");
	like(sq, "<key>CFBundleIdentifier</key><string>org.coldplug.kext.ColdplugUSBNet</string>",
	     "our own bundle identifier");
	like(sq, "<key>CFBundleInfoDictionaryVersion</key><string>6.0</string>", "dict version");
	like(sq, "<key>CFBundleName</key><string>ColdplugUSBNet</string>", "bundle name");
	like(sq, "<key>CFBundlePackageType</key><string>KEXT</string>", "package type KEXT");
	like(sq, "<key>CFBundleVersion</key><string>", "a version");
	like(sq, "<key>CFBundleShortVersionString</key><string>", "a short version");
	like(sq, "<key>OSBundleRequired</key><string>Root</string>", "loaded at early boot");
	ok(!strstr(t, "CFBundleExecutable"), "codeless: no CFBundleExecutable");
	like(sq,
	     "<key>QEMU usb-net (CDC-ECM)</key><dict>"
	     "<key>CFBundleIdentifier</key><string>com.apple.driver.usb.cdc</string>"
	     "<key>IOClass</key><string>AppleUSBCDCCompositeDevice</string>"
	     "<key>IOProbeScore</key><integer>20000</integer>"
	     "<key>IOProviderClass</key><string>IOUSBHostDevice</string>"
	     "<key>bcdDevice</key><integer>0</integer>"
	     "<key>idProduct</key><integer>42146</integer>"
	     "<key>idVendor</key><integer>1317</integer>"
	     "<key>kUSBPreferredConfiguration</key><integer>1</integer></dict>",
	     "the personality binds 1317/42146/0 to Apple's CDC driver");
	o.preferred_config = false;
	free(t);
	t = kext_info_plist(&o, &err);
	ok(t && !strstr(t, "kUSBPreferredConfiguration"),
	   "kUSBPreferredConfiguration can be left out");
}

/**
 * test_names() - bundle names are checked; text is escaped
 */
static void test_names(void)
{
	static const char *const bad[] = { "",	  "a b", "a/b",	 "1abc", "a.b",
					   "a&b", "-ab", "x\"y", "ä",	 "a_b" };
	cleanup_free char *esc = NULL;
	struct cp_error err;
	char longname[KEXT_NAME_MAX + 2];
	size_t i;

	ok(kext_name_check("QemuNet-2", &err) == 0, "QemuNet-2 is a good name");
	for (i = 0; i < CP_ARRAY_SIZE(bad); i++)
		ok(kext_name_check(bad[i], &err) < 0 && strstr(err.msg, "letters"),
		   "name '%s' is refused", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(kext_name_check(longname, &err) < 0, "a %d-character name is refused",
	   KEXT_NAME_MAX + 1);
	esc = kext_xml_escape("a<b&c>\"d'e", &err);
	is_str(esc, "a&lt;b&amp;c&gt;&quot;d&apos;e", "XML escaping of all five specials");
}

/**
 * test_opencore() - the Kernel -> Add entry
 */
static void test_opencore(void)
{
	cleanup_free char *t = NULL, *sq = NULL;
	struct kext_opts o;
	struct cp_error err;

	kext_opts_init(&o);
	o.name = "QemuNet";
	t = kext_opencore_entry(&o, &err);
	if (!t)
		bail_out("%s", err.msg);
	sq = squeeze(t);
	like(sq, "<dict><key>Arch</key><string>x86_64</string>", "a dict, Arch first");
	like(sq, "<key>BundlePath</key><string>QemuNet.kext</string>", "BundlePath");
	like(sq, "<key>Comment</key><string>coldplug: QEMU usb-net (0525:a4a2)", "Comment");
	like(sq, "<key>Enabled</key><true/>", "Enabled");
	like(sq, "<key>ExecutablePath</key><string></string>", "codeless: empty ExecutablePath");
	like(sq, "<key>MaxKernel</key><string></string>", "MaxKernel");
	like(sq, "<key>MinKernel</key><string>15.0.0</string>", "MinKernel: OS X 10.11");
	like(sq, "<key>PlistPath</key><string>Contents/Info.plist</string></dict>", "PlistPath");
	o.name = "bad name";
	ok(!kext_opencore_entry(&o, &err), "a bad name is refused for the snippet too");
}

/**
 * path_exists() - whether @path exists
 * @path:	path
 *
 * Return: true if lstat() finds it
 */
static bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/**
 * test_write() - the bundle on disk; existing bundles are refused
 */
static void test_write(void)
{
	cleanup_free char *path = NULL, *dir = NULL, *macos = NULL;
	struct kext_opts o;
	struct cp_error err;

	kext_opts_init(&o);
	dir = cp_asprintf(NULL, "%s/Kexts", tmpdir);
	path = kext_write_bundle(&o, dir, false, &err);
	if (!ok(path != NULL, "write into a missing directory (created)"))
		diag("%s", err.msg);
	ok(path && strstr(path, "/Kexts/ColdplugUSBNet.kext/Contents/Info.plist"), "at %s",
	   path ? path : "-");
	ok(path && path_exists(path), "the Info.plist exists");
	free(path);
	path = kext_write_bundle(&o, dir, false, &err);
	ok(!path && err.code == CP_ERR_REFUSED && strstr(err.msg, "already exists") &&
		   strstr(err.msg, "--force"),
	   "an existing bundle is refused: %s", err.msg);
	path = kext_write_bundle(&o, dir, true, &err);
	ok(path != NULL, "--force replaces its Info.plist");
	free(path);
	macos = cp_asprintf(NULL, "%s/ColdplugUSBNet.kext/Contents/MacOS", dir);
	mkdir(macos, 0755);
	path = kext_write_bundle(&o, dir, true, &err);
	ok(!path && strstr(err.msg, "not a codeless kext"),
	   "a bundle with an executable is never touched, even with --force");
	rmdir(macos);
	path = kext_write_bundle(&o, "/proc/version", false, &err);
	ok(!path && strstr(err.msg, "not a directory"), "a file as --out: %s", err.msg);
}

/**
 * run_plistutil() - plistutil -i IN -o OUT -f FMT, output discarded
 * @in:		input file
 * @out:	output file
 * @fmt:	"bin" or "xml"
 *
 * Return: its wait status, or -1 if it could not be started
 */
static int run_plistutil(const char *in, const char *out, const char *fmt)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("plistutil", "plistutil", "-i", in, "-o", out, "-f", fmt, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/**
 * read_text() - a whole small file
 * @path:	file
 *
 * Return: new string (caller frees), or NULL
 */
static char *read_text(const char *path)
{
	char *buf = calloc(1, 65536);
	FILE *f = fopen(path, "re");
	size_t n;

	if (!buf || !f) {
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/**
 * plist_roundtrip() - XML -> binary -> XML through plistutil
 * @xml:	document to check
 * @tag:	file name stem
 *
 * Return: true if plistutil parsed it and wrote the same XML back
 */
static bool plist_roundtrip(const char *xml, const char *tag)
{
	cleanup_free char *in = cp_asprintf(NULL, "%s/%s.plist", tmpdir, tag);
	cleanup_free char *bin = cp_asprintf(NULL, "%s/%s.bin", tmpdir, tag);
	cleanup_free char *back = cp_asprintf(NULL, "%s/%s.back", tmpdir, tag);
	cleanup_free char *text = NULL;
	FILE *f = fopen(in, "we");
	int st;

	if (!f)
		bail_out("%s: %s", in, strerror(errno));
	fputs(xml, f);
	fclose(f);
	st = run_plistutil(in, bin, "bin");
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 127)
		bail_out("cannot run plistutil (Debian package libplist-utils)");
	if (!path_exists(bin))
		return false;
	run_plistutil(bin, back, "xml");
	text = read_text(back);
	if (text && strcmp(text, xml))
		diag("plistutil wrote back:\n%s", text);
	return text && !strcmp(text, xml);
}

/**
 * test_plistutil() - a real plist parser accepts both documents unchanged
 */
static void test_plistutil(void)
{
	cleanup_free char *plist = NULL, *entry = NULL, *doc = NULL;
	struct kext_opts o;
	struct cp_error err;
	FILE *f;
	size_t len = 0;
	const char *p;

	kext_opts_init(&o);
	plist = kext_info_plist(&o, &err);
	ok(plist_roundtrip(plist, "info"), "plistutil: Info.plist -> binary -> the same XML");
	entry = kext_opencore_entry(&o, &err);
	f = open_memstream(&doc, &len);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD "
	      "PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	      "<plist version=\"1.0\">\n<array>\n",
	      f);
	for (p = entry; *p; p++)
		fprintf(f, "%s%c", p == entry || p[-1] == '\n' ? "\t" : "", *p);
	fputs("</array>\n</plist>\n", f);
	fclose(f);
	ok(plist_roundtrip(doc, "opencore"),
	   "plistutil: the OpenCore entry (in an array) -> binary -> the same XML");
	ok(!plist_roundtrip("<plist version=\"1.0\">\n<dict>\n\t<key>a&b</key>\n"
			    "\t<string>x</string>\n</dict>\n</plist>\n",
			    "broken"),
	   "...and the check fails for a plist with an unescaped '&'");
}

/**
 * remove_tree() - rm -r of the test's scratch directory
 * @dir:	directory
 */
static void remove_tree(const char *dir)
{
	const char *argv[] = { "rm", "-rf", dir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
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
	test_table();
	test_plist();
	test_names();
	test_opencore();
	test_write();
	test_plistutil();
	remove_tree(tmpdir);
	return done_testing();
}
