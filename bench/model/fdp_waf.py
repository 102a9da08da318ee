#!/usr/bin/env python3
"""FDP off/on: device and per-handle WAF of two-stream workloads, and the first-principles figure.

Usage: bench/model/fdp_waf.py [path/to/nvemu-sim] [blocks_per_plane]
       (defaults: build-model/src/sim/nvemu-sim, 512: a 4 GiB device of 8 dies)
Prints the table recorded in docs/fdp.md: for each workload, fill level (footprint_pcent) and
over-provisioning, the WAF with FDP off (the same writes without placement) and on, the WAF of
each handle with FDP on, and what the hot handle's effective over-provisioning predicts.
"""
import json
import math
import os
import subprocess
import sys

SIM = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build-model", "src", "sim", "nvemu-sim")
BLOCKS = sys.argv[2] if len(sys.argv) > 2 else "512"

# name, options, passes of warm-up and measured writes (a whole cycle of the log, so that both
# streams reach their steady state)
WORKLOADS = (
    ("hotcold", ("workload=hotcold", "hot_pcent=20", "hot_write_pcent=80"), 5, 5),
    ("cache", ("workload=cache", "hot_pcent=5", "hot_write_pcent=50", "log_bs=16M"), 3, 3),
)


def greedy_waf(op):
    """Greedy GC, uniform random writes: x = exp(-(1+op)(1-x)), WAF = 1/(1-x)."""
    x = 0.5
    for _ in range(20000):
        x = math.exp(-(1 + op) * (1 - x))
    return 1 / (1 - x)


def run(options):
    # breakdown=off: the latency breakdown is not needed here and costs a third of the run
    cmd = [SIM, "--json", "--quiet", "-o", "breakdown=off"] + [arg for o in options
                                                              for arg in ("-o", o)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return " ".join(cmd), json.loads(out)


def predicted(hot_pcent, hot_write_pcent, fill, op, logical_pages, ru_pages):
    """The hot handle gets the whole spare area but the RUs the FTL keeps open or free (about 6:
    two open host units and one GC unit, half full on average, the free reserve and pacing
    headroom, the log's unit being overwritten); the log handle's WAF is 1."""
    physical = logical_pages * (1 + op / 100)
    footprint = logical_pages * fill / 100
    hot = footprint * hot_pcent / 100
    spare = physical - footprint - 6 * ru_pages
    hot_waf = greedy_waf(spare / hot)
    share = hot_write_pcent / 100
    return hot_waf, share * hot_waf + (1 - share)


def main():
    print(f"device: 8 dies x {BLOCKS} blocks x 256 pages of 4 KiB, greedy GC, reclaim units of an"
          " erase block per die (8 MiB), 8 handles")
    print(f"{'workload':>8} {'fill%':>5} {'OP%':>4} {'off':>6} {'on':>6} {'hot h0':>7} {'log h1':>7}"
          f" {'pred h0':>7} {'pred on':>7}")
    for name, options, warmup, passes in WORKLOADS:
        for fill in (100, 90, 75):
            for op in (7, 14, 28):
                common = (*options, f"blocks_per_plane={BLOCKS}", f"op_pcent={op}",
                          f"footprint_pcent={fill}", f"warmup={warmup}")
                # The measured phase: `passes` passes over the footprint.
                _, probe = run((f"blocks_per_plane={BLOCKS}", f"op_pcent={op}",
                                "precondition=none", "io_size=4096"))
                io = int(probe["logical_bytes"] * fill / 100 * passes) // 4096 * 4096
                results = {fdp: run((*common, f"fdp={fdp}", f"io_size={io}"))
                           for fdp in ("off", "on")}
                on = results["on"][1]
                h = {x["pid"]: x for x in on["handles"]}
                logical = on["logical_bytes"] // on["page_bytes"]
                pred_h0, pred_on = predicted(float(options[1].split("=")[1]),
                                             float(options[2].split("=")[1]), fill, op, logical,
                                             8 * 256)
                print(f"{name:>8} {fill:>5} {op:>4} {results['off'][1]['waf']:6.3f} {on['waf']:6.3f}"
                      f" {h[0]['waf']:7.3f} {h[1]['waf']:7.3f} {pred_h0:7.3f} {pred_on:7.3f}",
                      flush=True)
        print(f"  e.g. {results['on'][0]}")


if __name__ == "__main__":
    main()
