/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-disk's verdict, from a run's JSON: which frontend is native (the
 * best first measurement, never a repeat), how wide the noise band is (the
 * largest distance of a repeat from its first measurement), and what the
 * re-homed disk's ratio then means; and the guest tool's result line. These
 * decide what RESULTS-disk.md claims, so they are checked on figures whose
 * answer is known.
 */
#include <string.h>

#include "coldplug/json.h"
#include "disk.h"
#include "tap.h"

/*
 * Times for 1 GiB (read_1m) in µs: scsi 1 s (1024 MiB/s), virtio-blk 0.8 s
 * (1280 MiB/s), rehomed @REHOMED_US, virtio-blk-end 1 s (1024 MiB/s: 0.80 of
 * its first), scsi-end 0.5 s (2048 MiB/s, best of all, but a repeat: never
 * native). read_4k fails for rehomed.
 */
static const char configs_fmt[] =
	"["
	"{\"key\":\"scsi\",\"kind\":\"native\",\"done\":true,\"passes\":{"
	"\"read_1m\":{\"ok\":true,\"bytes\":1073741824,\"us\":[1200000,1000000]},"
	"\"read_4k\":{\"ok\":true,\"bytes\":16777216,\"us\":[1000000]}}},"
	"{\"key\":\"virtio-blk\",\"kind\":\"native\",\"done\":true,\"passes\":{"
	"\"read_1m\":{\"ok\":true,\"bytes\":1073741824,\"us\":[800000,900000]},"
	"\"read_4k\":{\"ok\":true,\"bytes\":16777216,\"us\":[2000000]}}},"
	"{\"key\":\"rehomed\",\"kind\":\"rehomed\",\"done\":true,\"passes\":{"
	"\"read_1m\":{\"ok\":true,\"bytes\":1073741824,\"us\":[%d]},"
	"\"read_4k\":{\"ok\":false,\"bytes\":16777216,\"us\":[],\"error\":\"x\"}}},"
	"{\"key\":\"virtio-blk-end\",\"kind\":\"native\",\"first\":\"virtio-blk\",\"done\":true,"
	"\"passes\":{\"read_1m\":{\"ok\":true,\"bytes\":1073741824,\"us\":[1000000]}}},"
	"{\"key\":\"scsi-end\",\"kind\":\"native\",\"first\":\"scsi\",\"done\":true,"
	"\"passes\":{\"read_1m\":{\"ok\":true,\"bytes\":1073741824,\"us\":[500000]}}}"
	"]";

/**
 * configs() - the run above with the re-homed disk's read_1m time
 * @rehomed_us:	its one round, µs
 *
 * Return: new reference
 */
static cp_json *configs(int rehomed_us)
{
	struct cp_error err = { 0 };
	char text[sizeof(configs_fmt) + 16];
	cp_json *c;

	snprintf(text, sizeof(text), configs_fmt, rehomed_us);
	c = cp_json_parse(text, strlen(text), &err);
	if (!c)
		bail_out("test JSON: %s", err.msg);
	return c;
}

/**
 * near() - @got within 0.001 of @want
 * @got:	value
 * @want:	expected
 * @name:	check name
 */
static void near(double got, double want, const char *name)
{
	if (!ok(got > want - 0.001 && got < want + 0.001, "%s", name))
		diag("got %.4f, want %.4f", got, want);
}

/**
 * test_native_and_band() - native is the best first measurement; the band
 * the largest |repeat / first - 1|
 */
static void test_native_and_band(void)
{
	cp_json *c = configs(800000);
	struct bench_disk_figure f;

	near(bench_disk_mib_s(cp_json_at(c, 0), "read_1m"), 1024.0, "the best round counts");
	bench_disk_figure(c, "read_1m", &f);
	is_str(f.native_key, "virtio-blk", "native: the best first measurement, not a repeat");
	near(f.native, 1280.0, "native's figure");
	near(f.band, 1.0, "band: scsi-end at 2.00x of scsi beats virtio-blk-end's 0.80x");
	near(f.ratio, 1.0, "same time as native: 1.00x");
	is_str(f.verdict, "met", "1.00x is met");
	cp_json_unref(c);
}

/**
 * test_verdicts() - below the target, the band decides; nothing measured is
 * said so
 */
static void test_verdicts(void)
{
	cp_json *c = configs(2000000); /* 512 MiB/s: 0.40x of 1280 */
	struct bench_disk_figure f;

	bench_disk_figure(c, "read_1m", &f);
	near(f.ratio, 0.4, "0.40x");
	is_str(f.verdict, "met within the noise band", "0.40x + band 1.00 reaches 0.98");
	bench_disk_figure(c, "read_4k", &f);
	is_str(f.verdict, "not measured", "a failed pass is not measured");
	ok(f.band < 0.0, "read_4k has no repeat: no band");
	is_str(f.native_key, "scsi", "read_4k: scsi is native there");
	bench_disk_figure(c, "write_4k", &f);
	ok(f.native_key == NULL, "write_4k: no native at all");
	cp_json_unref(c);
}

/**
 * test_dio_parse() - `cptraffic dio`'s line
 */
static void test_dio_parse(void)
{
	uint64_t bytes = 0;
	int64_t ns = 0;

	ok(bench_disk_dio_parse("noise\ndio dir=read bs=4096 count=2 bytes=8192 ns=1500\n", &bytes,
				&ns) == 0,
	   "dio line parsed");
	is_int((long long)bytes, 8192, "bytes");
	is_int((long long)ns, 1500, "ns");
	ok(bench_disk_dio_parse("cptraffic dio: error: open /dev/x: No such file\n", &bytes, &ns) <
		   0,
	   "an error is no figure");
	ok(bench_disk_dio_parse("dio dir=read bs=4096 count=2 bytes=8192 ns=0\n", &bytes, &ns) < 0,
	   "zero time is no figure");
}

/**
 * main() - the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_native_and_band();
	test_verdicts();
	test_dio_parse();
	return done_testing();
}
