#!/usr/bin/env bash
# Herald against the pub/sub servers users pick today, in one run: builds a
# namespace lab of its own, starts the dataplane (as scripts/demo does), a
# kernel UDP echo, redis-server, nats-server and mosquitto, then for each
# payload size runs herald-pingpong (Herald and the echo floor) and
# herald-peer-pingpong (Redis pub/sub, NATS, MQTT QoS 0) back to back, and
# prints one table with ratios against the best peer and the echo floor.
# Then, in the same lab, fan-out: herald-peer-fanout, 1 publisher -> N
# subscribers (--fanout LIST, default 1,10,100,1000; "none" skips it),
# deliveries/s and the server's CPU per delivery, Herald and the peers
# interleaved per N; then Herald with and without conflation (--conflation
# RATE, default 20000 msgs/s published open loop, 0 skips it): subscribers
# with a credit window on a `replace` and on a `none` context, side by side.
# --sizes none skips the ping-pong. --busy-poll: every ping-pong client polls
# without sleeping (libnats still reads on a thread of its own); give the
# servers the other CPU then (--server-cpu 1), or the client starves them.
# --peers-alone: stop Herald's dataplane (it spins on CPU 1) while the peers'
# ping-pong runs, so servers on CPU 1 do not share it with a spinning
# process. --perf FILE: perf record -e cpu-clock -g of the dataplane during
# the ping-pong (the first size's Herald phase with --peers-alone).
# --fanout-idle sleep: the dataplane naps when idle during the fan-out (the
# peers' cases), default as --idle.
#
#   sudo bench/peers.sh [--sizes LIST|none] [--count N] [--busy-poll]
#                       [--fanout LIST|none] [--fanout-seconds S]
#                       [--conflation RATE] [--server-cpu CPU]
#                       [--port af_xdp|af_packet] [--idle spin|sleep]
#                       [--peers-alone] [--fanout-idle spin|sleep]
#                       [--perf FILE] [--json FILE] [--out FILE]
#
# Path: every client runs in the lab's client namespace on CPU 0. Herald's
# frames cross a veth to the dataplane (spinning on CPU 1); the echo and the
# three peer servers listen on the other veth pair, in the echo namespace
# (pinned to --server-cpu, default 0, where the echo always runs). Results,
# with the exact command, the commit and what else was running, are appended
# to bench/results/peers-<date>.txt (or --out).
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_LAB_PREFIX=${HERALD_LAB_PREFIX:-hpeers}
export HERALD_DP_PREFIX=${HERALD_DP_PREFIX:-$HERALD_LAB_PREFIX}
. scripts/lib.sh

sizes=125,256,512,1024,1500,2000 count=10000 server_cpu=0 port=af_xdp json=
fanout=1,10,100,1000 fanout_seconds=3 idle=spin conflation=20000 busy=
# The conflation cases' contexts (herald-peer-fanout --contexts).
REPLACE_CTX=1001 NONE_CTX=1002 perf_out= peers_alone= fanout_idle=
out=bench/results/peers-$(date +%F).txt
cmdline="$0 $*"
while [ $# -gt 0 ]; do
	case "$1" in
	--sizes) sizes=${2:?--sizes needs a list}; shift 2 ;;
	--count) count=${2:?--count needs a number}; shift 2 ;;
	--fanout) fanout=${2:?--fanout needs a list or none}; shift 2 ;;
	--fanout-seconds) fanout_seconds=${2:?--fanout-seconds needs a number}; shift 2 ;;
	--conflation) conflation=${2:?--conflation needs a rate}; shift 2 ;;
	--busy-poll) busy=--busy-poll; shift ;;
	--peers-alone) peers_alone=1; shift ;;
	--fanout-idle) fanout_idle=${2:?--fanout-idle needs spin or sleep}; shift 2 ;;
	--server-cpu) server_cpu=${2:?--server-cpu needs a CPU list}; shift 2 ;;
	--port) port=${2:?--port needs af_xdp or af_packet}; shift 2 ;;
	--idle) idle=${2:?--idle needs spin or sleep}; shift 2 ;;
	--json) json=$(realpath -m "${2:?--json needs a file name}"); shift 2 ;;
	--out) out=$(realpath -m "${2:?--out needs a file name}"); shift 2 ;;
	--perf) perf_out=$(realpath -m "${2:?--perf needs a file name}"); shift 2 ;;
	-h|--help) sed -n '2,36p' "$0"; exit 0 ;;
	*) echo "peers.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case "$port" in af_xdp|af_packet) ;; *) echo "peers.sh: --port expects af_xdp or af_packet" >&2; exit 2 ;; esac
