# Sourced by the multi-node integration tests (failover, drain): NODES nodes,
# each a namespace with a dataplane (af_packet on its own veth, idle mode
# sleep so several fit on two cores) and a heraldd with the userspace HELLO
# responder and a control socket, plus a client namespace, all on one bridge
# in namespace $P-sw. The caller sets P (namespace prefix), NODES, KEY,
# INTERVAL_MS and DEAD_AFTER first, and may set DP_EXTRA (an array of more
# dataplane options) and DP_LCORES (the dataplanes' -l; default one lcore). Torn down however the test ends.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP LOUDLY: $(basename "$0") needs root for namespaces and hugepages" >&2
	exit 77
fi

WORK=$(mktemp -d /tmp/herald-cluster.XXXXXX)
declare -A HD_PID DP_PID

ctl_ip() { echo "198.19.78.$1"; }      # heraldd: peers and HELLO responder (kernel)
dp_ip() { echo "198.19.78.$((10 + $1))"; } # dataplane (af_packet, answers ARP itself)
CLIENT_IP=198.19.78.100
in_client() { ip netns exec "$P-cl" "$@"; }

cluster_cleanup() {
	set +e
	for n in $(seq 1 "$NODES"); do
		[ -n "${HD_PID[$n]:-}" ] && kill -9 "${HD_PID[$n]}" 2>/dev/null
		[ -n "${DP_PID[$n]:-}" ] && kill -9 "${DP_PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	for n in $(seq 1 "$NODES"); do ip netns del "$P-n$n" 2>/dev/null; done
	ip netns del "$P-cl" 2>/dev/null
	ip netns del "$P-sw" 2>/dev/null
	rm -rf /dev/hugepages/"$P"-dp*map_* 2>/dev/null
	rm -rf "$WORK"
}
trap cluster_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for n in $(seq 1 "$NODES"); do
		echo "--- heraldd $n ---" >&2
		tail -n 30 "$WORK/hd$n.log" >&2 2>/dev/null
		echo "--- dataplane $n ---" >&2
		tail -n 20 "$WORK/dp$n.log" >&2 2>/dev/null
	done
	exit 1
}

nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ "$(cat $nr)" -ge $((256 * NODES)) ] || echo $((256 * NODES)) >"$nr"
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
for n in $(seq 1 "$NODES"); do
	ip netns add "$P-n$n"
	ip -n "$P-n$n" link set lo up
	veth "$P-n$n" eth0 "c$n" "$(ctl_ip "$n")"
	veth "$P-n$n" dp0 "d$n" # no kernel address: the dataplane owns dp_ip
done
ip netns add "$P-cl"
ip -n "$P-cl" link set lo up
veth "$P-cl" eth0 cl "$CLIENT_IP"
ip netns exec "$P-cl" sysctl -qw net.core.rmem_max=33554432 2>/dev/null || true

# start_node N: node N's dataplane, then its heraldd (control socket $WORK/hdN.sock).
start_node() {
	local n=$1 peers=() m
	ip netns exec "$P-n$n" "$HERALD_BUILD/dataplane/herald-dataplane" -l "${DP_LCORES:-$((n % 2))}" --no-pci \
		--file-prefix "$P-dp$n" --log-level=lib.eal:warning -- --port "af_packet:dp0" \
		--ip "$(dp_ip "$n")" --idle sleep --max-contexts 1024 --max-keys 8192 \
		--max-sessions 4096 --max-history-contexts 1 --history 64 --ctl-sock "$WORK/dp$n.sock" \
		${DP_EXTRA[@]+"${DP_EXTRA[@]}"} >"$WORK/dp$n.log" 2>&1 &
	DP_PID[$n]=$!
	for _ in $(seq 1 150); do
		grep -qs "herald-dataplane: serving" "$WORK/dp$n.log" && [ -S "$WORK/dp$n.sock" ] && break
		kill -0 "${DP_PID[$n]}" 2>/dev/null || fail "dataplane $n died"
		sleep 0.1
	done
	for m in $(seq 1 "$NODES"); do
		[ "$m" = "$n" ] || peers+=(--peer "$(ctl_ip "$m"):7600")
	done
	ip netns exec "$P-n$n" "$HERALD_BUILD/controlplane/heraldd" --node-id "$n" \
		--listen "$(ctl_ip "$n"):7600" "${peers[@]}" --hello "$(ctl_ip "$n"):7400" \
		--dataplane-sock "$WORK/dp$n.sock" --dataplane-addr "$(dp_ip "$n")" \
		--interval-ms "$INTERVAL_MS" --dead-after "$DEAD_AFTER" --key "$KEY" --xdp-pin-dir "" \
		--status-file "$WORK/st$n.json" --ctl-sock "$WORK/hd$n.sock" >"$WORK/hd$n.log" 2>&1 &
	HD_PID[$n]=$!
}
# status FILE PYTHON-EXPRESSION: evaluated on a heraldd status file (s), "?" if unreadable.
status() {
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$1" "$2" 2>/dev/null || echo "?"
}
# wait_for SECONDS CMD...: until CMD succeeds; status 1 after SECONDS.
wait_for() {
	local deadline=$(( $(date +%s%3N) + $1 * 1000 ))
	shift
	until "$@"; do
		[ "$(date +%s%3N)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}
all_active() {
	for n in $(seq 1 "$NODES"); do
		[ "$(status "$WORK/st$n.json" "sum(m['state']=='active' for m in s['members'])")" = "$NODES" ] || return 1
	done
}
# cluster_start: every node, and wait until each sees all of them active.
cluster_start() {
	for n in $(seq 1 "$NODES"); do start_node "$n"; done
	wait_for 15 all_active || fail "the $NODES nodes did not see each other active"
	echo "ok: $NODES nodes up (dataplanes on af_packet, heraldd with --hello)"
}
