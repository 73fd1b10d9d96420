/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The codeless kext generator: see coldplug/kext.h. Plists are written by
 * hand (no plist library on Linux hosts by default); every string goes
 * through one XML escaper, and the tests check the result with a real plist
 * parser (libplist's plistutil), both ways through the binary format.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/kext.h"
#include "config.h"
#include "util.h"

/* The one table of USB ids. QEMU's usb-net (hw/usb/dev-network.c,
 * qemu-notes.md §4): NetChip's vendor id, the RNDIS/Ethernet gadget product
 * id, bcdDevice 0; configurations RNDIS (value 2, first) and CDC-ECM (value
 * 1). The lab test (tests/qemu/lab/test_macos.c) reads these from the guest. */
const struct kext_usb_match kext_usb_matches[] = {
	{
		.personality = "QEMU usb-net (CDC-ECM)",
		.qemu_device = "usb-net",
		.id_vendor = 0x0525,
		.id_product = 0xa4a2,
		.bcd_device = 0x0000,
		.configuration = 1,
		.bundle = "com.apple.driver.usb.cdc",
		.io_class = "AppleUSBCDCCompositeDevice",
		.provider = "IOUSBHostDevice",
		.probe_score = 20000,
	},
};
const size_t kext_usb_nmatches = CP_ARRAY_SIZE(kext_usb_matches);

/* Darwin 15 is OS X 10.11, whose USB stack introduced IOUSBHostDevice. */
#define KEXT_MIN_KERNEL "15.0.0"

/**
 * kext_opts_init() - defaults: KEXT_DEFAULT_NAME, with the preferred
 *		      configuration key
 * @o:	options to initialise
 */
void kext_opts_init(struct kext_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->name = KEXT_DEFAULT_NAME;
	o->preferred_config = true;
}

/**
 * kext_name_check() - a name usable as file name, CFBundleName and the last
 *		       part of a bundle identifier
 * @name:	candidate
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int kext_name_check(const char *name, struct cp_error *err)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
	size_t len = strlen(name);

	if (!len || len > KEXT_NAME_MAX || strspn(name, ok) != len ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", name[0]))
		return cp_error_set(err, CP_ERR_INVALID,
				    "kext name '%s': use 1 to %d letters, digits and '-', starting "
				    "with a letter (it is the bundle's file name and part of its "
				    "CFBundleIdentifier)",
				    name, KEXT_NAME_MAX);
	return 0;
}

/**
 * xml_put() - write @s with XML's five special characters escaped
 * @f:	output
 * @s:	text
 */
static void xml_put(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/**
 * memstream_close() - finish an open_memstream() text
 * @f:		the stream
 * @text:	its buffer pointer (set by fclose())
 * @err:	filled on failure
 *
 * Return: the text (caller frees), or NULL (then it is freed)
 */
static char *memstream_close(FILE *f, char **text, struct cp_error *err)
{
	if (fclose(f) != 0 || !*text) {
		free(*text);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	}
	return *text;
}

/**
 * kext_xml_escape() - @s escaped for XML text and attributes
 * @s:		text
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *kext_xml_escape(const char *s, struct cp_error *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	xml_put(f, s);
	return memstream_close(f, &text, err);
}

/**
 * put_key() - <key>KEY</key> at @depth tabs
 * @f:		output
 * @depth:	indentation
 * @key:	key
 */
static void put_key(FILE *f, int depth, const char *key)
{
	fprintf(f, "%.*s<key>", depth, "\t\t\t\t\t\t\t\t");
	xml_put(f, key);
	fputs("</key>\n", f);
}

/**
 * put_string() - a key and its <string>
 * @f:		output
 * @depth:	indentation
 * @key:	key
 * @value:	string value
 */
static void put_string(FILE *f, int depth, const char *key, const char *value)
{
	put_key(f, depth, key);
	fprintf(f, "%.*s<string>", depth, "\t\t\t\t\t\t\t\t");
	xml_put(f, value);
	fputs("</string>\n", f);
}

/**
 * put_integer() - a key and its <integer>
 * @f:		output
 * @depth:	indentation
 * @key:	key
 * @value:	integer value
 */
static void put_integer(FILE *f, int depth, const char *key, long value)
{
	put_key(f, depth, key);
	fprintf(f, "%.*s<integer>%ld</integer>\n", depth, "\t\t\t\t\t\t\t\t", value);
}

/**
 * put_personality() - one IOKit personality, keys in Apple's sorted order
 * @f:	output
 * @m:	the match
 * @o:	options
 */
static void put_personality(FILE *f, const struct kext_usb_match *m, const struct kext_opts *o)
{
	put_key(f, 2, m->personality);
	fputs("\t\t<dict>\n", f);
	put_string(f, 3, "CFBundleIdentifier", m->bundle);
	put_string(f, 3, "IOClass", m->io_class);
	put_integer(f, 3, "IOProbeScore", m->probe_score);
	put_string(f, 3, "IOProviderClass", m->provider);
	put_integer(f, 3, "bcdDevice", m->bcd_device);
	put_integer(f, 3, "idProduct", m->id_product);
	put_integer(f, 3, "idVendor", m->id_vendor);
	if (o->preferred_config && m->configuration)
		put_integer(f, 3, "kUSBPreferredConfiguration", m->configuration);
	fputs("\t\t</dict>\n", f);
}

/**
 * kext_info_plist() - the bundle's Contents/Info.plist
 * @o:		options
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *kext_info_plist(const struct kext_opts *o, struct cp_error *err)
{
	cleanup_free char *id = NULL;
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	if (kext_name_check(o->name, err) < 0)
		return NULL;
	id = cp_asprintf(err, KEXT_ID_PREFIX "%s", o->name);
	if (!id)
		return NULL;
	f = open_memstream(&text, &len);
	if (!f)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	      "<plist version=\"1.0\">\n<dict>\n",
	      f);
	put_string(f, 1, "CFBundleIdentifier", id);
	put_string(f, 1, "CFBundleInfoDictionaryVersion", "6.0");
	put_string(f, 1, "CFBundleName", o->name);
	put_string(f, 1, "CFBundlePackageType", "KEXT");
	put_string(f, 1, "CFBundleShortVersionString", COLDPLUG_VERSION);
	put_string(f, 1, "CFBundleVersion", COLDPLUG_VERSION);
	put_key(f, 1, "IOKitPersonalities");
	fputs("\t<dict>\n", f);
	for (i = 0; i < kext_usb_nmatches; i++)
		put_personality(f, &kext_usb_matches[i], o);
	fputs("\t</dict>\n", f);
	put_string(f, 1, "OSBundleRequired", "Root");
	fputs("</dict>\n</plist>\n", f);
	return memstream_close(f, &text, err);
}

/**
 * kext_opencore_entry() - the <dict> for OpenCore's config.plist Kernel -> Add
 * @o:		options
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *kext_opencore_entry(const struct kext_opts *o, struct cp_error *err)
{
	cleanup_free char *bundle = NULL, *comment = NULL;
	const struct kext_usb_match *m = &kext_usb_matches[0];
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (kext_name_check(o->name, err) < 0)
		return NULL;
	bundle = cp_asprintf(err, "%s.kext", o->name);
	comment = cp_asprintf(err, "coldplug: QEMU %s (%04x:%04x) to %s", m->qemu_device,
			      m->id_vendor, m->id_product, m->io_class);
	if (!bundle || !comment || !(f = open_memstream(&text, &len)))
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	fputs("<dict>\n", f);
	put_string(f, 1, "Arch", "x86_64");
	put_string(f, 1, "BundlePath", bundle);
	put_string(f, 1, "Comment", comment);
	put_key(f, 1, "Enabled");
	fputs("\t<true/>\n", f);
	put_string(f, 1, "ExecutablePath", "");
	put_string(f, 1, "MaxKernel", "");
	put_string(f, 1, "MinKernel", KEXT_MIN_KERNEL);
	put_string(f, 1, "PlistPath", "Contents/Info.plist");
	fputs("</dict>\n", f);
	return memstream_close(f, &text, err);
}

/**
 * make_dir() - mkdir that accepts an existing directory
 * @path:	directory
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int make_dir(const char *path, struct cp_error *err)
{
	struct stat st;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return cp_error_set_errno(err, errno, "cannot create %s", path);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return cp_error_set(err, CP_ERR_INVALID, "%s exists and is not a directory", path);
	return 0;
}

/**
 * write_all() - write @len bytes of @text to @fd
 * @fd:		descriptor
 * @text:	data
 * @len:	its length
 *
 * Return: 0, or -1 with errno set
 */
static int write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/**
 * write_file() - write @text to @path through a temporary file and rename
 * @path:	destination
 * @text:	content
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_file(const char *path, const char *text, struct cp_error *err)
{
	cleanup_free char *tmp = cp_asprintf(err, "%s.tmp", path);
	int fd, saved;

	if (!tmp)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cp_error_set_errno(err, errno, "cannot create %s", tmp);
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return cp_error_set_errno(err, saved, "cannot write %s", tmp);
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		return cp_error_set_errno(err, saved, "cannot write %s", path);
	}
	return 0;
}

/**
 * check_existing() - refuse to touch an existing bundle unless @force, and
 *		      never one with an executable
 * @bundle:	the bundle's path
 * @force:	replace its Info.plist
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int check_existing(const char *bundle, bool force, struct cp_error *err)
{
	cleanup_free char *macos = cp_asprintf(err, "%s/Contents/MacOS", bundle);
	struct stat st;

	if (!macos)
		return -1;
	if (lstat(bundle, &st) < 0)
		return errno == ENOENT ? 0 : cp_error_set_errno(err, errno, "%s", bundle);
	if (!force)
		return cp_error_set(err, CP_ERR_REFUSED,
				    "%s already exists: give --force to replace its "
				    "Contents/Info.plist",
				    bundle);
	if (!S_ISDIR(st.st_mode))
		return cp_error_set(err, CP_ERR_REFUSED, "%s exists and is not a directory",
				    bundle);
	if (lstat(macos, &st) == 0)
		return cp_error_set(err, CP_ERR_REFUSED,
				    "%s is not a codeless kext (it has Contents/MacOS): "
				    "choose another --name or directory",
				    bundle);
	return 0;
}

/**
 * kext_write_bundle() - write DIR/<name>.kext/Contents/Info.plist
 * @o:		options
 * @dir:	directory to create the bundle in (created if missing, one
 *		level)
 * @force:	replace the Info.plist of an existing codeless bundle
 * @err:	filled on failure: CP_ERR_REFUSED if the bundle exists
 *
 * Return: the Info.plist's path (caller frees), or NULL
 */
char *kext_write_bundle(const struct kext_opts *o, const char *dir, bool force,
			struct cp_error *err)
{
	cleanup_free char *plist = kext_info_plist(o, err);
	cleanup_free char *bundle = NULL, *contents = NULL;
	char *path;

	if (!plist)
		return NULL;
	bundle = cp_asprintf(err, "%s/%s.kext", dir, o->name);
	contents = bundle ? cp_asprintf(err, "%s/Contents", bundle) : NULL;
	path = contents ? cp_asprintf(err, "%s/Info.plist", contents) : NULL;
	if (!path)
		return NULL;
	if (make_dir(dir, err) < 0 || check_existing(bundle, force, err) < 0 ||
	    make_dir(bundle, err) < 0 || make_dir(contents, err) < 0 ||
	    write_file(path, plist, err) < 0) {
		free(path);
		return NULL;
	}
	return path;
}
