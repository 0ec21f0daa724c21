#!/usr/bin/env bash
# Hashed queues end to end (issue 4 §2): one node whose dataplane runs two
# queues (af_packet, two workers, --idle sleep) and whose heraldd answers
# HELLOs. For one context owned by each queue, a subscriber that knows only
# the seed list (heraldctl sub --seeds) is redirected to the port of the
# owning queue (base + herald_queue_of(context, 2)), subscribes there and
# gets the update a publisher sends through heraldctl (which asks heraldd
# where the context lives). Checked: each session sits on its context's
# queue, every update arrives, and no frame went to a queue port that does
# not own its context (drop wrong_queue 0).
INTERVAL_MS=50
DEAD_AFTER=10
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
P=rq$$
NODES=1
DP_LCORES=0-1
DP_EXTRA=(--queues 2)
. "$(dirname "$0")/cluster.sh"
CTL="$HERALD_BUILD/cli/heraldctl"
SUB_PIDS=()
trap 'for p in "${SUB_PIDS[@]}"; do kill "$p" 2>/dev/null; done; cluster_cleanup' EXIT
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
cluster_start
SEED="$(ctl_ip 1):7400"
H1() { "$CTL" --socket "$WORK/hd1.sock" "$@"; }
jqt() { jq -e "$2" <<<"$1" >/dev/null || fail "JSON check '$2' failed on: $1"; }
events() { [ "$(grep -c "\"event\":\"$2\"" "$3")" -ge "$1" ]; }

OUT=$(H1 --json status) || fail "status: $OUT"
jqt "$OUT" '.dataplane.queues == 2'

# One context per queue: the first ids from 700 that each queue owns (heraldd's locate says).
declare -A CTX_OF
for c in $(seq 700 763); do
	OUT=$(H1 --json contexts create "$c" --policy replace) || fail "create $c: $OUT"
	q=
	for _ in $(seq 1 50); do
		q=$(H1 --json contexts show "$c" | jq -r '.context.queue // empty') && [ -n "$q" ] && break
		sleep 0.1
	done
	[ -n "$q" ] || fail "contexts show $c names no queue: $(H1 --json contexts show "$c")"
	[ -n "${CTX_OF[$q]:-}" ] || CTX_OF[$q]=$c
	[ -n "${CTX_OF[0]:-}" ] && [ -n "${CTX_OF[1]:-}" ] && break
done
[ -n "${CTX_OF[0]:-}" ] && [ -n "${CTX_OF[1]:-}" ] || fail "no context on each of the two queues"
echo "contexts: ${CTX_OF[0]} on queue 0, ${CTX_OF[1]} on queue 1"

for q in 0 1; do
	in_client "$CTL" --socket "$WORK/hd1.sock" --json sub "${CTX_OF[$q]}" --seeds "$SEED" --timeout 60 \
		>"$WORK/sub$q.json" 2>"$WORK/sub$q.err" &
	SUB_PIDS+=($!)
done
for q in 0 1; do
	wait_for 20 events 1 snapshot_end "$WORK/sub$q.json" ||
		fail "queue $q: no snapshot through the seed: $(cat "$WORK/sub$q.json" "$WORK/sub$q.err")"
	in_client "$CTL" --socket "$WORK/hd1.sock" pub "${CTX_OF[$q]}" price "$((q + 10))" >/dev/null ||
		fail "pub to context ${CTX_OF[$q]}"
done
for q in 0 1; do
	wait_for 20 events 1 delta "$WORK/sub$q.json" || fail "queue $q: no update: $(cat "$WORK/sub$q.json")"
	[ "$(jq -r 'select(.event == "delta") | .value' "$WORK/sub$q.json" | tail -n 1)" = "$((q + 10))" ] ||
		fail "queue $q: wrong value: $(cat "$WORK/sub$q.json")"
	OUT=$(H1 --json clients list --context "${CTX_OF[$q]}") || fail "clients: $OUT"
	jqt "$OUT" "[.sessions[] | select(.client | startswith(\"$CLIENT_IP:\")) | .queue] == [$q]"
	echo "ok: context ${CTX_OF[$q]}: redirected to queue $q (udp/$((7400 + q))), snapshot and update received"
done
OUT=$(H1 --json stats) || fail "stats: $OUT"
jqt "$OUT" '.drops.wrong_queue == 0'
echo "redirects $(jq .daemon.redirects <<<"$OUT"), misqueued $(jq .counters.misqueued <<<"$OUT"), wrong_queue 0"
echo "ok"
