/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verify, the pipeline's last stage (lib/verify.c), on recorded inventories:
 * the plan for Incus's default VM against the same VM recorded after a real
 * `coldplug rehome` verifies; then one field of the re-homed inventory at a
 * time is made wrong (a slot's node, a NIC slot's uplink, a leftover Incus
 * frontend, a direct slot's tap, queue count and ifindex, a usb-net's MAC
 * and queue count) and each must fail verification, naming what is wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/verify.h"
#include "recorded.h"
#include "tap.h"
#include "util.h"

static const char *qemu_ver;

/**
 * load() - build an inventory from a recording of the current QEMU version
 * @name:	recording, without the version and .json
 * @inv:	result
 */
static void load(const char *name, struct inventory *inv)
{
	recorded_inventory(name, qemu_ver, NULL, inv);
}

/**
 * struct fixture - a plan for Incus's default VM, every step moved, and the
 * VM as recorded after a real re-homing
 * @before:	the VM as Incus leaves it paused
 * @after:	the VM after coldplug rehome
 * @plan:	the plan made from @before
 * @results:	one APPLY_MOVED result per step
 */
struct fixture {
	struct inventory before;
	struct inventory after;
	struct plan plan;
	struct apply_result *results;
};

/**
 * fixture_new() - load and plan
 * @f:	filled
 */
static void fixture_new(struct fixture *f)
{
	struct plan_opts o;
	struct cp_error err;
	size_t i;

	memset(f, 0, sizeof(*f));
	load("incus-default", &f->before);
	load("incus-default-rehomed", &f->after);
	plan_opts_init(&o);
	if (plan_build(&f->before, &o, &f->plan, &err) < 0)
		bail_out("plan: %s", err.msg);
	f->results = calloc(f->plan.n, sizeof(*f->results));
	if (!f->results)
		bail_out("out of memory");
	for (i = 0; i < f->plan.n; i++)
		f->results[i].status = APPLY_MOVED;
}

/**
 * fixture_free() - free what fixture_new() made
 * @f:	fixture
 */
static void fixture_free(struct fixture *f)
{
	inventory_free(&f->before);
	inventory_free(&f->after);
	plan_free(&f->plan);
	free(f->results);
}

/**
 * step_of() - the fixture's step of @kind
 * @f:		fixture
 * @kind:	enum plan_step_kind
 *
 * Return: the first such step (bails out if there is none)
 */
static struct plan_step *step_of(struct fixture *f, enum plan_step_kind kind)
{
	size_t i;

	for (i = 0; i < f->plan.n; i++)
		if (f->plan.steps[i].kind == kind)
			return &f->plan.steps[i];
	bail_out("the plan has no step of kind %d", (int)kind);
}

/**
 * slot_of() - the re-homed inventory's slot of a step
 * @f:		fixture
 * @st:		step
 * @kind:	slot kind
 *
 * Return: the slot (bails out if there is none)
 */
static struct inv_slot *slot_of(struct fixture *f, const struct plan_step *st,
				enum inv_slot_kind kind)
{
	struct inv_slot *s = (struct inv_slot *)inventory_find_slot(&f->after, kind, st->slot);

	if (!s)
		bail_out("no slot %u for %s", st->slot, st->name);
	return s;
}

/**
 * fails() - verification fails, naming @needle
 * @f:		fixture, one field made wrong
 * @needle:	text the error must hold
 * @what:	what was made wrong
 */
static void fails(struct fixture *f, const char *needle, const char *what)
{
	struct cp_error err = { 0 };

	ok(verify_plan(&f->plan, f->results, &f->after, &err) < 0 && err.code == CP_ERR_FAILED &&
		   strstr(err.msg, needle),
	   "QEMU %s: %s fails verification (%s)", qemu_ver, what, err.msg);
}

/**
 * leftover() - add a copy of one of Incus's frontends from @before to @after
 * @f:		fixture
 * @disk:	a disk (else a NIC)
 * @managed:	whether it counts as the manager's
 */
static void leftover(struct fixture *f, bool disk, bool managed)
{
	if (disk) {
		f->after.disks = realloc(f->after.disks,
					 (f->after.ndisks + 1) * sizeof(*f->after.disks));
		if (!f->after.disks)
			bail_out("out of memory");
		f->after.disks[f->after.ndisks] = f->before.disks[0];
		f->after.disks[f->after.ndisks++].managed = managed;
	} else {
		f->after.nics = realloc(f->after.nics,
					(f->after.nnics + 1) * sizeof(*f->after.nics));
		if (!f->after.nics)
			bail_out("out of memory");
		f->after.nics[f->after.nnics] = f->before.nics[0];
		f->after.nics[f->after.nnics++].managed = managed;
	}
}

/**
 * test_recorded() - the recorded re-homing verifies; each wrong field fails
 */
