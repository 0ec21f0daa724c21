#!/usr/bin/env bash
# A `merge:add` context folds every update into the stored value (issue 3):
# 4 publishers send 1000 increments between them, interleaved, over 3 keys;
# slow subscribers (budget 20 msgs/s: they see a few conflated sums) and fast
# ones (every sum) all end with the exact totals, and the node folded each
# increment exactly once.
. "$(dirname "$0")/lab.sh"
ctx=7

dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF" --idle sleep --context "$ctx=merge:add"
in_client "$HERALD_BUILD/tests/integration/herald-conflation-check" --node "$DATAPLANE_IP" \
	--mode merge --context "$ctx" --publishers 4 --updates 1000 --rate 2000 --keys 3 \
	--slow 2 --budget 20 --subscribers 4 --settle-ms 15000 |
	tee "$WORK/check.log" || fail "merge check failed"
dataplane_stop || fail "dataplane did not stop cleanly"
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log"

publishes=$(counter "$WORK/dp.log" publishes)
merges=$(counter "$WORK/dp.log" merges)
bad=$(counter "$WORK/dp.log" drop_bad_value)
grep -q 'default policy.*context 7 merge:add' "$WORK/dp.log" || fail "context $ctx is not merge:add"
[ "$publishes" -eq 1000 ] && [ "$merges" -eq 1000 ] && [ "$bad" -eq 0 ] ||
	fail "node applied $publishes publishes, folded $merges, refused $bad (want 1000, 1000, 0)"
echo "ok: 1000 increments from 4 publishers folded once each; every subscriber holds the exact sums"
