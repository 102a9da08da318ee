"""NVMe/TCP host-side PDUs and a minimal blocking client, standard library only.

Used by replay-malformed.py (to talk to a running daemon) and by
tests/fuzz/gen_corpus.py (to write seed streams).  Field offsets follow the
NVMe/TCP 1.0 and NVMe over Fabrics 1.1 specifications.
"""

import socket
import struct

# PDU types
ICREQ, ICRESP, H2C_TERM, C2H_TERM, CMD, RSP, H2C_DATA, C2H_DATA, R2T = 0, 1, 2, 3, 4, 5, 6, 7, 9
# Common header flags
F_HDGST, F_DDGST, F_LAST, F_SUCCESS = 1, 2, 4, 8

SGL_TRANSPORT = 0x5A
SGL_INCAPSULE = 0x01
PSDT_SGL = 0x40

SUBNQN = "nqn.2026-11.dev.nvemu:ssd0"
HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6f1c2f7e-0000-4000-8000-replay000001"
HOSTID = bytes(range(0x10, 0x20))
# CC: EN, CSS NVM, IOSQES 6, IOCQES 4
CC_ENABLE = 0x00460001


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# ---- PDUs ----

def icreq(digest=0, pfv=0, hpda=0, maxr2t=0, hlen=128, plen=128, pdu_type=ICREQ):
    return struct.pack("<BBBBIHBBI", pdu_type, 0, hlen, 0, plen, pfv, hpda, digest, maxr2t) + bytes(112)


def pdu(pdu_type, specific, data=b"", flags=0, hdgst=False, ddgst=False, pdo=None, plen=None,
        hlen=None, corrupt_hdgst=False, corrupt_ddgst=False):
    """A host PDU laid out as Linux does (data right after the header); any field may be forced."""
    real_hlen = 8 + len(specific)
    header_end = real_hlen + (4 if hdgst else 0)
    with_ddgst = ddgst and len(data) > 0
    flags |= (F_HDGST if hdgst else 0) | (F_DDGST if with_ddgst else 0)
    real_pdo = header_end if data else 0
    real_plen = (real_pdo if data else header_end) + len(data) + (4 if with_ddgst else 0)
    header = struct.pack("<BBBBI", pdu_type, flags, real_hlen if hlen is None else hlen,
                         real_pdo if pdo is None else pdo,
                         real_plen if plen is None else plen) + specific
    out = bytearray(header)
    if hdgst:
        out += struct.pack("<I", crc32c(header) ^ (1 if corrupt_hdgst else 0))
    out += data
    if with_ddgst:
        out += struct.pack("<I", crc32c(data) ^ (1 if corrupt_ddgst else 0))
    return bytes(out)


def capsule(sqe_bytes, data=b"", **kw):
    return pdu(CMD, sqe_bytes, data, **kw)


def h2c_data(cid, ttag, offset, data, last=True, length=None, **kw):
    specific = struct.pack("<HHII4x", cid, ttag, offset, len(data) if length is None else length)
    return pdu(H2C_DATA, specific, data, flags=F_LAST if last else 0, **kw)


def h2c_term(fes=1, fei=0):
    return pdu(H2C_TERM, struct.pack("<HI10x", fes, fei))


# ---- SQEs ----

def sqe(opcode, cid, nsid=0, flags=PSDT_SGL, sgl_type=SGL_TRANSPORT, sgl_len=0, sgl_addr=0,
        cdw10=0, cdw11=0, cdw12=0, cdw13=0, cdw14=0, cdw15=0):
    return struct.pack("<BBHIIIQQI3xB6I", opcode, flags, cid, nsid, 0, 0, 0, sgl_addr, sgl_len,
                       sgl_type, cdw10, cdw11, cdw12, cdw13, cdw14, cdw15)


def _fabrics(cid, fctype):
    b = bytearray(sqe(0x7F, cid))
    b[4] = fctype
    return b


def connect_sqe(cid, qid, sqsize, kato=0, cattr=0, recfmt=0):
    b = _fabrics(cid, 0x01)
    struct.pack_into("<QI3xB", b, 24, 0, 1024, SGL_INCAPSULE)
    struct.pack_into("<HHHBxI", b, 40, recfmt, qid, sqsize, cattr, kato)
    return bytes(b)


