#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (run from anywhere).

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
# Mode bits 1-7 of fuzz_pdu_stream: the whole stream in one write; bytes, then PDU by PDU.
CUT_AT_ONCE, CUT_BY_BYTE = 0 << 1, 1 << 1


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
    """An I/O queue of the standing controller: in-capsule and R2T writes, reads, the rest.
    Small transfers (namespace 2 has 512-byte blocks): a short input runs fast."""
    h, d = bool(digest & 1), bool(digest & 2)
    cmd = lambda sqe, data=b"": t.capsule(sqe, data, hdgst=h, ddgst=d)  # noqa: E731
    s = t.icreq(digest)
    s += cmd(t.connect_sqe(1, 1, 31), t.connect_data(STANDING_CNTLID, SUBNQN, HOSTNQN, HOSTID))
    s += cmd(t.rw_sqe(0x01, 2, 2, 0, 1, lba_size=512, incapsule=True), pattern(512, 1))
    s += cmd(t.rw_sqe(0x02, 3, 2, 0, 1, lba_size=512))
    # Not in-capsule: the target sends an R2T with TTAG 0 (the only busy slot), and the data
    # comes in two H2CData PDUs.
    s += cmd(t.rw_sqe(0x01, 4, 2, 8, 2, lba_size=512))
    s += t.h2c_data(4, 0, 0, pattern(512, 2), last=False, hdgst=h, ddgst=d)
    s += t.h2c_data(4, 0, 512, pattern(512, 3), last=True, hdgst=h, ddgst=d)
    s += cmd(t.rw_sqe(0x02, 5, 2, 8, 2, lba_size=512))
    s += cmd(t.rw_sqe(0x05, 6, 2, 0, 1, lba_size=512, incapsule=True), pattern(512, 1))
    s += cmd(t.sqe(0x08, 7, nsid=2, cdw10=7, cdw12=1))
    ranges = struct.pack("<IIQ", 0, 2, 0)
    s += cmd(t.sqe(0x09, 8, nsid=1, sgl_type=t.SGL_INCAPSULE, sgl_len=16, cdw11=4), ranges)
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


# fuzz_drive: byte 0 template (kind x 2 + crashed), byte 1 file (sorted names), byte 2 op,
# bytes 3-6 offset, then data (see fuzz_drive.c).
DRIVE_FILES = {
    0: ["data", "error-log", "identity", "state"],
    1: ["data", "error-log", "ftl-saved", "identity", "l2p", "p2l", "state", "units"],
    2: ["data", "error-log", "identity", "state", "zone-erases", "zone-flash-saved", "zone-pages",
        "zones"],
    3: ["data", "error-log", "fdp-events", "fdp-groups", "fdp-rus", "fdp-saved", "fdp-tags",
        "ftl-saved", "identity", "l2p", "p2l", "state", "units"],
}
REPLACE_FIXED, XOR, TRUNCATE, REPLACE = 0, 1, 2, 3


