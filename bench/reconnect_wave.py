#!/usr/bin/env python3
"""Model of the failover reconnect wave that herald-failover-check measures
(tests/integration/failover_check.c: subscribers' HELLOs in 100 ms buckets
after the kill, peak vs 2x the mean over the first..last non-empty bucket).

Each subscriber of a moved context follows libherald's schedule
(client/client.c): its heartbeat timeout fires TIMEOUT ms after the last
datagram it got from the dead node (its last update, up to GAP ms before the
kill); reconnect() sends the first HELLO after 1 + U[0, W0] (W0 = the
backoff window of attempt 0, reconnect_min_ms = 100 by default); a HELLO
that went to the dead node's own HELLO responder (1 in SEEDS) is not
answered, and the next one, due after backoff_wait(0) = U[w/2, w] with
w = base, goes to another seed (pick_seed never repeats the last one). Survivors answer at once (their failover, ~500 ms,
is done before the clients' 1000 ms timeout).

    python3 bench/reconnect_wave.py            # the table in bench/results/
"""
import random

BUCKET, TIMEOUT, BASE, CAP, SEEDS = 100.0, 1000.0, 100.0, 3200.0, 3


def window(k):
    return min(CAP, BASE * 2 ** k)


def run(n, gap, w0_mult, rng):
    buckets = {}
    for _ in range(n):
        t = TIMEOUT - rng.uniform(0, gap) + 1e-6 + rng.uniform(0, w0_mult * BASE)
        k = 0
        while True:
            b = int(t // BUCKET)
            buckets[b] = buckets.get(b, 0) + 1
            # pick_seed(): random at first, then never the seed just tried, so
            # only a first HELLO can go to the dead responder.
            if k > 0 or rng.randrange(SEEDS) != 0:
                break
            w = window(k)
            t += rng.uniform(w / 2, w)
            k += 1
    first, last = min(buckets), max(buckets)
    mean = sum(buckets.values()) / (last - first + 1)
    return max(buckets.values()) / mean


def main():
    rng = random.Random(5)
    print("subscribers  last-rx spread  first window  P(peak > 2x mean)  median peak/mean")
    for n in (40, 360):
        for gap in (25, 100):
            for mult in (1, 2, 3, 4):
                r = sorted(run(n, gap, mult, rng) for _ in range(2000))
                p = sum(x > 2 for x in r) / len(r)
                print(f"{n:11d}  {gap:11.0f} ms  {mult * BASE:9.0f} ms  {p:17.2f}  {r[len(r) // 2]:16.2f}")


if __name__ == "__main__":
    main()
