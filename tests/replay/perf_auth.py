#!/usr/bin/env python3
"""nvemu perf as a DH-HMAC-CHAP host against a live daemon that holds a host's secrets:
the right secret runs verified I/O (on the admin queue and every I/O queue, with a reconnect),
bidirectional too, each hash and a chosen group; a wrong host secret, no secret and a wrong
controller secret are each refused; no secret reaches the daemon's log.

  perf_auth.py build/src/cli/nvemu
"""

import base64
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import tally
from tally import check, finish, free_port

NQN = "nqn.2026-11.dev.nvemu:perf-auth"
HOST = "nqn.2014-08.org.nvmexpress:uuid:6e76656d-752d-4175-7468-0000000000f1"


def secret(hmac_id, length):
    """A secret in the DHHC-1 representation, as nvme gen-dhchap-key prints it."""
    raw = os.urandom(length)
    blob = base64.b64encode(raw + struct.pack("<I", zlib.crc32(raw))).decode()
    return f"DHHC-1:{hmac_id:02x}:{blob}:"


def main():
    nvemu = sys.argv[1]
    key, ctrl_key, wrong_key, wrong_ctrl = secret(1, 32), secret(3, 64), secret(1, 32), secret(0, 32)
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="nvemu-perf-auth-", suffix=".log", delete=False)
    daemon = subprocess.Popen(
        [nvemu, "-p", str(port), "-n", NQN, "--kind", "ram", "--size", "16M", "--control", "none",
         "--verbose", "--allow-host", HOST, "--dhchap-key", key, "--dhchap-ctrl-key", ctrl_key],
        stdout=log, stderr=subprocess.STDOUT)
    trid = f"trtype:TCP traddr:127.0.0.1 trsvcid:{port} subnqn:{NQN}"

    def perf(*extra):
        """nvemu perf with verify on two I/O queues; its exit status and output."""
        p = subprocess.run([nvemu, "perf", "-r", trid, "--hostnqn", HOST, "-P", "2", "-q", "4",
                            "--span", "1M", "--verify", "-k", "0", *extra],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout + p.stderr

    def logged():
        log.flush()
        with open(log.name) as f:
            return f.read()

    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        before = logged().count(f"host {HOST} authenticated")
        rc, out = perf("--dhchap-key", key)
        # Logged once per controller: the verify reconnects, so two.  The I/O queues are
        # served only once authenticated (Authentication Required otherwise).
        auths = logged().count(f"host {HOST} authenticated") - before
        check("the host secret: verified I/O on two I/O queues", rc == 0, out[-800:])
        check("both associations authenticated", auths == 2, f"{auths} logged")
        rc, out = perf("--dhchap-key", key, "--dhchap-ctrl-key", ctrl_key)
        check("both secrets (bidirectional): verified I/O", rc == 0, out[-800:])
        check("the controller proved itself", "controller authenticated too" in logged())
        for h, g in (("sha256", "null"), ("sha384", "ffdhe3072"), ("sha512", "ffdhe4096")):
            rc, out = perf("--dhchap-key", key, "--dhchap-hashes", h, "--dhchap-dhgroups", g)
            check(f"{h} with the {g} group", rc == 0 and f"authenticated ({h}, {g}" in logged(),
                  out[-800:])
        rc, out = perf("--dhchap-key", wrong_key)
        check("a wrong host secret is refused", rc != 0 and
              "authentication failed (wrong response" in logged(), out[-800:])
        rc, out = perf()
        check("no secret is refused", rc != 0, out[-800:])
        rc, out = perf("--dhchap-key", key, "--dhchap-ctrl-key", wrong_ctrl)
        check("a wrong controller secret: perf refuses the controller", rc != 0 and
              "refused DH-HMAC-CHAP" in logged(), out[-800:])
    finally:
        daemon.terminate()
        rc = daemon.wait(30)
        check("the daemon stops cleanly", rc == 0, f"exit {rc}")
    text = logged()
    leaked = [s for s in (key, ctrl_key, wrong_key, wrong_ctrl) if s[10:40] in text]
    check("no secret in the daemon's log", not leaked)
    log.close()
    if tally.failed:
        print(f"daemon log: {log.name}")
    else:
        os.unlink(log.name)
    finish()


if __name__ == "__main__":
    main()
