#!/usr/bin/env python3
"""Sends malformed NVMe/TCP streams to an nvemu daemon, one fresh connection each.

Checks the reaction where the protocol defines one (a C2HTermReq with the
right FES/FEI and then a closed connection, or the right NVMe status with the
connection still usable), and after every case that the daemon still serves a
complete good session: admin Connect, enable, I/O queue, 4 KiB written and
read back.  One PASS/FAIL line per case, then "N passed, N failed".

  replay-malformed.py build/src/cli/nvemu      start a daemon on a free port
  replay-malformed.py --port 4420              use a daemon already running
"""

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvme_tcp as t  # noqa: E402

# Fatal Error Status values and the byte offsets FEI must name (NVMe/TCP 1.0).
FES_INVALID_HDR, FES_SEQ, FES_HDGST, FES_RANGE, FES_LIMIT, FES_UNSUPPORTED = 1, 2, 3, 4, 5, 6
FEI_TYPE, FEI_HLEN, FEI_PLEN = 0, 2, 4
FEI_ICREQ_PFV, FEI_ICREQ_HPDA = 8, 10
FEI_H2C_TTAG, FEI_H2C_DATAO, FEI_H2C_DATAL = 10, 12, 16

ST_INVALID_FIELD, ST_SEQ_ERROR, ST_LBA_RANGE = 0x4002, 0x400C, 0x4080
ST_TRANSIENT_TRANSPORT, ST_CONNECT_INVALID_PARAM = 0x22, 0x4182
INCAPSULE_LIMIT = 8192  # the daemon's default --incapsule
BLOCK = 4096
CATTR_DISABLE_SQFLOW = 1 << 2


class CaseFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CaseFailed(what)


def pattern(n, seed):
    return bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


class Session:
    """Opens admin and I/O connections of one association."""

    def __init__(self, port, digest=0):
        self.port, self.digest = port, digest
        self.admin = t.Connection(port)
        self.admin.handshake(digest)
        self.cntlid = self.admin.connect_admin()
        self.admin.enable()
        self.admin.expect(t.set_features_sqe(self.admin.cid(), 0x07, 0x00010001))
        self.ios = []

    def io(self, qid=1, cattr=0):
        conn = t.Connection(self.port)
        conn.handshake(self.digest)
        conn.connect_io(self.cntlid, qid=qid, cattr=cattr)
        self.ios.append(conn)
        return conn

    def close(self):
        for c in self.ios + [self.admin]:
            c.close()


def write(conn, lba, data, incapsule):
    nlb = len(data) // BLOCK
    return conn.command(t.rw_sqe(0x01, conn.cid(), 1, lba, nlb, incapsule=incapsule), data)


def read(conn, lba, nlb):
    return conn.command(t.rw_sqe(0x02, conn.cid(), 1, lba, nlb))


def expect_io_roundtrip(conn, lba, seed, incapsule=True):
    data = pattern(BLOCK, seed)
    status, _, _ = write(conn, lba, data, incapsule)
    check(status == 0, "write status %#x" % status)
    status, _, back = read(conn, lba, 1)
    check(status == 0 and back == data, "read back differs (status %#x)" % status)


def good_session(port):
    """Everything a host needs still works: the daemon survived the last case."""
    s = Session(port)
    try:
        _, ident = s.admin.expect(t.identify_sqe(s.admin.cid(), 1))
        check(struct.unpack_from("<H", ident, 78)[0] == s.cntlid, "Identify CNTLID")
        io = s.io()
        expect_io_roundtrip(io, 1000, 99, incapsule=True)
        expect_io_roundtrip(io, 1001, 98, incapsule=False)
    finally:
        s.close()


def expect_term(conn, fes, fei=None):
    """The target answers a fatal error with a C2HTermReq, then closes."""
    try:
        p = conn.recv_pdu()
        while p.type == t.RSP or p.type == t.R2T:  # answers to what came before
            p = conn.recv_pdu()
    except (ConnectionError, socket.timeout) as e:
        raise CaseFailed("no C2HTermReq: %s" % e)
    check(p.type == t.C2H_TERM, "expected C2HTermReq, got PDU type %d" % p.type)
    got_fes, got_fei = p.term()
    check(got_fes == fes, "FES %d, expected %d" % (got_fes, fes))
    if fei is not None:
        check(got_fei == fei, "FEI %d, expected %d" % (got_fei, fei))
    expect_closed(conn)


