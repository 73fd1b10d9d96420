/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Incus's monitor hooks, replayed over QMP: CPU hotplug (setCPUs), the NIC
 * hook (addNetDevConfig's tapMonHook) and the disk hook (addDriveConfig,
 * with the >= 7.3 qcow2 metadata wrapper of the root disk), plus Incus's
 * names (linux.PathNameEncode, hashValue). Arguments are built as maps and
 * sorted by incus_call(), as Go's json.Marshal sorts map keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "digest.h"
#include "incus_priv.h"
#include "run.h"
#include "util.h"

#define INCUS_PREFIX	    "incus_"
#define INCUS_DEV_PREFIX    "dev-incus_"
#define PATTERN_RECORD	    64
#define PATTERN_MAX	    (1u << 20)
#define QEMU_IMG_TIMEOUT_MS 60000
#define FS_ZFS_MAGIC	    0x2fc12fc1
#define FS_BTRFS_MAGIC	    0x9123683e

/**
 * lab_incus_escape() - linux.PathNameEncode(): "-" -> "--", "/" -> "-"
 * @devname:	Incus device name
 * @out:	output (truncated to @size)
 * @size:	its size
 */
void lab_incus_escape(const char *devname, char *out, size_t size)
{
	size_t o = 0;

	for (; *devname && o + 2 < size; devname++) {
		if (*devname == '-') {
			out[o++] = '-';
			out[o++] = '-';
		} else {
			out[o++] = *devname == '/' ? '-' : *devname;
		}
	}
	if (size)
		out[o] = '\0';
}

/**
 * lab_incus_hash_value() - hashValue(): @value, or a hash if too long
 * @value:	the string
 * @max_len:	longest kept as is
 * @out:	@value, or the first @max_len characters of the unpadded
 *		base64url SHA-256 of it
 * @size:	size of @out
 */
void lab_incus_hash_value(const char *value, size_t max_len, char *out, size_t size)
{
	uint8_t dig[LAB_SHA256_LEN];
	char b64[64];

	if (strlen(value) <= max_len) {
		cp_strlcpy(out, value, size);
		return;
	}
	lab_sha256(value, strlen(value), dig);
	lab_base64url(dig, sizeof(dig), b64, sizeof(b64));
	b64[max_len < sizeof(b64) ? max_len : sizeof(b64) - 1] = '\0';
	cp_strlcpy(out, b64, size);
}

/**
 * lab_incus_node_name() - blockNodeName(): incus_<hashValue(esc, 25)>
 * @devname:	Incus device name
 * @out:	output
 * @size:	its size
 */
void lab_incus_node_name(const char *devname, char *out, size_t size)
{
	char esc[256], h[64];

	lab_incus_escape(devname, esc, sizeof(esc));
	lab_incus_hash_value(esc, 25, h, sizeof(h));
	lab_fmt(out, size, INCUS_PREFIX "%s", h);
}

/**
 * lab_incus_device_id() - the qdev id: dev-incus_<esc>
 * @devname:	Incus device name
 * @out:	output
 * @size:	its size
 */
void lab_incus_device_id(const char *devname, char *out, size_t size)
{
	char esc[256];

	lab_incus_escape(devname, esc, sizeof(esc));
	lab_fmt(out, size, INCUS_DEV_PREFIX "%s", esc);
}

/**
 * lab_incus_serial() - the disk serial: incus_<hashValue(esc, 30 or 14)>
 * @devname:	Incus device name
 * @bus:	io.bus (nvme and virtio-blk allow 20 characters)
 * @out:	output
 * @size:	its size
 */
void lab_incus_serial(const char *devname, enum lab_disk_bus bus, char *out, size_t size)
{
	char esc[256], h[64];

	lab_incus_escape(devname, esc, sizeof(esc));
	lab_incus_hash_value(esc, bus == LAB_DISK_NVME || bus == LAB_DISK_VIRTIO_BLK ? 14 : 30, h,
			     sizeof(h));
	lab_fmt(out, size, INCUS_PREFIX "%s", h);
}

