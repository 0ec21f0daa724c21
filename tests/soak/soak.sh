#!/usr/bin/env bash
# Soak (issue 8), not part of scripts/test: 1000 clients (990 fast, 10 with
# a 100 msgs/s budget) on one `replace` context, a publisher at a steady
# rate, for SOAK_SECONDS (default 1800). herald-conflation-check samples the
# dataplane's VmRSS and mbufs_in_use every second and fails if the last third
# grew past the first; at the end every client must hold the publisher's
# final state, and the dataplane's error and drop counters must be zero.
#   sudo tests/soak/soak.sh            # 30 minutes
#   SOAK_SECONDS=300 SOAK_RATE=100 sudo tests/soak/soak.sh
. "$(dirname "$0")/../integration/lab.sh"
seconds=${SOAK_SECONDS:-1800}
rate=${SOAK_RATE:-200}

dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --idle sleep --stats-interval 60
echo "soak: ${seconds} s, 1000 clients, ${rate} updates/s over 100 keys"
in_client "$HERALD_BUILD/tests/integration/herald-conflation-check" --node "$DATAPLANE_IP" \
	--mode slow --duration "$seconds" --rate "$rate" --keys 100 \
	--subscribers 990 --slow 10 --budget 100 \
	--dp-pid "$DP_PID" --telemetry "/var/run/dpdk/$HERALD_DP_PREFIX/dpdk_telemetry.v2" |
	tee "$WORK/check.log" && rc=0 || rc=$?
dataplane_stop || fail "dataplane did not stop cleanly"
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log"
[ "$rc" -eq 0 ] || fail "soak check failed"
errors=$(counter "$WORK/dp.log" errors_sent)
drops=$(sed -n '/== drops by reason/,$p' "$WORK/dp.log" | awk '/^drop_/ && $1 != "drop_not_ipv4" { n += $2 } END { print n + 0 }')
[ "$errors" -eq 0 ] && [ "$drops" -eq 0 ] || fail "errors_sent=$errors drops (other than not_ipv4)=$drops"
echo "ok: soak ${seconds} s: memory flat, every client converged, no errors, no drops"
