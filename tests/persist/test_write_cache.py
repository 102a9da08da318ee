#!/usr/bin/env python3
"""The volatile write cache turned off (Set Features 06h = 0, as `nvme set-feature -f 6 -v 0`)
on a drive kept in a directory, against a real daemon: the setting is remembered across a clean
stop and a SIGKILL, and a power cut of a drive without power-loss protection then loses
no completed write: only the writes in flight at the cut (at most queue depth x LBAs per
write), which no host was told had completed. Turned on again, the same cut loses far more,
the buffer's acknowledged writes, so the test can tell the two apart.

  test_write_cache.py build/src/cli/nvemu
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "replay"))
import nvme_tcp  # noqa: E402  (the replay tests' minimal NVMe/TCP host)
from tally import check, finish, free_port  # noqa: E402

NVEMU = sys.argv[1]
NQN = "nqn.2026-11.dev.nvemu:write-cache"
FEAT_VOLATILE_WC = 0x06
QD, LBAS_PER_WRITE = 16, 64 * 1024 // 4096
IN_FLIGHT = QD * LBAS_PER_WRITE  # the most a cut can take that no host saw completed


class Daemon:
    def __init__(self, tmp, drive):
        self.port = free_port()
        self.control = os.path.join(tmp, f"control-{self.port}.sock")
        log = open(os.path.join(tmp, "daemon.log"), "a")
        # A slow NAND and a large buffer: many writes wait in the buffer at a cut.
        self.proc = subprocess.Popen(
            [NVEMU, "-p", str(self.port), "-n", NQN, "--control", self.control, "--ns", "ssd",
             "--ns-preset", "small", "--ns-o", f"path={drive}", "--ns-o",
             "power_loss_protection=off", "--ns-o", "page_program_ns=20000000", "--ns-o",
             "write_buffer_kib=8192"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        if "serving" not in self.proc.stdout.readline():
            self.proc.kill()
            sys.exit(f"the daemon did not start (see {log.name})")
        self.trid = f"trtype:TCP traddr:127.0.0.1 trsvcid:{self.port} subnqn:{NQN}"

    def admin(self, sqe):
        """One admin command on a fresh admin queue; its result (CQE dword 0)."""
        c = nvme_tcp.Connection(self.port)
        try:
            c.handshake()
            c.connect_admin(subnqn=NQN)
            c.enable()
            result, _ = c.expect(sqe(c.cid()))
            return result
        finally:
            c.close()

    def write_cache(self):
        return self.admin(lambda cid: nvme_tcp.sqe(0x0A, cid, cdw10=FEAT_VOLATILE_WC)) & 1

    def set_write_cache(self, on):
        self.admin(lambda cid: nvme_tcp.set_features_sqe(cid, FEAT_VOLATILE_WC, int(on)))

    def perf(self, *args):
        out = subprocess.run([NVEMU, "perf", "-r", self.trid, "--json", *args],
                             capture_output=True, text=True)
        lines = out.stdout.strip().splitlines()
        return out.returncode, json.loads(lines[-1]) if lines else {}

    def cut(self):
        """Writes of a new pattern while the power is cut; the LBAs the daemon says it lost and
        what a read of the region finds (old or new pattern, mismatches)."""
        load = subprocess.Popen([NVEMU, "perf", "-r", self.trid, "--verify", "--seed", "2",
                                 "--span", "16M", "-o", "64k", "-q", str(QD)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # the client connected and the buffer full (with the cache on)
        out = subprocess.run([NVEMU, "power-cut", "--control", self.control, "--down-ms", "300"],
                             capture_output=True, text=True)
        load.wait()
        time.sleep(0.5)
        m = re.search(r"(\d+) LBAs lost", out.stdout)
        rc, r = self.perf("--verify-read", "--seed", "1", "--or-seed", "2", "--span", "16M",
                          "-o", "64k")
        return (int(m.group(1)) if m else -1), rc, r

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=120)


def main():
    with tempfile.TemporaryDirectory(prefix="nvemu-wc-", dir=os.environ.get("TMPDIR")) as tmp:
        drive = os.path.join(tmp, "drive")
        d = Daemon(tmp, drive)
        check("the write cache is on by default", d.write_cache() == 1)
        d.set_write_cache(False)
        check("Set Features 06h turns it off", d.write_cache() == 0)
        check("a clean stop", d.stop() == 0)
        d = Daemon(tmp, drive)
        check("off after a clean stop and restart", d.write_cache() == 0)
        d.stop(signal.SIGKILL)
        d = Daemon(tmp, drive)
        check("off after a SIGKILL and restart", d.write_cache() == 0)

        rc, _ = d.perf("--verify", "--seed", "1", "--span", "16M", "-o", "64k")
        check("pattern 1 written and verified", rc == 0)
        lost, rc, r = d.cut()
        check(f"cache off: the cut lost only writes in flight ({lost} LBAs, at most {IN_FLIGHT})",
              0 <= lost <= IN_FLIGHT)
        check("cache off: every block holds pattern 1 or 2", rc == 0 and r.get("mismatches") == 0,
              f"perf status {rc}, {r.get('mismatches')} mismatches")

        # The control: with the cache on, the same cut loses what the buffer held.
        d.set_write_cache(True)
        rc, _ = d.perf("--verify", "--seed", "1", "--span", "16M", "-o", "64k")
        time.sleep(4)  # pattern 1 reaches NAND (20 ms programs)
        lost, rc, r = d.cut()
        check(f"cache on: the same cut loses acknowledged writes from the buffer ({lost} LBAs, "
              f"more than the {IN_FLIGHT} in flight)", lost > IN_FLIGHT)
        check("cache on: every block holds pattern 1 or 2", rc == 0 and r.get("mismatches") == 0,
              f"perf status {rc}, {r.get('mismatches')} mismatches")
        check("a clean stop at the end", d.stop() == 0)
    finish()


main()