def expect_closed(conn):
    try:
        rest = conn.sock.recv(4096)
    except ConnectionResetError:
        return
    except socket.timeout:
        raise CaseFailed("connection left open")
    check(rest == b"", "more data after the end: %r" % rest[:16])


def fresh(port):
    return t.Connection(port)


def live(port, digest=0):
    c = fresh(port)
    c.handshake(digest)
    return c


# ---- cases: each gets the port and raises CaseFailed ----

def case_icreq_bad_pfv(port):
    c = fresh(port)
    c.send(t.icreq(pfv=1))
    expect_term(c, FES_UNSUPPORTED, FEI_ICREQ_PFV)


def case_icreq_bad_plen(port):
    c = fresh(port)
    c.send(t.icreq(plen=132) + bytes(4))
    expect_term(c, FES_INVALID_HDR, FEI_PLEN)


def case_icreq_bad_hpda(port):
    c = fresh(port)
    c.send(t.icreq(hpda=32))
    expect_term(c, FES_UNSUPPORTED, FEI_ICREQ_HPDA)


def case_pdu_before_icreq(port):
    c = fresh(port)
    c.send(t.capsule(t.identify_sqe(1, 1)))
    expect_term(c, FES_SEQ)


def case_second_icreq(port):
    c = live(port)
    c.send(t.icreq())
    expect_term(c, FES_SEQ, FEI_TYPE)


def case_unknown_pdu_type(port):
    c = live(port)
    c.send(t.pdu(0x0A, bytes(16)))
    expect_term(c, FES_INVALID_HDR, FEI_TYPE)


def case_controller_pdu_type_from_host(port):
    c = live(port)
    c.send(t.pdu(t.C2H_DATA, bytes(16), pattern(64, 1)))
    expect_term(c, FES_INVALID_HDR, FEI_TYPE)


def case_bad_hlen(port):
    c = live(port)
    c.send(t.capsule(t.identify_sqe(1, 1), hlen=70))
    expect_term(c, FES_INVALID_HDR, FEI_HLEN)


def case_plen_too_small(port):
    c = live(port)
    c.send(t.capsule(t.identify_sqe(1, 1), plen=50))
    expect_term(c, FES_INVALID_HDR, FEI_PLEN)


def case_plen_huge(port):
    c = live(port)
    c.send(t.capsule(t.identify_sqe(1, 1), pdo=72, plen=0x7FFFFFFF))
    expect_term(c, FES_LIMIT, FEI_PLEN)


def case_bad_header_digest(port):
    c = live(port, digest=1)
    c.send(t.capsule(t.identify_sqe(1, 1), hdgst=True, corrupt_hdgst=True))
    expect_term(c, FES_HDGST)


def case_bad_data_digest(port):
    """Fails the command with a transient transport error; the connection carries on."""
    s = Session(port, digest=3)
    try:
        io = s.io()
        data = pattern(BLOCK, 5)
        sqe = t.rw_sqe(0x01, io.cid(), 1, 2000, 1, incapsule=True)
        io.send(io.capsule(sqe, data, corrupt_ddgst=True))
        status, _, _ = io.finish(struct.unpack_from("<H", sqe, 2)[0])
        check(status == ST_TRANSIENT_TRANSPORT, "in-capsule: status %#x, expected 0x22" % status)
        # The same through R2T / H2CData.
        big = pattern(4 * BLOCK, 6)
        sqe = t.rw_sqe(0x01, io.cid(), 1, 2004, 4)
        cid = struct.unpack_from("<H", sqe, 2)[0]
        io.send(io.capsule(sqe))
        r2t = io.recv_pdu()
        check(r2t.type == t.R2T, "expected R2T, got type %d" % r2t.type)
        ttag = struct.unpack_from("<H", r2t.header, 10)[0]
        io.send(t.h2c_data(cid, ttag, 0, big, hdgst=True, ddgst=True, corrupt_ddgst=True))
        status, _, _ = io.finish(cid)
        check(status == ST_TRANSIENT_TRANSPORT, "H2CData: status %#x, expected 0x22" % status)
        expect_io_roundtrip(io, 2010, 7)
        status, _, back = read(io, 2000, 1)
        check(status == 0 and back == bytes(BLOCK), "data with a bad digest reached the medium")
    finally:
        s.close()


