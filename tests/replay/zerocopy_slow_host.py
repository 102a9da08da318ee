#!/usr/bin/env python3
"""Zero-copy sends (--zerocopy-min) to a host that reads slowly: nvemu perf verifies random
reads and writes through a relay whose socket towards the daemon has a tiny receive buffer
and drains it in small pieces with pauses, so the daemon's sends wait in the kernel, pinned,
long after sendmsg returned. That is what the reference guest's slirp does under TCG, and
what a request slot reused too early turns into wrong data or a wrong response on the wire.
Every run must verify, and the daemon must log no transport error.

  zerocopy_slow_host.py build/src/cli/nvemu
"""

import random
import socket
import subprocess
import sys
import tempfile
import threading
import time

from tally import check, finish, free_port


def pump(src, dst, slow, rng):
    try:
        while True:
            data = src.recv(4096 if slow else 65536)
            if not data:
                break
            dst.sendall(data)
            if slow and rng.random() < 0.05:
                time.sleep(0.002)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(listener, target_port, seed):
    """Accepts host connections and joins each to the daemon; the daemon's side is slow."""
    rng = random.Random(seed)
    while True:
        try:
            host, _ = listener.accept()
        except OSError:
            return
        daemon = socket.socket()
        daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            daemon.connect(("127.0.0.1", target_port))
        except OSError:
            host.close()  # the host sees its connection fail; the relay goes on
            daemon.close()
            continue
        threading.Thread(target=pump, args=(host, daemon, False, rng), daemon=True).start()
        threading.Thread(target=pump, args=(daemon, host, True, rng), daemon=True).start()


def main():
    nvemu = sys.argv[1]
    port, relay_port = free_port(), free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="nvemu-zc-", suffix=".log", delete=False)
    daemon = subprocess.Popen([nvemu, "-p", str(port), "--kind", "ram", "--size", "64M",
                               "--control", "none", "--zerocopy-min", "4096"],
                              stdout=subprocess.PIPE, stderr=log, text=True)
    if "serving" not in daemon.stdout.readline():  # it listens once it says so
        daemon.kill()
        sys.exit(f"the daemon did not start (see {log.name})")
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", relay_port))
    listener.listen(16)
    threading.Thread(target=relay, args=(listener, port, 1), daemon=True).start()
    trid = f"trtype:TCP traddr:127.0.0.1 trsvcid:{relay_port}"
    try:
        # 4 KiB and 16 KiB: all reads zero-copy, every response and R2T of a write beside them.
        for size, seed in (("4096", 1), ("4096", 2), ("16384", 3)):
            run = subprocess.run([nvemu, "perf", "-r", trid, "-w", "randrw", "-q", "32",
                                  "-o", size, "--span", "16M", "--verify", "-t", "6",
                                  "--seed", str(seed), "-k", "0"],
                                 capture_output=True, text=True, timeout=240)
            out = run.stdout + run.stderr
            check(f"{size}-byte random reads and writes verify (seed {seed})",
                  run.returncode == 0 and "verify passed" in out, out[-600:])
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        listener.close()
    log.seek(0)
    text = log.read()
    errors = [line for line in text.splitlines() if " warn:" in line or " error:" in line]
    check("the daemon logged no transport error", not errors, "\n".join(errors[:5]))
    check("the daemon exited cleanly", daemon.returncode == 0, f"exit {daemon.returncode}")
    finish()


main()