/**
 * incus_hook_cpus() - setCPUs(): hot-plug vCPUs 2..N
 * @vm:		emulator (QEMU started with cpus=1)
 * @err:	filled on failure
 *
 * query-hotpluggable-cpus, then device_add of the first free entries in
 * QEMU's order, with id cpu<socket><core><thread>.
 *
 * Return: 0, or -1
 */
int incus_hook_cpus(struct lab_incus *vm, struct cp_error *err)
{
	cleanup_json cp_json *cpus = incus_call(vm, "query-hotpluggable-cpus", NULL, NULL, 0, err);
	size_t i, reserved = 1, added = 0, want = vm->opts.vcpus;

	if (!cpus)
		return cp_error_prefix(err, "Failed to query hotpluggable CPUs");
	for (i = 0; i < cp_json_len(cpus); i++)
		if (cp_str_has_prefix(cp_json_get_str(cp_json_at(cpus, i), "qom-path"),
				      "/machine/peripheral"))
			reserved++;
	if (want > cp_json_len(cpus))
		return cp_error_set(err, CP_ERR_INVALID, "Requested CPU count of %zu exceeds %zu",
				    want, cp_json_len(cpus));
	for (i = 0; i < cp_json_len(cpus) && reserved + added < want; i++) {
		cp_json *c = cp_json_at(cpus, i), *props = cp_json_get_object(c, "props");
		cp_json *dev = cp_json_new_object();
		int64_t s = 0, k = 0, t = 0;
		char id[64];

		if (cp_json_get(c, "qom-path"))
			continue;
		cp_json_get_int(props, "socket-id", &s);
		cp_json_get_int(props, "core-id", &k);
		cp_json_get_int(props, "thread-id", &t);
		lab_fmt(id, sizeof(id), "cpu%lld%lld%lld", (long long)s, (long long)k,
			(long long)t);
		cp_json_set_str(dev, "id", id);
		cp_json_set_str(dev, "driver", cp_json_get_str(c, "type"));
		cp_json_set_int(dev, "core-id", k);
		cp_json_set_int(dev, "socket-id", s);
		cp_json_set_int(dev, "thread-id", t);
		if (incus_call_ok(vm, "device_add", dev, err) < 0)
			return cp_error_prefix(err, "Failed to add CPU");
		added++;
	}
	vm->vcpus_now = (unsigned)(reserved + added);
	return 0;
}

/**
 * send_fd() - getfd with SCM_RIGHTS, as qmp.SendFile()
 * @vm:		emulator
 * @name:	fdname
 * @fd:		descriptor (the caller keeps and closes it)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int send_fd(struct lab_incus *vm, const char *name, int fd, struct cp_error *err)
{
	cleanup_json cp_json *args = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;

	cp_json_set_str(args, "fdname", name);
	ret = incus_call(vm, "getfd", steal_pointer(&args), &fd, 1, err);
	return ret ? 0 : -1;
}

/**
 * nic_device() - the NIC's device_add arguments
 * @vm:		emulator
 * @nic:	the NIC
 * @queues:	queue count
 *
 * Return: new object
 */
static cp_json *nic_device(struct lab_incus *vm, const struct lab_nic *nic, unsigned queues)
{
	cp_json *dev = cp_json_new_object();
	char id[128], netdev[128], esc[128];

	lab_incus_escape(nic->name, esc, sizeof(esc));
	lab_fmt(id, sizeof(id), INCUS_DEV_PREFIX "%s", esc);
	lab_fmt(netdev, sizeof(netdev), INCUS_PREFIX "%s", esc);
	cp_json_set_str(dev, "id", id);
	cp_json_set_int(dev, "bootindex", nic->bootindex);
	cp_json_set_str(dev, "netdev", netdev);
	cp_json_set_str(dev, "mac", nic->hwaddr);
	if (nic->spec.bus == LAB_NIC_USB) {
		cp_json_set_str(dev, "bus", "qemu_usb.0");
		cp_json_set_str(dev, "driver", "usb-net");
		return dev;
	}
	cp_json_set_str(dev, "bus", nic->port);
	cp_json_set_str(dev, "addr", nic->addr);
	if (nic->multi)
		cp_json_set_bool(dev, "multifunction", true);
	cp_json_set_bool(dev, "mq", true);
	cp_json_set_int(dev, "vectors", 2 * queues + 2);
	cp_json_set_str(dev, "driver", "virtio-net-pci");
	(void)vm;
	return dev;
}

