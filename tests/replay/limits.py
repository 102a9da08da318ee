#!/usr/bin/env python3
"""The daemon's limits and timeouts against a live daemon started with small ones:
connections in all and per address without a queue (closed before their ICReq), the PDU
timeout whatever the keep-alive, the setup timeout, controllers per host (Connect Controller
Busy), and that a host within the limits is served meanwhile.

  limits.py build/src/cli/nvemu
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvme_tcp as t  # noqa: E402
from tally import check, finish, free_port  # noqa: E402

ST_CTRL_BUSY = 0x4181


def closed_within(sock, seconds):
    """True if the daemon closes sock (EOF or reset) within seconds."""
    sock.settimeout(seconds)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


def raw(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def admin(port, hostnqn=t.HOSTNQN, kato=0):
    """A connection with its admin queue connected; (connection, status)."""
    c = t.Connection(port)
    c.handshake()
    status, _, _ = c.command(t.connect_sqe(c.cid(), 0, 31, kato=kato),
                             t.connect_data(hostnqn=hostnqn))
    return c, status


def served(port):
    """A whole good session: admin Connect, enable, Identify."""
    try:
        c, status = admin(port, hostnqn=t.HOSTNQN + "-served")
        if status:
            return False
        c.enable()
        status, _, data = c.command(t.identify_sqe(c.cid(), 1))
        c.close()
        return status == 0 and len(data) == 4096
    except (OSError, ConnectionError, t.ProtocolError):
        return False


def main():
    nvemu = sys.argv[1]
    port = free_port()
    log = open(f"/tmp/nvemu-limits-{os.getpid()}.log", "w+")
    daemon = subprocess.Popen(
        [nvemu, "-p", str(port), "--kind", "ram", "--size", "16M", "--control", "none",
         "--max-connections", "12", "--max-unconnected-per-address", "4",
         "--max-controllers-per-host", "2", "--pdu-timeout", "500", "--setup-timeout", "1500"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                raw(port).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.3)

        # Four connections without a queue are held; a fifth from the address is not.
        idle = [raw(port) for _ in range(4)]
        time.sleep(0.3)
        fifth = raw(port)
        check("a 5th unconnected connection from one address is closed at once",
              closed_within(fifth, 1))
        check("the 4 before it are held", not any(closed_within(s, 0.05) for s in idle))
        # One of them gets its queue: room for another.
        for s in idle:
            s.close()
        time.sleep(0.3)

        # The setup timeout: an ICReq and nothing after it.
        c = t.Connection(port)
        c.handshake()
        start = time.monotonic()
        check("no Connect after the ICReq: closed by the setup timeout",
              closed_within(c.sock, 5) and 1.2 < time.monotonic() - start < 3,
              f"{time.monotonic() - start:.1f} s")

        # The PDU timeout: half a header after a Connect with keep-alive off.
        c, status = admin(port)
        check("admin Connect with KATO 0", status == 0, f"status {status:#x}")
        c.send(t.capsule(t.identify_sqe(c.cid(), 1))[:4])
        start = time.monotonic()
        check("stopped mid-PDU: closed by the PDU timeout", closed_within(c.sock, 5) and
              time.monotonic() - start < 2.5, f"{time.monotonic() - start:.1f} s")
        # Idle between PDUs with KATO 0 is legitimate: it stays.
        c, status = admin(port)
        check("idle between PDUs with KATO 0 stays open", status == 0 and
              not closed_within(c.sock, 2))
        c.close()

        # Controllers per host: a third is refused with Connect Controller Busy.
        a, sa = admin(port, hostnqn=t.HOSTNQN + "-c")
        b, sb = admin(port, hostnqn=t.HOSTNQN + "-c")
        x, sx = admin(port, hostnqn=t.HOSTNQN + "-c")
        check("two controllers of one host, then Connect Controller Busy",
              (sa, sb, sx) == (0, 0, ST_CTRL_BUSY), f"{sa:#x} {sb:#x} {sx:#x}")
        check("another host is served meanwhile", served(port))
        for conn in (a, b, x):
            conn.close()
        time.sleep(0.3)

        # Connections in all: 12; connected ones do not count against the address.
        held = []
        for i in range(12):
            conn, status = admin(port, hostnqn=f"{t.HOSTNQN}-{i}")
            held.append(conn)
        extra = raw(port)
        check("past --max-connections a connection is closed at once", closed_within(extra, 1))
        for conn in held:
            conn.close()
        time.sleep(0.5)
        check("served again once connections closed", served(port))

        log.seek(0)
        text = log.read()
        check("each limit logged, not once per refusal",
              text.count("--max-unconnected-per-address") == 1 and
              text.count("--max-connections") == 1, text[-2000:])
    finally:
        daemon.terminate()
        rc = daemon.wait(30)
        check("the daemon stops cleanly", rc == 0, f"exit {rc}")
        log.close()
    finish()


if __name__ == "__main__":
    main()