def start_r2t_write(io, lba, nlb):
    sqe = t.rw_sqe(0x01, io.cid(), 1, lba, nlb)
    cid = struct.unpack_from("<H", sqe, 2)[0]
    io.send(io.capsule(sqe))
    r2t = io.recv_pdu()
    check(r2t.type == t.R2T, "expected R2T, got type %d" % r2t.type)
    r_cid, ttag, offset, length = struct.unpack_from("<HHII", r2t.header, 8)
    check((r_cid, offset, length) == (cid, 0, nlb * BLOCK), "R2T fields %r" % ((r_cid, offset, length),))
    return cid, ttag


def case_h2c_wrong_ttag(port):
    s = Session(port)
    try:
        io = s.io()
        cid, ttag = start_r2t_write(io, 3000, 4)
        io.send(t.h2c_data(cid, ttag ^ 1, 0, pattern(4 * BLOCK, 1)))
        expect_term(io, FES_INVALID_HDR, FEI_H2C_TTAG)
    finally:
        s.close()


def case_h2c_wrong_offset(port):
    s = Session(port)
    try:
        io = s.io()
        cid, ttag = start_r2t_write(io, 3000, 4)
        io.send(t.h2c_data(cid, ttag, BLOCK, pattern(BLOCK, 1)))
        expect_term(io, FES_RANGE, FEI_H2C_DATAO)
    finally:
        s.close()


def case_h2c_beyond_transfer(port):
    s = Session(port)
    try:
        io = s.io()
        cid, ttag = start_r2t_write(io, 3000, 2)
        io.send(t.h2c_data(cid, ttag, 0, pattern(3 * BLOCK, 1)))
        expect_term(io, FES_RANGE, FEI_H2C_DATAO)
    finally:
        s.close()


def case_h2c_wrong_length(port):
    s = Session(port)
    try:
        io = s.io()
        cid, ttag = start_r2t_write(io, 3000, 4)
        io.send(t.h2c_data(cid, ttag, 0, pattern(4 * BLOCK, 1), length=2 * BLOCK))
        expect_term(io, FES_INVALID_HDR, FEI_H2C_DATAL)
    finally:
        s.close()


def case_h2c_without_r2t(port):
    s = Session(port)
    try:
        io = s.io()
        io.send(t.h2c_data(77, 0, 0, pattern(BLOCK, 1)))
        expect_term(io, FES_INVALID_HDR, FEI_H2C_TTAG)
    finally:
        s.close()


def case_truncated_header_then_close(port):
    c = live(port)
    c.send(t.capsule(t.identify_sqe(1, 1))[:30])
    c.close()


def case_truncated_data_then_close(port):
    s = Session(port)
    try:
        io = s.io()
        cid, ttag = start_r2t_write(io, 3100, 4)
        io.send(t.h2c_data(cid, ttag, 0, pattern(4 * BLOCK, 1))[:5000])
        capsule = io.capsule(t.rw_sqe(0x01, io.cid(), 1, 3200, 1, incapsule=True), pattern(BLOCK, 2))
        s.ios.append(t.Connection(port))  # a second, idle, half-open I/O socket
        s.ios[-1].send(capsule[:100])
    finally:
        s.close()


def case_host_term_req(port):
    c = live(port)
    c.send(t.h2c_term(fes=FES_INVALID_HDR, fei=0))
    expect_closed(c)


def case_command_with_prp(port):
    c = live(port)
    c.connect_admin()
    c.enable()
    sqe = bytearray(t.identify_sqe(c.cid(), 1))
    sqe[1] = 0  # PSDT 00b: PRPs
    status, _, _ = c.command(bytes(sqe))
    check(status == ST_INVALID_FIELD, "status %#x, expected 0x4002" % status)
    c.expect(t.identify_sqe(c.cid(), 1))


