#!/usr/bin/env bash
# Failover under load (issue 5): three nodes, each a namespace with a
# dataplane (af_packet on its own veth, idle mode sleep so three fit on two
# cores) and a heraldd with the userspace HELLO responder, all on one
# bridge; a client namespace runs herald-failover-check: N subscribers on M
# contexts and a publisher, all on the seed list of the three HELLO
# responders. The checker kills node 3's dataplane and heraldd (kill -9)
# under publish load and prints the time until every subscriber of a moved
# context gets updates from its new primary, the reconnect rate in 100 ms
# buckets, that only node 3's contexts moved, the replica relay (every
# context's copy on its replica holds the primary's state, relay lag), and
# that every subscriber ends with the publisher's final state without a
# republish. This script adds the detection time from the survivors' logs,
# checks their tables agree, and prints what each relay did.
#
# HERALD_FAILOVER_CLIENTS / HERALD_FAILOVER_CONTEXTS: 100 / 20 by default
# (CI); the issue's size is 1000 / 100. Times are printed; only liveness is
# asserted (the VM has two shared cores).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP LOUDLY: $(basename "$0") needs root for namespaces and hugepages" >&2
	exit 77
fi

CLIENTS=${HERALD_FAILOVER_CLIENTS:-100}
CONTEXTS=${HERALD_FAILOVER_CONTEXTS:-20}
MERGES=${HERALD_FAILOVER_MERGES:-6} # merge:add contexts 9000.., configured on every dataplane
RATE=${HERALD_FAILOVER_RATE:-1000}
INTERVAL_MS=50
DEAD_AFTER=${HERALD_FAILOVER_DEAD_AFTER:-10}
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
P=fo$$
WORK=$(mktemp -d /tmp/herald-failover.XXXXXX)
declare -A HD_PID DP_PID

ctl_ip() { echo "198.19.78.$1"; }      # heraldd: peers and HELLO responder (kernel)
dp_ip() { echo "198.19.78.$((10 + $1))"; } # dataplane (af_packet, answers ARP itself)
CLIENT_IP=198.19.78.100

cleanup() {
	set +e
	for n in 1 2 3; do
		[ -n "${HD_PID[$n]:-}" ] && kill -9 "${HD_PID[$n]}" 2>/dev/null
		[ -n "${DP_PID[$n]:-}" ] && kill -9 "${DP_PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	for ns in "$P-n1" "$P-n2" "$P-n3" "$P-cl" "$P-sw"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf /dev/hugepages/"$P"-dp*map_* 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for n in 1 2 3; do
		echo "--- heraldd $n ---" >&2
		tail -n 30 "$WORK/hd$n.log" >&2 2>/dev/null
		echo "--- dataplane $n ---" >&2
		tail -n 20 "$WORK/dp$n.log" >&2 2>/dev/null
	done
	exit 1
}

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ "$(cat $nr)" -ge 768 ] || echo 768 >"$nr"
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
sysctl -qw net.core.rmem_max=33554432 || true

# veth NS IFNAME PORTNAME [IP]: a veth from namespace NS to the bridge.
veth() {
	ip -n "$P-sw" link add "$3" type veth peer name "$2" netns "$1"
	ip -n "$P-sw" link set "$3" master br0 up
	ip netns exec "$P-sw" ethtool -K "$3" tx off rx off >/dev/null 2>&1 || true
	ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || true
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" || true
	[ -z "${4:-}" ] || ip -n "$1" addr add "$4/24" dev "$2"
	ip -n "$1" link set "$2" up
}
ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set br0 up
for n in 1 2 3; do
	ip netns add "$P-n$n"
	ip -n "$P-n$n" link set lo up
	veth "$P-n$n" eth0 "c$n" "$(ctl_ip "$n")"
	veth "$P-n$n" dp0 "d$n" # no kernel address: the dataplane owns dp_ip
done
ip netns add "$P-cl"
ip -n "$P-cl" link set lo up
veth "$P-cl" eth0 cl "$CLIENT_IP"
ip netns exec "$P-cl" sysctl -qw net.core.rmem_max=33554432 2>/dev/null || true

