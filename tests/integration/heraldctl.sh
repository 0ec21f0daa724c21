#!/usr/bin/env bash
# heraldctl against a running node (issue 6): a dataplane on the lab's
# af_packet port and heraldd started from a herald.conf. Every command runs
# with and without --json (the JSON is checked with jq), `sub` in one
# process sees `pub` from others, the metrics endpoint passes
# `promtool check metrics`, and broken config files are refused with their
# line and reason, by `heraldctl config check` and by heraldd alike.
. "$(dirname "$0")/lab.sh"

CTL="$HERALD_BUILD/cli/heraldctl"
HPORT=$((18000 + $$ % 1000))
MPORT=$((HPORT + 500))
RPORT=$((HPORT + 700))
HD_PID=
SUB_PID=
trap '[ -z "$HD_PID" ] || kill -9 "$HD_PID" 2>/dev/null || true
      [ -z "$SUB_PID" ] || kill "$SUB_PID" 2>/dev/null || true; lab_cleanup' EXIT
command -v jq >/dev/null || fail "jq is missing (scripts/deps installs it)"
command -v promtool >/dev/null || fail "promtool is missing (scripts/deps installs prometheus)"

head -c 32 /dev/urandom | xxd -p -c 64 >"$WORK/remote.key"
head -c 32 /dev/urandom | xxd -p -c 64 >"$WORK/wrong.key"
cat >"$WORK/herald.conf" <<EOF
[node]
id = 1
name = lab-node
[dataplane]
driver = af_packet
interface = $DATAPLANE_IF
ip = $DATAPLANE_IP
idle = sleep
control_socket = $WORK/dp.sock
[cluster]
listen = 127.0.0.1:$HPORT
hello = 127.0.0.1:$((HPORT + 1))
xdp_pin_dir =
[control]
socket = $WORK/hd.sock
status_file = $WORK/st.json
remote = 127.0.0.1:$RPORT
remote_key_file = $WORK/remote.key
[metrics]
listen = 127.0.0.1:$MPORT
EOF
H() { "$CTL" --config "$WORK/herald.conf" "$@"; }
# expect CODE CMD...: the command exits with CODE; its output is in $OUT
expect() {
	local want=$1 rc=0
	shift
	OUT=$("$@" 2>&1) || rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $OUT"
}
# jqt FILTER: $OUT is JSON and FILTER holds on it
jqt() { jq -e "$1" <<<"$OUT" >/dev/null || fail "JSON check '$1' failed on: $OUT"; }

echo "== config check"
expect 0 H config check "$WORK/herald.conf"
echo "$OUT"
expect 0 H --json config check "$WORK/herald.conf"
jqt '.valid == true'
expect 0 H config dataplane-args
grep -q -- "--port af_packet:$DATAPLANE_IF" <<<"$OUT" || fail "dataplane-args: $OUT"
expect 0 H config dataplane-args --json
jqt '.args | index("--ctl-sock") != null'

dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --ctl-sock "$WORK/dp.sock" --idle sleep
"$HERALD_BUILD/controlplane/heraldd" --config "$WORK/herald.conf" >"$WORK/hd.log" 2>&1 &
HD_PID=$!
for _ in $(seq 1 100); do
	H --json status 2>/dev/null | jq -e '.dataplane.connected' >/dev/null 2>&1 && break
	sleep 0.1
done

echo "== status"
expect 0 H status
echo "$OUT"
grep -q "dataplane   connected" <<<"$OUT" || fail "status: $OUT"
expect 0 H --json status
jqt '.node == 1 and .name == "lab-node" and .dataplane.connected and .dataplane.queues == 1'
jqt ".dataplane.addr == \"$DATAPLANE_IP:7400\""

echo "== nodes"
expect 0 H nodes
echo "$OUT"
expect 0 H nodes --json
jqt '.nodes | length == 1 and .[0].id == 1 and .[0].local and .[0].state == "active"'

