#!/usr/bin/env bash
# heraldd restarts (kill -9, start again) while the dataplane serves a
# publisher and 20 subscribers: no client notices. Every subscriber ends
# with the publisher's state with no gap and no resync, the dataplane saw no
# SUBSCRIBE beyond the first ones, and each new heraldd rebuilt its view of
# the hosted context from the dataplane (`contexts`).
. "$(dirname "$0")/lab.sh"

SUBS=20
CTX=4242
HPORT=$((17000 + $$ % 1000))
RESTARTS=3
HD_PID=

heraldd_start() {
	"$HERALD_BUILD/controlplane/heraldd" --node-id 1 --listen "127.0.0.1:$HPORT" \
		--hello "127.0.0.1:$((HPORT + 1))" --dataplane-sock "$WORK/dp.sock" \
		--dataplane-addr "$DATAPLANE_IP" --xdp-pin-dir "" --status-file "$WORK/st.json" \
		>>"$WORK/hd.log" 2>&1 &
	HD_PID=$!
}
hosted() { # the live heraldd's status says it hosts CTX, confirmed by the dataplane
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); c=s["contexts"].get(sys.argv[2]); sys.exit(0 if c and c["confirmed"] and c["primary"]==1 and s["dataplane"] else 1)' \
		"$WORK/st.json" "$CTX" 2>/dev/null
}
trap '[ -z "$HD_PID" ] || kill -9 "$HD_PID" 2>/dev/null || true; lab_cleanup' EXIT

dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --ctl-sock "$WORK/dp.sock"
heraldd_start
in_client "$HERALD_BUILD/tests/integration/herald-fanout-check" --node "$DATAPLANE_IP" \
	--subscribers "$SUBS" --updates 300000 --keys 50 --batch 50 --context "$CTX" \
	>"$WORK/check.log" 2>&1 &
FC_PID=$!
for i in $(seq 1 $RESTARTS); do
	rm -f "$WORK/st.json"
	for _ in $(seq 1 100); do hosted && break; sleep 0.05; done
	hosted || fail "heraldd did not learn from the dataplane that it hosts context $CTX"
	kill -0 "$FC_PID" 2>/dev/null || fail "the client finished before restart $i; make it longer"
	kill -9 "$HD_PID"
	wait "$HD_PID" 2>/dev/null || true
	sleep 0.2 # heraldd is away
	heraldd_start
	echo "restart $i: heraldd killed and started again while the client runs"
done
for _ in $(seq 1 100); do hosted && break; sleep 0.05; done
hosted || fail "the last heraldd did not rebuild its view from the dataplane"
wait "$FC_PID" || { cat "$WORK/check.log"; fail "fan-out check failed across heraldd restarts"; }
cat "$WORK/check.log"
grep -q "^gaps: 0, resyncs: 0," "$WORK/check.log" || fail "a client saw a gap or resynced"
kill -TERM "$HD_PID"; wait "$HD_PID" 2>/dev/null || true; HD_PID=
dataplane_stop
subscribes=$(counter "$WORK/dp.log" subscribes)
resyncs=$(counter "$WORK/dp.log" resyncs)
[ "$subscribes" -eq $((SUBS + 1)) ] || fail "the dataplane saw $subscribes SUBSCRIBEs for $SUBS subscribers + 1 joiner"
[ "$resyncs" -eq 0 ] || fail "the dataplane answered $resyncs RESYNCs"
grep -c "rebuilds\|dataplane .*: up for" "$WORK/hd.log" | xargs echo "heraldd starts that found the running dataplane:"
echo "ok: $RESTARTS heraldd restarts under a live client: no gap, no resubscribe, no resync"
