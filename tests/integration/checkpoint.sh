#!/usr/bin/env bash
# Context life cycle (issue 5 §4) and a corrupt checkpoint (issue 8), on the
# lab's af_packet port with --checkpoint-dir:
#  1. state published to context 7 (one value in 3 fragments) goes idle and
#     is unloaded (contexts_unloaded); a subscriber's snapshot, loaded back
#     from LMDB, equals what was published;
#  2. kill -9 and a restart: context 7 comes back from its record, and so does
#     context 9, written by the periodic checkpoint while it stayed loaded;
#  3. every record garbled in data.mdb: each context loads as corrupt
#     (checkpoint_errors, a clear log line), starts empty, the node serves on
#     and stops cleanly (the ASan build aborts on any memory error);
#  4. a node as an operator runs it, from one herald.conf with checkpoint_dir:
#     the dataplane on `heraldctl config dataplane-args`, heraldd --config. A
#     context created with `heraldctl contexts create --policy none` keeps its
#     state and policy when both processes are killed (-9) and started again,
#     and the restarted heraldd's epoch is above the one it issued before
#     (its state file sits in the checkpoint dir).
. "$(dirname "$0")/lab.sh"

CTL="$HERALD_BUILD/cli/heraldctl"
CKPT="$WORK/ckpt"
HD_PID=
trap '[ -z "$HD_PID" ] || kill -9 "$HD_PID" 2>/dev/null || true; lab_cleanup' EXIT
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
DP_ARGS=(--idle sleep --ctl-sock "$WORK/dp.sock" --checkpoint-dir "$CKPT" --idle-unload-s 2
	 --checkpoint-interval-s 1)