/**
 * nic_send_queues() - open every queue (and vhost-net) and getfd them
 * @vm:		emulator
 * @nic:	the NIC
 * @queues:	how many
 * @fds:	filled with the descriptors, kept open until the hook ends
 * @nfds:	their count
 * @vhost:	whether /dev/vhost-net is usable (Incus's "vhost_net" feature)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int nic_send_queues(struct lab_incus *vm, const struct lab_nic *nic, unsigned queues,
			   int *fds, size_t *nfds, bool vhost, struct cp_error *err)
{
	unsigned i;
	char name[64];

	for (i = 0; i < queues; i++) {
		int fd = lab_net_tap_open_queue(vm->net, nic->tap, err);

		if (fd < 0)
			return cp_error_prefix(err, "Error opening netdev file for queue %u", i);
		fds[(*nfds)++] = fd;
		lab_fmt(name, sizeof(name), "/dev/net/tun.%u", i);
		if (send_fd(vm, name, fd, err) < 0)
			return -1;
		if (!vhost)
			continue;
		fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return cp_error_set_errno(err, errno, "open /dev/vhost-net");
		fds[(*nfds)++] = fd;
		lab_fmt(name, sizeof(name), "/dev/vhost-net.%u", i);
		if (send_fd(vm, name, fd, err) < 0)
			return -1;
	}
	return 0;
}

/**
 * join_names() - "PREFIX.0:PREFIX.1:..."
 * @prefix:	fd name prefix
 * @n:		count
 * @out:	output
 * @size:	its size
 */
static void join_names(const char *prefix, unsigned n, char *out, size_t size)
{
	size_t off = 0;
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < n && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%s.%u", i ? ":" : "", prefix, i);
}

/**
 * nic_add() - netdev_add, device_add, and set_link down if disconnected
 * @vm:		emulator
 * @nic:	the NIC
 * @queues:	queue count
 * @vhost:	vhost-net in use
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int nic_add(struct lab_incus *vm, const struct lab_nic *nic, unsigned queues, bool vhost,
		   struct cp_error *err)
{
	cp_json *netdev = cp_json_new_object();
	char names[1024], esc[128], id[160];

	lab_incus_escape(nic->name, esc, sizeof(esc));
	lab_fmt(id, sizeof(id), INCUS_PREFIX "%s", esc);
	cp_json_set_str(netdev, "id", id);
	cp_json_set_str(netdev, "type", "tap");
	cp_json_set_bool(netdev, "vhost", vhost);
	join_names("/dev/net/tun", queues, names, sizeof(names));
	cp_json_set_str(netdev, "fds", names);
	if (vhost) {
		join_names("/dev/vhost-net", queues, names, sizeof(names));
		cp_json_set_str(netdev, "vhostfds", names);
	}
	if (incus_call_ok(vm, "netdev_add", netdev, err) < 0)
		return cp_error_prefix(err, "Failed adding NIC netdev");
	if (incus_call_ok(vm, "device_add", nic_device(vm, nic, queues), err) < 0)
		return cp_error_prefix(err, "Failed adding NIC device");
	if (!nic->spec.disconnected)
		return 0;
	return lab_incus_nic_set_link(vm, nic->name, false, err);
}

/**
 * incus_hook_nic() - tapMonHook(): queues, getfd, netdev_add, device_add
 * @vm:		emulator
 * @nic:	the NIC (its tap exists, on the bridge)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_hook_nic(struct lab_incus *vm, struct lab_nic *nic, struct cp_error *err)
{
	cleanup_json cp_json *cpus = incus_call(vm, "query-cpus-fast", NULL, NULL, 0, err);
	bool vhost = !vm->opts.no_vhost && access("/dev/vhost-net", R_OK | W_OK) == 0;
	int fds[2 * 64];
	size_t nfds = 0, i;
	unsigned queues;
	int rc;

	if (!cpus)
		return cp_error_prefix(err, "Failed getting CPU list for NIC queues");
	queues = cp_json_len(cpus) > 2 ? (unsigned)cp_json_len(cpus) : 2;
	if (queues > 64)
		return cp_error_set(err, CP_ERR_INVALID, "too many queues (%u)", queues);
	rc = nic_send_queues(vm, nic, queues, fds, &nfds, vhost, err);
	if (rc == 0)
		rc = nic_add(vm, nic, queues, vhost, err);
	for (i = 0; i < nfds; i++)
		close(fds[i]); /* Incus closes its copies once the device is added */
	if (rc < 0)
		return cp_error_prefix(err, "Failed setting up device \"%s\"", nic->name);
	return 0;
}

