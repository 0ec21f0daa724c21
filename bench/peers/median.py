#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Medians over bench/peers.sh runs (the tables of docs/performance.md §5).

    median.py RUN.json...

Each RUN.json is what `bench/peers.sh --json RUN.json` wrote: the ping-pong
table (RUN.json) and, next to it, the fan-out results (RUN-fanout.json).
Prints, per size, every path's median p50 and p99 over the runs and the
median of the runs' ratios best peer / Herald (issue 7 wants >= 3); per N,
each system's median deliveries/s, CPU per delivery and Herald over the best
peer; and the conflation cases (replace against none) the same way.
"""
import json
import os
import statistics
import sys

PEERS = ("redis", "nats", "mqtt")


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec=".1f"):
    return "-" if v is None else format(v, spec)


def runs_of(names):
    return ", ".join(names)


def pingpong(runs):
    by = {}  # (size, path) -> [row per run]
    for run in runs:
        for r in run["rows"]:
            by.setdefault((r["size"], r["path"]), []).append(r)
    sizes = sorted({s for s, _ in by})
    print("ping-pong (µs): median over runs; x lower = best peer's percentile / Herald's "
          "(median of the runs' ratios)")
    print(f"{'size':>5} " + " ".join(f"{p + ' p50':>10}" for p in ("echo", "herald") + PEERS)
          + f" {'x lower p50 (runs)':>26} "
          + " ".join(f"{p + ' p99':>10}" for p in ("echo", "herald") + PEERS)
          + f" {'x lower p99 (runs)':>26}")
    for s in sizes:
        cells50 = [fmt(med([r["p50_us"] for r in by.get((s, p), [])])) for p in
                   ("echo", "herald") + PEERS]
        cells99 = [fmt(med([r["p99_us"] for r in by.get((s, p), [])]), ".0f") for p in
                   ("echo", "herald") + PEERS]
        x = {}
        for col in ("p50_us", "p99_us"):
            ratios = []
            for run in runs:
                rows = {r["path"]: r for r in run["rows"] if r["size"] == s}
                h = rows.get("herald")
                peers = [rows[p][col] for p in PEERS if p in rows and rows[p]["count"]]
                if h and h["count"] and peers:
                    ratios.append(min(peers) / h[col])
            x[col] = f"{fmt(med(ratios), '.2f')} ({', '.join(f'{r:.2f}' for r in ratios)})"
        print(f"{s:>5} " + " ".join(f"{c:>10}" for c in cells50) + f" {x['p50_us']:>26} "
              + " ".join(f"{c:>10}" for c in cells99) + f" {x['p99_us']:>26}")


def fanout_table(runs, key, herald_name, title):
    by = {}
    for run in runs:
        for r in run.get(key) or []:
            by.setdefault((r["subscribers"], r["system"]), []).append(r)
    if not by:
        return
    print(title)
    ns = sorted({n for n, _ in by})
    systems = []
    for _, sysname in by:
        if sysname not in systems:
            systems.append(sysname)
    extra = key == "conflation"
    print(f"{'N':>5} {'system':<15} {'deliveries/s':>13} {'runs':>28} {'server ns/d':>12} "
          f"{'client ns/d':>12} {'client CPU':>10}"
          + (f" {'of pub':>7} {'current':>8} {'resync/s':>9} {'cuts/s':>7} {'pub/s':>7}"
             if extra else f" {'herald/best peer (runs)':>28}"))
    for n in ns:
        for sysname in systems:
            rows = [r for r in by.get((n, sysname), []) if not r["failed"]]
            if not rows:
                print(f"{n:>5} {sysname:<15} FAILED in every run")
                continue
            line = (f"{n:>5} {sysname:<15} {fmt(med([r['deliveries_per_s'] for r in rows]), '.0f'):>13}"
                    f" {', '.join(format(r['deliveries_per_s'], '.0f') for r in rows):>28}"
                    f" {fmt(med([r['server_cpu_ns_per_delivery'] for r in rows]), '.0f'):>12}"
                    f" {fmt(med([r['client_cpu_ns_per_delivery'] for r in rows]), '.0f'):>12}"
                    f" {fmt(med([r.get('client_cpu_pct') for r in rows]), '.0f'):>9}%")
            if extra:
                pub = [r["published"] / r["seconds"] for r in rows]
                line += (f" {fmt(med([100 * r['deliveries_per_s'] / (p * n) for r, p in zip(rows, pub)]), '.1f'):>6}%"
                         f" {fmt(med([100 * r['current'] / r['delivered'] if r['delivered'] else None for r in rows]), '.1f'):>7}%"
                         f" {fmt(med([r['resync_snapshot_entries'] / r['seconds'] for r in rows]), '.0f'):>9}"
                         f" {fmt(med([r['cuts'] / r['seconds'] for r in rows]), '.1f'):>7}"
                         f" {fmt(med(pub), '.0f'):>7}")
            elif sysname == herald_name:
                ratios = []
                for run in runs:
                    rr = {r["system"]: r for r in run.get(key) or []
                          if r["subscribers"] == n and not r["failed"]}
                    best = max([rr[p]["deliveries_per_s"] for p in PEERS if p in rr] or [0])
                    if herald_name in rr and best:
                        ratios.append(rr[herald_name]["deliveries_per_s"] / best)
                line += f" {fmt(med(ratios), '.2f')} ({', '.join(f'{r:.2f}' for r in ratios)})"
            print(line)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pp, fan = [], []
    for path in sys.argv[1:]:
        if os.path.exists(path):
            with open(path) as f:
                pp.append(json.load(f))
        fpath = path[:-len(".json")] + "-fanout.json" if path.endswith(".json") else None
        if fpath and os.path.exists(fpath):
            with open(fpath) as f:
                fan.append(json.load(f))
    print(f"{len(pp)} ping-pong runs, {len(fan)} fan-out runs: {runs_of(sys.argv[1:])}")
    if pp:
        pingpong(pp)
    if fan:
        fanout_table(fan, "results", "herald", "fan-out (every update delivered, closed loop): "
                     "medians over runs")
        fanout_table(fan, "conflation", None, "conflation (Herald only; open-loop publisher): "
                     "medians over runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
