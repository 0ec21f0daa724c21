#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""One table from one bench/floor.sh run.

    floor_table.py WORKDIR ROUNDS [JSON_OUT]

Reads WORKDIR/herald-R.json (herald-pingpong: herald and the kernel echo) and
WORKDIR/testpmd-R.json (the kernel echo and dpdk-testpmd 5tswap on the
dataplane's veth) for rounds R = 1..ROUNDS. Prints, per size, each round's
p50 and p99 of every path, then the medians over rounds of: Herald's p50 over
testpmd's (the two phases of one round, back to back), each over the kernel
echo of its own phase, the same for p99 and for the fastest round trip (min,
the least disturbed by the neighbours); and a line against issue 7's
target (Herald's p50 within 10 % of the testpmd floor).
"""
import json
import statistics
import sys

TARGET = 1.10


def load(work, name, r):
    with open(f"{work}/{name}-{r}.json") as f:
        return {row["size"]: row for row in json.load(f)["results"]}


def main():
    work, rounds = sys.argv[1], int(sys.argv[2])
    runs = [(load(work, "herald", r), load(work, "testpmd", r)) for r in range(1, rounds + 1)]
    sizes = sorted(runs[0][0])
    summary = {"rounds": rounds, "target_p50_ratio": TARGET, "sizes": []}
    print("per round (us):  size round  echo(H) p50   herald min   herald p50   herald p99 |"
          " echo(T) p50  testpmd min  testpmd p50  testpmd p99")
    for s in sizes:
        for i, (h, t) in enumerate(runs, 1):
            print(f"{s:20d} {i:5d} {h[s]['echo']['p50_us']:12.1f} {h[s]['herald']['min_us']:12.1f} "
                  f"{h[s]['herald']['p50_us']:12.1f} {h[s]['herald']['p99_us']:12.1f} | "
                  f"{t[s]['echo']['p50_us']:11.1f} {t[s]['testpmd']['min_us']:12.1f} "
                  f"{t[s]['testpmd']['p50_us']:12.1f} {t[s]['testpmd']['p99_us']:12.1f}")
    print()
    print("medians over rounds: herald/testpmd (same round), each over its phase's kernel echo")
    print(f"{'size':>6} {'herald p50':>11} {'testpmd p50':>12} {'H/T p50':>8} {'H/T p99':>8} "
          f"{'H/T min':>8} {'H/echo p50':>11} {'T/echo p50':>11}  per-round H/T p50   target (<= {TARGET:.2f})")
    status = 0
    for s in sizes:
        def med(f):
            return statistics.median(f(h[s], t[s]) for h, t in runs)
        hp = med(lambda h, t: h["herald"]["p50_us"])
        tp = med(lambda h, t: t["testpmd"]["p50_us"])
        per = [h[s]["herald"]["p50_us"] / t[s]["testpmd"]["p50_us"] for h, t in runs]
        r50 = statistics.median(per)
        r99 = med(lambda h, t: h["herald"]["p99_us"] / t["testpmd"]["p99_us"])
        rmin = med(lambda h, t: h["herald"]["min_us"] / t["testpmd"]["min_us"])
        he = med(lambda h, t: h["herald"]["p50_us"] / h["echo"]["p50_us"])
        te = med(lambda h, t: t["testpmd"]["p50_us"] / t["echo"]["p50_us"])
        lost = sum(h[s]["herald"]["lost"] + t[s]["testpmd"]["lost"] for h, t in runs)
        verdict = "met" if r50 <= TARGET else f"missed by {100 * (r50 / TARGET - 1):.1f} %"
        print(f"{s:6d} {hp:11.1f} {tp:12.1f} {r50:8.2f} {r99:8.2f} {rmin:8.2f} {he:11.2f} {te:11.2f}  "
              f"{', '.join(f'{x:.2f}' for x in per):18s} {verdict}")
        summary["sizes"].append({
            "size": s, "herald_p50_us": hp, "testpmd_p50_us": tp, "herald_over_testpmd_p50": r50,
            "herald_over_testpmd_p99": r99,
            "herald_over_testpmd_min": rmin, "herald_over_echo_p50": he, "testpmd_over_echo_p50": te,
            "per_round_herald_over_testpmd_p50": per, "lost": lost, "target": verdict,
            "rounds": [{"herald": h[s], "testpmd_phase": t[s]} for h, t in runs]})
        if not all(h[s]["herald"]["count"] and t[s]["testpmd"]["count"] for h, t in runs):
            status = 1
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            json.dump(summary, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
