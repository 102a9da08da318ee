#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_pdu_stream and fuzz_command (run from anywhere).

Seeds are valid sessions against the target of tests/unit/nvme's harness (fuzz_command's
with its FDP namespace 3);
see the input layouts at the top of fuzz_pdu_stream.c and fuzz_command.c.
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "replay"))
import nvme_tcp as t  # noqa: E402

# Must match tests/unit/nvme/target_harness.{c,h}.
SUBNQN = "nqn.2024-01.io.nvemu:harness"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:harness-host"
HOSTID = bytes(0xA0 + i for i in range(16))
STANDING_CNTLID = 1

MODE_FIX_DIGESTS = 0x01
CUT_BY_PDU, CUT_BY_BYTE = 0 << 1, 1 << 1


def pattern(n, seed):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


def admin_session(digest):
    h, d = bool(digest & 1), bool(digest & 2)
    cmd = lambda sqe, data=b"": t.capsule(sqe, data, hdgst=h, ddgst=d)  # noqa: E731
    s = t.icreq(digest)
    s += cmd(t.connect_sqe(1, 0, 31, kato=0), t.connect_data(0xFFFF, SUBNQN, HOSTNQN, HOSTID))
    s += cmd(t.property_get_sqe(2, 0x00, True))
    s += cmd(t.property_set_sqe(3, 0x14, t.CC_ENABLE))
    s += cmd(t.property_get_sqe(4, 0x1C, False))
    s += cmd(t.identify_sqe(5, 1))
    s += cmd(t.identify_sqe(6, 2))
    s += cmd(t.identify_sqe(7, 3, nsid=1))
    s += cmd(t.identify_sqe(8, 0, nsid=2))
    s += cmd(t.set_features_sqe(9, 0x07, 0x00030003))
    s += cmd(t.sqe(0x02, 10, nsid=0xFFFFFFFF, sgl_len=512, cdw10=0x02 | (127 << 16)))
    s += cmd(t.sqe(0x18, 11))
    s += cmd(t.sqe(0x0C, 12))
    s += cmd(t.property_set_sqe(13, 0x14, t.CC_ENABLE | 1 << 14))
    return s


def discovery_session():
    s = t.icreq(0)
    s += t.capsule(t.connect_sqe(1, 0, 31),
                   t.connect_data(0xFFFF, "nqn.2014-08.org.nvmexpress.discovery", HOSTNQN, HOSTID))
    s += t.capsule(t.property_set_sqe(2, 0x14, t.CC_ENABLE))
    s += t.capsule(t.identify_sqe(3, 1))
    s += t.capsule(t.sqe(0x02, 4, sgl_len=1024, cdw10=0x70 | 1 << 15 | (255 << 16)))
    s += t.capsule(t.sqe(0x02, 5, sgl_len=4096, cdw10=0x70 | (1023 << 16), cdw12=1024))
    return s


def io_session(digest):
    """An I/O queue of the standing controller: in-capsule and R2T writes, reads, the rest."""
    h, d = bool(digest & 1), bool(digest & 2)
    cmd = lambda sqe, data=b"": t.capsule(sqe, data, hdgst=h, ddgst=d)  # noqa: E731
    s = t.icreq(digest)
    s += cmd(t.connect_sqe(1, 1, 31), t.connect_data(STANDING_CNTLID, SUBNQN, HOSTNQN, HOSTID))
    s += cmd(t.rw_sqe(0x01, 2, 1, 0, 1, incapsule=True), pattern(4096, 1))
    s += cmd(t.rw_sqe(0x02, 3, 1, 0, 1))
    # A write too big for the capsule: the target sends an R2T with TTAG 0 (the only busy slot).
    s += cmd(t.rw_sqe(0x01, 4, 1, 8, 4))
    s += t.h2c_data(4, 0, 0, pattern(8192, 2), last=False, hdgst=h, ddgst=d)
    s += t.h2c_data(4, 0, 8192, pattern(8192, 3), last=True, hdgst=h, ddgst=d)
    s += cmd(t.rw_sqe(0x02, 5, 1, 8, 4))
    s += cmd(t.rw_sqe(0x05, 6, 2, 0, 8, lba_size=512, incapsule=True), bytes(4096))
    s += cmd(t.sqe(0x08, 7, nsid=2, cdw10=7, cdw12=1))
    ranges = struct.pack("<IIQ", 0, 2, 0) + bytes(4096 - 16)
    s += cmd(t.sqe(0x09, 8, nsid=1, sgl_type=t.SGL_INCAPSULE, sgl_len=4096, cdw11=4), ranges)
    s += cmd(t.sqe(0x00, 9, nsid=0xFFFFFFFF))
    s += cmd(t.sqe(0x0C, 10, nsid=1, cdw12=3))
    return s