echo "== contexts"
expect 0 H contexts create 100 --policy merge:add
echo "$OUT"
expect 0 H --json contexts create 101 --policy replace
jqt '.created == true and .policy == "replace" and .context == 101'
expect 0 H --json contexts create 101
jqt '.created == false'
expect 1 H contexts create 101 --policy none
grep -q "active with policy replace" <<<"$OUT" || fail "policy conflict not explained: $OUT"
expect 2 H contexts create 102 --policy fastest
grep -q "expected replace, none or merge:OP" <<<"$OUT" || fail "bad policy: $OUT"
expect 2 H contexts show abc
grep -q "expected an integer" <<<"$OUT" || fail "bad id: $OUT"
expect 0 H contexts list
echo "$OUT"
expect 0 H contexts --json
jqt '[.contexts[] | select(.id == 100 and .policy == "merge:add" and .local)] | length == 1'
jqt '[.contexts[] | select(.id == 101 and .policy == "replace")] | length == 1'
expect 0 H contexts show 101
echo "$OUT"
expect 0 H --json contexts show 101
jqt '.context.id == 101 and .context.primary == 1 and .context.keys == 0'

echo "== sub / pub"
in_client "$CTL" --socket "$WORK/hd.sock" --json sub 101 --count 3 --timeout 60 >"$WORK/sub.json" 2>&1 &
SUB_PID=$!
for _ in $(seq 1 100); do grep -q snapshot_end "$WORK/sub.json" && break; sleep 0.1; done
grep -q snapshot_end "$WORK/sub.json" || fail "sub never got its snapshot: $(cat "$WORK/sub.json")"
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" pub 101 price 10
echo "$OUT"
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" pub 101 qty 5
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" --json pub 101 price 11
OUT=$(cat <<<"$OUT")
jqt '.context == 101 and .key == "price" and .value == "11"'
wait "$SUB_PID" || fail "sub did not see 3 updates: $(cat "$WORK/sub.json")"
SUB_PID=
cat "$WORK/sub.json"
OUT=$(jq -s -c '[.[] | select(.event == "delta") | [.key, .value]]' "$WORK/sub.json")
[ "$OUT" = '[["price","10"],["qty","5"],["price","11"]]' ] || fail "sub saw $OUT"
# a late subscriber, human output: the snapshot holds the current values only
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" sub 101 --count 2 --timeout 30
echo "$OUT"
grep -q "snapshot .* price = 11" <<<"$OUT" || fail "snapshot lacks price = 11"
grep -q "snapshot .* qty = 5" <<<"$OUT" || fail "snapshot lacks qty = 5"
expect 5 in_client "$CTL" --socket "$WORK/hd.sock" sub 100 --count 1 --timeout 1
grep -q "0 of 1 message" <<<"$OUT" || fail "sub timeout not explained: $OUT"

echo "== contexts set-policy"
expect 0 H contexts set-policy 100 merge:max
echo "$OUT"
expect 0 H --json contexts set-policy 100 merge:add
jqt '.context == 100 and .policy == "merge:add" and .previous == "merge:max" and .node == 1'
expect 1 H contexts set-policy 101 merge:add
grep -q "2 key(s) hold values that are not 8-byte integers" <<<"$OUT" || fail "merge over text values: $OUT"
expect 1 H contexts set-policy 101 none
grep -q "change to or from none" <<<"$OUT" || fail "set-policy none: $OUT"
expect 1 H --json contexts set-policy 4242 replace
jqt '.ok == false and .exit == 1 and (.error | test("not active"))'
expect 2 H contexts set-policy 101 fastest
expect 2 H contexts set-policy 101
# keys and values stay across a change: an 8-byte value survives replace -> merge:add
expect 0 H contexts create 103 --policy replace
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" pub 103 total 00000007
expect 0 H --json contexts set-policy 103 merge:add
jqt '.keys == 1 and .policy == "merge:add"'
expect 0 H --json contexts show 103
jqt '.context.policy == "merge:add" and .context.keys == 1'
expect 0 in_client "$CTL" --socket "$WORK/hd.sock" sub 103 --count 1 --timeout 30
grep -q "snapshot .* total = 00000007" <<<"$OUT" || fail "value lost by set-policy: $OUT"