fanout_idle=${fanout_idle:-$idle}
case "$idle $fanout_idle" in spin\ spin|spin\ sleep|sleep\ spin|sleep\ sleep) ;;
*) echo "peers.sh: --idle and --fanout-idle expect spin or sleep" >&2; exit 2 ;; esac
[[ $sizes =~ ^(none|[0-9]+(,[0-9]+)*)$ ]] || { echo "peers.sh: --sizes expects a comma-separated list or none" >&2; exit 2; }
[[ $conflation =~ ^[0-9]+$ ]] || { echo "peers.sh: --conflation expects messages/s (0: off)" >&2; exit 2; }
[[ $fanout =~ ^(none|[0-9]+(,[0-9]+)*)$ ]] || { echo "peers.sh: --fanout expects a comma-separated list or none" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "peers.sh: must run as root (namespaces, hugepages, XDP)" >&2; exit 1; }
for b in redis-server nats-server mosquitto python3; do
	command -v "$b" >/dev/null || { echo "peers.sh: $b not installed (run scripts/deps)" >&2; exit 1; }
done

echo "== build ($HERALD_BUILD)"
herald_build
peer_bin=$HERALD_BUILD/bench/herald-peer-pingpong
[ -x "$peer_bin" ] || { echo "peers.sh: $peer_bin not built (client libraries missing? run scripts/deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/herald-peers.XXXXXX)
servers=() sampler= perf_pid= fanout_bin=$HERALD_BUILD/bench/herald-peer-fanout
cleanup() {
	[ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
	[ -z "$perf_pid" ] || kill -INT "$perf_pid" 2>/dev/null || true
	for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
	dataplane_stop || true
	scripts/lab down
	rm -rf "$work"
}
trap cleanup EXIT

echo "== lab $HERALD_LAB_PREFIX"
eval "$(scripts/lab up)"
# 1 000 subscribers are 1 000 connections (and descriptors) at every server
# and in the bench client: the soft limit up to the hard one.
ulimit -n "$(ulimit -Hn)"
echo "== $(ulimit -n) descriptors per process"
# Run in the background only (it execs): $! is then the server's own pid.
in_servers() { exec ip netns exec "$ECHO_NS" taskset -c "$server_cpu" "$@"; }
in_client() { ip netns exec "$CLIENT_NS" taskset -c 0 "$@"; }

# The servers as a user would run them for latency: no persistence, Nagle
# off where it is an option (Redis and NATS turn it off by themselves).
cat >"$work/mosquitto.conf" <<CONF
listener 1883 $ECHO_IP
allow_anonymous true
set_tcp_nodelay true
persistence false
log_dest stderr
user root
CONF
in_servers "$HERALD_BUILD/bench/herald-echo" --bind "$ECHO_IP:7400" --quiet 2>"$work/echo.log" &
servers+=($!)
in_servers redis-server --bind "$ECHO_IP" --port 6379 --save '' --appendonly no \
	--protected-mode no --daemonize no --maxclients 10000 --dir "$work" >"$work/redis.log" 2>&1 &
servers+=($!)
in_servers nats-server -a "$ECHO_IP" -p 4222 >"$work/nats.log" 2>&1 &
servers+=($!)
in_servers mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
servers+=($!)
for p in 6379 4222 1883; do
	for _ in $(seq 1 50); do
		ip netns exec "$CLIENT_NS" bash -c "exec 3<>/dev/tcp/$ECHO_IP/$p" 2>/dev/null && continue 2
		sleep 0.1
	done
	echo "peers.sh: nothing listens on $ECHO_IP:$p after 5 s; server logs:" >&2
	tail -n 5 "$work"/*.log >&2
	exit 1
done
versions="redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), nats-server $(nats-server --version | sed 's/.*v//'), $(mosquitto -h 2>&1 | sed -n '1s/^mosquitto version /mosquitto /p' || true); hiredis $(pkg-config --modversion hiredis), libnats $(pkg-config --modversion libnats), libmosquitto $(pkg-config --modversion libmosquitto)"
echo "== servers: $versions"

# --idle sleep: the dataplane naps when idle (the default spins), for hosts
# where its core is shared, like this project's.
dp_args=("$port:$DATAPLANE_IF" --idle "$idle" --context "$REPLACE_CTX=replace" --context "$NONE_CTX=none"
	--history 1024)
dataplane_start "$work/dp.log" "${dp_args[@]}"
grep -E '^port|serving' "$work/dp.log"

load() { echo "-- $(uptime)"; top -bn1 -w 160 | sed -n '8,13p'; }
load >"$work/load.txt"
(while sleep 15; do load; done) >>"$work/load.txt" &
sampler=$!

herald=("$HERALD_BUILD/bench/herald-pingpong" --node "$DATAPLANE_IP" --echo "$ECHO_IP:7400" --count "$count" $busy)
peers=("$peer_bin" --node "$ECHO_IP" --count "$count" $busy)
status=0
if [ -n "$perf_out" ] && [ "$sizes" != none ]; then
	perf record -q -e cpu-clock -g -p "$DP_PID" -o "$perf_out" 2>"$work/perf.log" &
	perf_pid=$!
fi
# One size at a time, every path back to back, so all see the same moment.
[ "$sizes" = none ] || for s in ${sizes//,/ }; do
	echo "== size $s"
	[ -n "$DP_PID" ] || dataplane_start "$work/dp.log" "${dp_args[@]}"
	in_client "${herald[@]}" --sizes "$s" --json "$work/herald-$s.json" >>"$work/raw.txt" 2>&1 || status=1
	[ -z "$peers_alone" ] || dataplane_stop || status=1
	in_client "${peers[@]}" --sizes "$s" --json "$work/peers-$s.json" >>"$work/raw.txt" 2>&1 || status=1
done
if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=
fi
# Fan-out: the dataplane as --fanout-idle says (sleep: it naps while the
# peers' cases run, so servers on its CPU do not share it with a spinner).
if [ "$fanout" != none ] && [ "$fanout_idle" != "$idle" ]; then
	dataplane_stop || status=1
	dp_args[2]=$fanout_idle
fi
[ -n "$DP_PID" ] || dataplane_start "$work/dp.log" "${dp_args[@]}"
fan=()
if [ "$fanout" != none ]; then
	# The server processes (their CPU time is read around each case); the
	# echo is servers[0], then redis, nats, mosquitto in the order started.
	# A batch to 1 000 MQTT subscribers takes over a second: wait for it.
	fan=("$fanout_bin" --herald "$DATAPLANE_IP" --node "$ECHO_IP" --subscribers "$fanout"
		--seconds "$fanout_seconds" --timeout-ms 10000 --conflation "$conflation"
		--contexts "$REPLACE_CTX,$NONE_CTX")
	pids="herald=$DP_PID,redis=${servers[1]},nats=${servers[2]},mqtt=${servers[3]}"
	echo "== fan-out ${fanout//,/, } subscribers"
	in_client "${fan[@]}" --server-pids "$pids" --json "$work/fanout.json" \
		>"$work/fanout.txt" 2>>"$work/raw.txt" || status=1
fi
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
sampler=
load >>"$work/load.txt"
dataplane_stop || status=1

: >"$work/table.txt"
[ "$sizes" = none ] || python3 bench/peers/table.py "$work" "$sizes" ${json:+"$json"} | tee "$work/table.txt" || status=1
[ ! -s "$work/fanout.txt" ] || tee -a "$work/table.txt" <"$work/fanout.txt"
[ -z "$json" ] || [ ! -s "$work/fanout.json" ] || cp "$work/fanout.json" "${json%.json}-fanout.json"

mkdir -p "$(dirname "$out")"
{
	echo "# herald vs peers (ping-pong, fan-out), $(date -u '+%F %T UTC')"
	echo "command:   sudo HERALD_BUILD=$HERALD_BUILD $cmdline"
	echo "herald:    ip netns exec $CLIENT_NS taskset -c 0 ${herald[*]} --sizes SIZE"
	echo "peers:     ip netns exec $CLIENT_NS taskset -c 0 ${peers[*]} --sizes SIZE"
	[ ${#fan[@]} = 0 ] || echo "fan-out:   ip netns exec $CLIENT_NS taskset -c 0 ${fan[*]} --server-pids herald=PID,.."
	[ -z "$perf_out" ] || echo "perf:      perf record -e cpu-clock -g -p <dataplane> -o $perf_out (during the ping-pong)"
	echo "servers:   in $ECHO_NS on CPU $server_cpu: herald-echo, redis-server, nats-server, mosquitto ($versions)"
	echo "dataplane: herald-dataplane -l ${HERALD_DP_LCORE:-1} --no-pci -- --port $port:$DATAPLANE_IF --ip $DATAPLANE_IP --idle $idle (fan-out: $fanout_idle) --context $REPLACE_CTX=replace --context $NONE_CTX=none --history 1024"
	echo "commit:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree has uncommitted changes)')"
	echo "machine:   $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r)"
	echo
	cat "$work/table.txt"
	echo
	echo "== raw output"
	grep -v '^size [0-9]* ' "$work/raw.txt"
	echo
	echo "== the dataplane's counters at exit"
	grep -E '^[a-z_]+ +[0-9]+$' "$work/dp.log" | awk '$2 != 0' | tr '\n' ' ' | fold -s -w 120
	echo
	echo
	echo "== what else ran (top, at the start, every 15 s and at the end)"
	cat "$work/load.txt"
	echo
} >>"$out"
echo "peers.sh: results appended to $out"
exit "$status"
