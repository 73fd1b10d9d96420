#!/usr/bin/env python3
"""Live-attach experiment (doc/live-attach.md): a running guest with PCI hotplug
unusable, two QMP monitors (Incus's and coldplug's), Incus 6.0.4's hot-add of a
disk and an ISO replayed on Incus's monitor, coldplug's moves on its own.

usage: [LV_ONLY_ISO=1] live-attach-exp.py QEMU LAB_ENV COLDPLUG_CONF WORKDIR [--kernel-args ARGS]
Prints a transcript (t= seconds since QEMU started). One VM, < 2 min. The last
step (qom-set drive on an empty scsi-cd) crashes QEMU on purpose (doc/live-attach.md 4d).
"""
import hashlib, json, os, socket, subprocess, sys, time

T0 = time.monotonic()
def ts(): return "%7.3f" % (time.monotonic() - T0)
def log(*a): print(ts(), *a, flush=True)

def pattern(seed, off, length):
    k0, k1 = off // 64, (off + length + 63) // 64
    recs = b"".join(f"CP seed={seed} off={64*k:020d}".ljust(63, ".").encode() + b"\n" for k in range(k0, k1))
    return recs[off - 64*k0: off - 64*k0 + length]

class QMP:
    def __init__(self, path, name):
        self.name, self.events, self.buf = name, [], b""
        self.s = socket.socket(socket.AF_UNIX); self.s.connect(path)
        self._read()  # greeting
        self.cmd("qmp_capabilities", quiet=True)
    def _read(self, timeout=30):
        self.s.settimeout(timeout)
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d: raise EOFError(self.name)
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)
    def cmd(self, ex, args=None, quiet=False, timeout=60, fds=None):
        m = {"execute": ex}
        if args is not None: m["arguments"] = args
        t = time.monotonic()
        if fds:
            socket.send_fds(self.s, [json.dumps(m).encode() + b"\n"], fds)
        else:
            self.s.sendall(json.dumps(m).encode() + b"\n")
        while True:
            r = self._read(timeout)
            if "event" in r:
                self.events.append((time.monotonic() - T0, r)); continue
            dt = (time.monotonic() - t) * 1000
            if not quiet:
                out = r.get("return", r.get("error"))
                s = json.dumps(out)
                log(f"[{self.name}] {ex} {json.dumps(args) if args else ''} -> {s[:300]} ({dt:.0f} ms)")
            return r
    def drain(self, wait=0.0):
        end = time.monotonic() + wait
        while True:
            left = end - time.monotonic()
            if self.buf.find(b"\n") < 0:
                if left <= 0: break
                self.s.settimeout(left)
                try:
                    d = self.s.recv(65536)
                except socket.timeout:
                    break
                if not d: break
                self.buf += d
                continue
            r = self._read()
            if "event" in r: self.events.append((time.monotonic() - T0, r))
    def wait_event(self, name, pred=lambda e: True, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i, (t, e) in enumerate(self.events):
                if e["event"] == name and pred(e):
                    del self.events[i]; return t, e
            self.drain(0.05)
        return None, None
    def show_events(self, label=""):
        self.drain(0)
        for t, e in self.events:
            log(f"[{self.name}] EVENT {label} t={t:.3f} {e['event']} {json.dumps(e.get('data', {}))[:200]}")
        self.events.clear()

class Guest:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX); self.s.connect(path); self.buf = b""
    def lines(self, timeout):
        end = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                l, self.buf = self.buf.split(b"\n", 1)
                yield l.rstrip(b"\r").decode(errors="replace")
            left = end - time.monotonic()
            if left <= 0: raise TimeoutError("guest")
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d: raise EOFError("guest")
            self.buf += d
    def wait_report(self, timeout=90):
        out, on = [], False
        for l in self.lines(timeout):
            if l == "CP-REPORT-BEGIN": on = True; out = []
            elif l == "CP-REPORT-END": return out
            elif on: out.append(l)
    def run(self, c, timeout=60):
        self.s.sendall(c.encode() + b"\n")
        out, on, w = [], False, c.split()[0]
        for l in self.lines(timeout):
            if l.startswith("CP-BEGIN " + w): on = True
            elif l.startswith("CP-END " + w): return out, l
            elif on: out.append(l)
    def sh(self, c, label=None):
        out, end = self.run("sh " + c)
        for l in out: log(f"  guest{('['+label+']') if label else ''}: {l}")
        return out