/**
 * write_pattern() - the guest README's disk pattern over [0, @len)
 * @fd:		image
 * @seed:	pattern seed
 * @len:	bytes
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_pattern(int fd, unsigned seed, size_t len, struct cp_error *err)
{
	cleanup_free char *buf = malloc(len ? len : 1);
	size_t k;

	if (!buf)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	for (k = 0; k * PATTERN_RECORD < len; k++) {
		char rec[PATTERN_RECORD + 1];
		int n = snprintf(rec, sizeof(rec), "CP seed=%u off=%020llu", seed,
				 (unsigned long long)(k * PATTERN_RECORD));

		memset(rec + n, '.', PATTERN_RECORD - 1 - (size_t)n);
		rec[PATTERN_RECORD - 1] = '\n';
		memcpy(buf + k * PATTERN_RECORD, rec,
		       len - k * PATTERN_RECORD < PATTERN_RECORD ? len - k * PATTERN_RECORD
								 : PATTERN_RECORD);
	}
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		return cp_error_set_errno(err, errno, "writing the disk pattern");
	return 0;
}

/**
 * create_image() - a sparse raw image with the pattern in its first MiB
 * @d:		disk (@d->image set)
 * @seed:	pattern seed
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int create_image(struct lab_disk *d, unsigned seed, struct cp_error *err)
{
	cleanup_close int fd = open(d->image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return cp_error_set_errno(err, errno, "create %s", d->image);
	d->owned = true;
	if (ftruncate(fd, (off_t)d->size) < 0)
		return cp_error_set_errno(err, errno, "truncate %s", d->image);
	return write_pattern(fd, seed, d->size < PATTERN_MAX ? d->size : PATTERN_MAX, err);
}

/**
 * qemu_img_argv() - run qemu-img with its arguments
 * @vm:		emulator (log directory)
 * @err:	filled on failure
 * @args:	arguments, NULL-terminated
 *
 * Return: 0, or -1
 */
static int qemu_img_argv(struct lab_incus *vm, struct cp_error *err, const char *const *args)
{
	struct lab_run_opts o = { .timeout_ms = QEMU_IMG_TIMEOUT_MS, .log_dir = vm->dir };
	const char *argv[16];
	size_t n = 0;

	argv[n++] = lab_tool("qemu-img");
	while (n + 1 < CP_ARRAY_SIZE(argv) && args[n - 1]) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	return lab_run_ok(argv, &o, err);
}

/* qemu_img(vm, err, "create", ...): the arguments as a NULL-terminated array. */
#define qemu_img(vm, err, ...) qemu_img_argv(vm, err, (const char *const[]){ __VA_ARGS__, NULL })

/**
 * create_metadata_image() - ensureMetadataImage() of Incus >= 7.3
 * @vm:		emulator
 * @d:		the root disk (@d->image is the raw volume)
 * @err:	filled on failure
 *
 * A qcow2 with data_file_raw=on and preallocated metadata, created against
 * a temporary raw file of the same size (the real volume is never handed to
 * qemu-img); QEMU later gets the real volume as the data-file through an
 * fdset.
 *
 * Return: 0, or -1
 */
static int create_metadata_image(struct lab_incus *vm, struct lab_disk *d, struct cp_error *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32], size[32], opt[PATH_MAX + 64];
	int rc;

	lab_fmt(dir, sizeof(dir), "%s/image_metadata", vm->dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cp_error_set_errno(err, errno, "mkdir %s", dir);
	lab_fmt(d->qcow2, sizeof(d->qcow2), "%s/%s.qcow2", dir, d->name);
	lab_fmt(tmp, sizeof(tmp), "%s/%s.raw.tmp", dir, d->name);
	lab_fmt(size, sizeof(size), "%llu", (unsigned long long)d->size);
	lab_fmt(opt, sizeof(opt), "data_file=%s,data_file_raw=on,preallocation=metadata", tmp);
	rc = qemu_img(vm, err, "create", "-q", "-f", "raw", tmp, size);
	if (rc == 0)
		rc = qemu_img(vm, err, "create", "-q", "-f", "qcow2", "-o", opt, d->qcow2, size);
	unlink(tmp);
	return rc < 0 ? cp_error_prefix(err, "Failed creating qcow2 metadata image") : 0;
}

