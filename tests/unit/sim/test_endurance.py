#!/usr/bin/env python3
"""nvemu sim -o workload=endurance: a small drive written until it turns read-only, once per
wear-levelling policy, with the cold 80 % of it written once. Checks the report's figures
against each other (TBW, drive writes per day, the life curve) and the policies' effect on
the erase-count spread; then nvemu plot draws the life."""
import json
import os
import subprocess
import sys
import tempfile

nvemu = sys.argv[1]
failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    failures += not ok


def sim(*keys):
    args = [nvemu, "sim", "--preset", "small", "--quiet", "--json", "-o", "workload=endurance",
            "-o", "endurance=40", "-o", "footprint_pcent=20", "-o", "wear_gap=8"]
    for k in keys:
        args += ["-o", k]
    out = subprocess.run(args, capture_output=True, text=True, timeout=240)
    if out.returncode:
        print(out.stderr)
        sys.exit(f"FAIL: {' '.join(args)} exited {out.returncode}")
    return json.loads(out.stdout)


runs = {policy: sim(f"wear_levelling={policy}") for policy in ("none", "dynamic", "static")}
for policy, r in runs.items():
    e, life = r["erase_count"], r["life"]
    check(r["read_only"], f"{policy}: the drive wore out to read-only")
    check(r["tbw_bytes"] > r["logical_bytes"], f"{policy}: it took more than a drive write")
    check(abs(r["drive_writes"] - r["tbw_bytes"] / r["logical_bytes"]) < 1e-6,
          f"{policy}: drive writes = TBW / capacity")
    check(abs(r["dwpd"] - r["drive_writes"] / (5 * 365)) < 1e-9,
          f"{policy}: DWPD over the default 5-year warranty")
    check(abs(r["waf"] - r["nand_bytes_written"] / r["tbw_bytes"]) < 1e-6,
          f"{policy}: WAF over the life = NAND / host bytes")
    check(e["min"] <= e["p1"] <= e["p50"] <= e["p99"] <= e["max"] and e["min"] <= e["mean"] <= e["max"],
          f"{policy}: erase-count percentiles in order")
    check(sum(e["histogram"]) == 4 * 64, f"{policy}: the histogram counts every erase unit (4 dies x 64)")
    check(r["retired_blocks"] == r["spare_blocks_initial"] > 0, f"{policy}: the spare is gone")
    check(all(a["host_bytes"] < b["host_bytes"] and a["available_spare_pcent"] >= b["available_spare_pcent"]
              and a["percent_used"] <= b["percent_used"] for a, b in zip(life, life[1:])),
          f"{policy}: the life curve only moves one way")
    check(life[0]["available_spare_pcent"] == 100 and life[-1]["available_spare_pcent"] == 0,
          f"{policy}: spare from 100 % to 0 %")
    check(life[-1]["host_bytes"] == r["tbw_bytes"], f"{policy}: the curve ends at the TBW")
    check(life[-1]["waf_interval"] > life[2]["waf_interval"],
          f"{policy}: WAF rises as retired blocks eat the spare "
          f"({life[2]['waf_interval']:.2f} -> {life[-1]['waf_interval']:.2f})")

none, dynamic, static = runs["none"], runs["dynamic"], runs["static"]
spread = {p: r["erase_count"]["max"] - r["erase_count"]["min"] for p, r in runs.items()}
check(none["erase_count"]["min"] == 0, "none: blocks of cold data are never erased")
check(static["cold_moves"] > 0 and none["cold_moves"] == 0, "only static moves cold data")
check(spread["static"] * 2 < spread["none"], f"static narrows the erase spread {spread}")
check(static["percent_used"] > 2 * none["percent_used"],
      "static wears every block before the drive dies (percentage used at the end)")
check(static["tbw_bytes"] > none["tbw_bytes"], "static writes more before the drive dies")

# The same seed, the same life; workload=endurance needs an endurance.
check(sim("wear_levelling=none")["tbw_bytes"] == none["tbw_bytes"], "deterministic for a seed")
out = subprocess.run([nvemu, "sim", "--preset", "small", "-o", "workload=endurance"],
                     capture_output=True, text=True)
check(out.returncode == 2 and "endurance" in out.stderr, "no endurance: a clear error")

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "life.json")
    with open(path, "w") as f:
        json.dump(static, f)
    out = subprocess.run([nvemu, "plot", path, "--out", os.path.join(tmp, "plots")],
                         capture_output=True, text=True)
    png = os.path.join(tmp, "plots", "life.png")
    ok = out.returncode == 0 and os.path.exists(png)
    if ok:
        with open(png, "rb") as f:
            ok = f.read(8) == b"\x89PNG\r\n\x1a\n"
    check(ok, f"nvemu plot draws life.png {out.stderr.strip()}")

print("PASS" if not failures else f"{failures} failed")
sys.exit(1 if failures else 0)
