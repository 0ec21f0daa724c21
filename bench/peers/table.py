#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""One table from one bench/peers.sh run.

    table.py WORKDIR SIZES [JSON_OUT]

Reads WORKDIR/herald-SIZE.json (herald-pingpong: herald and echo) and
WORKDIR/peers-SIZE.json (herald-peer-pingpong: redis, nats, mqtt) for each
size, prints every path with its percentiles and its ratios against the best
peer (lowest p50, lowest p99) and against the echo floor, then one line per
size against issue 7's target (Herald's p50 and p99 at least 3x lower than
the best peer's). With JSON_OUT, writes the same as JSON.
"""
import json
import sys

PEERS = ("redis", "nats", "mqtt")
COLS = ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")
TARGET = 3.0


def load(work, size):
    rows = {}
    for name in ("herald", "peers"):
        try:
            with open(f"{work}/{name}-{size}.json") as f:
                (row,) = [r for r in json.load(f)["results"] if r["size"] == size]
        except (OSError, ValueError) as e:
            print(f"peers: no {name} results for size {size}: {e}", file=sys.stderr)
            continue
        rows.update({k: v for k, v in row.items() if isinstance(v, dict)})
    return rows


def best(rows, col):
    have = [(rows[p][col], p) for p in PEERS if p in rows and rows[p]["count"]]
    return min(have)[1] if have else None


def main():
    work, sizes = sys.argv[1], [int(s) for s in sys.argv[2].split(",")]
    out, ok = [], True
    print(f"{'size':>6}  {'path':<6} {'count':>6} {'lost':>5} "
          + " ".join(f"{c[:-3].replace('p999', 'p99.9'):>8}" for c in COLS)
          + f" {'p50/best':>9} {'p99/best':>9} {'p50/echo':>9}")
    for size in sizes:
        rows = load(work, size)
        b50, b99 = best(rows, "p50_us"), best(rows, "p99_us")
        echo = rows.get("echo")
        for path in ("echo", "herald") + PEERS:
            r = rows.get(path)
            if r is None:
                ok = False
                continue
            ratio = lambda col, ref: (  # noqa: E731
                r[col] / ref[col] if ref and ref["count"] and r["count"] and ref[col] else None)
            r50 = ratio("p50_us", rows.get(b50))
            r99 = ratio("p99_us", rows.get(b99))
            re = ratio("p50_us", echo)
            fmt = lambda v: f"{v:9.2f}" if v is not None else f"{'-':>9}"  # noqa: E731
            print(f"{size:>6}  {path:<6} {r['count']:>6} {r['lost']:>5} "
                  + " ".join(f"{r[c]:8.1f}" for c in COLS)
                  + f" {fmt(r50)} {fmt(r99)} {fmt(re)}")
            out.append(dict(size=size, path=path, **r, p50_vs_best_peer=r50,
                            p99_vs_best_peer=r99, p50_vs_echo=re))
        h = rows.get("herald")
        if h and h["count"] and b50 and b99:
            x50 = rows[b50]["p50_us"] / h["p50_us"]
            x99 = rows[b99]["p99_us"] / h["p99_us"]
            verdict = lambda x: "met" if x >= TARGET else "missed"  # noqa: E731
            print(f"{size:>6}  herald p50 {x50:.2f}x lower than the best peer ({b50}), "
                  f"target {TARGET:g}x {verdict(x50)}; p99 {x99:.2f}x lower than the best "
                  f"peer ({b99}), {verdict(x99)}")
    print("(microseconds; p50/best and p99/best: this path's percentile over the best peer's "
          "at that size, below 1/3 meets issue 7's target; sizes: Herald value bytes, "
          "echo UDP payload bytes, peers message payload bytes)")
    if len(sys.argv) > 3:
        with open(sys.argv[3], "w") as f:
            json.dump({"target_x": TARGET, "rows": out}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
