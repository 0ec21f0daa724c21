#!/usr/bin/env bash
# Failover under load (issue 5): three nodes, each a namespace with a
# dataplane (af_packet on its own veth, idle mode sleep so three fit on two
# cores) and a heraldd with the userspace HELLO responder, all on one
# bridge; a client namespace runs herald-failover-check: N subscribers on M
# contexts and a publisher, all on the seed list of the three HELLO
# responders. The checker kills node 3's dataplane and heraldd (kill -9)
# under publish load and prints the time until every subscriber of a moved
# context gets updates from its new primary, the reconnect rate in 100 ms
# buckets, that only node 3's contexts moved, the replica relay (every
# context's copy on its replica holds the primary's state, relay lag), and
# that every subscriber ends with the publisher's final state without a
# republish. This script adds the detection time from the survivors' logs,
# checks their tables agree, and prints what each relay did.
#
# HERALD_FAILOVER_CLIENTS / HERALD_FAILOVER_CONTEXTS: 100 / 20 by default
# (CI); the issue's size is 1000 / 100. Times are printed; only liveness is
# asserted (the VM has two shared cores).
CLIENTS=${HERALD_FAILOVER_CLIENTS:-100}
CONTEXTS=${HERALD_FAILOVER_CONTEXTS:-20}
MERGES=${HERALD_FAILOVER_MERGES:-6} # merge:add contexts 9000.., configured on every dataplane
RATE=${HERALD_FAILOVER_RATE:-1000}
INTERVAL_MS=50
DEAD_AFTER=${HERALD_FAILOVER_DEAD_AFTER:-10}
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
P=fo$$
NODES=3
DP_EXTRA=()
for ((i = 0; i < MERGES; i++)); do DP_EXTRA+=(--context "$((9000 + i))=merge:add"); done
. "$(dirname "$0")/cluster.sh"
cluster_start

SEEDS="$(ctl_ip 1):7400,$(ctl_ip 2):7400,$(ctl_ip 3):7400"
cmd=(ip netns exec "$P-cl" "$HERALD_BUILD/tests/integration/herald-failover-check" --seeds "$SEEDS"
	--victim "$(dp_ip 3)" --kill "${DP_PID[3]},${HD_PID[3]}" --subscribers "$CLIENTS"
	--contexts "$CONTEXTS" --merge-contexts "$MERGES" --rate "$RATE" --status "$WORK/st1.json"
	--status-before "$WORK/before1.json" --dataplanes "$(dp_ip 1),$(dp_ip 2),$(dp_ip 3)"
	--node-status "$WORK/st1.json,$WORK/st2.json,$WORK/st3.json")
echo "clients: $CLIENTS on $CONTEXTS contexts, publisher at $RATE updates/s"
rc=0
"${cmd[@]}" | tee "$WORK/check.log" || rc=$?
HD_PID[3]= DP_PID[3]=

t_kill=$(sed -n 's/^kill_wall_ms: //p' "$WORK/check.log")
[ -n "$t_kill" ] || fail "the checker did not get to the kill (rc $rc)"
for n in 1 2; do
	# The first declaration after the kill (an overloaded host can cause earlier, false ones).
	line=$(awk -v k="$t_kill" -F'[][]' '/node 3 dead/ && $2 >= k { print; exit }' "$WORK/hd$n.log")
	[ -n "$line" ] || fail "node $n never declared node 3 dead"
	t=$(sed 's/^\[\([0-9]*\)\].*/\1/' <<<"$line")
	echo "detection: node $n declared node 3 dead $((t - t_kill)) ms after the kill (${line#*: })"
	fo=$(grep -m1 "failover of node 3" "$WORK/hd$n.log") || fail "node $n did no failover"
	echo "  ${fo#*] }"
	echo "  replica copies promoted: $(grep -c "replica copy promoted" "$WORK/hd$n.log" || true)"
	echo "  relay: $(status "$WORK/st$n.json" "s['relay']")"
done
# False detections (a peer declared dead that was not killed) move contexts of live nodes.
false_dead=$(grep -h "dead: silent" "$WORK"/hd[123].log | grep -v "node 3 dead" || true)
[ -z "$false_dead" ] || { echo "false failure detections under load (heraldd):"; echo "$false_dead"; }
# The survivors' tables: only node 3's contexts moved, and the two agree.
python3 - "$WORK/before1.json" "$WORK/st1.json" "$WORK/st2.json" <<'PY' || fail "survivor tables"
import json, sys
b, a1, a2 = (json.load(open(p))['contexts'] for p in sys.argv[1:])
pb = {k: c['primary'] for k, c in b.items()}
p1 = {k: c['primary'] for k, c in a1.items()}
p2 = {k: c['primary'] for k, c in a2.items()}
moved = [k for k in pb if pb[k] != p1.get(k)]
bad = [k for k in moved if pb[k] != 3] + [k for k in p1 if p1[k] == 3]
print("heraldd tables: %d contexts before, %d on node 3, %d moved, only node 3's: %s, survivors agree: %s"
      % (len(pb), sum(v == 3 for v in pb.values()), len(moved), "yes" if not bad else "NO %s" % bad,
         "yes" if p1 == p2 else "NO"))
sys.exit(1 if bad or p1 != p2 else 0)
PY
[ "$rc" = 0 ] || fail "herald-failover-check failed (rc $rc)"
echo "command: HERALD_FAILOVER_CLIENTS=$CLIENTS HERALD_FAILOVER_CONTEXTS=$CONTEXTS meson test -C build failover --verbose"
echo PASS