def command(queue, sqe, data=b""):
    return struct.pack("<BH", queue, len(data)) + sqe + data


ADMIN, IO, FRESH = 0, 1, 3


def command_seeds():
    yield "identify", command(ADMIN, t.identify_sqe(1, 1)) + command(ADMIN, t.identify_sqe(2, 3, 1))
    yield "logs", b"".join(command(ADMIN, t.sqe(0x02, 3 + i, nsid=0xFFFFFFFF, sgl_len=512,
                                               cdw10=lid | 127 << 16))
                           for i, lid in enumerate((1, 2, 3)))
    yield "features", (command(ADMIN, t.set_features_sqe(1, 0x07, 0x10001))
                       + command(ADMIN, t.sqe(0x0A, 2, cdw10=0x0B))
                       + command(ADMIN, t.sqe(0x0A, 3, sgl_len=16, cdw10=0x81, cdw11=1)))
    yield "aer", command(ADMIN, t.sqe(0x0C, 1)) * 5
    yield "properties", (command(ADMIN, t.property_get_sqe(1, 0, True))
                         + command(ADMIN, t.property_set_sqe(2, 0x14, 0))
                         + command(ADMIN, t.property_set_sqe(3, 0x14, t.CC_ENABLE)))
    yield "connect", (command(FRESH, t.connect_sqe(1, 0, 31),
                              t.connect_data(0xFFFF, SUBNQN, HOSTNQN, HOSTID))
                      + command(FRESH, t.property_set_sqe(2, 0x14, t.CC_ENABLE))
                      + command(FRESH, t.identify_sqe(3, 1)))
    yield "discovery", (command(FRESH, t.connect_sqe(1, 0, 31),
                                t.connect_data(0xFFFF, "nqn.2014-08.org.nvmexpress.discovery",
                                               HOSTNQN, HOSTID))
                        + command(FRESH, t.property_set_sqe(2, 0x14, t.CC_ENABLE))
                        + command(FRESH, t.sqe(0x02, 3, sgl_len=4096, cdw10=0x70 | 1023 << 16)))
    yield "write-read", (command(IO, t.rw_sqe(0x01, 1, 1, 5, 2, incapsule=True), pattern(8192, 4))
                         + command(IO, t.rw_sqe(0x02, 2, 1, 5, 2))
                         + command(IO, t.rw_sqe(0x01, 3, 2, 7, 2, lba_size=512), pattern(1024, 5))
                         + command(IO, t.rw_sqe(0x05, 4, 2, 7, 2, lba_size=512), pattern(1024, 5)))
    # FDP on namespace 3 (the harness's fdp_ns): the logs with LSI = endurance group 3,
    # Features 1Dh/1Eh, writes with DTYPE 2 (valid and invalid PIDs), RUH Status and Update.
    fdp_nsid, placed = 3, 2 << 20  # CDW12 DTYPE = 2
    yield "fdp-admin", (b"".join(command(ADMIN, t.sqe(0x02, 1 + i, sgl_len=512,
                                                      cdw10=lid | (lsp << 8) | 127 << 16,
                                                      cdw11=fdp_nsid << 16))
                                 for i, (lid, lsp) in enumerate(((0x09, 0), (0x20, 0), (0x21, 0),
                                                                 (0x22, 0), (0x23, 1), (0x23, 0))))
                        + command(ADMIN, t.sqe(0x0A, 10, cdw10=0x1D, cdw11=fdp_nsid))
                        + command(ADMIN, t.sqe(0x09, 11, cdw10=0x1D, cdw11=fdp_nsid, cdw12=1))
                        + command(ADMIN, t.sqe(0x0A, 12, nsid=fdp_nsid, sgl_len=12, cdw10=0x1E,
                                               cdw11=6 << 16))
                        + command(ADMIN, t.sqe(0x09, 13, nsid=fdp_nsid, sgl_len=255, cdw10=0x1E,
                                               cdw11=1 << 16 | 1, cdw12=1), bytes([3]) + bytes(254)))
    yield "fdp-io", (command(IO, t.sqe(0x01, 1, nsid=fdp_nsid, sgl_len=8192, cdw10=16,
                                       cdw12=1 | placed, cdw13=(1 << 15 | 1) << 16),
                             pattern(8192, 6))
                     + command(IO, t.sqe(0x01, 2, nsid=fdp_nsid, sgl_len=4096, cdw10=40,
                                         cdw12=placed, cdw13=0x7777 << 16), pattern(4096, 7))
                     + command(IO, t.sqe(0x08, 3, nsid=fdp_nsid, cdw10=60, cdw12=3 | placed,
                                         cdw13=2 << 16))
                     + command(IO, t.sqe(0x12, 4, nsid=fdp_nsid, sgl_len=208, cdw10=1, cdw11=51))
                     + command(IO, t.sqe(0x1D, 5, nsid=fdp_nsid, sgl_len=4, cdw10=1 | 1 << 16),
                               struct.pack("<HH", 1 << 15 | 1, 2))
                     + command(IO, t.sqe(0x12, 6, nsid=fdp_nsid, sgl_len=208, cdw10=1, cdw11=51)))
    ranges = struct.pack("<IIQIIQ", 0, 8, 0, 0, 1, 100) + bytes(4096 - 32)
    yield "dsm-zeroes", (command(IO, t.sqe(0x09, 1, nsid=1, sgl_len=4096, cdw10=1, cdw11=4), ranges)
                         + command(IO, t.sqe(0x08, 2, nsid=2, cdw10=7, cdw12=1))
                         + command(IO, t.sqe(0x0C, 3, nsid=1, cdw12=7))
                         + command(IO, t.sqe(0x00, 4, nsid=1)))


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    stream_dir = os.path.join(HERE, "corpus", "pdu_stream")
    command_dir = os.path.join(HERE, "corpus", "command")
    os.makedirs(stream_dir, exist_ok=True)
    os.makedirs(command_dir, exist_ok=True)
    for digest in (0, 3):
        name = "digests" if digest else "plain"
        write(os.path.join(stream_dir, "admin-" + name),
              bytes([MODE_FIX_DIGESTS | CUT_BY_PDU]) + admin_session(digest))
        write(os.path.join(stream_dir, "io-" + name),
              bytes([MODE_FIX_DIGESTS | CUT_BY_PDU]) + io_session(digest))
    write(os.path.join(stream_dir, "admin-bytewise"), bytes([CUT_BY_BYTE]) + admin_session(1))
    write(os.path.join(stream_dir, "admin-pieces"), bytes([7 << 1]) + admin_session(2))
    write(os.path.join(stream_dir, "discovery"), bytes([CUT_BY_PDU]) + discovery_session())
    for name, data in command_seeds():
        write(os.path.join(command_dir, name), data)


if __name__ == "__main__":
    main()