def connect_data(cntlid=0xFFFF, subnqn=SUBNQN, hostnqn=HOSTNQN, hostid=HOSTID):
    b = bytearray(1024)
    b[0:16] = hostid
    struct.pack_into("<H", b, 16, cntlid)
    b[256:256 + len(subnqn)] = subnqn.encode()
    b[512:512 + len(hostnqn)] = hostnqn.encode()
    return bytes(b)


def property_get_sqe(cid, offset, eight_bytes):
    b = _fabrics(cid, 0x04)
    struct.pack_into("<B3xI", b, 40, 1 if eight_bytes else 0, offset)
    return bytes(b)


def property_set_sqe(cid, offset, value):
    b = _fabrics(cid, 0x00)
    struct.pack_into("<B3xIQ", b, 40, 0, offset, value)
    return bytes(b)


def identify_sqe(cid, cns, nsid=0):
    return sqe(0x06, cid, nsid=nsid, sgl_len=4096, cdw10=cns)


def set_features_sqe(cid, fid, cdw11):
    return sqe(0x09, cid, cdw10=fid, cdw11=cdw11)


def rw_sqe(opcode, cid, nsid, slba, nlb, lba_size=4096, incapsule=False):
    return sqe(opcode, cid, nsid=nsid, sgl_type=SGL_INCAPSULE if incapsule else SGL_TRANSPORT,
               sgl_len=nlb * lba_size, cdw10=slba & 0xFFFFFFFF, cdw11=slba >> 32,
               cdw12=(nlb - 1) & 0xFFFF)


# ---- Responses ----

class Pdu:
    def __init__(self, pdu_type, flags, header, data):
        self.type, self.flags, self.header, self.data = pdu_type, flags, header, data

    def cqe(self):
        """(status field, result, sq_head, cid) of a CapsuleResp."""
        result, sqhd, _sqid, cid, status = struct.unpack_from("<QHHHH", self.header, 8)
        return status >> 1, result, sqhd, cid

    def term(self):
        """(FES, FEI) of a C2HTermReq."""
        return struct.unpack_from("<HI", self.header, 8)


class ProtocolError(Exception):
    pass


