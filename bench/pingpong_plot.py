#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Percentile distribution of herald-pingpong runs as a PNG (gnuplot).

    pingpong_plot.py OUT.png RUN.json [RUN.json...] [--sizes LIST] [--title T]

Draws, for every path (herald, echo, testpmd...) of every run at every size
asked for (default: every size), latency against percentile on the log
scale HdrHistogram uses: the x axis is 1/(1 - p), so 50 %, 90 %, 99 %,
99.9 %, 99.99 % are evenly spaced and the tail is visible. Reads the
"distribution" arrays herald-pingpong --json writes; each line is labelled
with the run's mode (closed/open loop) when the runs differ, and with the
size when there are several. Needs gnuplot (Debian gnuplot-nox).
"""
import argparse
import json
import subprocess
import sys


def series(runs, sizes):
    modes = {r["mode"] for _, r in runs}
    out = []
    for name, run in runs:
        rate = f" {run['rate_per_s']}/s" if run["mode"] == "open-loop" else ""
        for row in run["results"]:
            if sizes and row["size"] not in sizes:
                continue
            for path in run["paths"]:
                res = row.get(path["name"])
                if not res or not res.get("count"):
                    continue
                label = path["name"]
                if len(modes) > 1 or len(runs) > 1:
                    label += f" ({run['mode']}{rate}{', ' + name if len(runs) > len(modes) else ''})"
                if len(sizes or {r['size'] for r in run['results']}) > 1:
                    label += f" {row['size']} B"
                pts = [(100.0 / (100.0 - p), us) for p, us in res["distribution"] if p < 100.0]
                out.append((f"{label}, max {res['max_us']:.0f} us", pts))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("png")
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--sizes", help="comma-separated sizes to draw (default all)")
    ap.add_argument("--title", default="herald-pingpong round-trip latency by percentile")
    a = ap.parse_args()
    sizes = {int(s) for s in a.sizes.split(",")} if a.sizes else None
    runs = []
    for f in a.runs:
        with open(f) as fh:
            runs.append((f.rsplit("/", 1)[-1].removesuffix(".json"), json.load(fh)))
    lines = series(runs, sizes)
    if not lines:
        sys.exit("pingpong_plot: no samples to draw (wrong --sizes?)")
    gp = [
        "set terminal pngcairo size 1100,650 noenhanced",
        f"set output '{a.png}'",
        f"set title '{a.title}'",
        "set logscale xy",
        "set xrange [1:*]",
        'set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, '
        '"99.99%%" 10000, "99.999%%" 100000)',  # tic labels are formats: %% is %
        "set xlabel 'percentile'",
        "set ylabel 'round trip (us)'",
        "set grid xtics ytics mytics",
        "set key top left",
    ]
    for i, (_, pts) in enumerate(lines):
        gp.append(f"$d{i} << EOD")
        gp += [f"{x:.6g} {y:.6g}" for x, y in pts]
        gp.append("EOD")
    gp.append("plot " + ", ".join(
        f"$d{i} using 1:2 with lines lw 2 title '{t}'" for i, (t, _) in enumerate(lines)))
    subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", text=True, check=True)
    print(f"pingpong_plot: {len(lines)} lines -> {a.png}")


if __name__ == "__main__":
    main()
