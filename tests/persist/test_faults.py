#!/usr/bin/env python3
"""Faults (docs/faults.md) on a drive kept in a directory (docs/persistence.md), host side.

  test_faults.py NVEMU faults

An ssd drive in a directory, with the spare for a die to go offline, holds a pattern (region A)
while a random load runs elsewhere. Faults are injected while it runs: a read error on a range
of A, a write error on another range of A, added latency, a lost die, a command never
answered. `nvemu perf` must see the documented statuses (Unrecovered Read Error 02h/81h and
Write Fault 02h/80h with DNR, the latency, no answer), writes made while the die is offline
must land on the other dies, and once the faults are cleared, after a clean stop (with a
command still held by a fault, and with a die still offline) and after kill -9 (with faults
active, under load), `nvemu check` passes and every pattern reads back intact: an injected
error never reaches the kept state.
"""
import json
import os
import re
import subprocess
import time

from test_persist import NVEMU, RUNNING, SMALL, Daemon, check, fail, run, run_in_tmp

# 4 dies; op_pcent 50 leaves the spare blocks a die-offline fault needs on the other three.
DRIVE = [*SMALL, "-o", "op_pcent=50"]
READ_ERROR = "NVMe status 0x4281 (SCT 2 SC 0x81, DNR)"
WRITE_FAULT = "NVMe status 0x4280 (SCT 2 SC 0x80, DNR)"
# Patterns: (seed, offset, span): A before any fault, B while a die is offline, C likewise
# until a clean stop.
REGION_A = ("7", "0", "16M")
REGION_B = ("8", "32M", "8M")
REGION_C = ("10", "40M", "4M")


def perf(d, *args):
    """nvemu perf's JSON summary and what it logged (the statuses it saw)."""
    out = run("perf", "-r", d.trid, "--json", *args)
    lines = out.stdout.strip().splitlines()
    return (json.loads(lines[-1]) if lines else {}), out.stderr


def region_args(region):
    seed, offset, span = region
    return ["--seed", seed, "--offset", offset, "--span", span, "-o", "64k"]


def intact(r, log):
    ok = r.get("ok") and r["errors"] == 0 and r["mismatches"] == 0
    if not ok:
        print(log.strip()[-1000:])
    return ok


def write_region(d, region):
    r, log = perf(d, "--verify", *region_args(region))
    check(intact(r, log), f"pattern {region[0]} written at {region[1]} and verified")


def verify(d, region, when):
    r, log = perf(d, "--verify-read", *region_args(region))
    check(intact(r, log), f"{when}: pattern {region[0]} at {region[1]} reads back intact")


def fault(d, *words):
    out = run("fault", "-c", d.control, *words)
    if out.returncode:
        fail(f"nvemu fault {' '.join(words)}: {out.stderr.strip()}")
    return out.stdout.strip()


def injected(d, fid):
    listing = fault(d, "list")
    m = re.search(rf"^\s*{fid}\s+\S+\s+(\d+)\s+(\d+)", listing, re.M)
    if not m:
        fail(f"fault {fid} is not listed:\n{listing}")
    return int(m.group(2))