def drive_input(template, name, op, offset, data):
    index = DRIVE_FILES[template // 2].index(name)
    return bytes([template, index, op]) + struct.pack("<I", offset) + data


def drive_seeds():
    seeds = []
    for template in range(8):
        kind = template // 2
        for name in DRIVE_FILES[kind]:
            seeds.append((f"t{template}-{name}-xor", drive_input(template, name, XOR, 0, b"\x01")))
        for name in DRIVE_FILES[kind]:
            if name in ("data", "identity", "state"):
                continue
            for field in (12, 50, 64, 72, 80):  # version, id, elem size, clean, count
                seeds.append((f"t{template}-{name}-header-{field}",
                              drive_input(template, name, XOR, field, b"\x04")))
            # The first elements: out-of-range entries, impossible unit and zone records.
            seeds.append((f"t{template}-{name}-body",
                          drive_input(template, name, XOR, 4096, b"\xff\x7f\x00\x80" * 8)))
            seeds.append((f"t{template}-{name}-truncated",
                          drive_input(template, name, TRUNCATE, 4096 + 12, b"")))
        seeds.append((f"t{template}-state-machine-crash",
                      drive_input(template, "state", REPLACE_FIXED, 0,
                                  b"format = state 1\nrunning = 1\nboot_id = another-boot\n"
                                  b"power_cycles = 3\n")))
        seeds.append((f"t{template}-state-newer", drive_input(template, "state", REPLACE_FIXED, 0,
                                                             b"format = state 2\nrunning = 0\n")))
    # An SLC unit on a drive without the SLC cache (reopened with its keys changed).
    seeds.append(("t3-units-slc-without-cache", drive_input(3, "units", XOR, 4096 + 25, b"\x01")))
    # FDP drive left by a kill (its tables unchecksummed, reconciled): handles that disagree
    # with their reclaim units' owners, an owner changed, a unit caught between two states.
    seeds.append(("t7-fdp-tags-wrong-handles",
                  drive_input(7, "fdp-tags", XOR, 4096, b"\x01\x03\x02\x01" * 6)))
    seeds.append(("t7-fdp-rus-owner", drive_input(7, "fdp-rus", XOR, 4096 + 4, b"\x01")))
    seeds.append(("t7-fdp-rus-point", drive_input(7, "fdp-rus", XOR, 4096 + 6, b"\x05")))
    seeds.append(("t7-units-state", drive_input(7, "units", XOR, 4096 + 24, b"\x01")))
    seeds.append(("t7-fdp-events-count",
                  drive_input(7, "fdp-events", XOR, 4096 + 63 * 64 + 4, b"\x40")))
    kinds = ["ram", "ssd", "zoned"]
    for template in range(0, 6, 2):
        identity = (f"format = identity 1\nid = {'0' * 32}\nkind = {kinds[template // 2]}\n"
                    "bytes = 1048576\nlba_size = 4096\ndata = data\n"
                    "power_loss_protection = on\nmodel.channels = 2\nmodel.luns_per_channel = 1\n"
                    "model.blocks_per_plane = 32\nmodel.pages_per_block = 16\n"
                    "model.op_pcent = 30\nzone.zone_size = 65536\n").encode()
        seeds.append((f"t{template}-identity-foreign",
                      drive_input(template, "identity", REPLACE_FIXED, 0, identity)))
        seeds.append((f"t{template}-identity-unknown-key",
                      drive_input(template, "identity", REPLACE_FIXED, 0,
                                  identity + b"model.warp_drive = 9\n")))
        seeds.append((f"t{template}-identity-no-crc",
                      drive_input(template, "identity", REPLACE, 0, identity)))
    return seeds
# ---- fuzz_auth: steps of 1 byte (what) + 2 bytes (LEN, le) + data; see fuzz_auth.c ----
SEND, RECEIVE, GENUINE_REPLY, IDENTIFY = 0, 1, 2, 3


def step(what, length, data=b""):
    return struct.pack("<BH", what, length) + data


def negotiate(tid, hashes=(1, 2, 3), groups=(0, 1, 2, 3, 4, 5), sc_c=0):
    idlist = bytes(hashes).ljust(30, b"\0") + bytes(groups).ljust(30, b"\0")
    proto = struct.pack("<BBBB", 1, 0, len(hashes), len(groups)) + idlist
    return struct.pack("<BBHHBB", 0, 0, 0, tid, sc_c, 1) + proto


def auth_seeds():
    def session(tid, hashes, groups, bidirectional):
        n = negotiate(tid, hashes, groups)
        s = step(IDENTIFY, 0) + step(SEND, len(n), n) + step(RECEIVE, 4096)
        s += step(GENUINE_REPLY, 1 if bidirectional else 0) + step(RECEIVE, 4096)
        if bidirectional:
            s += step(SEND, 16, struct.pack("<BBHH10x", 1, 4, 0, tid))  # success2
        return s + step(IDENTIFY, 0)
    yield "null-sha256", session(1, (1,), (0,), False)
    yield "ffdhe2048-bidirectional", session(2, (3, 2), (1,), True)
    yield "ffdhe3072-sha384", session(3, (2,), (2,), False)
    failure2 = struct.pack("<BBHHBB", 0, 0xF0, 0, 4, 1, 1)
    yield "failure2", (step(SEND, 72, negotiate(4)) + step(RECEIVE, 4096)
                       + step(SEND, len(failure2), failure2) + step(IDENTIFY, 0))
    yield "reply-first", step(SEND, 16, struct.pack("<BBHHBBBBHI", 1, 2, 0, 5, 32, 0, 0, 0, 0, 0)) \
        + step(RECEIVE, 64) + step(IDENTIFY, 0)
    yield "reauthenticate", session(6, (1,), (0,), False) + session(7, (3,), (1,), True)


CONTROL_SEEDS = {
    "json": b"json\n", "prometheus": b"prometheus\r\n", "help": b"help\n",
    "trace-on": b"trace on 1 trace.json json nqn.2024-01.io.nvemu:harness\n",
    "trace-text": b"trace on 2 trace.txt text\n", "trace-off": b"trace off 1\n",
    "unknown": b"statistics please\n",
}
HTTP_SEEDS = {
    "metrics": b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n",
    "stats": b"GET /stats?pretty HTTP/1.0\r\n\r\n", "stats-json": b"GET /stats.json HTTP/1.1\r\n\r\n",
    "post": b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "root": b"GET / HTTP/1.0\r\n\r\n",
}
SECRET = "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"
CONFIG_SEEDS = {
    "full": f"""[nvemu]
port = 4421
listen = 127.0.0.1
reactors = 2
allow_host = nqn.2014-08.org.nvmexpress:uuid:a
dhchap_key = {SECRET}
dhchap_ctrl_key = {SECRET}
dhchap_hashes = sha512,sha256
dhchap_dhgroups = ffdhe2048,null
max_connections = 100
pdu_timeout = 1000
mdts = 6
record-interval = 500

[subsystem a]
nqn = nqn.2026-11.dev.nvemu:a
allow_host = nqn.2014-08.org.nvmexpress:uuid:b
dhchap_key = {SECRET}

[namespace fast]
kind = ram
size = 64M
lba_size = 512

[namespace flash]
subsystem = a
kind = ssd
preset = small
op_pcent = 20

[namespace zones]
kind = zoned
channels = 2
zone_size = 8M
""".encode(),
    "minimal": b"[namespace n]\nkind = nossd\n",
    "femu": b"[nvemu]\npreset = femu-bbssd\n[namespace x]\nkind = ssd\nsecsz = 512\nsecs_per_pg = 8\n",
}


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
              bytes([MODE_FIX_DIGESTS | CUT_AT_ONCE]) + admin_session(digest))
        write(os.path.join(stream_dir, "io-" + name),
              bytes([MODE_FIX_DIGESTS | CUT_AT_ONCE]) + io_session(digest))
    write(os.path.join(stream_dir, "admin-bytewise"), bytes([CUT_BY_BYTE]) + admin_session(1))
    write(os.path.join(stream_dir, "admin-pieces"), bytes([7 << 1]) + admin_session(2))
    write(os.path.join(stream_dir, "discovery"), bytes([CUT_AT_ONCE]) + discovery_session())
    for name, data in command_seeds():
        write(os.path.join(command_dir, name), data)
    drive_dir = os.path.join(HERE, "corpus", "drive")
    os.makedirs(drive_dir, exist_ok=True)
    for name, data in drive_seeds():
        write(os.path.join(drive_dir, name), data)
    for corpus, seeds in (("auth", dict(auth_seeds())), ("control", CONTROL_SEEDS),
                          ("http", HTTP_SEEDS), ("config", CONFIG_SEEDS)):
        os.makedirs(os.path.join(HERE, "corpus", corpus), exist_ok=True)
        for name, data in seeds.items():
            write(os.path.join(HERE, "corpus", corpus, name), data)


if __name__ == "__main__":
    main()