static void test_recorded(void)
{
	struct cp_error err = { 0 };
	struct fixture f;

	fixture_new(&f);
	ok(verify_plan(&f.plan, f.results, &f.after, &err) == 0,
	   "QEMU %s: the recorded re-homing verifies (%s)", qemu_ver, err.msg);
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(slot_of(&f, step_of(&f, PLAN_DISK), INV_SLOT_DISK)->node, "incus_other",
		   INV_NAME_MAX);
	fails(&f, "but holds incus_other", "a disk slot holding another node");
	fixture_free(&f);

	fixture_new(&f);
	slot_of(&f, step_of(&f, PLAN_CD), INV_SLOT_CD)->node[0] = '\0';
	fails(&f, "but holds nothing", "an empty CD slot");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(slot_of(&f, step_of(&f, PLAN_NIC_PCI), INV_SLOT_NIC)->uplink, "incus_eth9",
		   INV_NAME_MAX);
	fails(&f, "is fed by incus_eth9", "a NIC slot fed by another netdev");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(f.before.disks[0].id, step_of(&f, PLAN_DISK)->dev_id, INV_NAME_MAX);
	leftover(&f, true, false);
	fails(&f, "is still there", "a moved disk's old frontend still there");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(f.before.disks[0].id, "dev-incus_new", INV_NAME_MAX);
	leftover(&f, true, true);
	fails(&f, "dev-incus_new is still on its hot-plugged frontend",
	      "an Incus disk left on a hot-plugged frontend");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(f.before.nics[0].id, "dev-incus_eth7", INV_NAME_MAX);
	cp_strlcpy(f.before.nics[0].driver, "virtio-net-pci", sizeof(f.before.nics[0].driver));
	leftover(&f, false, true);
	fails(&f, "dev-incus_eth7 is still on its hot-plugged frontend",
	      "an Incus NIC left on a hot-plugged frontend");
	fixture_free(&f);
}

/**
 * direct() - the fixture's NIC step as the direct path, and its slot as a
 * re-homing on it left it: alone on its tap with its queues
 * @f:	fixture
 *
 * Return: the slot
 */
static struct inv_slot *direct(struct fixture *f)
{
	struct plan_step *st = step_of(f, PLAN_NIC_PCI);
	struct inv_slot *s = slot_of(f, st, INV_SLOT_NIC);

	st->kind = PLAN_NIC_DIRECT;
	cp_strlcpy(st->ifname, "tapcafe0001", sizeof(st->ifname));
	st->nqueues = 2;
	st->ifindex = 42;
	s->direct = true;
	s->used = true;
	s->nqueues = 2;
	cp_strlcpy(s->ifname, "tapcafe0001", sizeof(s->ifname));
	s->tap.exists = true;
	s->tap.ifindex = 42;
	return s;
}

/**
 * test_direct() - a direct slot verifies only alone on its tap, with its
 * queues, on the same interface
 */
static void test_direct(void)
{
	struct cp_error err = { 0 };
	struct fixture f;

	fixture_new(&f);
	direct(&f);
	ok(verify_plan(&f.plan, f.results, &f.after, &err) == 0,
	   "QEMU %s: a direct slot alone on its tap verifies (%s)", qemu_ver, err.msg);
	fixture_free(&f);

	fixture_new(&f);
	direct(&f)->nqueues = 1;
	fails(&f, "with 2 queues", "a direct slot with fewer queues");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(direct(&f)->ifname, "tapbeef0002", INV_IFNAME_MAX);
	fails(&f, "alone on tap tapcafe0001", "a direct slot on another tap");
	fixture_free(&f);

	fixture_new(&f);
	direct(&f)->tap.ifindex = 43;
	fails(&f, "(ifindex 42)", "a direct slot's tap replaced by another of its name");
	fixture_free(&f);

	fixture_new(&f);
	direct(&f)->used = false;
	fails(&f, "should be alone on tap", "a direct slot that shares its MAC with another NIC");
	fixture_free(&f);
}

/**
 * usb() - the fixture's NIC step as the usb-net path, and a usb-net as a
 * re-homing on it left it: Incus's id and MAC, one queue
 * @f:	fixture
 *
 * Return: the usb-net in the re-homed inventory
 */
static struct inv_nic *usb(struct fixture *f)
{
	struct plan_step *st = step_of(f, PLAN_NIC_PCI);
	struct inv_nic *n;

	st->kind = PLAN_NIC_USB;
	cp_strlcpy(f->before.nics[0].id, st->dev_id, INV_NAME_MAX);
	leftover(f, false, true);
	n = &f->after.nics[f->after.nnics - 1];
	cp_strlcpy(n->driver, "usb-net", sizeof(n->driver));
	cp_strlcpy(n->netdev, st->netdev, sizeof(n->netdev));
	cp_strlcpy(n->mac, st->mac, sizeof(n->mac));
	n->nqueues = 1;
	return n;
}

/**
 * test_usb() - a usb-net verifies only with its MAC, its netdev and one queue
 */
static void test_usb(void)
{
	struct cp_error err = { 0 };
	struct fixture f;

	fixture_new(&f);
	usb(&f);
	ok(verify_plan(&f.plan, f.results, &f.after, &err) == 0,
	   "QEMU %s: a usb-net with Incus's MAC on one queue verifies (%s)", qemu_ver, err.msg);
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(usb(&f)->mac, "40:00:00:00:00:01", INV_MAC_MAX);
	fails(&f, "should be a usb-net on a 1-queue", "a usb-net with another MAC");
	fixture_free(&f);

	fixture_new(&f);
	usb(&f)->nqueues = 2;
	fails(&f, "should be a usb-net on a 1-queue", "a usb-net on a 2-queue netdev");
	fixture_free(&f);

	fixture_new(&f);
	cp_strlcpy(usb(&f)->driver, "e1000", 64);
	fails(&f, "should be a usb-net", "an e1000 where the usb-net should be");
	fixture_free(&f);
}

/**
 * main() - every test, on the recordings of QEMU 7.2 and 10.0
 *
 * Return: TAP exit status
 */
int main(void)
{
	static const char *const versions[] = { "7.2", "10.0" };
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		qemu_ver = versions[i];
		test_recorded();
		test_direct();
		test_usb();
	}
	return done_testing();
}