echo "== clients"
in_client "$CTL" --socket "$WORK/hd.sock" --json sub 101 --timeout 60 >"$WORK/kicked.json" 2>&1 &
SUB_PID=$!
for _ in $(seq 1 100); do grep -q snapshot_end "$WORK/kicked.json" && break; sleep 0.1; done
grep -q snapshot_end "$WORK/kicked.json" || fail "sub never got its snapshot: $(cat "$WORK/kicked.json")"
for _ in $(seq 1 50); do # the client names its session with its first heartbeat
	H --json clients list --context 101 | jq -e '.sessions[0].confirmed' >/dev/null && break
	sleep 0.1
done
expect 0 H clients
echo "$OUT"
expect 0 H --json clients list --context 101
jqt '.total == 1 and (.sessions | length) == 1 and .sessions[0].context == 101 and .sessions[0].confirmed'
jqt ".sessions[0].client | startswith(\"$CLIENT_IP:\")"
SESSION=$(jq -r '.sessions[0].session' <<<"$OUT")
expect 0 H --json clients list --context 4242
jqt '.total == 0 and .sessions == []'
expect 0 H clients show "$SESSION"
echo "$OUT"
expect 0 H --json clients show "$SESSION"
jqt ".client.session == $SESSION and .client.context == 101 and .client.seq >= 1"
expect 0 H clients kick "$SESSION"
echo "$OUT"
rc=0; wait "$SUB_PID" || rc=$?; SUB_PID=
[ "$rc" = 1 ] || fail "kicked sub exited $rc, expected 1: $(cat "$WORK/kicked.json")"
grep -q '"event":"closed"' "$WORK/kicked.json" || fail "kicked sub was not told: $(cat "$WORK/kicked.json")"
expect 1 H --json clients kick "$SESSION"
jqt '.ok == false and (.error | test("no session"))'
expect 1 H clients show "$SESSION"
expect 2 H clients kick abc
expect 2 H clients list --context

echo "== drain"
expect 1 H drain 1
grep -q "no other active node" <<<"$OUT" || fail "drain of a lone node: $OUT"
expect 1 H --json drain 7
jqt '.ok == false and (.error | test("not in this node.s view"))'
expect 0 H --json drain 1 --undo
jqt '.draining == false and .node == 1'
expect 0 H --json status
jqt '.draining == false'
expect 2 H drain
expect 2 H drain 1 --now

echo "== config reload"
cp "$WORK/herald.conf" "$WORK/herald.conf.orig"
sed -i 's/^\[cluster\]$/[cluster]\nheartbeat_ms = 40/' "$WORK/herald.conf"
expect 0 H config reload
echo "$OUT"
expect 0 H --json config show
jqt '.config.cluster.heartbeat_ms == 40'
sed -i 's/^heartbeat_ms = 40$/heartbeat_ms = 30\ncapacity = 9000/' "$WORK/herald.conf"
expect 0 H --json config reload
jqt '.changed == ["cluster.heartbeat_ms", "cluster.capacity"]'
sed -i 's/^heartbeat_ms = 30$/heartbeat_ms = fast/' "$WORK/herald.conf"
expect 4 H config reload
grep -q "herald.conf:11: \[cluster\] heartbeat_ms: expected" <<<"$OUT" || fail "bad reload: $OUT"
sed -i 's/^heartbeat_ms = fast$/heartbeat_ms = 30/; s/^udp_port = .*//; s/^idle = sleep$/idle = sleep\nudp_port = 7500/' "$WORK/herald.conf"
expect 4 H --json config reload
jqt '.ok == false and .exit == 4 and (.error | test("herald.conf:9: \\[dataplane\\] udp_port: changed; it applies only when heraldd restarts"))'
expect 0 H --json config show
jqt '.config.cluster.heartbeat_ms == 30 and .config.cluster.capacity == 9000 and .config.dataplane.udp_port == 7400'
cp "$WORK/herald.conf.orig" "$WORK/herald.conf"
kill -HUP "$HD_PID" # SIGHUP reloads too
for _ in $(seq 1 50); do
	H --json config show | jq -e '.config.cluster.heartbeat_ms == 50' >/dev/null && break
	sleep 0.1