def case_incapsule_beyond_limit(port):
    s = Session(port)
    try:
        io = s.io()
        nlb = INCAPSULE_LIMIT // BLOCK + 1
        io.send(io.capsule(t.rw_sqe(0x01, io.cid(), 1, 0, nlb, incapsule=True),
                           pattern(nlb * BLOCK, 3)))
        expect_term(io, FES_LIMIT, FEI_PLEN)
    finally:
        s.close()


def case_failed_command_drains_incapsule_data(port):
    """A write refused before its data is used must not desynchronise the stream."""
    s = Session(port)
    try:
        io = s.io()
        huge_lba = 1 << 40
        status, _, _ = write(io, huge_lba, pattern(2 * BLOCK, 4), incapsule=True)
        check(status == ST_LBA_RANGE, "status %#x, expected 0x4080" % status)
        # Refused before any R2T: answered at once.
        status, _, _ = io.command(t.rw_sqe(0x01, io.cid(), 1, huge_lba, 4))
        check(status == ST_LBA_RANGE, "R2T write: status %#x, expected 0x4080" % status)
        expect_io_roundtrip(io, 3300, 8)
    finally:
        s.close()


def case_interleaved_r2t_writes(port):
    s = Session(port)
    try:
        io = s.io()
        a, b = pattern(4 * BLOCK, 10), pattern(4 * BLOCK, 11)
        sqe_a = t.rw_sqe(0x01, io.cid(), 1, 4000, 4)
        sqe_b = t.rw_sqe(0x01, io.cid(), 1, 4100, 4)
        cid_a, cid_b = struct.unpack_from("<H", sqe_a, 2)[0], struct.unpack_from("<H", sqe_b, 2)[0]
        io.send(io.capsule(sqe_a) + io.capsule(sqe_b))
        ttags = {}
        for _ in range(2):
            p = io.recv_pdu()
            check(p.type == t.R2T, "expected R2T, got type %d" % p.type)
            cid, ttag = struct.unpack_from("<HH", p.header, 8)
            ttags[cid] = ttag
        check(set(ttags) == {cid_a, cid_b} and ttags[cid_a] != ttags[cid_b], "R2Ts %r" % ttags)
        # B's first half, A whole, B's second half.
        io.send(t.h2c_data(cid_b, ttags[cid_b], 0, b[:2 * BLOCK], last=False))
        io.send(t.h2c_data(cid_a, ttags[cid_a], 0, a))
        io.send(t.h2c_data(cid_b, ttags[cid_b], 2 * BLOCK, b[2 * BLOCK:]))
        done = {}
        for _ in range(2):
            p = io.recv_pdu()
            check(p.type == t.RSP, "expected CapsuleResp, got type %d" % p.type)
            status, _, _, cid = p.cqe()
            done[cid] = status
        check(done == {cid_a: 0, cid_b: 0}, "completions %r" % done)
        for lba, data in ((4000, a), (4100, b)):
            status, _, back = read(io, lba, 4)
            check(status == 0 and back == data, "LBA %d read back differs" % lba)
    finally:
        s.close()


def case_commands_on_unconnected_queue(port):
    c = live(port)
    for sqe in (t.identify_sqe(c.cid(), 1), t.rw_sqe(0x02, c.cid(), 1, 0, 1),
                t.property_get_sqe(c.cid(), 0x1C, False)):
        status, _, data = c.command(sqe)
        check(status == ST_SEQ_ERROR and not data, "status %#x, expected 0x400C" % status)


def case_io_connect_to_nonexistent_controller(port):
    s = Session(port)
    try:
        c = live(port)
        s.ios.append(c)
        missing = (s.cntlid + 0x100) % 0xFFEF + 1
        status, result, _ = c.command(t.connect_sqe(c.cid(), 1, 31), t.connect_data(missing))
        check(status == ST_CONNECT_INVALID_PARAM, "status %#x, expected 0x4182" % status)
        check(result & 0xFFFFFF == 16 | 1 << 16, "IPO/IATTR %#x, expected CNTLID in data" % result)
        # The queue is still unconnected and can connect properly.
        c.connect_io(s.cntlid)
        expect_io_roundtrip(c, 3400, 9)
    finally:
        s.close()


