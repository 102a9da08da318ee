#!/usr/bin/env python3
"""Drive directories (docs/persistence.md) against a real daemon, host side, with `nvemu perf`.

  test_persist.py NVEMU refuse    options that contradict a drive, and damaged files, are refused
                                  with a message naming the field (both values) or the file
  test_persist.py NVEMU kill      SIGKILL at random instants under load, during recovery and
                                  during shutdown, many times: every reopen passes `nvemu check`
                                  (the FTL's full consistency check) and acknowledged data is intact
  test_persist.py NVEMU cut       power cuts without and with power-loss protection: blocks read
                                  back old or new content, never anything else; PLP loses nothing
  test_persist.py NVEMU zoned     zone states and write pointers across a clean stop and a kill
  test_persist.py NVEMU memory    a 2 TiB ssd drive takes writes scattered over all of it with the
                                  daemon's anonymous memory (RssAnon) under 1 GiB, and patterns
                                  at its start, middle and end read back verified; a 2 TiB zoned
                                  drive the same, whole zones
  test_persist.py NVEMU reopen    a 1 TiB drive reopens in seconds after a clean stop and after a
                                  SIGKILL under load
  test_persist.py NVEMU sim       nvemu sim --save makes a drive the daemon serves and sim --load
                                  reads back; nvemu format empties it
  test_persist.py NVEMU fdp       FDP drives: same figures after a clean restart, kills under
                                  placed load reopen consistent, contradicting FDP keys refused,
                                  format and sim --save/--load
Env: NVEMU_PERSIST_ROUNDS (kill: rounds, default 25), NVEMU_MEMORY_MIB (memory: MiB written, 512),
NVEMU_REOPEN_LIMIT_S (reopen: seconds allowed, 30).
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

NVEMU = sys.argv[1]
WHAT = sys.argv[2]
SMALL = ["--preset", "small", "-o", "page_program_ns=20000", "-o", "page_read_ns=5000",
         "-o", "block_erase_ns=100000"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}", flush=True)


def run(*args, **kw):
    return subprocess.run([NVEMU, *args], capture_output=True, text=True, **kw)


RUNNING = []  # daemons to kill if the test ends early


def run_in_tmp(prefix, body):
    """body(tmp) in a new directory, removed after it with every daemon left running."""
    tmp = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("NVEMU_PERSIST_DIR"))
    try:
        body(tmp)
    except BaseException:
        # The daemons' log goes with the directory: its end says what they saw.
        try:
            with open(os.path.join(tmp, "daemon.log"), errors="replace") as f:
                print("--- end of daemon.log:\n" + "".join(f.readlines()[-60:]), flush=True)
        except OSError:
            pass
        raise
    finally:
        for proc in RUNNING:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


class Daemon:
    def __init__(self, tmp, *args, wait=True):
        self.port = free_port()
        self.control = os.path.join(tmp, f"control-{self.port}.sock")
        self.log = open(os.path.join(tmp, "daemon.log"), "a")
        self.proc = subprocess.Popen([NVEMU, "-p", str(self.port), "--reactors", "2",
                                      "--control", self.control, *args],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        RUNNING.append(self.proc)
        self.trid = f"trtype:TCP traddr:127.0.0.1 trsvcid:{self.port}"
        if wait:
            line = self.proc.stdout.readline()
            if "serving" not in line:
                self.proc.wait()
                fail(f"nvemu {' '.join(args)} did not start (see {self.log.name})")

    def perf(self, *args, ok=True):
        out = run("perf", "-r", self.trid, "--json", *args)
        if ok and out.returncode:
            fail(f"nvemu perf {' '.join(args)} failed: {out.stderr.strip()[-400:]}")
        lines = out.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}

    def stats(self):
        out = run("stats", "--control", self.control, "--json")
        return json.loads(out.stdout)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        check(rc == 0, f"the daemon stops cleanly (status {rc})")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def refused(args, *expect):
    out = run("--control", "none", "--check-config", *args)
    msg = out.stderr.strip()
    ok = out.returncode == 2 and all(e in msg for e in expect)
    check(ok, f"refused {' '.join(args)}: {msg}")


def test_refuse(tmp):
    drive = os.path.join(tmp, "d")
    d = Daemon(tmp, "--path", drive, *SMALL)
    d.perf("--verify", "--span", "8M", "-o", "64k")
    d.stop()
    # The directory describes its drive: --path alone serves it.
    out = run("--control", "none", "--check-config", "--path", drive)
    check(out.returncode == 0 and "ssd, 119836672 bytes" in out.stdout,
          f"--path alone describes the kept drive: {out.stdout.strip()}")
    refused(["--path", drive, "--kind", "zoned"], "holds a namespace of kind ssd", "kind zoned")
    refused(["--path", drive, "--size", "1G"], "119836672 bytes", "size 1073741824")
    refused(["--path", drive, "--lba-size", "512"], "4096-byte LBAs", "512")
    refused(["--path", drive, "-o", "channels=4"], "channels=2", "channels=4", "geometry")
    refused(["--path", drive, "-o", "op_pcent=20"], "op_pcent=12", "op_pcent=20")
    refused(["--path", drive, "--preset", "tlc"], "geometry")
    refused(["--path", drive, "-o", "data=/dev/null"], "keeps its data in data", "/dev/null")
    refused(["--path", drive, "-o", "fdp=on"], "fdp=off", "fdp=on", "Flexible Data Placement")
    # Settings that do not change what the files mean are taken, and remembered.
    d = Daemon(tmp, "--path", drive, "-o", "page_read_ns=7000")
    d.stop()
    with open(os.path.join(drive, "identity")) as f:
        check("model.page_read_ns = 7000" in f.read(), "a timing key given on reopen is remembered")

    def damaged(name, how, *expect):
        backup = os.path.join(tmp, "backup")
        shutil.copytree(drive, backup)
        how(os.path.join(drive, name))
        out = run("--control", "none", "--path", drive)
        msg = out.stderr.strip()
        check(out.returncode == 2 and all(e in msg for e in expect),
              f"{name} {how.__name__}: refused: {msg}")
        shutil.rmtree(drive)
        os.rename(backup, drive)

    def flip_byte(path, offset=None):
        with open(path, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            at = offset if offset is not None else size // 2
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x10]))

    def truncated(path):
        size = os.path.getsize(path)
        os.truncate(path, size // 2 if size < 8192 else 6000)

    def flipped(path):
        flip_byte(path)

    def flipped_body(path):
        flip_byte(path, 4096 + 8)

    damaged("identity", flipped, os.path.join(drive, "identity"), "checksum mismatch")
    damaged("state", truncated, os.path.join(drive, "state"), "no checksum line")
    damaged("l2p", flipped_body, os.path.join(drive, "l2p"), "do not match the checksum")
    damaged("units", truncated, os.path.join(drive, "units"), "truncated")
    damaged("p2l", flipped, os.path.join(drive, "p2l"))
    # A table of another drive, copied in.
    other = os.path.join(tmp, "other")
    d = Daemon(tmp, "--path", other, *SMALL)
    d.stop()
    damaged("units", lambda p: shutil.copy(os.path.join(other, "units"), p),
            os.path.join(drive, "units"), "belongs to drive")
    # Two daemons cannot serve one drive.
    d = Daemon(tmp, "--path", drive)
    out = run("--control", "none", "-p", str(free_port()), "--path", drive)
    check(out.returncode == 2 and "in use by another process" in out.stderr,
          f"a second daemon is refused: {out.stderr.strip()}")
    d.stop()


def test_kill(tmp):
    rounds = int(os.environ.get("NVEMU_PERSIST_ROUNDS", "25"))
    drive = os.path.join(tmp, "d")
    rng = random.Random(int(os.environ.get("NVEMU_PERSIST_SEED", "13")))
    d = Daemon(tmp, "--path", drive, *SMALL)
    # Region A is written once and must survive every kill; the load writes region B.
    d.perf("--verify", "--seed", "7", "--span", "16M", "-o", "64k")
    d.stop()
    under_load = 0
    for r in range(rounds):
        moment = rng.choice(["load", "load", "load", "startup", "shutdown"])
        under_load += moment == "load"
        d = Daemon(tmp, "--path", drive, *SMALL, wait=moment != "startup")
        if moment == "startup":
            time.sleep(rng.uniform(0.0, 0.15)) # during open and recovery
        elif moment == "shutdown":
            d.proc.send_signal(signal.SIGTERM)
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            load = subprocess.Popen([NVEMU, "perf", "-r", d.trid, "-w", "randrw", "-q", "32",
                                     "-o", rng.choice(["4k", "16k", "128k"]), "--offset", "32M",
                                     "-t", "5"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.1, 1.2))
        d.kill()
        if moment == "load":
            load.wait()
        out = run("check", drive)
        if out.returncode:
            fail(f"round {r} ({moment}): nvemu check: {out.stderr.strip()}")
    print(f"ok: {rounds} kills (under load, during recovery, during shutdown): every reopen "
          f"passes nvemu check", flush=True)
    d = Daemon(tmp, "--path", drive, *SMALL)
    d.perf("--verify-read", "--seed", "7", "--span", "16M", "-o", "64k")
    check(True, "data written before the kills reads back intact")
    with open(os.path.join(drive, "state")) as f:
        state = f.read()
    unsafe = int(re.search(r"unsafe_shutdowns = (\d+)", state).group(1))
    # Kills before a run began or after it ended cleanly are not unsafe; those under load are.
    check(unsafe >= under_load, f"every kill under load counted as an unsafe shutdown "
          f"({unsafe} of {rounds} kills, {under_load} under load)")
    d.stop()


def test_cut(tmp):
    for plp in ("off", "on"):
        # A slow NAND and a large buffer: many writes wait in the buffer at the cut.
        d = Daemon(tmp, "--ns", "ssd", "--ns-preset", "small", "--ns-o", f"power_loss_protection={plp}",
                   "--ns-o", "page_program_ns=2000000", "--ns-o", "write_buffer_kib=8192")
        d.perf("--verify", "--seed", "1", "--span", "16M", "-o", "64k")
        time.sleep(2.5)  # everything reaches NAND
        load = subprocess.Popen([NVEMU, "perf", "-r", d.trid, "--verify", "--seed", "2", "--span",
                                 "16M", "-o", "64k", "-q", "16"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.4)
        out = run("power-cut", "--control", d.control, "--down-ms", "300")
        check(out.returncode == 0 and "LBAs lost" in out.stdout, f"power cut: {out.stdout.strip()}")
        load.wait()
        time.sleep(0.5)
        lost = int(re.search(r"(\d+) LBAs lost", out.stdout).group(1))
        r = d.perf("--verify-read", "--seed", "1", "--or-seed", "2", "--span", "16M", "-o", "64k")
        check(r["mismatches"] == 0, f"PLP {plp}: every block holds the old or the new pattern "
              f"({r['blocks_or_seed']} new)")
        ns = d.stats()["namespaces"][0]
        check(ns["power_cuts"] == 1 and ns["lbas_lost"] == lost,
              f"PLP {plp}: stats show the cut and {lost} LBAs lost")
        if plp == "off":
            check(lost > 0, f"without PLP the buffer's writes are lost ({lost} LBAs)")
        else:
            check(lost == 0, "with PLP nothing is lost")
        d.stop()


def zone_counts(d):
    return d.stats()["namespaces"][0]["zones"]


def test_zoned(tmp):
    drive = os.path.join(tmp, "z")
    d = Daemon(tmp, "--path", drive, "--zoned", "-o", "zone_size=1M", "-o", "max_open=4")
    # Sequential writes at QD1 fill zones 0-2 and leave zone 3 implicitly open.
    d.perf("-w", "write", "-q", "1", "-o", "128k", "--span", "4M", "-d", "28")
    before = zone_counts(d)
    check(before["full"] == 3 and before["implicitly_open"] == 1, f"zones before: {before}")
    d.stop()
    d = Daemon(tmp, "--path", drive)
    after = zone_counts(d)
    check(after["full"] == 3 and after["closed"] == 1 and after["implicitly_open"] == 0,
          f"after a clean stop the open zone is closed, the full ones full: {after}")
    # It goes on at its write pointer: 4 more blocks finish zone 3 (a wrong pointer would fail).
    d.perf("-w", "write", "-q", "1", "-o", "128k", "--span", "512k", "--offset", "3584k", "-d", "4")
    d.kill()
    d = Daemon(tmp, "--path", drive)
    after = zone_counts(d)
    check(after["full"] == 4 and after["closed"] == 0, f"after a kill: {after}")
    d.stop()
    # A size taken from the geometry (zones that do not fill its blocks exactly) reopens.
    drive = os.path.join(tmp, "z2")
    d = Daemon(tmp, "--path", drive, "--zoned", "-o", "zone_cap=12M")
    zones = d.stats()["namespaces"][0]["zones"]
    d.stop()
    d = Daemon(tmp, "--path", drive)
    check(d.stats()["namespaces"][0]["zones"] == zones, "a zoned drive sized by its geometry reopens")
    d.stop()


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


FAST = ["-o", "page_program_ns=10000", "-o", "page_read_ns=2000", "-o", "block_erase_ns=50000"]
TIB = 1 << 40


def verify_at(d, offsets, *extra):
    """Writes, reads back and re-reads (after a reconnect) a pattern at each offset."""
    for i, at in enumerate(offsets):
        d.perf("--verify", "--seed", str(i + 1), "--offset", str(at), *extra)


def test_memory(tmp):
    # Each scattered write is an extent of the sparse data file and of the L2P table, and
    # deleting a file of many extents is slow on a file system mounted with `discard` (1 GiB:
    # about a minute here), so the test writes 512 MiB; the 16 GiB figure of the issue is
    # bench/persist-bench memory's (docs/benchmarks.md). A restart is test_reopen's.
    mib = int(os.environ.get("NVEMU_MEMORY_MIB", "512"))
    drive = os.path.join(tmp, "big")
    # Fast NAND: the disk, not the model, sets the pace.
    d = Daemon(tmp, "--path", drive, "--size", "2T", *FAST)
    r = d.perf("-w", "randwrite", "-q", "32", "-o", "128k", "-d", str(mib * 8))
    peak = rss_anon_kib(d.proc.pid)
    check(r["writes"] == mib * 8 and r["errors"] == 0,
          f"{mib} MiB of 128 KiB writes scattered over 2 TiB ({r['mbps']:.0f} MB/s)")
    check(peak < 1024 * 1024, f"ssd: RssAnon {peak // 1024} MiB < 1 GiB after {mib} MiB "
          f"scattered over 2 TiB")
    r = d.perf("-w", "randread", "-q", "32", "-o", "128k", "-d", "2000")
    check(r["reads"] == 2000 and r["errors"] == 0, "reads across the whole 2 TiB")
    verify_at(d, [0, TIB, 2 * TIB - (32 << 20)], "--span", "32M", "-o", "128k")
    check(True, "ssd: patterns at the start, the middle and the end of 2 TiB read back verified")
    d.stop()
    shutil.rmtree(drive)
    # Zoned: whole zones written at QD1 (in order) at the start, the middle and the end.
    d = Daemon(tmp, "--path", drive, "--zoned", "--size", "2T", "-o", "zone_size=8M", *FAST)
    zone = 8 << 20
    verify_at(d, [0, TIB, 2 * TIB - zone], "--span", str(zone), "-o", "128k", "-q", "1")
    zones = d.stats()["namespaces"][0]["zones"]
    peak = rss_anon_kib(d.proc.pid)
    check(zones["full"] == 3 and peak < 1024 * 1024,
          f"zoned: 3 zones of 2 TiB written full and read back verified; RssAnon {peak // 1024} "
          f"MiB < 1 GiB")
    d.stop()
    shutil.rmtree(drive)


def reopen_seconds(tmp, drive):
    t = time.monotonic()
    d = Daemon(tmp, "--path", drive)
    return d, time.monotonic() - t


def test_reopen(tmp):
    limit = float(os.environ.get("NVEMU_REOPEN_LIMIT_S", "30"))
    drive = os.path.join(tmp, "tib")
    d = Daemon(tmp, "--path", drive, "--size", "1T", *FAST)
    d.perf("-w", "randwrite", "-q", "32", "-o", "128k", "-d", "2048")
    d.perf("--verify", "--seed", "3", "--offset", str(TIB // 2), "--span", "32M", "-o", "128k")
    d.stop()
    d, clean = reopen_seconds(tmp, drive)
    check(clean < limit, f"a 1 TiB drive reopens after a clean stop in {clean:.2f} s")
    load = subprocess.Popen([NVEMU, "perf", "-r", d.trid, "-w", "randwrite", "-q", "32", "-o",
                             "128k", "-t", "5"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    d.kill()
    load.wait()
    d, crashed = reopen_seconds(tmp, drive)
    check(crashed < limit, f"and after a SIGKILL under load in {crashed:.2f} s (recovery)")
    d.perf("--verify-read", "--seed", "3", "--offset", str(TIB // 2), "--span", "32M", "-o", "128k")
    check(True, "the data written before reads back")
    d.stop()
    out = run("check", drive)
    check(out.returncode == 0, f"nvemu check: {out.stdout.strip()}")


def test_sim(tmp):
    drive = os.path.join(tmp, "s")
    out = run("sim", "--preset", "small", "-o", "workload=randwrite", "--json", "--quiet",
              "--save", drive)
    check(out.returncode == 0, f"sim --save: {out.stderr.strip()}")
    waf = json.loads(out.stdout)["waf"]
    out = run("check", drive)
    check(out.returncode == 0, f"the saved drive passes nvemu check: {out.stdout.strip()}")
    d = Daemon(tmp, "--path", drive)
    ns = d.stats()["namespaces"][0]
    check(ns["kind"] == "ssd" and ns["nand_pages_written"] > ns["host_pages_written"],
          f"the daemon serves it with the simulator's model state (WAF so far "
          f"{ns['waf']:.2f}, the run's {waf:.2f})")
    d.perf("-w", "randwrite", "-t", "1", "--span", "8M")
    d.stop()
    out = run("sim", "--load", drive, "-o", "workload=randwrite", "-o", "io_size=16m", "--json",
              "--quiet")
    check(out.returncode == 0 and json.loads(out.stdout)["waf"] > 1.5,
          f"sim --load replays from the daemon's state: {out.stdout.strip()[:80]}")
    out = run("format", drive)
    check(out.returncode == 0, f"nvemu format: {out.stdout.strip()}")
    d = Daemon(tmp, "--path", drive)
    ns = d.stats()["namespaces"][0]
    check(ns["host_pages_written"] == 0 and ns["erase_count"]["max"] > 0,
          "after format the model is fresh, its wear kept")
    d.stop()


FDP = [*SMALL, "-o", "op_pcent=25", "-o", "fdp=on", "-o", "fdp_nruh=4",
       "-o", "fdp_initially_isolated=3"]
FDP_COUNTERS = ("host_pages_written", "nand_pages_written", "gc_pages_moved",
                "reclaim_units_opened", "reclaim_units_erased")


def fdp_figures(d):
    """The FDP part of the stats (per handle and per group), the device's NAND and host pages."""
    ns = d.stats()["namespaces"][0]
    return ns["fdp"], ns["nand_pages_written"], ns["host_pages_written"]


