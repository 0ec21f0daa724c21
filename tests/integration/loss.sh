#!/usr/bin/env bash
# Recovery from loss (issue 3), with herald-loss dropping a fraction of the
# node's frames on the client-side veth:
#  - `replace` context at 1 % and at 10 % loss: 100 subscribers (auto_resync)
#    converge to exactly the publisher's final state; recovery is a fresh
#    snapshot, never a replay.
#  - `none` context at 1 % loss: 100 ordered subscribers receive every update
#    exactly once and in order, holes repaired by NAK from the history
#    (--history is larger than the whole run, so a GAP is a failure).
#  - the same with 5 % duplication on top of the loss.
#  - reordering (herald-loss --reorder: 5 % of the frames held back behind
#    the frames received with them): `none` delivers every update once, in
#    order; `replace` converges.
# Each phase runs its own dataplane, so its counter dump is the phase's.
. "$(dirname "$0")/lab.sh"
check="$HERALD_BUILD/tests/integration/herald-conflation-check"
loss_pid=

loss_start() { # RATE DUP REORDER LOG
	# Not through in_client: $! must be herald-loss itself (ip netns exec execs it), so it gets our TERM.
	ip netns exec "$CLIENT_NS" "$HERALD_BUILD/xdp/herald-loss" --iface "$CLIENT_IF" --rate "$1" \
		--dup "$2" --reorder "$3" >"$4" 2>&1 &
	loss_pid=$!
	for _ in $(seq 1 50); do
		grep -qs dropping "$4" && return 0
		kill -0 "$loss_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$4" >&2
	fail "herald-loss did not attach to $CLIENT_IF"
}

loss_stop() { # LOG: detach and print what was dropped
	[ -n "$loss_pid" ] || return 0
	kill -TERM "$loss_pid" 2>/dev/null || true
	wait "$loss_pid" 2>/dev/null || true
	loss_pid=
	cat "$1"
}
trap 'loss_stop /dev/null >/dev/null; lab_cleanup' EXIT

dp_report() { # LOG NAME...: the phase's dataplane counters
	local log=$1 line=
	shift
	for n in "$@"; do line+=" $n=$(counter "$log" "$n")"; done
	echo "dataplane:$line"
}

phase() { # NAME RATE DUP REORDER CHECKER-OPTIONS...
	local name=$1 rate=$2 dup=$3 reorder=$4
	shift 4
	echo "== $name: $(awk -v r="$rate" -v d="$dup" -v o="$reorder" 'BEGIN {
		printf "%g %% loss, %g %% duplication, %g %% held back", r * 100, d * 100, o * 100 }') =="
	dataplane_start "$WORK/$name.dp.log" "af_xdp:$DATAPLANE_IF" --idle sleep \
		--context 9=none --history 4096 --max-history-contexts 1
	loss_start "$rate" "$dup" "$reorder" "$WORK/$name.loss.log"
	in_client "$check" --node "$DATAPLANE_IP" --heartbeat-ms 50 "$@" |
		tee "$WORK/$name.check.log" || { loss_stop "$WORK/$name.loss.log"; fail "$name failed"; }
	loss_stop "$WORK/$name.loss.log"
	dataplane_stop || fail "$name: dataplane did not stop cleanly"
	dp_report "$WORK/$name.dp.log" publishes deliveries subscribes resyncs snapshot_entries \
		naks retransmits sessions_cut drop_history_lost drop_tx_full drop_no_mbuf
	injected() { grep -o "$1 [0-9]*" "$WORK/$name.loss.log" | cut -d' ' -f2 || true; }
	dropped=$(injected dropped) duplicated=$(injected duplicated) reordered=$(injected reordered)
	[ "$rate" = 0 ] || [ "${dropped:-0}" -gt 0 ] || fail "$name: herald-loss dropped nothing: the phase proved nothing"
	[ "$reorder" = 0 ] || [ "${reordered:-0}" -gt 0 ] ||
		fail "$name: herald-loss held nothing back: the phase proved nothing"
}

phase replace_1pct 0.01 0 0 --mode converge --context 11 --subscribers 100 --updates 2000 \
	--keys 50 --rate 500 --settle-ms 30000
phase replace_10pct 0.10 0 0 --mode converge --context 12 --subscribers 100 --updates 2000 \
	--keys 50 --rate 500 --settle-ms 60000
phase none_1pct 0.01 0 0 --mode ordered --context 9 --subscribers 100 --updates 2000 \
	--keys 50 --batch 50 --settle-ms 30000
log="$WORK/none_1pct.dp.log"
[ "$(counter "$log" naks)" -gt 0 ] && [ "$(counter "$log" retransmits)" -gt 0 ] ||
	fail "none context under loss: no NAK was answered by a retransmission"
[ "$(counter "$log" sessions_cut)" -eq 0 ] && [ "$(counter "$log" drop_history_lost)" -eq 0 ] ||
	fail "none context: the history was exceeded (size --history larger)"
# Duplication (tc clone back into ingress) on top of loss: duplicates are
# recognised by their sequence and dropped by the client, never delivered.
phase none_dup 0.01 0.05 0 --mode ordered --context 9 --subscribers 100 --updates 2000 \
	--keys 50 --batch 50 --settle-ms 30000
[ "${duplicated:-0}" -gt 0 ] || fail "none_dup: herald-loss duplicated nothing: the phase proved nothing"
dups=$duplicated
# Reordering alone: a frame held back arrives after frames the node sent
# after it. The ordered clients hold what comes early (`held`) and deliver
# in order; conflated clients apply whatever arrives and converge.
phase none_reorder 0 0 0.05 --mode ordered --context 9 --subscribers 100 --updates 2000 \
	--keys 50 --batch 50 --settle-ms 30000
held=$(grep -o 'held [0-9]*' "$WORK/none_reorder.check.log" | tail -1 | cut -d' ' -f2)
echo "none_reorder: $reordered frames held back by herald-loss; the clients held $held messages behind a hole"
[ "${held:-0}" -gt 0 ] || fail "none_reorder: no client saw a message arrive out of order: the phase proved nothing"
phase replace_reorder 0 0 0.05 --mode converge --context 13 --subscribers 100 --updates 2000 \
	--keys 50 --rate 500 --settle-ms 30000
echo "ok: replace converged at 1 % and 10 % loss and under reordering; none delivered every update" \
	"once, in order, at 1 % loss, at 1 % loss + 5 % duplication ($dups duplicates) and under" \
	"reordering ($held messages held behind a hole)"
