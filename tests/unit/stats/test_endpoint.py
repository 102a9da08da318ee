#!/usr/bin/env python3
"""The statistics endpoint of a real daemon, end to end.

  test_endpoint.py NVEMU endpoint   a known workload moves `nvemu stats --json` by exact
                                    amounts; /metrics over HTTP agrees; a trace holds one
                                    line per command
  test_endpoint.py NVEMU plot       `nvemu plot` draws PNGs from a `--record` run
                                    (exit 77, skipped, without gnuplot)
  test_endpoint.py NVEMU prometheus Debian's own Prometheus server scrapes /metrics and its
                                    query API gives back a breakdown series (exit 77, skipped,
                                    without the `prometheus` package)
  test_endpoint.py NVEMU fdp        `nvemu perf --pid` places writes per queue and by LBA
                                    (--pid-split) on an FDP drive; the handles count them
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

NVEMU = sys.argv[1]
WRITES, READS, BLOCK = 1000, 500, 4096


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}")


NAMESPACES = ("--preset", "small", "--ns", "ssd", "--ns", "ram:64M", "--ns", "zoned")


class Daemon:
    def __init__(self, tmp, *extra, namespaces=NAMESPACES):
        self.port = free_port()
        self.control = os.path.join(tmp, "control.sock")
        args = [NVEMU, "-p", str(self.port), "--reactors", "2", "--control", self.control,
                *namespaces, *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            fail(f"nvemu did not start: {line!r} {self.proc.stderr.read()}")
        self.trid = f"trtype:TCP traddr:127.0.0.1 trsvcid:{self.port}"

    def perf(self, *args):
        out = subprocess.run([NVEMU, "perf", "-r", self.trid, "--json", *args],
                             capture_output=True, text=True)
        if out.returncode:
            fail(f"nvemu perf {args} failed: {out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def stats(self, *args):
        out = subprocess.run([NVEMU, "stats", "--control", self.control, *args],
                             capture_output=True, text=True, timeout=60)
        if out.returncode:
            fail(f"nvemu stats {args} failed: {out.stderr}")
        return out

    def snapshot(self):
        return {ns["nsid"]: ns for ns in json.loads(self.stats("--json").stdout)["namespaces"]}

    def stop(self):
        self.proc.terminate()
        if self.proc.wait(timeout=30) != 0:
            fail(f"nvemu exited with {self.proc.returncode}: {self.proc.stderr.read()}")


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? '
                       r'(\S+)$')


def prometheus_samples(text):
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            check_line = re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line)
            if not check_line:
                fail(f"bad Prometheus comment line {line!r}")
            continue
        m = PROM_LINE.match(line)
        if not m:
            fail(f"bad Prometheus sample line {line!r}")
        float(m.group(5).replace("+Inf", "inf"))
        samples[line.rsplit(" ", 1)[0]] = float(m.group(5).replace("+Inf", "inf"))
    return samples


def endpoint(tmp):
    http = free_port()
    d = Daemon(tmp, "--http", str(http))
    try:
        before = d.snapshot()
        d.perf("-w", "write", "-o", str(BLOCK), "-q", "8", "-d", str(WRITES))
        d.perf("-w", "randread", "-o", str(BLOCK), "-q", "8", "-d", str(READS))
        d.perf("-w", "write", "-o", str(BLOCK), "-q", "4", "-d", "64", "--nsid", "2")
        after = d.snapshot()
        ssd, ram, zoned = after[1], after[2], after[3]

        def moved(ns, key):
            return ns[key] - before[ns["nsid"]][key]

        check(moved(ssd, "write_ios") == WRITES, f"write_ios moved by {WRITES}")
        check(moved(ssd, "read_ios") == READS, f"read_ios moved by {READS}")
        check(moved(ssd, "write_bytes") == WRITES * BLOCK, "write_bytes moved by writes x 4 KiB")
        check(moved(ssd, "read_bytes") == READS * BLOCK, "read_bytes moved by reads x 4 KiB")
        check(moved(ssd, "host_pages_written") == WRITES, "host_pages_written moved by the writes")
        check(ssd["nand_pages_written"] >= ssd["host_pages_written"], "NAND pages >= host pages")
        check(abs(ssd["waf"] - ssd["nand_pages_written"] / ssd["host_pages_written"]) < 1e-9,
              "waf = nand / host pages")
        check(isinstance(ssd["gc_runs"], int) and ssd["gc_runs"] >= 0, "gc_runs is a count")
        lat = ssd["latency"]
        check(lat["count"] - before[1]["latency"]["count"] == WRITES + READS,
              "one latency sample per command")
        check(sum(n for _, n in lat["buckets"]) == lat["count"], "latency buckets add up to count")
        check(0 < lat["p50"] <= lat["p99"] <= lat["max"], "p50 <= p99 <= max")
        check(ssd["outstanding"] == 0 and ram["outstanding"] == 0, "nothing outstanding when idle")
        check(moved(ram, "write_ios") == 64 and ram["read_ios"] == 0, "the ram namespace counted apart")
        for key in ("waf", "gc_runs", "host_pages_written", "nand_pages_written"):
            check(ram[key] is None and ram["not_applicable"][key], f"ram {key} is null with a reason")
        check(ssd["write_buffer_fill"] is None and ssd["not_applicable"]["write_buffer_fill"],
              "write-buffer fill says n/a, not 0")
        check(zoned["zones"]["empty"] > 0 and ram["zones"] is None, "zone states only when zoned")

        # Prometheus over loopback HTTP agrees with the JSON.
        text = urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10).read().decode()
        samples = prometheus_samples(text)
        label = 'subsys="nqn.2026-11.dev.nvemu:ssd0",nsid="1",kind="ssd"'
        check(samples[f"nvemu_write_commands_total{{{label}}}"] == ssd["write_ios"],
              "Prometheus write counter equals the JSON one")
        check(samples[f'nvemu_command_latency_seconds_bucket{{{label},le="+Inf"}}'] == lat["count"],
              "Prometheus latency histogram +Inf bucket equals the count")
        check(not any(k.startswith("nvemu_write_amplification") and 'nsid="2"' in k for k in samples),
              "no fake WAF sample for the ram namespace")

        # The latency breakdown: every ssd command has one, each part a distribution over them.
        bd = ssd["breakdown"]
        check(bd["commands"] == lat["count"], "every ssd command has a breakdown")
        check(all(bd[part]["count"] == bd["commands"] for part in bd if part != "commands"),
              "each part counts every command (zeros included)")
        check(bd["nand"]["sum"] > 0 and bd["controller"]["sum"] > 0, "NAND and controller time seen")
        check(ram["breakdown"] is None and ram["not_applicable"]["breakdown"],
              "no breakdown for the ram namespace, with a reason")
        check(samples[f'nvemu_latency_part_seconds_count{{{label},part="nand"}}'] == bd["commands"],
              "Prometheus breakdown histogram per part, counting the same commands")
        check(samples[f'nvemu_latency_part_seconds_bucket{{{label},part="nand",le="+Inf"}}']
              == bd["commands"], "the part histogram's +Inf bucket holds every command")

        # A trace of namespace 1 while 200 reads run: one JSON line per command.
        trace = os.path.join(tmp, "trace.jsonl")
        tracer = subprocess.Popen([NVEMU, "stats", "--control", d.control, "--trace", "1",
                                   "--out", trace, "--duration", "30"],
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while not d.snapshot()[1]["trace"]["active"]:
            if time.time() > deadline:
                fail("the trace did not start")
            time.sleep(0.05)
        d.perf("-w", "randread", "-q", "4", "-d", "200")
        tracer.send_signal(2)
        err = tracer.communicate(timeout=30)[1]
        check(tracer.returncode == 0 and "200 events" in err, f"trace off reports 200 events ({err.strip()})")
        with open(trace) as f:
            events = [json.loads(line) for line in f]
        check(len(events) == 200 and all(e["opcode"] == "read" and e["nsid"] == 1 and e["nlb"] == 1
                                          and e["status"] == 0 for e in events),
              "200 read events with nsid, length and status")
        check(all(0 <= e["model_ns"] <= e["total_ns"] for e in events), "modelled <= total latency")
        check(all(sum(e["parts_ns"].values()) == e["model_ns"] for e in events),
              "each read's breakdown adds up to its modelled latency (no transport floor here)")
    finally:
        d.stop()


def plot(tmp):
    if not shutil.which("gnuplot"):
        print("SKIP: no gnuplot (scripts/install-deps installs gnuplot-nox)")
        sys.exit(77)
    record = os.path.join(tmp, "run.jsonl")
    d = Daemon(tmp, "--record", record, "--record-interval", "100")
    try:
        d.perf("-w", "randwrite", "-q", "8", "-t", "1")
        d.perf("-w", "randread", "-q", "8", "-t", "1", "--nsid", "2")
    finally:
        d.stop()
    out_dir = os.path.join(tmp, "plots")
    run = subprocess.run([NVEMU, "plot", record, "--out", out_dir], capture_output=True, text=True)
    check(run.returncode == 0, f"nvemu plot succeeds ({run.stdout.strip()} {run.stderr.strip()})")
    for name in ("latency-cdf", "latency", "iops", "waf", "gc", "zones", "breakdown"):
        path = os.path.join(out_dir, f"{name}.png")
        with open(path, "rb") as f:
            head = f.read(8)
        check(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 1000, f"{name}.png is a PNG")
    bad = subprocess.run([NVEMU, "plot", os.devnull], capture_output=True, text=True)
    check(bad.returncode != 0, "an empty record is refused")


def query(port, promql):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = json.loads(urllib.request.urlopen(url, timeout=10).read())
    if answer.get("status") != "success":
        fail(f"Prometheus query {promql!r}: {answer}")
    return answer["data"]["result"]


def prometheus(tmp):
    server = shutil.which("prometheus")
    if not server:
        print("SKIP: no prometheus (scripts/install-deps installs Debian's prometheus)")
        sys.exit(77)
    http = free_port()
    d = Daemon(tmp, "--http", str(http))
    prom = None
    try:
        d.perf("-w", "write", "-o", str(BLOCK), "-q", "8", "-d", str(WRITES))
        d.perf("-w", "randread", "-o", str(BLOCK), "-q", "8", "-d", str(READS))
        commands = d.snapshot()[1]["breakdown"]["commands"]
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "scrape_configs:\n  - job_name: nvemu\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{http}']\n")
        port = free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "w+")  # a file: a full pipe would block it
        prom = subprocess.Popen([server, f"--config.file={config}",
                                 f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=log)
        series = 'nvemu_latency_part_seconds_count{nsid="1",part="nand"}'
        result, deadline = [], time.time() + 60
        while not result:
            if prom.poll() is not None or time.time() > deadline:
                fail(f"Prometheus has no {series} (exit {prom.poll()}): {open(log.name).read()[-2000:]}"
                     if prom.poll() is not None else f"Prometheus has no {series} after 60 s")
            time.sleep(0.5)
            try:
                result = query(port, series)
            except OSError:
                result = []  # not listening yet
        check(float(result[0]["value"][1]) == commands,
              f"Prometheus scraped the breakdown: {series} = {commands}")
        p99 = query(port, 'histogram_quantile(0.99, nvemu_latency_part_seconds_bucket'
                          '{nsid="1",part="nand"})')
        check(p99 and 0 < float(p99[0]["value"][1]) < 1,
              f"its query API computes a part's p99 from the buckets ({p99[0]['value'][1]} s)")
    finally:
        if prom:
            prom.terminate()
            prom.wait(timeout=30)
            log.close()
        d.stop()


def fdp(tmp):
    # 4 dies of 256 blocks of 64 pages, reclaim units of 1 MiB, 4 handles.
    d = Daemon(tmp, namespaces=("--kind", "ssd", "-o", "channels=2", "-o", "luns_per_channel=2",
                                "-o", "blocks_per_plane=256", "-o", "pages_per_block=64",
                                "-o", "op_pcent=25", "-o", "fdp=on", "-o", "fdp_nruh=4"))
    try:
        def host_pages():
            return [h["host_pages_written"] for h in d.snapshot()[1]["fdp"]["handles"]]

        check(host_pages() == [0, 0, 0, 0], "nothing placed yet")
        # Uniform random writes, the first 20 % of the span on PID 1 and the rest on PID 2.
        d.perf("-w", "randwrite", "-q", "8", "-d", "4000", "--pid", "1,2", "--pid-split", "20")
        pages = host_pages()
        check(pages[0] == 0 and pages[3] == 0 and pages[1] + pages[2] == 4000,
              f"--pid-split: the 4000 writes on handles 1 and 2 only ({pages})")
        check(600 < pages[1] < 1000, f"--pid-split 20: about a fifth on handle 1 ({pages[1]})")
        # Two queues, a PID each.
        d.perf("-w", "write", "-P", "2", "-q", "4", "-d", "500", "--pid", "0,3")
        later = host_pages()
        check(later[0] > 0 and later[3] > 0 and later[0] + later[3] == 500,
              f"--pid per queue: queue 0 on handle 0, queue 1 on handle 3 ({later})")
        check(later[1:3] == pages[1:3], "the other handles did not move")
        fdp_json = d.snapshot()[1]["fdp"]
        check(fdp_json["groups"][0]["host_pages_written"] == 4500, "the group counts every page")
        text = d.stats("--prometheus").stdout
        samples = prometheus_samples(text)
        label = 'subsys="nqn.2026-11.dev.nvemu:ssd0",nsid="1",kind="ssd"'
        check(samples[f'nvemu_fdp_host_pages_written_total{{{label},ruh="3"}}'] == later[3],
              "Prometheus agrees with the JSON for handle 3")
        check(f'nvemu_fdp_write_amplification{{{label},ruh="1"}}' in samples and
              f'nvemu_fdp_write_amplification{{{label},ruh="2"}}' in samples,
              "a WAF sample for the handles written")
    finally:
        d.stop()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        {"endpoint": endpoint, "plot": plot, "prometheus": prometheus, "fdp": fdp}[sys.argv[2]](tmp)
    print("PASS")