ctr() { dpctl '{"cmd":"stats"}' | jq -r ".counters.$1"; }
# wait_ctr NAME MIN: until the counter reaches MIN (60 s at most: a loaded machine).
wait_ctr() {
	for _ in $(seq 1 600); do
		[ "$(ctr "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	fail "counter $1 stayed at $(ctr "$1"), expected at least $2"
}
pub() { in_client "$CTL" pub "$1" "$2" "$3" --node "$DATAPLANE_IP" || fail "pub $*"; }
# snapshot CONTEXT N: the snapshot's entries as sorted "key=value" lines. N = 0
# (an empty snapshot expected) listens for 5 s, which is plenty.
snapshot() {
	local rc=0
	in_client "$CTL" --json sub "$1" --node "$DATAPLANE_IP" --count "$2" --timeout $(($2 ? 30 : 5)) \
		>"$WORK/sub.json" 2>"$WORK/sub.err" || rc=$?
	[ "$rc" = 0 ] || [ "$2" = 0 ] || { cat "$WORK/sub.err" >&2; fail "sub $1: exit $rc"; }
	jq -r 'select(.event == "snapshot") | "\(.key)=\(.value)"' "$WORK/sub.json" | sort
}
start() { dataplane_start "$WORK/$1.log" "af_packet:$DATAPLANE_IF" "${DP_ARGS[@]}"; }

big=$(head -c 3000 /dev/zero | tr '\0' x)
want7=$(printf 'k1=three\nk2=two\nk3=%s\n' "$big")

echo "== [${SECONDS}s] 1. idle -> unloaded -> loaded by a subscriber"
start dp1
pub 7 k1 one
pub 7 k2 two
pub 7 k3 "$big"
pub 7 k1 three
wait_ctr contexts_unloaded 1
[ "$(ctr contexts_active)" = 0 ] || fail "context 7 still in memory after its unload"
[ "$(ctr contexts_parked)" = 1 ] || fail "contexts_parked $(ctr contexts_parked), expected 1"
dpctl '{"cmd":"contexts"}' | jq -e '.contexts[] | select(.id == 7 and .checkpointed and .policy == "replace")' >/dev/null ||
	fail "context 7 not listed as checkpointed: $(dpctl '{"cmd":"contexts"}')"
got=$(snapshot 7 3)
[ "$got" = "$want7" ] || fail "snapshot after reload differs: $(head -c 200 <<<"$got")"
[ "$(ctr contexts_loaded)" -ge 1 ] || fail "contexts_loaded did not count the reload"
echo "ok: unloaded $(ctr contexts_unloaded), loaded $(ctr contexts_loaded), snapshot identical (3 keys, one of 3000 bytes)"

echo "== [${SECONDS}s] 2. kill -9, restart"
written=$(ctr checkpoints_written)
pub 9 live yes
# A subscriber keeps context 9 loaded (ip netns exec execs: $! is heraldctl).
ip netns exec "$CLIENT_NS" "$CTL" sub 9 --node "$DATAPLANE_IP" --timeout 60 >/dev/null 2>&1 &
sub_pid=$!
wait_ctr checkpoints_written $((written + 1)) # context 9 by the 1 s interval
for _ in $(seq 1 100); do
	dpctl '{"cmd":"contexts"}' | jq -e '.contexts[] | select(.id == 9 and .sessions == 1)' >/dev/null && break
	sleep 0.1
done
dpctl '{"cmd":"contexts"}' | jq -e '.contexts[] | select(.id == 9 and .sessions == 1)' >/dev/null ||
	fail "context 9 is not loaded with its subscriber: $(dpctl '{"cmd":"contexts"}')"
kill -9 "$DP_PID"
wait "$DP_PID" 2>/dev/null || true
DP_PID=
kill "$sub_pid" 2>/dev/null || true
wait "$sub_pid" 2>/dev/null || true
start dp2
grep -q "2 contexts checkpointed" "$WORK/dp2.log" || fail "restarted node did not list 2 records: $(cat "$WORK/dp2.log")"
got=$(snapshot 7 3)
[ "$got" = "$want7" ] || fail "context 7 after kill -9 and restart differs: $(head -c 200 <<<"$got")"
got=$(snapshot 9 1)
[ "$got" = "live=yes" ] || fail "context 9 (loaded when killed) after restart: '$got'"
echo "ok: after kill -9 and a restart both contexts came back from the checkpoint"

echo "== [${SECONDS}s] 3. corrupt records"
dataplane_stop || fail "dataplane did not stop cleanly"
python3 - "$CKPT/data.mdb" <<'PY'
import sys
# Every record starts with the magic "HCKP": garble a byte of each body
# (live pages and stale copies alike; LMDB's own structure is untouched).
data = bytearray(open(sys.argv[1], "rb").read())
n, at = 0, data.find(b"HCKP")
while at >= 0:
    data[at + 34] ^= 0x5A
    n += 1
    at = data.find(b"HCKP", at + 4)
open(sys.argv[1], "wb").write(data)
print(f"garbled {n} record copies")
PY
start dp3
got=$(snapshot 7 0)
[ -z "$got" ] || fail "a corrupt record was served: $(head -c 200 <<<"$got")"
grep -q '"event":"snapshot_end"' "$WORK/sub.json" || fail "no (empty) snapshot for context 7: $(cat "$WORK/sub.err")"
got=$(snapshot 9 0)
[ -z "$got" ] || fail "a corrupt record was served for context 9: $got"
errors=$(ctr checkpoint_errors)
[ "$errors" -ge 2 ] || fail "checkpoint_errors $errors, expected 2"
grep -q "context 7: record refused: checksum mismatch" "$WORK/dp3.log" || fail "no clear report of the corrupt record"
pub 7 k1 fresh
got=$(snapshot 7 1)
[ "$got" = "k1=fresh" ] || fail "context 7 does not serve new state after a corrupt record: '$got'"
grep "record refused" "$WORK/dp3.log"
dataplane_stop || fail "dataplane did not stop cleanly after corrupt records"
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp3.log" | grep -E "^(contexts_|checkpoint)"
echo "ok: $errors corrupt records counted and reported, contexts started empty, clean stop"

echo "== [${SECONDS}s] 4. a node from herald.conf: dataplane and heraldd killed, started again"
HPORT=$((19000 + $$ % 1000))
cat >"$WORK/herald.conf" <<EOF
[node]
id = 1
[dataplane]
driver = af_packet
interface = $DATAPLANE_IF
ip = $DATAPLANE_IP
idle = sleep
lcores = ${HERALD_DP_LCORE:-1}
file_prefix = $HERALD_DP_PREFIX
control_socket = $WORK/dp.sock
checkpoint_dir = $WORK/node-ckpt
checkpoint_interval_s = 1
[control]
socket = $WORK/hd.sock
[cluster]
xdp_pin_dir =
listen = 127.0.0.1:$HPORT
hello = 127.0.0.1:$((HPORT + 1))
EOF
H() { "$CTL" --config "$WORK/herald.conf" "$@"; }
# node_start NAME: as the systemd units do (herald-dataplane.service, heraldd.service).
node_start() {
	local args
	mapfile -t args < <(H config dataplane-args --json | jq -r '.args[]')
	"$HERALD_BUILD/dataplane/herald-dataplane" "${args[@]}" >"$WORK/$1-dp.log" 2>&1 &
	DP_PID=$! DP_LOG="$WORK/$1-dp.log"
	for _ in $(seq 1 150); do
		grep -q "herald-dataplane: serving" "$DP_LOG" && break
		kill -0 "$DP_PID" 2>/dev/null || fail "dataplane from herald.conf died: $(cat "$DP_LOG")"
		sleep 0.1
	done
	"$HERALD_BUILD/controlplane/heraldd" --config "$WORK/herald.conf" >"$WORK/$1-hd.log" 2>&1 &
	HD_PID=$!
	for _ in $(seq 1 150); do
		H --json status 2>/dev/null | jq -e '.dataplane.connected' >/dev/null 2>&1 && return 0
		kill -0 "$HD_PID" 2>/dev/null || fail "heraldd from herald.conf died: $(cat "$WORK/$1-hd.log")"
		sleep 0.1
	done
	fail "heraldd never reached the dataplane: $(cat "$WORK/$1-hd.log")"
}
H config dataplane-args | grep -q -- "--checkpoint-dir $WORK/node-ckpt --idle-unload-s 60 --checkpoint-interval-s 1 " ||
	fail "dataplane-args lack the checkpoint options: $(H config dataplane-args)"
node_start node1
H contexts create 21 --policy none >/dev/null || fail "contexts create 21 --policy none"
written=$(ctr checkpoints_written)
pub 21 bid 101
pub 21 ask 103
pub 21 bid 102
epoch1=$(H --json status | jq .epoch)
wait_ctr checkpoints_written $((written + 1)) # context 21 by the 1 s interval
# A PUBLISH that landed after that write started makes the context dirty
# again: it is written one interval later. Wait out that interval too.
sleep 2
kill -9 "$HD_PID" "$DP_PID"
wait "$HD_PID" "$DP_PID" 2>/dev/null || true
HD_PID= DP_PID=
echo "[${SECONDS}s] both killed after context 21 was written; starting the node again"
node_start node2
got=$(snapshot 21 2)
[ "$got" = "$(printf 'ask=103\nbid=102')" ] || fail "context 21 after the node restart: '$got'"
H --json contexts show 21 | jq -e '.context.policy == "none"' >/dev/null ||
	fail "context 21 lost its policy: $(H --json contexts show 21)"
epoch2=$(H --json status | jq .epoch)
[ "$epoch2" -gt "$epoch1" ] || fail "heraldd's epoch went from $epoch1 to $epoch2 across its restart"
grep -q "^epoch $epoch2\$" "$WORK/node-ckpt/heraldd.state" || fail "state file: $(cat "$WORK/node-ckpt/heraldd.state")"
grep "the last run saved" "$WORK/node2-hd.log"
kill -TERM "$HD_PID"; wait "$HD_PID" 2>/dev/null || true; HD_PID=
dataplane_stop || fail "dataplane from herald.conf did not stop cleanly"
echo "ok: node from herald.conf restarted whole: context 21 (policy none) kept its 2 keys; epoch $epoch1 -> $epoch2"
