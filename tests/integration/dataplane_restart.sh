#!/usr/bin/env bash
# kill -9 of the dataplane under load (issue 8): 100 subscribers and a
# publisher (5000 updates over 50 keys at 500/s, 10 s); the dataplane is killed
# mid-stream and started again. The restarted node knows none of the old
# sessions: it answers their clients' heartbeats with ERROR UNKNOWN_SESSION,
# they SUBSCRIBE again (libherald auto_resync) and every subscriber ends with
# the publisher's final state. State lives in the node's memory only (no
# checkpoint store yet), so what the publisher sends after the restart is
# what the new node holds; every key is published again after it here.
. "$(dirname "$0")/lab.sh"

# af_packet: a SIGKILLed af_xdp port leaves its XDP program on the veth.
dataplane_start "$WORK/dp1.log" "af_packet:$DATAPLANE_IF" --idle sleep
in_client "$HERALD_BUILD/tests/integration/herald-conflation-check" --node "$DATAPLANE_IP" \
	--mode converge --subscribers 100 --slow 0 --updates 5000 --keys 50 --rate 500 \
	--heartbeat-ms 50 --settle-ms 30000 --node-restarts >"$WORK/check.log" 2>&1 &
check_pid=$!

sleep 1
kill -9 "$DP_PID"
wait "$DP_PID" 2>/dev/null || true
killed_at=$(date +%s.%N)
DP_PID=
dataplane_start "$WORK/dp2.log" "af_packet:$DATAPLANE_IF" --idle sleep
restarted_at=$(date +%s.%N)

wait "$check_pid" && rc=0 || rc=$?
cat "$WORK/check.log"
dataplane_stop || fail "restarted dataplane did not stop cleanly"
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp2.log" | grep -E "^(subscribes|publishes|errors_sent|unknown_session|sessions_)"
[ "$rc" -eq 0 ] || fail "subscribers did not converge after the dataplane was killed and restarted"
resubscribed=$(counter "$WORK/dp2.log" subscribes)
told=$(counter "$WORK/dp2.log" unknown_session_errors)
[ "$resubscribed" -ge 100 ] || fail "only $resubscribed SUBSCRIBEs reached the restarted node"
[ "$told" -gt 0 ] || fail "the restarted node told no client its session was gone"
echo "ok: dataplane killed and restarted in $(awk -v a="$killed_at" -v b="$restarted_at" 'BEGIN { printf "%.2f", b - a }') s;" \
	"$told clients told UNKNOWN_SESSION, $resubscribed SUBSCRIBEs, all 100 converged"
