#!/usr/bin/env bash
# A replica copy conflates like its primary (issue 5): two nodes (cluster.sh);
# contexts created on node 1 with `heraldctl contexts create --policy`
# (merge:max, none) get their replica copies on node 2 with the same policy,
# told by PLACE; a `contexts set-policy` on the primary reaches the copy;
# after kill -9 of node 1 (dataplane and heraldd) node 2 hosts both with
# those policies, not its dataplane's default (replace).
P=rp$$
NODES=2
INTERVAL_MS=50
DEAD_AFTER=10
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
. "$(dirname "$0")/cluster.sh"
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
CTL="$HERALD_BUILD/cli/heraldctl"
H() { local n=$1; shift; ip netns exec "$P-n$n" "$CTL" --socket "$WORK/hd$n.sock" "$@"; }
# show N CONTEXT JQ: node N's heraldctl shows CONTEXT (its dataplane's part included) and JQ holds.
show() { H "$1" --json contexts show "$2" 2>/dev/null | jq -e ".context | $3" >/dev/null 2>&1; }

cluster_start
wait_for 10 test -S "$WORK/hd1.sock" || fail "heraldd 1 has no control socket"
H 1 contexts create 501 --policy merge:max >/dev/null || fail "create 501"
H 1 contexts create 502 --policy none >/dev/null || fail "create 502"
for c in 501:merge:max 502:none; do
	id=${c%%:*} pol=${c#*:}
	wait_for 20 show 1 "$id" ".primary == 1 and .policy == \"$pol\"" ||
		fail "node 1 does not host $id: $(H 1 --json contexts show "$id")"
	wait_for 20 show 2 "$id" ".replica == true and .policy == \"$pol\"" ||
		fail "node 2's copy of $id is not $pol: $(H 2 --json contexts show "$id")"
	echo "ok: context $id ($pol) on node 1, its copy on node 2 has policy $pol"
done

H 1 contexts set-policy 501 merge:add >/dev/null || fail "set-policy 501 merge:add"
wait_for 20 show 2 501 '.replica == true and .policy == "merge:add"' ||
	fail "the copy of 501 did not follow set-policy: $(H 2 --json contexts show 501)"
echo "ok: set-policy merge:add on the primary reached the copy"

kill -9 "${HD_PID[1]}" "${DP_PID[1]}"
wait "${HD_PID[1]}" "${DP_PID[1]}" 2>/dev/null || true
HD_PID[1]= DP_PID[1]=
for c in 501:merge:add 502:none; do
	id=${c%%:*} pol=${c#*:}
	wait_for 30 show 2 "$id" ".primary == 2 and .confirmed and .replica != true and .policy == \"$pol\"" ||
		fail "node 2 does not host $id with policy $pol after node 1 died: $(H 2 --json contexts show "$id")"
	echo "ok: node 1 killed, node 2 hosts $id with policy $pol"
done
grep -h "replica copy promoted\|replica copy of context" "$WORK/hd2.log" || true
echo PASS
