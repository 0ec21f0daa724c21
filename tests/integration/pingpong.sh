#!/usr/bin/env bash
# The ping-pong benchmark runs end to end, closed loop and open loop (a short
# run; this checks that it works and reports every size and percentile, not
# how fast it is).
. "$(dirname "$0")/lab.sh"

ip netns exec "$ECHO_NS" "$HERALD_BUILD/bench/herald-echo" --bind "$ECHO_IP:7400" &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true; lab_cleanup' EXIT
dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF"
pp=("$HERALD_BUILD/bench/herald-pingpong" --node "$DATAPLANE_IP" --echo "$ECHO_IP:7400" --sizes 125,2000)
in_client "${pp[@]}" --count 300 --warmup 50 --json "$WORK/pp.json" || fail "herald-pingpong failed"
# Open loop: 1000 round trips per size and path at 2000/s, timed from the schedule.
in_client "${pp[@]}" --rate 2000/s --count 1000 --warmup 100 --cpu 0 --json "$WORK/open.json" ||
	fail "herald-pingpong --rate failed"
# Bad arguments are refused with what was expected.
for bad in "--rate 0" "--rate fast" "--cpu x" "--echo =1.2.3.4:5" "--echo herald=1.2.3.4:5"; do
	# shellcheck disable=SC2086
	if in_client "$HERALD_BUILD/bench/herald-pingpong" --node "$DATAPLANE_IP" $bad 2>"$WORK/err"; then
		fail "herald-pingpong accepted '$bad'"
	fi
	grep -q expected "$WORK/err" || fail "no 'expected' in the error for '$bad': $(cat "$WORK/err")"
done
python3 - "$WORK/pp.json" "$WORK/open.json" <<'PY' || fail "pingpong JSON incomplete"
import json, sys
PCTS = ("p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us")
for path, mode, n in ((sys.argv[1], "closed-loop", 300), (sys.argv[2], "open-loop", 1000)):
    d = json.load(open(path))
    assert d["mode"] == mode, d["mode"]
    assert [r["size"] for r in d["results"]] == [125, 2000]
    for row in d["results"]:
        for name in ("herald", "echo"):
            r = row[name]
            assert r["count"] + r["lost"] == n, (path, name, r)
            assert r["count"] > 0, (path, name, r)
            vals = [r[k] for k in PCTS]
            assert all(v > 0 for v in vals) and vals == sorted(vals), (path, name, vals)
            assert r["min_us"] <= r["p50_us"], r
            dist = r["distribution"]
            assert dist[-1] == [100.0, r["max_us"]], dist[-1]
            if mode == "open-loop":
                assert "send_lag_p99_us" in r, r
        assert row["p50_ratio"] > 0
    if mode == "open-loop":
        assert d["rate_per_s"] == 2000 and "coordinated omission" in d["latency_from"], d
    print(path, "ok:", ", ".join(
        f'{row["size"]} B herald p50 {row["herald"]["p50_us"]:.1f} p99.99 {row["herald"]["p9999_us"]:.1f} us'
        for row in d["results"]))
PY