/**
 * incus_disk_prepare() - the disk's image, and for a >= 7.3 root its qcow2
 * @vm:		emulator
 * @d:		disk
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_disk_prepare(struct lab_incus *vm, struct lab_disk *d, struct cp_error *err)
{
	struct stat st;

	if (d->spec.image) {
		cp_strlcpy(d->image, d->spec.image, sizeof(d->image));
		if (stat(d->image, &st) < 0)
			return cp_error_set_errno(err, errno, "disk %s: %s", d->name, d->image);
		d->size = (uint64_t)st.st_size;
	} else {
		lab_fmt(d->image, sizeof(d->image), "%s/%s.img", vm->dir,
			d->spec.root ? "root" : d->name);
		for (char *p = d->image + strlen(vm->dir) + 1; *p; p++)
			if (*p == '/')
				*p = '_';
		if (create_image(d, (unsigned)(d - vm->disks) + 1, err) < 0)
			return -1;
	}
	if (d->spec.root && vm->opts.release == LAB_INCUS_7_3)
		return create_metadata_image(vm, d, err);
	return 0;
}

/**
 * struct disk_io - how Incus opens and configures one disk
 * @aio:	"native", "io_uring" or "threads"
 * @direct:	cache.direct
 * @no_flush:	cache.no-flush
 * @readonly:	read-only (ro or cdrom)
 */
struct disk_io {
	const char *aio;
	bool direct;
	bool no_flush;
	bool readonly;
};

/**
 * disk_io_mode() - addDriveConfig()'s aio / cache decisions
 * @vm:		emulator
 * @d:		disk
 * @src:	the file Incus probes (the qcow2 for a >= 7.3 root)
 * @io:		filled
 *
 * An ISO is read-only in 7.x; Incus 6.0.4 opens it read-write and adds a
 * writable node ("read-only":false), as its real-Incus runs showed.
 */
static void disk_io_mode(const struct lab_incus *vm, const struct lab_disk *d, const char *src,
			 struct disk_io *io)
{
	const char *cache = "none";
	struct statfs sfs;
	int fd;

	io->aio = d->spec.no_io_uring ? "native" : "io_uring";
	if (statfs(src, &sfs) == 0 && ((unsigned long)sfs.f_type == FS_ZFS_MAGIC ||
				       (unsigned long)sfs.f_type == FS_BTRFS_MAGIC)) {
		io->aio = "threads";
		cache = "writeback";
	} else if ((fd = open(src, O_DIRECT | O_RDONLY | O_CLOEXEC)) < 0) {
		cache = "writeback"; /* the file system refuses O_DIRECT */
	} else {
		close(fd);
	}
	if (d->cache[0])
		cache = d->cache;
	io->direct = true;
	io->no_flush = false;
	if (!strcmp(cache, "unsafe")) {
		io->aio = "threads";
		io->direct = false;
		io->no_flush = true;
	} else if (!strcmp(cache, "writeback")) {
		io->aio = "threads";
		io->direct = false;
	}
	io->readonly = d->spec.readonly || (d->spec.cdrom && !incus_is_6_0(vm));
}

/**
 * cache_node() - {direct, no-flush}
 * @io:	I/O mode
 *
 * Return: new object
 */
static cp_json *cache_node(const struct disk_io *io)
{
	cp_json *cache = cp_json_new_object();

	cp_json_set_bool(cache, "direct", io->direct);
	cp_json_set_bool(cache, "no-flush", io->no_flush);
	return cache;
}

/**
 * fdset_name() - "/dev/fdset/N"
 * @fdset:	id
 * @out:	output
 * @size:	its size
 *
 * Return: @out
 */
