#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Seeds for fuzz_serve_vm: whole conversations of a fake QEMU with the
daemon's per-VM state machine, in the target's input format (peer bytes cut
by action bytes: see fuzz/fuzz_serve_vm.c).

The daemon numbers its commands from 1 on each connection, always in the
same order, so the replies can be written ahead: the handshake and the
identify batch (ids 1-5), the polls, the stub's request, the claim; then
the re-homing pipeline answered by a recorded transcript
(tests/data/transcripts/*.qmp, its ids shifted to the daemon's), the status,
the watch's inventory (the transcript's last one) and the detach watch.
Each scenario also ends early at several points (EOF, silence, junk), so
that every state is a seed of its own.

  fuzz/seed-serve-vm.py [OUTDIR [REPLAY]]   (default fuzz/corpus/fuzz_serve_vm)

With REPLAY, the target's replay build (BUILDDIR/fuzz/fuzz_serve_vm of a
build without -Dfuzzing), more conversations are answered as they go: the
replay's QMP trace says what the daemon asked, and the recorded inventories
(tests/data/inventory/*.json) answer it, a direct NIC slot's among them.

Files are named by their SHA-1: running it again adds nothing twice.
"""
import copy
import glob
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile

DELIVER, TICK, STEP, EOF, LINK_GONE, STALL = (bytes([i]) for i in range(1, 7))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TRANSCRIPTS = ["rehome-disks-10.0.qmp", "rehome-disks-7.2.qmp"]
REQUEST = {"v": 1, "instance": "vm1", "project": "default"}


def msg(obj):
    """One QMP message as QEMU frames it, then delivered."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\r\n" + DELIVER


def ret(i, value):
    return msg({"return": value, "id": i})


def err(i, desc="GenericError"):
    return msg({"id": i, "error": {"class": "GenericError", "desc": desc}})


def objects(*names):
    return [{"name": "type", "type": "string"}] + [
        {"name": n, "type": "child<authz-simple>"} for n in names]


def identify(status="prelaunch", objs=()):
    """Greeting, capabilities, and the identify batch (ids 2-5)."""
    return (msg({"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10},
                                     "package": "Debian 1:10.0.2"},
                         "capabilities": ["oob"]}})
            + ret(1, {})
            + ret(2, {"name": "vm1"})
            + ret(3, {"UUID": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"})
            + ret(4, {"status": status, "running": status == "running"})
            + ret(5, objects(*objs)))


def transcript(name):
    """The transcript's lines after the handshake: (dir, id or None, text)."""
    out = []
    with open(os.path.join(ROOT, "tests/data/transcripts", name), encoding="utf-8") as f:
        for line in f:
            if line[:2] not in ("< ", "> "):
                continue
            j = json.loads(line[2:])
            if "QMP" in j or j.get("id") == 1:
                continue
            out.append((line[0], j.get("id"), j))
    return out


def replay(lines, first, last, shift):
    """QEMU's side of the transcript's ids first..last, ids shifted."""
    b = b""
    for d, i, j in lines:
        if d != "<":
            continue
        if i is None:
            if b:  # an event, in its place among the replies
                b += msg(j)
            continue
        if first <= i <= last:
            j = dict(j)
            j["id"] = i + shift
            b += msg(j)
    return b


def last_inventory(lines):
    """The ids of the transcript's last inventory (from its last
    query-status to the end)."""
    qs = [i for d, i, j in lines if d == ">" and j.get("execute") == "query-status"]
    ids = [i for d, i, j in lines if d == ">"]
    return qs[-1], max(ids)


def scenarios():
    yield "running", identify("running")
    yield "paused", identify("paused")
    yield "status-object", identify("running", ["coldplug-status"])
    req = json.dumps(REQUEST)
    # the request object already there at identify: qom-get is id 6
    yield "request-at-identify", identify("prelaunch", ["coldplug-request"]) + ret(6, req)
    # bad requests: claimed with a failed status (ids 7-9)
    for bad in ["", "{}", '{"v":2}', '{"v":1,"taps":{"eth0":"tap 1"}}', "[", "\u00e9" * 70]:
        yield "bad-request", (identify("prelaunch", ["coldplug-request"]) + ret(6, bad)
                              + ret(7, {}) + ret(8, {}) + ret(9, {}))
    # the refusal's ringbuf-write fails (a profile from before the ringbuf)
    yield "bad-request-ringbuf", (identify("prelaunch", ["coldplug-request"]) + ret(6, "{}")
                                  + ret(7, {}) + ret(8, {})
                                  + err(9, "Device 'coldplug-status' not found"))
    # a request that names a NIC frontend, the claim answered, then EOF
    yield "request-frontend", (identify("prelaunch", ["coldplug-request"])
                               + ret(6, json.dumps(dict(REQUEST, **{"nic-frontend": "usb"})))
                               + ret(7, {}) + ret(8, {}) + ret(9, {}) + EOF)
    # polls: ids 6,7 then 8,9 (after a tick)
    wait = identify() + ret(6, objects()) + ret(7, {"status": "prelaunch"})
    yield "poll", wait + TICK + ret(8, objects()) + ret(9, {"status": "running"})
    yield "poll-timeout", wait + TICK + TICK + TICK
    poll = wait + TICK + ret(8, objects("coldplug-request")) + ret(9, {"status": "prelaunch"})
    claim = poll + ret(10, json.dumps(REQUEST)) + ret(11, {}) + ret(12, {}) + ret(13, {})
    yield "claim-failed", (poll + ret(10, req) + msg({"id": 11, "error": {
        "class": "GenericError", "desc": "attempt to add duplicate property"}})
        + ret(12, {}) + ret(13, {}))
    for name in TRANSCRIPTS:
        lines = transcript(name)
        inv_first, last = last_inventory(lines)
        shift = 12  # the transcript's id 2 is the daemon's 14
        piped = claim + replay(lines, 2, last, shift)
        status_id = last + shift + 1
        yield name + ":rehome", piped
        yield name + ":status", piped + ret(status_id, {}) + ret(status_id + 1, {})
        yield name + ":status-error", piped + err(status_id) + err(status_id + 1) + TICK
        watch_first = status_id + 2
        watched = (piped + ret(status_id, {}) + ret(status_id + 1, {})
                   + replay(lines, inv_first, last, watch_first - inv_first))
        yield name + ":watch", watched
        fdsets_id = watch_first + last - inv_first + 1
        yield name + ":fdsets-same", watched + TICK + ret(fdsets_id, [
            {"fdset-id": k, "fds": [{"fd": 10 + k, "opaque": "rdwr:incus_" + n}]}
            for k, n in enumerate(["root", "data", "usb", "iso"])])
        yield name + ":fdsets-error", watched + TICK + err(fdsets_id) + TICK + TICK
        released = watched + TICK + ret(fdsets_id, [])
        rel_first = fdsets_id + 1
        yield name + ":release", released + replay(lines, inv_first, last,
                                                   rel_first - inv_first)
        yield name + ":release-eof", released + EOF
        rel_cmds = rel_first + last - inv_first + 1  # blockdev-add, qom-set, ...
        yield name + ":release-ok", (released
                                     + replay(lines, inv_first, last, rel_first - inv_first)
                                     + b"".join(ret(rel_cmds + k, {}) for k in range(8)))
        # the pipeline cut short at several points
        for cut in (20, 40, 57, 60, 64, 70):
            yield name + ":cut", claim + replay(lines, 2, cut, shift) + EOF
            yield name + ":stall", claim + STALL + replay(lines, 2, cut, shift) + TICK
    yield "link-gone", claim + LINK_GONE + STEP + EOF


DIRECT_NIC = ("virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci,"
              "macaddr=10:66:6a:ab:cd:ef\r\n"
              " \\ coldplug-nic0: index=0,type=tap,ifname=tap1234abcd,script=no,"
              "downscript=no\r\n")


def answer(raw, cmd):
    """QEMU's answer to one of the daemon's commands, from a raw inventory
    (tests/data/inventory/*.json: the answers of the collection's rounds);
    anything else succeeds with {}. A device_del is followed by its
    DEVICE_DELETED, and a qom-set of a slot's drive moves the node in @raw's
    query-block, so that a live attach checks out."""
    ex, a = cmd["execute"], cmd.get("arguments", {})
    if ex == "device_del":
        return ret(cmd["id"], {}) + msg({"event": "DEVICE_DELETED", "data": {
            "device": a.get("id"), "path": "/machine/peripheral/%s" % a.get("id")},
            "timestamp": {"seconds": 1, "microseconds": 0}})
    if ex == "qom-set" and a.get("property") == "drive":
        blocks = raw["query-block"]
        src = [b for b in blocks if b.get("inserted", {}).get("node-name") == a.get("value")]
        dst = [b for b in blocks if b.get("qdev") == "%s/virtio-backend" % a.get("path")]
        if src and dst:
            dst[0]["inserted"] = src[0].pop("inserted")
    if ex in ("query-status", "query-block", "query-named-block-nodes", "query-fdsets"):
        return ret(cmd["id"], raw[ex])
    if ex == "qom-list" and a.get("path") in ("/machine/peripheral", "/machine/peripheral-anon"):
        return ret(cmd["id"], raw[a["path"].split("/")[-1]])
    if ex == "human-monitor-command":
        return ret(cmd["id"], raw["info-network"])
    if ex == "qom-get" and a.get("path") == "/machine" and a.get("property") == "acpi-device":
        return ret(cmd["id"], raw["acpi-device"])
    if ex == "qom-get":
        props = raw["props"].get(a.get("path"), {})
        if a.get("property") in props:
            return ret(cmd["id"], props[a["property"]])
        return err(cmd["id"], "Property '%s' not found" % a.get("property"))
    return ret(cmd["id"], {})


def commands(binary, data):
    """The daemon's commands for @data, ended by EOF (so no deadline runs):
    replayed by the target's replay build with the QMP trace on."""
    env = dict(os.environ, FUZZ_SERVE_VM_LOG="1", COLDPLUG_QMP_TRACE="1")
    with tempfile.NamedTemporaryFile() as f:
        f.write(data + EOF)
        f.flush()
        log = subprocess.run([binary, f.name], env=env, capture_output=True, check=False,
                             text=True, errors="replace").stderr
    return [json.loads(m.group(1)) for m in re.finditer(r"qmp fd \d+ > (\{.*\})\n", log)]


def converse(binary, data, raw, rounds=80):
    """Answer every command the daemon sends after @data from @raw; when it
    waits for a deadline (sends nothing new), move the clock (TICK)."""
    answered = set()
    for line in data.replace(DELIVER, b"").split(b"\r\n"):
        try:
            j = json.loads(line.strip(b"".join((TICK, STEP, EOF, LINK_GONE, STALL))))
        except ValueError:
            continue
        if isinstance(j, dict) and "id" in j:
            answered.add(j["id"])
    ticks = 0
    for _ in range(rounds):
        new = [c for c in commands(binary, data) if c["id"] not in answered]
        if not new:
            if ticks == 2:
                break
            data += TICK
            ticks += 1
            continue
        ticks = 0
        for c in new:
            data += answer(raw, c)
            answered.add(c["id"])
    return data.rstrip(TICK)


def scenarios_answered(binary, want=lambda name: True):
    """Conversations answered as they go, from the recorded inventories
    (only those whose name @want accepts are computed)."""
    for name in sorted(glob.glob(os.path.join(ROOT, "tests/data/inventory/*.json"))):
        with open(name, encoding="utf-8") as f:
            raw = json.load(f)
        base = os.path.basename(name)
        req = json.dumps(REQUEST)
        # the re-homing pipeline, then the watch (the request at identify)
        start = identify("prelaunch", ["coldplug-request"]) + ret(6, req)
        if want(base + ":rehome"):
            yield base + ":rehome", converse(binary, start, copy.deepcopy(raw))
        # a daemon restarted under a re-homed VM: the watch from identify on
        if want(base + ":watch"):
            yield base + ":watch", converse(binary, identify("running", ["coldplug-status"]),
                                            copy.deepcopy(raw))
        # a disk Incus attaches to the running VM: moved onto a slot (the
        # inventory's first manager disk off the slots, seen on two ticks)
        if "rehomed" not in base and want(base + ":attach"):
            yield base + ":attach", converse(binary, identify("running", ["coldplug-status"]),
                                             copy.deepcopy(raw), rounds=30)
        # a direct NIC slot whose tap goes: netdev_del
        if want(base + ":link-gone"):
            raw = dict(raw, **{"info-network": DIRECT_NIC})
            watch = converse(binary, identify("running", ["coldplug-status"]),
                             copy.deepcopy(raw))
            yield base + ":link-gone", converse(binary, watch + LINK_GONE, copy.deepcopy(raw))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz/corpus/fuzz_serve_vm")
    os.makedirs(out, exist_ok=True)
    binary = sys.argv[2] if len(sys.argv) > 2 else None
    n = 0
    only = os.environ.get("SEED_ONLY", "")  # e.g. ":attach": only those scenarios

    def want(name):
        return only in name

    for name, data in itertools.chain(scenarios(),
                                      scenarios_answered(binary, want) if binary else ()):
        if not want(name):
            continue
        path = os.path.join(out, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            n += 1
    print(f"{n} new seeds in {out}")


if __name__ == "__main__":
    main()
