#!/usr/bin/env bash
# The ping-pong benchmark runs end to end (a short run; this checks that it
# works and reports every size, not how fast it is).
. "$(dirname "$0")/lab.sh"

ip netns exec "$ECHO_NS" "$HERALD_BUILD/bench/herald-echo" --bind "$ECHO_IP:7400" &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true; lab_cleanup' EXIT
dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF"
in_client "$HERALD_BUILD/bench/herald-pingpong" --node "$DATAPLANE_IP" --echo "$ECHO_IP:7400" \
	--sizes 125,2000 --count 300 --warmup 50 --json "$WORK/pp.json" || fail "herald-pingpong failed"
python3 - "$WORK/pp.json" <<'PY' || fail "pingpong JSON incomplete"
import json, sys
d = json.load(open(sys.argv[1]))
text = json.dumps(d)
for key in ("p50", "p99", "max"):
    assert key in text, key
print("pingpong JSON ok")
PY