static const char *fdset_name(int64_t fdset, char *out, size_t size)
{
	lab_fmt(out, size, "/dev/fdset/%lld", (long long)fdset);
	return out;
}

/**
 * file_node() - {aio, cache, driver:file, filename:/dev/fdset/N}
 * @io:		I/O mode
 * @fdset:	fdset id
 *
 * Return: new object
 */
static cp_json *file_node(const struct disk_io *io, int64_t fdset)
{
	cp_json *f = cp_json_new_object();
	char name[64];

	cp_json_set_str(f, "filename", fdset_name(fdset, name, sizeof(name)));
	cp_json_set_str(f, "aio", io->aio);
	cp_json_set(f, "cache", cache_node(io));
	cp_json_set_str(f, "driver", "file");
	return f;
}

/**
 * add_fd() - open @path as Incus does and add-fd it (SendFileWithFDSet)
 * @vm:		emulator
 * @path:	file
 * @node:	name in the opaque ("rdwr:<node>" / "rdonly:<node>")
 * @io:		I/O mode (O_RDONLY for read-only, O_DIRECT when direct)
 * @fdset:	set to the fdset id QEMU chose
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_fd(struct lab_incus *vm, const char *path, const char *node,
		  const struct disk_io *io, int64_t *fdset, struct cp_error *err)
{
	int flags = (io->readonly ? O_RDONLY : O_RDWR) | (io->direct ? O_DIRECT : 0) | O_CLOEXEC;
	cleanup_close int fd = open(path, flags);
	cleanup_json cp_json *args = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;
	char opaque[160];

	if (fd < 0)
		return cp_error_set_errno(err, errno, "Failed opening file descriptor for %s",
					  path);
	lab_fmt(opaque, sizeof(opaque), "%s:%s", io->readonly ? "rdonly" : "rdwr", node);
	cp_json_set_str(args, "opaque", opaque);
	ret = incus_call(vm, "add-fd", steal_pointer(&args), &fd, 1, err);
	if (!ret || !cp_json_get_int(ret, "fdset-id", fdset))
		return ret ? cp_error_set(err, CP_ERR_PROTOCOL, "add-fd returned no fdset-id") : -1;
	return 0;
}

/**
 * disk_blockdev() - add-fd(s) and the blockdev-add arguments
 * @vm:		emulator
 * @d:		disk
 * @node:	node name
 * @io:		I/O mode
 * @err:	filled on failure
 *
 * Return: new object, or NULL
 */
static cp_json *disk_blockdev(struct lab_incus *vm, const struct lab_disk *d, const char *node,
			      const struct disk_io *io, struct cp_error *err)
{
	cleanup_json cp_json *bd = cp_json_new_object();
	char raw[160];
	int64_t set = -1, rawset = -1;

	if (add_fd(vm, d->qcow2[0] ? d->qcow2 : d->image, node, io, &set, err) < 0)
		return NULL;
	cp_json_set_str(bd, "node-name", node);
	cp_json_set_str(bd, "discard", "unmap");
	if (d->qcow2[0]) {
		lab_fmt(raw, sizeof(raw), "%s_raw", node);
		cp_json_set_str(bd, "driver", "qcow2");
		cp_json_set_bool(bd, "read-only", false);
		cp_json_set(bd, "file", file_node(io, set));
		if (add_fd(vm, d->image, raw, io, &rawset, err) < 0)
			return NULL;
		cp_json_set(bd, "data-file", file_node(io, rawset));
		return steal_pointer(&bd);
	}
	cp_json_set_str(bd, "aio", io->aio);
	cp_json_set(bd, "cache", cache_node(io));
	cp_json_set_str(bd, "driver", "file");
	cp_json_set_bool(bd, "read-only", io->readonly);
	cp_json_set_str(bd, "locking", "off");
	cp_json_set_str(bd, "filename", fdset_name(set, raw, sizeof(raw)));
	return steal_pointer(&bd);
}

/**
 * disk_device() - the frontend's device_add arguments (qemuDev)
 * @d:		disk
 * @node:	node name
 *
 * Return: new object
 */