MERGE_OPTS=()
for ((i = 0; i < MERGES; i++)); do MERGE_OPTS+=(--context "$((9000 + i))=merge:add"); done
start_node() {
	local n=$1 peers=() m
	ip netns exec "$P-n$n" "$HERALD_BUILD/dataplane/herald-dataplane" -l $((n % 2)) --no-pci \
		--file-prefix "$P-dp$n" --log-level=lib.eal:warning -- --port "af_packet:dp0" \
		--ip "$(dp_ip "$n")" --idle sleep --max-contexts 1024 --max-keys 8192 \
		--max-sessions 4096 --max-history-contexts 1 --history 64 --ctl-sock "$WORK/dp$n.sock" \
		"${MERGE_OPTS[@]}" \
		>"$WORK/dp$n.log" 2>&1 &
	DP_PID[$n]=$!
	for _ in $(seq 1 150); do
		grep -qs "herald-dataplane: serving" "$WORK/dp$n.log" && [ -S "$WORK/dp$n.sock" ] && break
		kill -0 "${DP_PID[$n]}" 2>/dev/null || fail "dataplane $n died"
		sleep 0.1
	done
	for m in 1 2 3; do
		[ "$m" = "$n" ] || peers+=(--peer "$(ctl_ip "$m"):7600")
	done
	ip netns exec "$P-n$n" "$HERALD_BUILD/controlplane/heraldd" --node-id "$n" \
		--listen "$(ctl_ip "$n"):7600" "${peers[@]}" --hello "$(ctl_ip "$n"):7400" \
		--dataplane-sock "$WORK/dp$n.sock" --dataplane-addr "$(dp_ip "$n")" \
		--interval-ms "$INTERVAL_MS" --dead-after "$DEAD_AFTER" --key "$KEY" --xdp-pin-dir "" \
		--status-file "$WORK/st$n.json" >"$WORK/hd$n.log" 2>&1 &
	HD_PID[$n]=$!
}
status() {
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2" 2>/dev/null || echo "?"
}
wait_for() {
	local deadline=$(( $(date +%s%3N) + $1 * 1000 ))
	shift
	until "$@"; do
		[ "$(date +%s%3N)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
for n in 1 2 3; do start_node "$n"; done
all_active() {
	for n in 1 2 3; do
		[ "$(status "$WORK/st$n.json" "sum(m['state']=='active' for m in s['members'])")" = 3 ] || return 1
	done
}
wait_for 15 all_active || fail "the three nodes did not see each other active"
echo "ok: three nodes up (dataplanes on af_packet, heraldd with --hello)"

SEEDS="$(ctl_ip 1):7400,$(ctl_ip 2):7400,$(ctl_ip 3):7400"
cmd=(ip netns exec "$P-cl" "$HERALD_BUILD/tests/integration/herald-failover-check" --seeds "$SEEDS"
	--victim "$(dp_ip 3)" --kill "${DP_PID[3]},${HD_PID[3]}" --subscribers "$CLIENTS"
	--contexts "$CONTEXTS" --merge-contexts "$MERGES" --rate "$RATE" --status "$WORK/st1.json"
	--status-before "$WORK/before1.json" --dataplanes "$(dp_ip 1),$(dp_ip 2),$(dp_ip 3)"
	--node-status "$WORK/st1.json,$WORK/st2.json,$WORK/st3.json")
echo "clients: $CLIENTS on $CONTEXTS contexts, publisher at $RATE updates/s"
rc=0
"${cmd[@]}" | tee "$WORK/check.log" || rc=$?
HD_PID[3]= DP_PID[3]=

t_kill=$(sed -n 's/^kill_wall_ms: //p' "$WORK/check.log")
[ -n "$t_kill" ] || fail "the checker did not get to the kill (rc $rc)"
for n in 1 2; do
	# The first declaration after the kill (an overloaded host can cause earlier, false ones).
	line=$(awk -v k="$t_kill" -F'[][]' '/node 3 dead/ && $2 >= k { print; exit }' "$WORK/hd$n.log")
	[ -n "$line" ] || fail "node $n never declared node 3 dead"
	t=$(sed 's/^\[\([0-9]*\)\].*/\1/' <<<"$line")
	echo "detection: node $n declared node 3 dead $((t - t_kill)) ms after the kill (${line#*: })"
	fo=$(grep -m1 "failover of node 3" "$WORK/hd$n.log") || fail "node $n did no failover"
	echo "  ${fo#*] }"
	echo "  replica copies promoted: $(grep -c "replica copy promoted" "$WORK/hd$n.log" || true)"
	echo "  relay: $(status "$WORK/st$n.json" "s['relay']")"
done
# False detections (a peer declared dead that was not killed) move contexts of live nodes.
false_dead=$(grep -h "dead: silent" "$WORK"/hd[123].log | grep -v "node 3 dead" || true)
[ -z "$false_dead" ] || { echo "false failure detections under load (heraldd):"; echo "$false_dead"; }
# The survivors' tables: only node 3's contexts moved, and the two agree.
python3 - "$WORK/before1.json" "$WORK/st1.json" "$WORK/st2.json" <<'PY' || fail "survivor tables"
import json, sys
b, a1, a2 = (json.load(open(p))['contexts'] for p in sys.argv[1:])
pb = {k: c['primary'] for k, c in b.items()}
p1 = {k: c['primary'] for k, c in a1.items()}
p2 = {k: c['primary'] for k, c in a2.items()}
moved = [k for k in pb if pb[k] != p1.get(k)]
bad = [k for k in moved if pb[k] != 3] + [k for k in p1 if p1[k] == 3]
print("heraldd tables: %d contexts before, %d on node 3, %d moved, only node 3's: %s, survivors agree: %s"
      % (len(pb), sum(v == 3 for v in pb.values()), len(moved), "yes" if not bad else "NO %s" % bad,
         "yes" if p1 == p2 else "NO"))
sys.exit(1 if bad or p1 != p2 else 0)
PY
[ "$rc" = 0 ] || fail "herald-failover-check failed (rc $rc)"
echo "command: HERALD_FAILOVER_CLIENTS=$CLIENTS HERALD_FAILOVER_CONTEXTS=$CONTEXTS meson test -C build failover --verbose"
echo PASS