class Connection:
    """One blocking NVMe/TCP connection on 127.0.0.1."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, source=None):
        """source: the local address to connect from (another loopback address is another
        host to the daemon's per-address limits)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.hdgst = self.ddgst = False
        self.next_cid = 1

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the target")
            buf += chunk
        return bytes(buf)

    def cid(self):
        self.next_cid = (self.next_cid + 1) & 0xFFFF
        return self.next_cid

    def handshake(self, digest=0):
        self.send(icreq(digest))
        resp = self.recv_exact(128)
        pdu_type, _, hlen, _, plen, pfv, cpda, dgst, maxdata = struct.unpack_from("<BBBBIHBBI", resp)
        if (pdu_type, hlen, plen, pfv, cpda, dgst) != (ICRESP, 128, 128, 0, 0, digest):
            raise ProtocolError("bad ICResp %r" % ((pdu_type, hlen, plen, pfv, cpda, dgst),))
        if maxdata < 4096 or maxdata % 4:
            raise ProtocolError("bad MAXH2CDATA %d" % maxdata)
        self.hdgst, self.ddgst = bool(digest & 1), bool(digest & 2)
        self.maxh2cdata = maxdata

    def recv_pdu(self):
        common = self.recv_exact(8)
        pdu_type, flags, hlen, pdo, plen = struct.unpack("<BBBBI", common)
        if plen < 8 or hlen < 8 or plen > (1 << 24):
            raise ProtocolError("bad PDU header %r" % (common,))
        rest = self.recv_exact(plen - 8)
        whole = common + rest
        header = whole[:hlen]
        if pdu_type in (C2H_TERM, ICRESP):
            return Pdu(pdu_type, flags, header, whole[hlen:])
        if bool(flags & F_HDGST) != self.hdgst:
            raise ProtocolError("HDGST flag %d on type %d" % (flags & F_HDGST, pdu_type))
        if self.hdgst and struct.unpack_from("<I", whole, hlen)[0] != crc32c(header):
            raise ProtocolError("bad header digest from the target")
        data = b""
        if pdo:
            end = plen - (4 if flags & F_DDGST else 0)
            data = whole[pdo:end]
            if flags & F_DDGST and struct.unpack_from("<I", whole, end)[0] != crc32c(data):
                raise ProtocolError("bad data digest from the target")
        return Pdu(pdu_type, flags, header, data)

    def capsule(self, sqe_bytes, data=b"", **kw):
        return capsule(sqe_bytes, data, hdgst=self.hdgst, ddgst=self.ddgst, **kw)

    def command(self, sqe_bytes, data=b"", incapsule=None):
        """Sends a command (data in-capsule when the SGL says so, else on R2T); returns
        (status, result, c2h data)."""
        cid = struct.unpack_from("<H", sqe_bytes, 2)[0]
        if incapsule is None:
            incapsule = sqe_bytes[39] == SGL_INCAPSULE
        self.send(self.capsule(sqe_bytes, data if incapsule else b""))
        return self.finish(cid, b"" if incapsule else data)

    def finish(self, cid, h2c=b""):
        c2h = bytearray()
        while True:
            p = self.recv_pdu()
            if p.type == R2T:
                r_cid, ttag, offset, length = struct.unpack_from("<HHII", p.header, 8)
                if r_cid != cid:
                    raise ProtocolError("R2T for cid %d, expected %d" % (r_cid, cid))
                self.send_h2c(cid, ttag, offset, h2c[offset:offset + length])
            elif p.type == C2H_DATA:
                d_cid, _, offset, length = struct.unpack_from("<HHII", p.header, 8)
                if d_cid != cid or offset != len(c2h) or length != len(p.data):
                    raise ProtocolError("unexpected C2HData %r" % ((d_cid, offset, length),))
                c2h += p.data
                self.completed_by_data = bool(p.flags & F_SUCCESS)
                if p.flags & F_SUCCESS:
                    if not p.flags & F_LAST:
                        raise ProtocolError("C2HData SUCCESS without LAST")
                    return 0, 0, bytes(c2h)
            elif p.type == RSP:
                status, result, _, r_cid = p.cqe()
                if r_cid != cid:
                    raise ProtocolError("response for cid %d, expected %d" % (r_cid, cid))
                return status, result, bytes(c2h)
            else:
                raise ProtocolError("unexpected PDU type %d" % p.type)

    def send_h2c(self, cid, ttag, offset, data):
        at = 0
        while at < len(data):
            chunk = data[at:at + self.maxh2cdata]
            last = at + len(chunk) == len(data)
            self.send(h2c_data(cid, ttag, offset + at, chunk, last=last, hdgst=self.hdgst,
                               ddgst=self.ddgst))
            at += len(chunk)

    def expect(self, sqe_bytes, data=b"", status=0):
        got, result, c2h = self.command(sqe_bytes, data)
        if got != status:
            raise ProtocolError("command %#x: status %#x, expected %#x"
                                % (sqe_bytes[0], got, status))
        return result, c2h

    # ---- whole steps ----

    def connect_admin(self, subnqn=SUBNQN, hostnqn=HOSTNQN, kato=0):
        result, _ = self.expect(connect_sqe(self.cid(), 0, 31, kato),
                                connect_data(0xFFFF, subnqn, hostnqn))
        return result & 0xFFFF

    def enable(self):
        self.expect(property_set_sqe(self.cid(), 0x14, CC_ENABLE))
        csts, _ = self.expect(property_get_sqe(self.cid(), 0x1C, False))
        if not csts & 1:
            raise ProtocolError("CSTS.RDY not set after enabling: %#x" % csts)

    def connect_io(self, cntlid, qid=1, sqsize=31, subnqn=SUBNQN, hostnqn=HOSTNQN, cattr=0):
        self.expect(connect_sqe(self.cid(), qid, sqsize, cattr=cattr),
                    connect_data(cntlid, subnqn, hostnqn))
