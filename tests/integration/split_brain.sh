#!/usr/bin/env bash
# Split brain and its heal (issue 5, docs/heraldd.md) on two nodes
# (tests/integration/cluster.sh). Context 600 lives on node 1, subscriber A
# found it through node 1. A partition between the two heraldds (blackhole
# routes to each other's control address; dataplanes and clients still
# reach both) makes each declare the other dead: node 2 promotes its replica
# copy and subscriber B, seeded with node 2 only, subscribes there. Both
# nodes now host 600. When the partition heals, the lower id keeps it: node
# 2 yields (its dataplane drops 600 with ERROR MOVED), B looks the context
# up again and lands on node 1, and an update published after the heal
# reaches both subscribers from node 1. Times are printed, not asserted.
INTERVAL_MS=50
DEAD_AFTER=10
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
P=sb$$
NODES=2
. "$(dirname "$0")/cluster.sh"
CTL="$HERALD_BUILD/cli/heraldctl"
SUBS=()
trap 'for p in "${SUBS[@]}"; do kill "$p" 2>/dev/null; done; cluster_cleanup' EXIT
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
H() { local n=$1; shift; ip netns exec "$P-n$n" "$CTL" --socket "$WORK/hd$n.sock" "$@"; }
# events NAME N KIND: subscriber NAME printed at least N JSON lines of event KIND
events() { [ "$(grep -c "\"event\":\"$3\"" "$WORK/sub$1.json")" -ge "$2" ]; }
# primary N: the primary of 600 in node N's table
primary() { status "$WORK/st$1.json" "s['contexts']['600']['primary'] if s['contexts']['600']['confirmed'] else '?'"; }
sees() { [ "$(status "$WORK/st$1.json" "sum(m['state']=='$3' for m in s['members'] if m['id']==$2)")" = 1 ]; }
hosts() { H "$1" --json contexts show 600 2>/dev/null | jq -e '.context.local and (.context.replica != true)' >/dev/null; }
partition() { # add|del
	ip -n "$P-n1" route "$1" blackhole "$(ctl_ip 2)/32"
	ip -n "$P-n2" route "$1" blackhole "$(ctl_ip 1)/32"
}
sub() { # NAME SEED-NODE
	in_client "$CTL" --json sub 600 --seeds "$(ctl_ip "$2"):7400" --timeout 120 \
		>"$WORK/sub$1.json" 2>"$WORK/sub$1.err" &
	SUBS+=($!)
}

cluster_start
wait_for 10 test -S "$WORK/hd1.sock" || fail "heraldd 1 has no control socket"
H 1 contexts create 600 --policy replace >/dev/null || fail "create 600 on node 1"
wait_for 20 bash -c "[ \"\$(python3 -c 'import json; s=json.load(open(\"$WORK/st2.json\")); print(s[\"contexts\"][\"600\"][\"primary\"])' 2>/dev/null)\" = 1 ]" ||
	fail "node 2 never learned that node 1 hosts 600"
sub A 1
wait_for 20 events A 1 snapshot_end || fail "A: no snapshot from node 1: $(cat "$WORK/subA.json" "$WORK/subA.err")"
H 1 pub 600 k before >/dev/null || fail "pub before the partition"
wait_for 20 events A 1 delta || fail "A: no update before the partition: $(cat "$WORK/subA.json")"

echo "== partition"
partition add
wait_for 20 sees 1 2 dead || fail "node 1 does not see node 2 dead"
wait_for 20 sees 2 1 dead || fail "node 2 does not see node 1 dead"
wait_for 20 hosts 2 || fail "node 2 did not take 600 over: $(H 2 --json contexts show 600)"
hosts 1 || fail "node 1 no longer hosts 600 during the partition"
echo "ok: both nodes host 600 (node 1: $(primary 1), node 2: $(primary 2))"
sub B 2
wait_for 20 events B 1 snapshot_end || fail "B: no snapshot from node 2: $(cat "$WORK/subB.json" "$WORK/subB.err")"

echo "== heal"
t0=$(date +%s%3N)
partition del
wait_for 20 sees 1 2 active || fail "node 1 does not see node 2 active after the heal"
wait_for 20 sees 2 1 active || fail "node 2 does not see node 1 active after the heal"
wait_for 20 bash -c "! ip netns exec $P-n2 $CTL --socket $WORK/hd2.sock --json contexts show 600 2>/dev/null |
	jq -e '.context.local and (.context.replica != true)' >/dev/null" ||
	fail "node 2 still hosts 600 after the heal: $(H 2 --json contexts show 600)"
t1=$(date +%s%3N)
echo "node 2 gave 600 up $((t1 - t0)) ms after the heal"
grep -h "claimed by nodes\|yield" "$WORK/hd1.log" "$WORK/hd2.log" || true
[ "$(status "$WORK/st2.json" "s['yielded']")" -ge 1 ] || fail "node 2 counts no yield"
[ "$(status "$WORK/st1.json" "s['yielded']")" = 0 ] || fail "node 1 yielded too"
hosts 1 || fail "node 1 does not host 600 after the heal: $(H 1 --json contexts show 600)"
wait_for 30 events B 1 moved || fail "B was not told to move: $(cat "$WORK/subB.json")"
wait_for 30 events B 2 snapshot_end || fail "B: no snapshot after the move: $(cat "$WORK/subB.json" "$WORK/subB.err")"
echo "B resubscribed $(($(date +%s%3N) - t1)) ms after node 2 gave 600 up"

H 1 pub 600 k after >/dev/null || fail "pub after the heal"
for s in A B; do
	wait_for 20 bash -c "jq -r 'select(.event == \"delta\") | .value' $WORK/sub$s.json | grep -qx after" ||
		fail "$s did not get the update published after the heal: $(cat "$WORK/sub$s.json")"
done
OUT=$(H 1 --json clients list --context 600) || fail "clients on node 1: $OUT"
jq -e "[.sessions[] | select(.client | startswith(\"$CLIENT_IP:\"))] | length == 2" <<<"$OUT" >/dev/null ||
	fail "node 1 does not hold both subscribers: $OUT"
echo "ok: after the heal node 2 yielded 600 to node 1, both subscribers are on node 1 and got its update"