def load(d, seconds):
    """Random reads and writes of 16 KiB over [48M, 64M), which nothing verifies."""
    proc = subprocess.Popen([NVEMU, "perf", "-r", d.trid, "-w", "randrw", "-q", "8", "-o", "16k",
                             "--offset", "48M", "--span", "16M", "-t", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    RUNNING.append(proc)
    return proc


def drive_checks(drive, when):
    out = run("check", drive)
    check(out.returncode == 0, f"{when}: nvemu check passes ({(out.stdout + out.stderr).strip()})")


def faults_under_load(tmp, drive):
    d = Daemon(tmp, "--path", drive, *DRIVE)
    write_region(d, REGION_A)
    busy = load(d, 30)
    time.sleep(0.3)

    # A media read error on 8 blocks of A: reads over them fail, the others are served.
    fid = fault(d, "add", "read-error", "nsid=1", "lba=2048", "count=8")
    r, log = perf(d, "--verify-read", *region_args(REGION_A))
    check(r["errors"] >= 1 and r["mismatches"] == 0 and READ_ERROR in log,
          f"read-error: the host sees Unrecovered Read Error with DNR ({r['errors']} reads)")
    check(injected(d, fid) >= 1, "read-error: counted as injected")
    fault(d, "clear", fid)
    verify(d, REGION_A, "read-error cleared")

    # Writes over 32 blocks of A (at 2 MiB, 4 KiB blocks) fail with Write Fault; the blocks
    # keep their old data.
    fid = fault(d, "add", "write-error", "nsid=1", "op=write", "lba=512", "count=32")
    r, log = perf(d, "-w", "write", "--seed", "9", "--offset", "2M", "--span", "128k",
                  "-o", "4k", "-q", "4", "-d", "32")
    check(r["errors"] == 32 and WRITE_FAULT in log,
          f"write-error: every write gets Write Fault with DNR ({r['errors']} of 32)")
    fault(d, "clear", fid)
    verify(d, REGION_A, "write-error cleared")

    # 20 ms more on every read: the host waits, nothing fails.
    fid = fault(d, "add", "latency", "nsid=1", "op=read", "latency_us=20000")
    r, _ = perf(d, "-w", "randread", "--span", "16M", "-o", "4k", "-q", "4", "-d", "40")
    check(r["errors"] == 0 and r["lat_us"]["p50"] >= 20000,
          f"latency: reads take 20 ms more (p50 {r['lat_us']['p50']:.0f} us)")
    fault(d, "clear", fid)

    # A lost die: reads of what it held fail; new writes go to the other three dies.
    fid = fault(d, "add", "die-offline", "nsid=1", "die=1")
    r, log = perf(d, "--verify-read", *region_args(REGION_A))
    check(r["errors"] >= 1 and r["mismatches"] == 0 and READ_ERROR in log,
          f"die-offline: reads of its blocks get Unrecovered Read Error ({r['errors']} reads)")
    write_region(d, REGION_B)
    fault(d, "clear", fid)
    verify(d, REGION_A, "die back")
    verify(d, REGION_B, "die back")
    stats = d.stats()["namespaces"][0]
    check(stats["media_errors"] >= 2, f"SMART counts the media errors ({stats['media_errors']})")

    # A die lost again, pattern C written meanwhile, a write held unanswered, then a clean
    # stop with both still in place.
    fault(d, "add", "die-offline", "nsid=1", "die=2")
    write_region(d, REGION_C)
    fid = fault(d, "add", "timeout", "nsid=1", "op=write", "lba=512", "count=1")
    held = subprocess.Popen([NVEMU, "perf", "-r", d.trid, "-w", "write", "--seed", "11",
                             "--offset", "2M", "--span", "4k", "-o", "4k", "-q", "1", "-d", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    RUNNING.append(held)
    time.sleep(1.5)
    check(held.poll() is None and injected(d, fid) == 1,
          "timeout: the write is never answered (the host still waits after 1.5 s)")
    busy.kill()
    busy.wait()
    d.stop()
    held.wait(timeout=30)
    drive_checks(drive, "clean stop with a die offline and a write held")


def after_restarts(tmp, drive):
    d = Daemon(tmp, "--path", drive, *DRIVE)
    for region in (REGION_A, REGION_B, REGION_C):
        verify(d, region, "reopened after the clean stop")
    # The same faults again, under load, and kill -9 with them active.
    busy = load(d, 30)
    fault(d, "add", "die-offline", "nsid=1", "die=3")
    fault(d, "add", "read-error", "nsid=1", "lba=0", "count=1024")
    fault(d, "add", "write-error", "nsid=1", "op=write", "probability=0.3", "seed=5")
    fault(d, "add", "latency", "nsid=1", "latency_us=2000", "dist=exponential", "seed=3")
    time.sleep(1.5)
    d.kill()
    busy.wait()
    drive_checks(drive, "kill -9 with faults active under load")
    d = Daemon(tmp, "--path", drive, *DRIVE)
    listing = fault(d, "list")
    check("die-offline" not in listing, "faults are not kept across runs")
    for region in (REGION_A, REGION_B, REGION_C):
        verify(d, region, "reopened after kill -9")
    d.stop()
    drive_checks(drive, "clean stop")


def main(tmp):
    drive = os.path.join(tmp, "d")
    faults_under_load(tmp, drive)
    after_restarts(tmp, drive)


if __name__ == "__main__":
    run_in_tmp("nvemu-faults-", main)