def blk(g):
    out, end = g.run("report", timeout=60)
    return [l for l in out if l.startswith("blk ")]

def main():
    qemu, labenv, conf, wd = sys.argv[1:5]
    kargs = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--kernel-args" else "pcie_ports=compat"
    env = dict(l.strip().split("=", 1) for l in open(labenv) if "=" in l)
    os.makedirs(wd, exist_ok=True)
    for f in ("incus.sock", "cp.sock", "ser.sock"):
        try: os.unlink(os.path.join(wd, f))
        except FileNotFoundError: pass
    MiB = 1 << 20
    img = os.path.join(wd, "data.img"); iso = os.path.join(wd, "cd.iso"); iso2 = os.path.join(wd, "cd2.iso")
    with open(img, "wb") as f: f.write(pattern(7, 0, MiB)); f.truncate(64 * MiB)
    with open(iso, "wb") as f: f.write(pattern(5, 0, MiB))
    with open(iso2, "wb") as f: f.write(pattern(6, 0, 2 * MiB))
    iso3 = os.path.join(wd, "cd3.iso")
    with open(iso3, "wb") as f: f.write(pattern(8, 0, 3 * MiB))
    argv = [qemu, "-accel", "tcg", "-machine", "q35", "-m", "512", "-smp", "1", "-nodefaults",
            "-kernel", env["COLDPLUG_GUEST_KERNEL"], "-initrd", env["COLDPLUG_GUEST_INITRD"],
            "-append", "console=ttyS0 panic=-1 quiet cp.settle=3 " + kargs,
            "-display", "none", "-no-reboot", "-readconfig", conf,
            "-device", "pcie-root-port,id=qemu_pcie1,bus=pcie.0,addr=1.0,chassis=1,multifunction=on",
            "-device", "pcie-root-port,id=qemu_pcie2,bus=pcie.0,addr=1.1,chassis=2",
            "-device", "virtio-scsi-pci,id=qemu_scsi,bus=qemu_pcie1,addr=0.0",
            "-device", "qemu-xhci,id=qemu_usb,bus=pcie.0,addr=2.0,p2=8,p3=8",
            # a cold USB CD slot with an empty drive (question 4, path b)
            "-device", "usb-bot,id=cpcd,bus=qemu_usb.0,port=1",
            "-device", "scsi-cd,id=cpcd-cd,bus=cpcd.0,lun=0",
            "-device", "usb-bot,id=cpcd2,bus=qemu_usb.0,port=3",
            "-device", "scsi-cd,id=cpcd2-cd,bus=cpcd2.0,lun=0",
            "-chardev", f"socket,id=mi,path={wd}/incus.sock,server=on,wait=off", "-mon", "mi,mode=control",
            "-chardev", f"socket,id=mc,path={wd}/cp.sock,server=on,wait=off", "-mon", "mc,mode=control",
            "-chardev", f"socket,id=ser,path={wd}/ser.sock,server=on,wait=off", "-serial", "chardev:ser", "-S"]
    p = subprocess.Popen(argv, stderr=open(os.path.join(wd, "qemu.err"), "w"))
    log("qemu pid", p.pid, qemu)
    try:
        for _ in range(100):
            if os.path.exists(f"{wd}/ser.sock"): break
            time.sleep(0.05)
        time.sleep(0.2)
        inc, cp = QMP(f"{wd}/incus.sock", "incus"), QMP(f"{wd}/cp.sock", "cp")
        g = Guest(f"{wd}/ser.sock")
        v = cp.cmd("query-version", quiet=True)["return"]["qemu"]
        log("QEMU", v)
        schema = cp.cmd("query-qmp-schema", quiet=True)["return"]
        evs = sorted(e["name"] for e in schema if e.get("meta-type") == "event")
        log("events with DEVICE/BLOCK/TRAY/MEDIUM:", [e for e in evs if any(k in e for k in ("DEVICE", "BLOCK", "TRAY", "MEDIUM"))])
        inc.cmd("cont")
        rep = g.wait_report()
        log("guest booted; blk:")
        for l in rep:
            if l.startswith(("blk ", "guest ")): log("  " + l)
        for l in rep:
            if l.startswith("pci "): log("  " + l)
        g.sh("cat /proc/cmdline; ls /sys/bus/pci_express/devices 2>&1 | head -3; ls /sys/bus/pci/slots/ 2>&1", "boot")
        qb = cp.cmd("query-block", quiet=True)["return"]
        slot = {b["device"]: b["qdev"] for b in qb if b["device"].startswith("coldplug-disk")}
        log("slots", slot)
        g.sh("dmesg -c >/dev/null; echo cleared")

        if os.environ.get("LV_ONLY_ISO") != "1":
            # ---- Q1: Incus hot-adds a disk (scsi-hd on qemu_scsi.0) on ITS monitor
            log("=== Q1 Incus blockdev-add + device_add scsi-hd (on Incus's monitor)")
            nb0 = len(cp.cmd("query-named-block-nodes", {"flat": True}, quiet=True)["return"])
            inc.cmd("blockdev-add", {"driver": "file", "node-name": "incus_data", "filename": img, "aio": "threads",
                                     "cache": {"direct": False, "no-flush": False}, "discard": "unmap",
                                     "locking": "off", "read-only": False})
            inc.cmd("device_add", {"driver": "scsi-hd", "id": "dev-incus_data", "drive": "incus_data",
                                   "serial": "incus_data", "device_id": "incus_data", "channel": 0, "lun": 1,
                                   "bus": "qemu_scsi.0", "bootindex": 2})
            cp.drain(1.0); cp.show_events("(cp monitor, after Incus's hot-add)")
            inc.show_events("(incus monitor)")
            nb1 = cp.cmd("query-named-block-nodes", {"flat": True}, quiet=True)["return"]
            log("cp sees named nodes", nb0, "->", len(nb1), [n["node-name"] for n in nb1 if n["node-name"].startswith("incus")])
            log("cp sees query-block", [(b["device"], b["qdev"], b.get("inserted", {}).get("node-name")) for b in cp.cmd("query-block", quiet=True)["return"]])
            time.sleep(2)
            g.sh("dmesg -c | tail -n 8; ls /sys/class/scsi_host; cat /proc/scsi/scsi | grep -c Vendor", "after scsi-hd add")
            for l in blk(g): log("  " + l)

            log("=== Q1 coldplug: device_del dev-incus_data, wait DEVICE_DELETED")
            t = time.monotonic()
            cp.cmd("device_del", {"id": "dev-incus_data"})
            te, e = cp.wait_event("DEVICE_DELETED", lambda e: e["data"].get("device") == "dev-incus_data")
            log(f"DEVICE_DELETED after {(time.monotonic()-t)*1000:.0f} ms" if e else "NO DEVICE_DELETED in 10 s")
            cp.show_events("(other)")
            time.sleep(1.5)
            g.sh("dmesg -c | tail -n 8; ls /sys/block", "after device_del")
            log("=== Q1 coldplug: qom-set slot0 drive -> incus_data (guest running)")
            s0 = slot["coldplug-disk0"]
            cp.cmd("qom-set", {"path": s0, "property": "drive", "value": "incus_data"})
            cp.cmd("qom-get", {"path": s0, "property": "drive"})
            cp.drain(0.3); cp.show_events()
            time.sleep(3)
            g.sh("dmesg -c | tail -n 8; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done", "3 s after qom-set")
            log("=== Q1 block_resize incus_data to its own size (64 MiB)")
            cp.cmd("block_resize", {"node-name": "incus_data", "size": 64 * MiB})
            time.sleep(3)
            g.sh("dmesg -c | tail -n 8; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done", "after same-size block_resize")
            exp = hashlib.md5(pattern(7, 0, MiB)).hexdigest()
            out, _ = g.run("sum coldplug-disk0 0 1048576"); log("  guest sum:", out, "expect", exp)
            out, _ = g.run("write coldplug-disk0 9 2097152 65536"); log("  guest write:", out)
            with open(img, "rb") as f: f.seek(2 * MiB); hb = f.read(65536)
            log("  host reads image at 2 MiB: match =", hb == pattern(9, 2 * MiB, 65536))

            # ---- Q2: Incus resizes (on its monitor)
            log("=== Q2 Incus block_resize incus_data 96 MiB")
            inc.cmd("block_resize", {"node-name": "incus_data", "size": 96 * MiB})
            time.sleep(3)
            g.sh("dmesg -c | tail -n 8; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done", "after resize")
            log("  image size on host:", os.path.getsize(img))

            # ---- Q3: Incus detaches
            log("=== Q3 Incus device_del dev-incus_data + blockdev-del incus_data (before coldplug acts)")
            inc.cmd("device_del", {"id": "dev-incus_data"})
            inc.cmd("blockdev-del", {"node-name": "incus_data"})
            log("=== Q3 coldplug: blockdev-add a fresh null-co placeholder, qom-set slot0 drive to it")
            cp.cmd("blockdev-add", {"driver": "null-co", "node-name": "coldplug-ph-disk0", "size": 0, "read-zeroes": True})
            cp.cmd("qom-set", {"path": s0, "property": "drive", "value": "coldplug-ph-disk0"})
            time.sleep(2)
            g.sh("dmesg -c | tail -n 8; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done", "after placeholder back")
            log("=== Q3 try: block_resize placeholder to 0 (to notify the guest)")
            cp.cmd("block_resize", {"node-name": "coldplug-ph-disk0", "size": 0})
            time.sleep(2)
            g.sh("dmesg -c | tail -n 8; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done; dd if=/dev/vda of=/dev/null bs=4096 count=1 2>&1 | tail -1", "after ph resize")
            log("=== Q3 memfd trick: a 0-byte file node the daemon passes, block_resize 0, then the placeholder")
            mfd = os.memfd_create("coldplug-zero")
            cp.cmd("add-fd", {"fdset-id": 99, "opaque": "coldplug-zero"}, fds=[mfd]); os.close(mfd)
            cp.cmd("blockdev-add", {"driver": "file", "node-name": "coldplug-zero0", "filename": "/dev/fdset/99"})
            cp.cmd("qom-set", {"path": s0, "property": "drive", "value": "coldplug-zero0"})
            cp.cmd("block_resize", {"node-name": "coldplug-zero0", "size": 0})
            time.sleep(2)
            g.sh("dmesg -c | grep -v 'I/O error' | tail -n 4; cat /sys/block/vda/size", "after memfd resize 0")
            cp.cmd("qom-set", {"path": s0, "property": "drive", "value": "coldplug-ph-disk0"})
            cp.cmd("blockdev-del", {"node-name": "coldplug-zero0"})
            cp.cmd("remove-fd", {"fdset-id": 99})
            cp.cmd("query-fdsets")
            g.sh("cat /sys/block/vda/size; dd if=/dev/vda of=/dev/null bs=512 count=1 2>&1 | tail -1", "after placeholder")
            t = time.monotonic(); r = inc.cmd("blockdev-del", {"node-name": "incus_data"})
            cp.show_events(); inc.show_events()

            # ---- Q1 variant: io.bus=virtio-blk on a root port
            log("=== Q1b Incus virtio-blk on root port qemu_pcie2 (hotplug unusable in guest?)")
            inc.cmd("blockdev-add", {"driver": "file", "node-name": "incus_vb", "filename": img, "aio": "threads",
                                     "cache": {"direct": False, "no-flush": False}, "discard": "unmap",
                                     "locking": "off", "read-only": False})
            inc.cmd("device_add", {"driver": "virtio-blk-pci", "id": "dev-incus_vb", "drive": "incus_vb",
                                   "serial": "incus_vb", "bus": "qemu_pcie2", "addr": "00.0"})
            cp.drain(0.5); cp.show_events("(cp monitor after virtio-blk hot-add)")
            time.sleep(2)
            g.sh("dmesg -c | tail -n 5; ls /sys/block; ls /sys/bus/pci/devices", "after virtio-blk hot-add")
            t = time.monotonic()
            cp.cmd("device_del", {"id": "dev-incus_vb"})
            te, e = cp.wait_event("DEVICE_DELETED", lambda e: e["data"].get("device") == "dev-incus_vb")
            log(f"DEVICE_DELETED after {(time.monotonic()-t)*1000:.0f} ms" if e else "NO DEVICE_DELETED in 10 s")
            cp.show_events("(other)")
            s1 = slot["coldplug-disk1"]
            cp.cmd("qom-set", {"path": s1, "property": "drive", "value": "incus_vb"})
            cp.cmd("block_resize", {"node-name": "incus_vb", "size": 96 * MiB})
            time.sleep(2)
            g.sh("dmesg -c | tail -n 5; for d in /sys/block/vd*; do echo $d $(cat $d/size) $(cat $d/serial); done", "slot1")
            cp.cmd("blockdev-add", {"driver": "null-co", "node-name": "coldplug-ph-disk1", "size": 0, "read-zeroes": True})
            cp.cmd("qom-set", {"path": s1, "property": "drive", "value": "coldplug-ph-disk1"})
            inc.cmd("blockdev-del", {"node-name": "incus_vb"})

        if os.environ.get("LV_SKIP_ISO") == "1":
            g.run("poweroff", timeout=20); return
        # ---- Q4: ISO
        log("=== Q4a Incus blockdev-add ISO + scsi-cd on qemu_scsi.0")
        inc.cmd("blockdev-add", {"driver": "file", "node-name": "incus_iso", "filename": iso, "aio": "threads",
                                 "cache": {"direct": False, "no-flush": False}, "discard": "unmap",
                                 "locking": "off", "read-only": False})
        inc.cmd("device_add", {"driver": "scsi-cd", "id": "dev-incus_iso", "drive": "incus_iso", "serial": "incus_iso",
                               "device_id": "incus_iso", "channel": 0, "lun": 2, "bus": "qemu_scsi.0"})
        cp.drain(0.5); cp.show_events("(cp after scsi-cd add)")
        t = time.monotonic()
        cp.cmd("device_del", {"id": "dev-incus_iso"})
        te, e = cp.wait_event("DEVICE_DELETED", lambda e: e["data"].get("device") == "dev-incus_iso")
        log(f"DEVICE_DELETED after {(time.monotonic()-t)*1000:.0f} ms" if e else "NO DEVICE_DELETED in 10 s")
        log("=== Q4a coldplug: hot-add a USB CD drive (usb-bot + scsi-cd on Incus's node)")
        cp.cmd("device_add", {"driver": "usb-bot", "id": "coldplug-cd0", "bus": "qemu_usb.0"})
        cp.cmd("device_add", {"driver": "scsi-cd", "id": "dev-incus_iso", "drive": "incus_iso", "bus": "coldplug-cd0.0", "lun": 0})
        cp.cmd("qom-set", {"path": "/machine/peripheral/coldplug-cd0", "property": "attached", "value": True})
        time.sleep(4)
        cp.show_events("(cp, USB CD hot-add)"); inc.show_events("(incus)")
        g.sh("dmesg -c | grep -v 'usb-storage\\|^$' | tail -n 12", "after USB CD hot-add")
        for l in blk(g): log("  " + l)
        log("  iso md5 (host):", hashlib.md5(pattern(5, 0, MiB)).hexdigest())

        log("=== Q4b cold USB CD slot cpcd-cd (empty): open tray, insert, close")
        log("  before:", [ (b["device"], b["qdev"], b.get("tray_open"), b.get("locked")) for b in cp.cmd("query-block", quiet=True)["return"] if "cpcd" in b["qdev"]])
        inc.cmd("blockdev-add", {"driver": "file", "node-name": "incus_iso2", "filename": iso2, "aio": "threads",
                                 "cache": {"direct": False, "no-flush": False}, "discard": "unmap",
                                 "locking": "off", "read-only": False})
        cp.cmd("blockdev-open-tray", {"id": "cpcd-cd"})
        cp.drain(0.3); cp.show_events("(open)")
        cp.cmd("blockdev-insert-medium", {"id": "cpcd-cd", "node-name": "incus_iso2"})
        cp.drain(0.3); cp.show_events("(insert)")
        cp.cmd("blockdev-close-tray", {"id": "cpcd-cd"})
        cp.drain(0.3); cp.show_events("(close)")
        inc.show_events("(incus monitor sees)")
        time.sleep(3)
        g.sh("dmesg -c | tail -n 8", "after insert")
        for l in blk(g): log("  " + l)
        log("  iso2 md5 (host):", hashlib.md5(pattern(6, 0, MiB)).hexdigest())
        log("=== Q4c medium swap without the tray: qom-set drive of the hot-added USB CD dev-incus_iso -> incus_iso3")
        inc.cmd("blockdev-add", {"driver": "file", "node-name": "incus_iso3", "filename": iso3, "aio": "threads",
                                 "cache": {"direct": False, "no-flush": False}, "discard": "unmap",
                                 "locking": "off", "read-only": False})
        cp.cmd("qom-set", {"path": "/machine/peripheral/dev-incus_iso", "property": "drive", "value": "incus_iso3"})
        cp.drain(0.5); cp.show_events("(swap)")
        log("  query-block:", [(b["qdev"], b.get("inserted", {}).get("node-name"), b.get("tray_open")) for b in cp.cmd("query-block", quiet=True)["return"] if "iso" in b["qdev"] or "cpcd" in b["qdev"]])
        usbcd = "1-0000:00:02.0-2"   # serial of the hot-added USB CD (xHCI port 2)
        g.sh("dmesg -c >/dev/null; for d in /sys/block/sr*; do readlink -f $d | grep -q /2-2/ && echo $d; done", "which sr")
        out, _ = g.run("size " + usbcd); log("  ", out)
        out, _ = g.run("size " + usbcd); log("  ", out)
        out, _ = g.run("sum %s 0 1048576" % usbcd); log("  ", out, "iso3 expect", hashlib.md5(pattern(8, 0, MiB)).hexdigest(), "iso1", hashlib.md5(pattern(5, 0, MiB)).hexdigest())
        g.sh("dmesg -c | grep -v 'dev vd' | tail -n 6", "after swap")
        log("=== Q4d qom-set drive on an EMPTY cold scsi-cd (cpcd2-cd)")
        cp.cmd("qom-set", {"path": "/machine/peripheral/cpcd2-cd", "property": "drive", "value": "incus_iso"})
        cp.drain(0.5); cp.show_events("(empty qom-set)")
        log("  query-block:", [(b["qdev"], b.get("inserted", {}).get("node-name"), b.get("tray_open")) for b in cp.cmd("query-block", quiet=True)["return"] if "cpcd2" in b["qdev"]])
        time.sleep(1)
        for l in blk(g): log("  " + l)
        g.run("poweroff", timeout=20)
    finally:
        try: p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill(); p.wait()
        log("qemu exit", p.returncode, open(os.path.join(wd, "qemu.err")).read()[-500:])

if __name__ == "__main__":
    main()
