#!/usr/bin/env python3
"""The same seed and the same command sequence give the same faults, end to end.

  test_seed.py NVEMU

A daemon gets a read-error fault with a probability and a latency fault with an exponential
distribution, both seeded; nvemu perf reads at random on one queue at depth 1 (its own seed fixes
the LBAs); a trace records which commands failed and what latency each fault added.  A second
daemon with the same seeds must give the very same trace; another seed a different one.  The
counts of nvemu fault list and nvemu stats --json must agree with the trace.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

NVEMU = sys.argv[1]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control(path, line):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer.decode()


def run(tmp, seed, tag):
    """One daemon, two seeded faults, one perf run: the trace's (slba, status, fault, added ns)."""
    port = free_port()
    sock = os.path.join(tmp, f"{tag}.sock")
    daemon = subprocess.Popen([NVEMU, "-p", str(port), "--reactors", "1", "--control", sock,
                               "--kind", "ram", "--size", "64M",
                               "--fault", f"read-error nsid=1 probability=0.02 seed={seed}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if "serving" not in daemon.stdout.readline():
            fail(f"nvemu did not start: {daemon.stderr.read()}")
        out = subprocess.run([NVEMU, "fault", "-c", sock, "add", "latency", "op=read",
                              "probability=0.1", "dist=exponential", "latency_us=200",
                              f"seed={seed}"], capture_output=True, text=True)
        check(out.returncode == 0 and out.stdout.strip() == "2",
              f"{tag}: nvemu fault add prints the new fault's id ({out.stdout.strip()!r})")
        trace = os.path.join(tmp, f"{tag}.trace")
        check(control(sock, f"trace on 1 {trace} json").startswith("ok"), f"{tag}: trace on")
        perf = subprocess.run([NVEMU, "perf", "-r", f"trtype:TCP traddr:127.0.0.1 trsvcid:{port}",
                               "-w", "randread", "-q", "1", "-d", "3000", "--span", "8M",
                               "--seed", "5"], capture_output=True, text=True)
        check(perf.returncode != 0 and "ERRORS: nvme" in perf.stdout,
              f"{tag}: nvme perf saw the read errors")
        check(control(sock, "trace off 1").startswith("ok"), f"{tag}: trace off")
        lines = [json.loads(line) for line in open(trace)]
        commands = [(e["slba"], e["status"], e.get("fault"), e.get("fault_ns", 0))
                    for e in lines if "opcode" in e]
        check(len(commands) == 3000, f"{tag}: the trace holds the 3000 reads")
        listing = subprocess.run([NVEMU, "fault", "-c", sock, "list"], capture_output=True,
                                 text=True).stdout
        print(listing, end="")
        stats = json.loads(subprocess.run([NVEMU, "stats", "-c", sock, "--json"],
                                          capture_output=True, text=True).stdout)
        faults = {f["type"]: f for f in stats["faults"]}
        failed = sum(1 for c in commands if c[1])
        delayed = sum(1 for c in commands if c[2] == "latency")
        check(faults["read-error"]["injected"] == failed,
              f"{tag}: stats count the {failed} failed reads the trace shows")
        check(faults["latency"]["injected"] >= delayed,
              f"{tag}: stats count the {delayed} delayed reads the trace shows")
        check(stats["namespaces"][0]["media_errors"] == failed, f"{tag}: media_errors agree")
        return commands
    finally:
        daemon.terminate()
        if daemon.wait(timeout=30) != 0:
            fail(f"nvemu exited with {daemon.returncode}: {daemon.stderr.read()}")


with tempfile.TemporaryDirectory() as tmp:
    first = run(tmp, 11, "seed-11")
    again = run(tmp, 11, "seed-11-again")
    other = run(tmp, 12, "seed-12")
failures = [c[0] for c in first if c[1]]
check(10 <= len(failures) <= 200, f"seed 11 failed {len(failures)} of 3000 reads (first LBAs {failures[:5]})")
check(first == again, "the same seeds give the same failures and the same added latencies")
check(first != other, "another seed gives other faults")
print("PASS")
