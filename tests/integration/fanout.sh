#!/usr/bin/env bash
# 100 subscribers, one publisher, 10 000 updates over 50 keys: everyone ends
# with the publisher's final state; a subscriber joining midway gets a
# snapshot equal to the current state. Then the payload-copy counters must
# match the port: zero-copy where it has multi-segment TX, counted copies
# where it has not.
. "$(dirname "$0")/lab.sh"
port=${1:-af_xdp}

dataplane_start "$WORK/dp.log" "$port:$DATAPLANE_IF"
multiseg=$(grep -o 'multi_seg_tx=[a-z]*' "$WORK/dp.log" | cut -d= -f2)
in_client "$HERALD_BUILD/tests/integration/herald-fanout-check" --node "$DATAPLANE_IP" \
	--subscribers 100 --updates 10000 --keys 50 | tee "$WORK/check.log" ||
	fail "fan-out check failed"
dataplane_stop
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log"

publishes=$(counter "$WORK/dp.log" publishes)
deliveries=$(counter "$WORK/dp.log" deliveries)
zc=$(counter "$WORK/dp.log" tx_zerocopy)
copied=$(counter "$WORK/dp.log" tx_copied)
[ "$publishes" -ge 10000 ] || fail "dataplane applied $publishes of 10000 publishes"
# 100 subscribers (+1 joiner for half of them) receive every update.
[ "$deliveries" -ge $((100 * 10000)) ] || fail "only $deliveries deliveries"
if [ "$multiseg" = yes ]; then
	[ "$zc" -ge "$deliveries" ] && [ "$copied" -eq 0 ] ||
		fail "port has multi-seg TX but zerocopy=$zc copied=$copied"
else
	[ "$copied" -ge "$deliveries" ] && [ "$zc" -eq 0 ] ||
		fail "port lacks multi-seg TX but zerocopy=$zc copied=$copied"
fi
echo "ok: $port multi_seg_tx=$multiseg deliveries=$deliveries zerocopy=$zc copied=$copied"