static cp_json *disk_device(const struct lab_disk *d, const char *node)
{
	cp_json *dev = cp_json_new_object();
	char id[160], serial[64];
	const char *drv = d->spec.cdrom ? "scsi-cd" : "scsi-hd";

	lab_incus_device_id(d->name, id, sizeof(id));
	lab_incus_serial(d->name, d->spec.bus, serial, sizeof(serial));
	cp_json_set_str(dev, "id", id);
	cp_json_set_str(dev, "drive", node);
	cp_json_set_str(dev, "serial", serial);
	cp_json_set_int(dev, "bootindex", d->bootindex);
	switch (d->spec.bus) {
	case LAB_DISK_SCSI:
		cp_json_set_str(dev, "device_id", node);
		cp_json_set_int(dev, "channel", 0);
		cp_json_set_int(dev, "lun", 1);
		cp_json_set_str(dev, "bus", "qemu_scsi.0");
		cp_json_set_str(dev, "driver", drv);
		break;
	case LAB_DISK_VIRTIO_BLK:
	case LAB_DISK_NVME:
		cp_json_set_str(dev, "bus", d->port);
		cp_json_set_str(dev, "addr", d->addr);
		cp_json_set_bool(dev, "multifunction", d->multi);
		cp_json_set_str(dev, "driver",
				d->spec.bus == LAB_DISK_NVME ? "nvme" : "virtio-blk");
		break;
	case LAB_DISK_USB:
		cp_json_set_int(dev, "lun", 0);
		cp_json_set_str(dev, "driver", drv);
		break;
	}
	return dev;
}

/**
 * add_block_device() - qmp.AddBlockDevice(): [usb-bot], blockdev-add,
 * device_add, [qom-set attached]
 * @vm:		emulator
 * @d:		disk
 * @bd:		blockdev-add arguments (stolen)
 * @dev:	device_add arguments (stolen)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_block_device(struct lab_incus *vm, const struct lab_disk *d, cp_json *bd,
			    cp_json *dev, struct cp_error *err)
{
	cleanup_json cp_json *device = dev;
	cleanup_json cp_json *blockdev = bd;
	char usb[200], bus[210];
	cp_json *a;

	if (d->spec.bus == LAB_DISK_USB) {
		lab_fmt(usb, sizeof(usb), "usb_%s", cp_json_get_str(device, "id"));
		a = cp_json_new_object();
		cp_json_set_str(a, "driver", "usb-bot");
		cp_json_set_str(a, "bus", "qemu_usb.0");
		cp_json_set_str(a, "id", usb);
		if (incus_call_ok(vm, "device_add", a, err) < 0)
			return cp_error_prefix(err, "Failed adding USB device");
		lab_fmt(bus, sizeof(bus), "%s.0", usb);
		cp_json_set_str(device, "bus", bus);
	}
	if (incus_call_ok(vm, "blockdev-add", steal_pointer(&blockdev), err) < 0)
		return cp_error_prefix(err, "Failed adding block device");
	if (incus_call_ok(vm, "device_add", steal_pointer(&device), err) < 0)
		return cp_error_prefix(err, "Failed adding device");
	if (d->spec.bus != LAB_DISK_USB)
		return 0;
	a = cp_json_new_object();
	cp_json_set_str(a, "path", usb);
	cp_json_set_str(a, "property", "attached");
	cp_json_set_bool(a, "value", true);
	if (incus_call_ok(vm, "qom-set", a, err) < 0)
		return cp_error_prefix(err, "Failed to bring up USB device");
	return 0;
}

/**
 * incus_hook_disk() - the disk monitor hook: add-fd, blockdev-add, device_add
 * @vm:		emulator
 * @d:		disk (prepared)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_hook_disk(struct lab_incus *vm, struct lab_disk *d, struct cp_error *err)
{
	struct disk_io io;
	char node[96];
	cp_json *bd;

	lab_incus_node_name(d->name, node, sizeof(node));
	disk_io_mode(vm, d, d->qcow2[0] ? d->qcow2 : d->image, &io);
	bd = disk_blockdev(vm, d, node, &io, err);
	if (!bd || add_block_device(vm, d, bd, disk_device(d, node), err) < 0)
		return cp_error_prefix(err, "Failed adding block device for disk device \"%s\"",
				       d->name);
	return 0;
}
