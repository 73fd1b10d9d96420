/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a scriptlet the way Incus runs it, for the tests that need to: the
 * incus-scriptlet runner (tests/starlark) driven through the lab's scriptlet
 * proxy (tests/qemu/lab/scriptlet.c), the instance Incus would hand the hook
 * (tests/data/stub/instance.json), the stub as `coldplug incus-profile`
 * generates it, and a fake QMP peer standing in for QEMU 7.2 on Incus's
 * monitor. Shared by the stub's tests (tests/unit/test_stub.c) and the
 * runner's fidelity tests (test_incus_scriptlet.c, here), so that
 * both run scriptlets the same way.
 *
 * $COLDPLUG_SCRIPTLET_RUNNER names another runner than the one meson built;
 * $COLDPLUG_TEST_STUB_TEMPLATE names another template to run instead of the
 * profile's stub (filled as lib/incus_profile.c fills it), to try a change to
 * the stub before making it.
 */
#ifndef COLDPLUG_TEST_INCUS_RUN_H
#define COLDPLUG_TEST_INCUS_RUN_H

#include <stdbool.h>

#include "coldplug/json.h"
#include "coldplug/qmp.h"
#include "fakepeer.h"
#include "scriptlet.h"

#define INCUS_RUN_HANDSHAKE_MS 5000
#define INCUS_RUN_SOCKET       "/run/coldplug/coldplug.sock"

/**
 * struct incus_run_stub - the profile settings a test runs the stub with
 * @usb:	nic-frontend usb (else pci)
 * @model:	NIC model, NULL for virtio-net-pci
 * @timeout:	seconds a start waits for the daemon's answer
 * @connect:	seconds it waits for QEMU to reach the daemon
 */
struct incus_run_stub {
	bool usb;
	const char *model;
	unsigned timeout;
	unsigned connect;
};

extern const struct incus_run_stub incus_run_stub_default;

void incus_run_init(void);
const char *incus_run_runner(void);
char *incus_run_read_file(const char *path);
char *incus_run_stub_text(const struct incus_run_stub *s);
cp_json *incus_run_instance(void);
cp_json *incus_run_config_conf(void);
int incus_run_stage(struct qmp_client *c, const char *script, const char *stage,
		    const cp_json *inst, const cp_json *conf, struct lab_scriptlet_result *res);
char *incus_run_script(const char *src, const char *stage, int *rc);
struct fakepeer *incus_run_peer_new(void);
struct qmp_client *incus_run_peer_connect(struct fakepeer *fp);
void incus_run_expect(struct fakepeer *fp, const char *cmd, cp_json *args, const char *reply);

#endif