done
expect 0 H --json config show
jqt '.config.cluster.heartbeat_ms == 50 and .config.cluster.capacity == 16384'
grep -q "reloaded .*herald.conf" "$WORK/hd.log" || fail "SIGHUP reload not logged: $(tail "$WORK/hd.log")"

echo "== stats"
expect 0 H stats
grep -E "^(publishes|tx_zerocopy|tx_copied|bad_magic) " <<<"$OUT"
grep -q "^fan-out: .* zero-copy, .* copied" <<<"$OUT" || fail "stats lacks zero-copy vs copied"
expect 0 H stats --nonzero
expect 0 H --json stats
# every counter and drop reason of proto.h, by the same name
for name in $(sed -n '/^#define HERALD_COUNTERS/,/^$/p' "$HERALD_ROOT/include/herald/proto.h" |
		grep -o 'X([A-Z0-9_]*' | cut -c3- | tr 'A-Z' 'a-z'); do
	jqt ".counters | has(\"$name\")"
done
for name in $(sed -n '/^#define HERALD_DROP_REASONS/,/^$/p' "$HERALD_ROOT/include/herald/proto.h" |
		grep -o 'X([A-Z0-9_]*' | cut -c3- | tr 'A-Z' 'a-z' | grep -v '^none$'); do
	jqt ".drops | has(\"$name\")"
done
jqt '.counters.publishes >= 3 and .counters.subscribes >= 2 and .dataplane'

echo "== metrics"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$WORK/metrics.txt" || fail "no metrics endpoint"
promtool check metrics <"$WORK/metrics.txt" || fail "promtool refused the metrics"
grep -E "^herald_dataplane_publishes_total [3-9]" "$WORK/metrics.txt" || fail "publishes not counted in metrics"
grep -q '^herald_dataplane_drops_total{reason="bad_magic"} ' "$WORK/metrics.txt" || fail "drops by reason missing"
grep -q '^herald_dataplane_sessions_active ' "$WORK/metrics.txt" || fail "gauge named without _total missing"
grep -q '^herald_daemon_dataplane_request_seconds_count ' "$WORK/metrics.txt" || fail "latency histogram missing"
echo "metrics: $(grep -vc '^#' "$WORK/metrics.txt") samples, promtool ok"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")" = 404 ] || fail "not 404 off /metrics"

echo "== remote endpoint (TCP, HMAC challenge)"
R() { "$CTL" --remote "127.0.0.1:$RPORT" "$@"; }
expect 0 R --key-file "$WORK/remote.key" --json status
jqt '.node == 1 and .dataplane.connected'
expect 0 R --key-file "$WORK/remote.key" contexts list
echo "$OUT"
expect 1 R --key-file "$WORK/wrong.key" status
grep -q "authentication failed" <<<"$OUT" || fail "a wrong key was not refused: $OUT"
expect 1 R --key-file "$WORK/wrong.key" --json status
jqt '.ok == false and .exit == 1'
expect 2 R status
grep -q "needs --key-file" <<<"$OUT" || fail "--remote without a key: $OUT"
expect 2 "$CTL" --remote nowhere --key-file "$WORK/remote.key" status
# a client that skips the challenge gets nothing but the refusal
exec 3<>"/dev/tcp/127.0.0.1/$RPORT"
read -r -t 5 challenge <&3 || fail "no challenge"
jq -e '.challenge | length == 64' <<<"$challenge" >/dev/null || fail "challenge: $challenge"
echo '{"cmd":"status"}' >&3
read -r -t 5 answer <&3 || fail "no answer to a request without auth"
exec 3<&-
jq -e '.ok == false and (.error | test("authentication failed"))' <<<"$answer" >/dev/null || fail "unauthenticated request: $answer"
echo "remote: the right key is served, a wrong or missing one refused"

