#!/usr/bin/env python3
"""Bursts of in-capsule writes, sent in one go, against real daemons: every write lands with
its own data, whether the daemon takes it from its staging buffer in place (a namespace in
memory: ram, ssd) or copies it first (a drive directory, whose writes finish later while the
staging buffer is refilled by the next capsules). With data digests, a capsule with a bad one
fails alone (Transient Transport Error) and its blocks keep what they held.

  incapsule_burst.py build/src/cli/nvemu
"""
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvme_tcp as t  # noqa: E402
from tally import check, finish, free_port  # noqa: E402

NVEMU = sys.argv[1]
NQN = "nqn.2026-11.dev.nvemu:burst"
BLOCK = 4096
QUEUE = 32            # the I/O queue's entries (Connect SQSIZE 31): a burst fills it
INCAPSULE = 8192      # the daemon's default in-capsule limit
ST_TRANSIENT_TRANSPORT = 0x22


def pattern(n, seed):
    return bytes(((i >> 2) * 31 + seed * 97 + (i & 3)) & 0xFF for i in range(n))


class Daemon:
    def __init__(self, args, log):
        self.port = free_port()
        self.proc = subprocess.Popen([NVEMU, "-p", str(self.port), "-n", NQN, *args],
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        if "serving" not in self.proc.stdout.readline():
            self.proc.kill()
            sys.exit(f"the daemon did not start: {args}")

    def io_queue(self, digest):
        admin = t.Connection(self.port)
        admin.handshake(digest)
        cntlid = admin.connect_admin(subnqn=NQN)
        admin.enable()
        admin.expect(t.set_features_sqe(admin.cid(), 0x07, 0x00010001))
        io = t.Connection(self.port)
        io.handshake(digest)
        io.connect_io(cntlid, sqsize=QUEUE - 1, subnqn=NQN)
        return admin, io

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(timeout=30)


def burst(io, writes, corrupt=()):
    """Sends every write's capsule in one send; returns {cid: status} of their responses."""
    stream, cids = b"", []
    for i, (lba, data) in enumerate(writes):
        sqe = t.rw_sqe(0x01, io.cid(), 1, lba, len(data) // BLOCK, incapsule=True)
        cids.append(struct.unpack_from("<H", sqe, 2)[0])
        stream += io.capsule(sqe, data, corrupt_ddgst=i in corrupt)
    io.send(stream)
    statuses = {}
    while len(statuses) < len(cids):
        p = io.recv_pdu()
        if p.type != t.RSP:
            raise t.ProtocolError(f"unexpected PDU type {p.type} in a burst of writes")
        status, _, _, cid = p.cqe()
        statuses[cid] = status
    return [statuses.get(cid) for cid in cids]


def read_back(io, lba, nlb):
    status, _, data = io.command(t.rw_sqe(0x02, io.cid(), 1, lba, nlb))
    return data if status == 0 else None


def bursts(name, daemon, digest, base):
    admin, io = daemon.io_queue(digest)
    try:
        # Sizes alternate 1 and 2 blocks, so capsules straddle the staging buffer's reads at
        # every offset; three bursts of a full queue each, the later ones over the earlier.
        expect = {}
        for round_ in range(3):
            writes, lba = [], base
            for i in range(QUEUE):
                nlb = 1 + (i + round_) % (INCAPSULE // BLOCK)
                data = pattern(nlb * BLOCK, round_ * QUEUE + i + digest)
                writes.append((lba, data))
                lba += nlb if round_ == 0 else 2
            got = burst(io, writes)
            check(f"{name}, digest {digest}: burst {round_ + 1} all written",
                  got == [0] * QUEUE, f"statuses {got}")
            for lba, data in writes:
                for b in range(len(data) // BLOCK):
                    expect[lba + b] = data[b * BLOCK:(b + 1) * BLOCK]
        wrong = [lba for lba, data in sorted(expect.items()) if read_back(io, lba, 1) != data]
        check(f"{name}, digest {digest}: {len(expect)} blocks read back as written",
              not wrong, f"LBAs {wrong[:8]} differ")
        if digest & 2:
            # One bad data digest amid good capsules: it alone fails, its blocks unchanged.
            writes = [(base + 200 + 2 * i, pattern(2 * BLOCK, 500 + i)) for i in range(QUEUE)]
            got = burst(io, writes, corrupt={QUEUE // 2})
            want = [0] * QUEUE
            want[QUEUE // 2] = ST_TRANSIENT_TRANSPORT
            check(f"{name}: a bad data digest fails that write alone", got == want,
                  f"statuses {got}")
            lba = writes[QUEUE // 2][0]
            check(f"{name}: the bad-digest write changed nothing",
                  read_back(io, lba, 2) == bytes(2 * BLOCK), "its blocks were written")
            wrong = [lba for i, (lba, data) in enumerate(writes)
                     if i != QUEUE // 2 and read_back(io, lba, 2) != data]
            check(f"{name}: the writes around it landed", not wrong, f"LBAs {wrong[:8]} differ")
    finally:
        io.close()
        admin.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = open(os.path.join(tmp, "daemons.log"), "w+")
        kinds = [("ram in memory", ["--kind", "ram", "--size", "64M"]),
                 ("ssd in memory", ["--ns", "ssd", "--ns-preset", "small"]),
                 ("ram in a drive directory",
                  ["--ns", "ram:64M", "--ns-o", f"path={os.path.join(tmp, 'drive')}"])]
        for name, args in kinds:
            daemon = Daemon(args, log)
            try:
                for digest in (0, 3):
                    bursts(name, daemon, digest, base=1000 + 1000 * digest)
            except (t.ProtocolError, OSError) as e:
                check(f"{name}: the bursts ran", False, str(e))
            finally:
                rc = daemon.stop()
            check(f"{name}: the daemon stopped cleanly", rc == 0, f"exit {rc}")
        log.seek(0)
        text = log.read()
        bad = [line for line in text.splitlines()
               if "nvemu error:" in line or "Sanitizer" in line or "runtime error:" in line]
        check("no errors in the daemons' logs", not bad, "\n".join(bad[:5]))
    finish()


if __name__ == "__main__":
    main()
