#!/usr/bin/env bash
# One slow consumer cannot slow anyone down (issue 3): on a `replace`
# context a publisher sends 10 000 updates/s over 100 keys; one subscriber
# with a budget of 100 msgs/s only ever gets fresh values (staleness bounded
# by a multiple of the key count, never a backlog), the fast subscribers get
# everything, every subscriber ends with exactly the publisher's final state,
# and the node's memory (VmRSS, mbufs in use) stays flat.
#
# The issue asks for 60 s (the default here); CI runs it shorter with
# HERALD_SLOW_CONSUMER_SECONDS (tests/integration/meson.build sets 20).
. "$(dirname "$0")/lab.sh"
seconds=${HERALD_SLOW_CONSUMER_SECONDS:-60}

dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF" --idle sleep
echo "slow_consumer: ${seconds} s of publishing (issue 3 asks 60 s; HERALD_SLOW_CONSUMER_SECONDS)"
in_client "$HERALD_BUILD/tests/integration/herald-conflation-check" --node "$DATAPLANE_IP" \
	--mode slow --duration "$seconds" --rate 10000 --keys 100 \
	--slow 1 --budget 100 --subscribers 3 \
	--dp-pid "$DP_PID" --telemetry "/var/run/dpdk/$HERALD_DP_PREFIX/dpdk_telemetry.v2" |
	tee "$WORK/check.log" || fail "conflation check failed"
dataplane_stop || fail "dataplane did not stop cleanly"
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log"

publishes=$(counter "$WORK/dp.log" publishes)
dirty=$(counter "$WORK/dp.log" dirty_marked)
dirty_sent=$(counter "$WORK/dp.log" dirty_sent)
# How many of the publishes reach a loaded node is the machine's business
# (UDP, no publisher ACK); that the slow client was held to its budget is ours.
# The slow subscriber is served by conflation: deferred updates marked dirty, latest sent later.
[ "$dirty" -gt 0 ] && [ "$dirty_sent" -gt 0 ] || fail "no conflation: dirty_marked=$dirty dirty_sent=$dirty_sent"
echo "ok: ${seconds} s, publishes=$publishes dirty_marked=$dirty dirty_sent=$dirty_sent"
