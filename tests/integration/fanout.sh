#!/usr/bin/env bash
# 100 subscribers, one publisher, 10 000 updates over 50 keys: everyone ends
# with the publisher's final state; a subscriber joining midway gets a
# snapshot equal to the current state. Then the payload-copy counters must
# match the port: zero-copy where it has multi-segment TX, counted copies
# where it has not.
#
# HERALD_LAB_QUEUES=N (N > 1): an N-queue veth and N workers (--queues N,
# one lcore each, --idle sleep: they share the box with the clients). The
# same check runs once per queue at the same time, each on a context that
# queue owns, through that queue's port; every queue must have applied its
# check's publishes. The veth picks the RX queue by flow hash, so frames land
# on the wrong queue and reach their owner through its hand-off ring: the
# dataplane's `misqueued` counter.
queues=${HERALD_LAB_QUEUES:-1}
. "$(dirname "$0")/lab.sh"
port=${1:-af_xdp}

if [ "$queues" -gt 1 ]; then
	HERALD_DP_LCORE=${HERALD_DP_LCORE:-0-$((queues - 1))} \
		dataplane_start "$WORK/dp.log" "$port:$DATAPLANE_IF" --queues "$queues" --idle sleep
else
	dataplane_start "$WORK/dp.log" "$port:$DATAPLANE_IF"
fi
multiseg=$(grep -o 'multi_seg_tx=[a-z]*' "$WORK/dp.log" | cut -d= -f2)
pids=()
for q in $(seq 0 $((queues - 1))); do
	in_client "$HERALD_BUILD/tests/integration/herald-fanout-check" --node "$DATAPLANE_IP" \
		--subscribers 100 --updates 10000 --keys 50 --queues "$queues" --queue "$q" \
		>"$WORK/check$q.log" 2>&1 &
	pids+=($!)
done
failed=
for q in $(seq 0 $((queues - 1))); do
	wait "${pids[$q]}" || failed="$failed $q"
	sed "s/^/[queue $q] /" "$WORK/check$q.log"
done
[ -z "$failed" ] || fail "fan-out check failed on queue(s)$failed"
dataplane_stop
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log"

publishes=$(counter "$WORK/dp.log" publishes)
deliveries=$(counter "$WORK/dp.log" deliveries)
zc=$(counter "$WORK/dp.log" tx_zerocopy)
copied=$(counter "$WORK/dp.log" tx_copied)
[ "$publishes" -ge $((queues * 10000)) ] || fail "dataplane applied $publishes of $((queues * 10000)) publishes"
# 100 subscribers (+1 joiner for half of them) receive every update.
[ "$deliveries" -ge $((queues * 100 * 10000)) ] || fail "only $deliveries deliveries"
if [ "$multiseg" = yes ]; then
	[ "$zc" -ge "$deliveries" ] && [ "$copied" -eq 0 ] ||
		fail "port has multi-seg TX but zerocopy=$zc copied=$copied"
else
	[ "$copied" -ge "$deliveries" ] && [ "$zc" -eq 0 ] ||
		fail "port lacks multi-seg TX but zerocopy=$zc copied=$copied"
fi
if [ "$queues" -gt 1 ]; then
	# Each queue applied its own context's updates: the contexts are spread.
	for q in $(seq 0 $((queues - 1))); do
		n=$(counter "$WORK/dp.log" "q${q}_publishes")
		[ "$n" -ge 10000 ] || fail "queue $q applied $n of its context's 10000 publishes"
	done
	for why in wrong_queue handoff_full; do
		[ "$(counter "$WORK/dp.log" "drop_$why")" -eq 0 ] || fail "frames dropped as $why"
	done
	echo "misqueued: $(counter "$WORK/dp.log" misqueued) frames reached their owner through its ring" \
		"(per queue: $(for q in $(seq 0 $((queues - 1))); do
			printf 'q%s %s ' "$q" "$(counter "$WORK/dp.log" "q${q}_misqueued")"; done))"
fi
echo "ok: $port queues=$queues multi_seg_tx=$multiseg deliveries=$deliveries zerocopy=$zc copied=$copied"
