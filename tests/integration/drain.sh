#!/usr/bin/env bash
# heraldctl drain (issue 6) on two nodes (tests/integration/cluster.sh): a
# context created on node 1 has a subscriber that found it through the seed
# list (heraldctl sub --seeds). `heraldctl drain 1` against node 1's heraldd
# moves the context to node 2: the reply names the move, the subscriber is
# told (ERROR MOVED), looks the context up again and gets its snapshot and
# the next update from node 2, node 1 keeps no context and no session, and
# contexts first seen while node 1 drains are placed on node 2 only. `drain
# 1 --undo` gives node 1 its weight back. Times are printed, not asserted.
INTERVAL_MS=50
DEAD_AFTER=10
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
P=dr$$
NODES=2
. "$(dirname "$0")/cluster.sh"
CTL="$HERALD_BUILD/cli/heraldctl"
SUB_PID=
trap '[ -z "$SUB_PID" ] || kill "$SUB_PID" 2>/dev/null || true; cluster_cleanup' EXIT
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
cluster_start
SEEDS="$(ctl_ip 1):7400,$(ctl_ip 2):7400"
H1() { "$CTL" --socket "$WORK/hd1.sock" "$@"; }
H2() { "$CTL" --socket "$WORK/hd2.sock" "$@"; }
# jqt JSON FILTER
jqt() { jq -e "$2" <<<"$1" >/dev/null || fail "JSON check '$2' failed on: $1"; }
# The client namespace's sessions in a clients list (the other node's replica
# relay holds a session of its own on a context's primary).
CLIENTS_HERE="[.sessions[] | select(.client | startswith(\"$CLIENT_IP:\"))] | length"
# events N: the subscriber printed N JSON lines of kind $2
events() { [ "$(grep -c "\"event\":\"$2\"" "$WORK/sub.json")" -ge "$1" ]; }

H1 contexts create 500 --policy replace >/dev/null || fail "create 500 on node 1"
wait_for 10 bash -c "[ \"\$(python3 -c 'import json; print(json.load(open(\"$WORK/st2.json\"))[\"contexts\"][\"500\"][\"primary\"])' 2>/dev/null)\" = 1 ]" ||
	fail "node 2 never learned that node 1 hosts context 500"
in_client "$CTL" --socket "$WORK/hd1.sock" --json sub 500 --seeds "$SEEDS" --timeout 60 >"$WORK/sub.json" 2>"$WORK/sub.err" &
SUB_PID=$!
wait_for 20 events 1 snapshot_end || fail "no snapshot through the seeds: $(cat "$WORK/sub.json" "$WORK/sub.err")"
in_client "$CTL" --socket "$WORK/hd1.sock" pub 500 price 1 >/dev/null || fail "pub on node 1"
wait_for 20 events 1 delta || fail "no update from node 1: $(cat "$WORK/sub.json")"
OUT=$(H1 --json clients list --context 500) || fail "clients on node 1: $OUT"
jqt "$OUT" "$CLIENTS_HERE == 1"

echo "== drain 1"
t0=$(date +%s%3N)
OUT=$(H1 --json drain 1) || fail "drain 1: $OUT"
echo "$OUT" | jq -c .
jqt "$OUT" '.draining and .remaining == 0 and ([.moved[] | select(.context == 500 and .to == 2 and .sessions >= 1)] | length) == 1'
wait_for 30 events 1 moved || fail "the subscriber was not told: $(cat "$WORK/sub.json")"
wait_for 30 events 2 snapshot_end || fail "no snapshot from node 2 after the move: $(cat "$WORK/sub.json" "$WORK/sub.err")"
t1=$(date +%s%3N)
echo "subscriber resubscribed through the seeds $((t1 - t0)) ms after the drain request"
in_client "$CTL" --socket "$WORK/hd1.sock" pub 500 price 2 >/dev/null || fail "pub after the drain"
wait_for 20 events 2 delta || fail "no update after the move: $(cat "$WORK/sub.json")"
jq -s -c '[.[] | select(.event != "snapshot")]' "$WORK/sub.json"
[ "$(jq -r 'select(.event == "delta") | .value' "$WORK/sub.json" | tail -n 1)" = 2 ] || fail "last update is not price = 2"

OUT=$(H2 --json contexts show 500) || fail "node 2 does not show 500: $OUT"
jqt "$OUT" '.context.primary == 2 and .context.local and .context.sessions >= 1'
OUT=$(H2 --json clients list --context 500)
jqt "$OUT" "$CLIENTS_HERE == 1"
OUT=$(H1 --json clients list)
jqt "$OUT" "$CLIENTS_HERE == 0"
OUT=$(H1 --json status)
jqt "$OUT" '.draining and .contexts.local == 0'
wait_for 10 bash -c "'$CTL' --socket '$WORK/hd2.sock' --json nodes | jq -e '.nodes[] | select(.id == 1) | .weight == 0' >/dev/null" ||
	fail "node 2 does not see node 1's weight 0: $(H2 nodes)"

echo "== new contexts while node 1 drains"
for c in 601 602 603 604 605 606; do
	in_client "$CTL" --socket "$WORK/hd1.sock" pub "$c" k v >/dev/null || fail "pub $c"
done
OUT=$(H1 --json contexts list)
jqt "$OUT" '[.contexts[] | select(.id > 600)] | length == 6 and all(.primary == 2)'
echo "contexts 601-606 all placed on node 2"

echo "== drain 1 --undo"
OUT=$(H1 --json drain 1 --undo) || fail "undo: $OUT"
jqt "$OUT" '.draining == false'
wait_for 10 bash -c "'$CTL' --socket '$WORK/hd2.sock' --json nodes | jq -e '.nodes[] | select(.id == 1) | .weight > 0' >/dev/null" ||
	fail "node 1's weight did not come back: $(H2 nodes)"
rc=0; OUT=$(H2 --json drain 1) || rc=$?
[ "$rc" = 1 ] || fail "drain of node 1 at node 2's heraldd exited $rc, expected 1: $OUT"
jqt "$OUT" '.ok == false and .exit == 1'
echo "$OUT" | jq -r .error

kill "$SUB_PID" 2>/dev/null || true
SUB_PID=
echo "ok: drain moved context 500 and its subscriber to node 2, placed new contexts on node 2 only, undo restored node 1"