echo "== config show"
expect 0 H config show
echo "$OUT" | head -5
grep -q "^id = 1$" <<<"$OUT" || fail "config show: $OUT"
expect 0 H --json config show
jqt '.config.node.id == 1 and .config.metrics.listen != null and .config.control.remote != null'

echo "== evict"
expect 0 H contexts evict 101
echo "$OUT"
expect 0 H --json contexts evict 100
jqt '.context == 100'
expect 1 H contexts show 101
expect 1 H contexts evict 101
grep -q "not active" <<<"$OUT" || fail "evict of an inactive context: $OUT"

echo "== help and usage"
for c in status nodes contexts clients drain stats config sub pub; do
	expect 0 H "$c" --help
	grep -q "^usage: heraldctl" <<<"$OUT" || fail "$c --help: $OUT"
done
expect 0 H --help
expect 2 H frobnicate
grep -q "expected one of status" <<<"$OUT" || fail "unknown command: $OUT"
expect 2 H pub 1 k
expect 3 "$CTL" --socket "$WORK/nothing.sock" status
expect 3 "$CTL" --socket "$WORK/nothing.sock" --json status
jqt '.ok == false and .exit == 3'

echo "== bash completion"
# complete WORDS...: what cli/heraldctl.bash offers for the last (partial) word
complete_words() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _heraldctl; echo "${COMPREPLY[*]}"' \
		_ "$HERALD_ROOT/cli/heraldctl.bash" "$@"
}
[ "$(complete_words heraldctl cl)" = clients ] || fail "completion of 'cl': $(complete_words heraldctl cl)"
grep -qw set-policy <<<"$(complete_words heraldctl contexts "")" || fail "completion lacks set-policy"
grep -qw merge:add <<<"$(complete_words heraldctl contexts set-policy 5 "")" || fail "completion lacks policies"
grep -qw kick <<<"$(complete_words heraldctl clients "")" || fail "completion lacks clients kick"
grep -qw reload <<<"$(complete_words heraldctl config "")" || fail "completion lacks config reload"
[ "$(complete_words heraldctl drain 1 --u)" = --undo ] || fail "completion lacks drain --undo"
[ "$(complete_words heraldctl --rem)" = --remote ] || fail "completion lacks --remote"

echo "== broken config files"
broken() { # NAME EXPECTED-TEXT: config check and heraldd both refuse $WORK/NAME.conf
	expect 4 "$CTL" config check "$WORK/$1.conf"
	echo "$OUT"
	grep -q -- "$2" <<<"$OUT" || fail "config check $1: '$2' not in: $OUT"
	expect 2 "$HERALD_BUILD/controlplane/heraldd" --config "$WORK/$1.conf"
	grep -q -- "$2" <<<"$OUT" || fail "heraldd --config $1: '$2' not in: $OUT"
}
sed 's/^name = lab-node$/nmae = lab-node/' "$WORK/herald.conf" >"$WORK/badkey.conf"
broken badkey "badkey.conf:3: \[node\] nmae: unknown key"
sed 's/^idle = sleep$/idle = lazy/' "$WORK/herald.conf" >"$WORK/badvalue.conf"
broken badvalue "badvalue.conf:8: \[dataplane\] idle: expected spin or sleep, got 'lazy'"
head -c -1 "$WORK/herald.conf" >"$WORK/torn.conf"
broken torn "torn.conf:20: .*torn write"
grep -v '^listen = 127.0.0.1:'"$HPORT" "$WORK/herald.conf" >"$WORK/missing.conf"
broken missing "missing.conf: \[cluster\] listen: missing"
expect 4 "$CTL" config check "$WORK/absent.conf"
grep -q "absent.conf: cannot open: No such file" <<<"$OUT" || fail "missing file: $OUT"
expect 2 "$HERALD_BUILD/controlplane/heraldd" --config "$WORK/absent.conf"

kill -TERM "$HD_PID"; wait "$HD_PID" 2>/dev/null || true; HD_PID=
[ ! -e "$WORK/hd.sock" ] || fail "heraldd left its control socket behind"
dataplane_stop
echo "ok: every heraldctl command with and without --json, sub sees pub, promtool accepts the metrics, broken configs refused"
