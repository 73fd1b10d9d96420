/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The protocol between the Incus scriptlet stub and coldplug serve. Incus's
 * scriptlets can only talk QMP on Incus's own monitor, and events are the
 * only thing all monitors share; so the two meet in things both monitors
 * see, a QOM object one way and a ring-buffer chardev the other:
 *
 *   1. At pre-start the stub creates /objects/coldplug-request, an
 *      authz-simple whose identity is a JSON request:
 *        {"v":1,"instance":"vm1","project":"default",
 *         "nic-frontend":"pci","taps":{"eth0":"tap1a2b3c4d"}}
 *   2. The daemon (polling its own monitor) reads it, creates
 *      /objects/coldplug-status with identity "running", deletes the
 *      request, writes "running\n" to the coldplug-status ringbuf chardev,
 *      and runs the pipeline.
 *   3. It sets the status identity to "done: <summary>" or
 *      "failed: <message>" and writes that line to the ringbuf; the stub,
 *      polling the ringbuf with ringbuf-read, returns or fail()s with it.
 *
 * The stub polls ringbuf-read because it is the one command Incus leaves
 * out of the instance's QMP log (qmp.ExcludedCommands); polling QOM would
 * log every poll. The status object stays: a daemon that reconnects to a
 * running VM knows from it that the VM was re-homed already.
 */
#ifndef COLDPLUG_STUB_H
#define COLDPLUG_STUB_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/plan.h"

#define STUB_REQUEST_OBJECT "coldplug-request"
#define STUB_STATUS_OBJECT  "coldplug-status"
#define STUB_STATUS_RUNNING "running"
#define STUB_STATUS_DONE    "done"
#define STUB_STATUS_FAILED  "failed"
#define STUB_MONITOR	    "coldplug"
#define STUB_STATUS_CHARDEV "coldplug-status"
#define STUB_STATUS_RINGBUF 65536
#define STUB_MAX_TAPS	    16
#define STUB_STATUS_MAX	    1800

/**
 * struct stub_request - what the stub asks for
 * @instance:		Incus instance name (for logs)
 * @project:		Incus project
 * @has_frontend:	@frontend was given
 * @frontend:		where NICs go
 * @usb_mac_fixed:	trust usb-net's MAC (see plan_opts)
 * @taps:		NIC name -> host tap (volatile.<nic>.host_name), as the
 *			VM claims it: for logs and checks only, never to choose
 *			a tap to open (a VM could name another VM's tap)
 * @ntaps:		their count
 */
struct stub_request {
	char instance[128];
	char project[128];
	bool has_frontend;
	enum plan_nic_frontend frontend;
	bool usb_mac_fixed;
	struct {
		char name[64];
		char ifname[16];
	} taps[STUB_MAX_TAPS];
	size_t ntaps;
};

int stub_request_parse(const char *text, struct stub_request *out, struct cp_error *err);
void stub_status_failed(const char *msg, char *out, size_t size);
void stub_status_clean(const char *text, char *out, size_t size);

#endif /* COLDPLUG_STUB_H */