def case_io_connect_qid_not_granted(port):
    s = Session(port)
    try:
        c = live(port)
        s.ios.append(c)
        status, result, _ = c.command(t.connect_sqe(c.cid(), 9, 31), t.connect_data(s.cntlid))
        check(status == ST_CONNECT_INVALID_PARAM and result & 0xFFFFFF == 42,
              "status %#x result %#x, expected 0x4182 with QID offset 42" % (status, result))
    finally:
        s.close()


def sqflow_reads(port, digest, cattr):
    """Writes and reads back 1 and 8 blocks on a queue connected with cattr; returns whether
    each read was completed by its data's SUCCESS flag rather than a response."""
    s = Session(port, digest)
    try:
        io = s.io(cattr=cattr)
        completed_by_data = []
        for lba, nlb, seed in ((2000, 1, 5), (2008, 8, 6)):
            data = pattern(nlb * BLOCK, seed)
            status, _, _ = write(io, lba, data, incapsule=False)
            check(status == 0, "write status %#x" % status)
            status, _, back = read(io, lba, nlb)
            check(status == 0 and back == data, "read back differs (status %#x)" % status)
            completed_by_data.append(io.completed_by_data)
        # A failed read still gets its response: an LBA past the end.
        status, _, _ = read(io, (64 << 20) // BLOCK, 1)
        check(status == ST_LBA_RANGE, "read past the end: status %#x" % status)
        # The stream is still in step after it.
        expect_io_roundtrip(io, 2100, 7)
        return completed_by_data
    finally:
        s.close()


def case_sqflow_disabled_reads_complete_with_data(port):
    """A host that disabled SQ flow control gets reads completed by C2HData's SUCCESS flag
    (no CapsuleResp), with and without digests; one that did not, a response as before."""
    for digest in (0, 3):
        got = sqflow_reads(port, digest, CATTR_DISABLE_SQFLOW)
        check(got == [True, True], "digest %d, SQ flow control disabled: SUCCESS %r" % (digest, got))
        got = sqflow_reads(port, digest, 0)
        check(got == [False, False], "digest %d, SQ flow control on: SUCCESS %r" % (digest, got))


# What in the daemon's stderr means it went wrong even if every case passed.
DAEMON_FAILURES = ("nvemu error:", "ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")

CASES = [(name[len("case_"):], fn) for name, fn in sorted(globals().items())
         if name.startswith("case_")]


# ---- daemon ----

def free_port(start=4460):
    for port in range(start, start + 200):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port from %d" % start)


def wait_listening(port, proc, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        if proc and proc.poll() is not None:
            raise RuntimeError("daemon exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("daemon not listening on port %d" % port)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", help="nvemu binary to start (else use --port)")
    ap.add_argument("--port", type=int, help="port of a running daemon, or for the one started")
    ap.add_argument("-k", "--only", help="run only cases whose name contains this")
    args = ap.parse_args()
    if not args.binary and not args.port:
        ap.error("give the nvemu binary to start, or --port of a running daemon")
    port = args.port or free_port()
    proc = None
    # A file, not a pipe: a daemon blocked on a full stderr pipe would look hung.
    log = tempfile.TemporaryFile()
    if args.binary:
        proc = subprocess.Popen([args.binary, "--port", str(port), "--kind", "ram", "--size", "64M",
                                 "--reactors", "2"],
                                stdout=subprocess.DEVNULL, stderr=log)
    passed = failed = 0
    try:
        wait_listening(port, proc)
        for name, fn in CASES:
            if args.only and args.only not in name:
                continue
            try:
                fn(port)
                try:
                    good_session(port)
                except (CaseFailed, t.ProtocolError, OSError) as e:
                    raise CaseFailed("daemon unusable afterwards: %s" % e)
                print("PASS %s" % name)
                passed += 1
            except (CaseFailed, t.ProtocolError, OSError) as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            if proc and proc.poll() is not None:
                print("FAIL daemon exited with status %d after %s" % (proc.returncode, name))
                failed += 1
                break
    finally:
        if proc:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.seek(0)
            errors = log.read().decode(errors="replace")
            if proc.returncode != 0 or any(s in errors for s in DAEMON_FAILURES):
                print("FAIL daemon exit %s; stderr tail:\n%s" % (proc.returncode, errors[-2000:]))
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
