#!/usr/bin/env python3
"""Flash-model benchmarks: greedy-GC WAF against theory, simulator speed, table memory.

Usage: bench/model/model_bench.py [path/to/nvemu-sim] [speed runs] [suspend]
       (defaults: build-model/src/sim/nvemu-sim, 5 runs; `suspend`: only the read suspend
       and planes table)
Runs one simulation at a time (each is single-threaded) and prints the numbers recorded in
docs/benchmarks.md, "Flash model". Build with --buildtype=release for the speed figures. They
are medians of several runs, since a machine shared with other jobs slows some runs a lot.
"""
import json
import math
import os
import resource
import subprocess
import sys

SIM = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build-model", "src", "sim", "nvemu-sim")
SPEED_RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def theory(op):
    """Greedy GC, uniform random writes, large blocks: x = exp(-(1+op)(1-x)), WAF = 1/(1-x)."""
    x = 0.5
    for _ in range(100000):
        x = math.exp(-(1 + op) * (1 - x))
    return 1 / (1 - x)


def run(*options, preset=None):
    cmd = [SIM, "--json", "--quiet"] + (["--preset", preset] if preset else [])
    cmd += [arg for o in options for arg in ("-o", o)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out)
    result["peak_rss_kib"] = max(peak_kib, before)
    return " ".join(cmd), result


def suspend_and_planes():
    """The tlc preset, 4 KiB random reads at QD128 over 1 GiB just written (the fill leaves
    programs pending on the dies): suspend cost and planes (issue 16's two defects)."""
    base = ("workload=randread", "qd=128", "footprint_pcent=0.0868")
    print("## Read suspend and planes: tlc preset, 4 KiB random reads, QD128, after 1 GiB of writes")
    print(f"{'case':32} {'IOPS':>9} {'mean us':>8} {'p99 us':>8}  command")
    for label, extra in (("suspend_ns=0", ("suspend_ns=0",)),
                         ("suspend_ns=20000", ("suspend_ns=20000",)),
                         ("suspend_ns=100000", ("suspend_ns=100000",)),
                         ("1 plane (x4 blocks)", ("planes_per_lun=1", "blocks_per_plane=2192")),
                         ("4 planes", ("planes_per_lun=4", "blocks_per_plane=548")),
                         ("4 planes, read_planes=die", ("read_planes=die",))):
        cmd, r = run(*base, *extra, preset="tlc")
        print(f"{label:32} {r['iops']:9.0f} {r['lat_us']['mean']:8.1f} {r['lat_us']['p99']:8.1f}  {cmd}")


def main():
    if len(sys.argv) > 3 and sys.argv[3] == "suspend":
        suspend_and_planes()
        return
    print("## WAF, uniform random 4 KiB writes, greedy GC, default device (after fill + 2x random)")
    print(f"{'OP %':>5} {'WAF':>7} {'theory':>7} {'diff':>7}  command")
    for op in (7, 12, 28):
        cmd, r = run("workload=randwrite", f"op_pcent={op}")
        t = theory(op / 100)
        print(f"{op:>5} {r['waf']:7.3f} {t:7.3f} {100 * (r['waf'] / t - 1):+6.1f}%  {cmd}")

    print(f"\n## Simulator speed (measured phase only, one core; median of {SPEED_RUNS} runs)")
    for label, options in (("random writes, OP 7 %, steady state",
                            ("workload=randwrite", "op_pcent=7", "io_size=16g")),
                           ("random reads", ("workload=randread", "io_size=64g"))):
        rates = []
        for _ in range(SPEED_RUNS):
            cmd, r = run(*options)
            rates.append(r["ios_per_wall_second"] / 1e6)
        rates.sort()
        print(f"{label}: {rates[len(rates) // 2]:.2f} M I/O per wall second"
              f" (runs {rates[0]:.2f} .. {rates[-1]:.2f})  {cmd}")

    print("\n## Memory of the model's tables")
    cmd, r = run("workload=randwrite", "op_pcent=7", "warmup=0.2", "io_size=1g")
    logical = r["logical_bytes"]
    print(f"default device, {logical / 2**30:.1f} GiB logical, fully written: peak RSS"
          f" {r['peak_rss_kib'] / 1024:.0f} MiB  {cmd}")
    # Per TiB of physical flash in 4 KiB pages, OP 7 %: 4 B of L2P per logical page,
    # 4 B of P2L per physical page, 32 B + 4 B (free list) per 256-page block.
    pages = 2**40 / 4096
    table = 4 * pages / 1.07 + 4 * pages + 36 * pages / 256
    print(f"per TiB of flash (4 KiB pages, 256-page blocks, OP 7 %): {table / 2**30:.2f} GiB"
          " when fully written; unwritten space costs nothing (lazily zeroed memory)")


if __name__ == "__main__":
    main()