def counters_of(fdp):
    return [[h[k] for k in FDP_COUNTERS] for h in fdp["handles"] + fdp["groups"]]


def fdp_load(d, seconds):
    """Persistently isolated handles 0 (hot, 30 % of the span) and 1, initially isolated 3."""
    return [subprocess.Popen([NVEMU, "perf", "-r", d.trid, "-w", "randwrite", "--span", "64M",
                              "-t", str(seconds), *pids], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for pids in (["--pid", "0,1", "--pid-split", "30"], ["--pid", "3", "-o", "16k"])]


def test_fdp(tmp):
    """FDP state in a drive directory: a clean restart shows the same figures, kills under load
    reopen consistent (nvemu check runs fdp_check: isolation) with the counters of the last
    checkpoint, contradicting FDP keys are refused, format and sim --save/--load keep FDP."""
    drive = os.path.join(tmp, "f")
    d = Daemon(tmp, "--path", drive, *FDP)
    for load in fdp_load(d, 4):
        check(load.wait() == 0, "placed writes on handles 0, 1 and 3")
    before = fdp_figures(d)
    moved = [h["gc_pages_moved"] for h in before[0]["handles"]]
    check(sum(moved) > 0 and before[1] > before[2], f"GC ran (pages moved per handle {moved})")
    d.stop()
    out = run("check", drive)
    check(out.returncode == 0, f"nvemu check after a clean stop: {out.stdout.strip()}")
    d = Daemon(tmp, "--path", drive)  # the directory says it has FDP
    after = fdp_figures(d)
    check(after == before, "a clean restart shows the same FDP figures (every handle's and group's "
          "host, NAND and GC pages, RUs opened and erased, valid pages) and device counters")
    checkpoint = counters_of(after[0])
    rng = random.Random(5)
    for r in range(6):
        loads = fdp_load(d, 5)
        time.sleep(rng.uniform(0.3, 1.5))
        running = counters_of(fdp_figures(d)[0])
        d.kill()
        for load in loads:
            load.wait()
        out = run("check", drive)
        if out.returncode:
            fail(f"kill {r}: nvemu check: {out.stderr.strip()}")
        d = Daemon(tmp, "--path", drive)
        fdp = fdp_figures(d)[0]
        # No Flush came: the counters are those of the last clean stop, the valid pages those
        # of the mapping (recounted).
        if counters_of(fdp) != checkpoint or not all(
                c <= x for row, run_row in zip(counters_of(fdp), running)
                for c, x in zip(row, run_row)):
            fail(f"kill {r}: FDP counters {counters_of(fdp)}, last checkpoint {checkpoint}")
        valid_h = sum(h["valid_pages"] for h in fdp["handles"])
        valid_g = sum(g["valid_pages"] for g in fdp["groups"])
        if valid_h != valid_g or valid_h == 0:
            fail(f"kill {r}: valid pages {valid_h} by handle, {valid_g} by group")
    check(True, "6 kills under placed load: every reopen passes nvemu check, FDP counters are "
          "the last checkpoint's, valid pages agree by handle and by group")
    d.stop()
    d = Daemon(tmp, "--path", drive)
    checkpoint = counters_of(fdp_figures(d)[0])
    d.stop()
    # Contradicting FDP keys are refused, naming the field and both values.
    refused(["--path", drive, "-o", "fdp=off"], "fdp=on", "fdp=off",
            "Flexible Data Placement configuration")
    refused(["--path", drive, "-o", "fdp_nruh=8"], "fdp_nruh=4", "fdp_nruh=8")
    refused(["--path", drive, "-o", "fdp_nrg=2"], "fdp_nrg=1", "fdp_nrg=2")
    refused(["--path", drive, "-o", "fdp_initially_isolated=2-3"], "fdp_initially_isolated=3",
            "fdp_initially_isolated=2-3")
    refused(["--path", drive, "-o", "fdp_runs=4M"], "fdp_runs=0", "fdp_runs=4194304")
    d = Daemon(tmp, "--path", drive, "-o", "fdp_time_limit=30", "-o", "fdp_handles=0,1,3")
    check(counters_of(fdp_figures(d)[0]) == checkpoint,
          "the time limit and the namespace's handle list may change; the state stays")
    d.stop()
    out = run("format", drive)
    check(out.returncode == 0, f"nvemu format: {out.stdout.strip()}")
    d = Daemon(tmp, "--path", drive)
    fdp = fdp_figures(d)[0]
    check(all(h[k] == 0 for h in fdp["handles"] for k in (*FDP_COUNTERS, "valid_pages")),
          "after format every handle starts over")
    d.stop()
    # The simulator saves and loads FDP drives.
    saved = os.path.join(tmp, "s")
    out = run("sim", *FDP[:-4], "-o", "fdp_nruh=2", "-o", "workload=hotcold", "--json",
              "--quiet", "--save", saved)
    check(out.returncode == 0, f"sim --save with fdp=on: {out.stderr.strip()}")
    sim_handles = json.loads(out.stdout)["handles"]
    out = run("check", saved)
    check(out.returncode == 0, f"the saved FDP drive passes nvemu check: {out.stdout.strip()}")
    d = Daemon(tmp, "--path", saved)
    fdp = fdp_figures(d)[0]
    check(all(h["host_pages_written"] >= s["host_pages"] > 0
              for h, s in zip(fdp["handles"], sim_handles)),
          "the daemon serves it with the simulator's handles' state")
    d.stop()
    out = run("sim", "--load", saved, "-o", "workload=hotcold", "-o", "io_size=16m", "--json",
              "--quiet")
    check(out.returncode == 0 and len(json.loads(out.stdout)["handles"]) == 2,
          f"sim --load replays an FDP drive: {out.stdout.strip()[:80]}")


TESTS = {"refuse": test_refuse, "kill": test_kill, "cut": test_cut, "zoned": test_zoned,
         "memory": test_memory, "reopen": test_reopen, "sim": test_sim, "fdp": test_fdp}

if __name__ == "__main__":
    run_in_tmp("nvemu-persist-", TESTS[WHAT])
