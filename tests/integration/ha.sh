#!/usr/bin/env bash
# heraldd HA on three nodes, each a network namespace with its own heraldd
# and its own dataplane (net_null port: this test is about the control
# plane; clients and data are heraldd_restart's and fanout's business).
# The namespaces hang off a bridge in a fourth one. Checks:
#   1. HELLO -> REDIRECT from the userspace responder, every token verified;
#      the 30 contexts asked for get placed on all three nodes and activated
#      on their dataplanes;
#   2. kill -9 of node 3 (heraldd and dataplane): both survivors mark it
#      dead within a bounded number of heartbeat intervals (the time is
#      printed, asserted only against a generous liveness bound);
#   3. only node 3's contexts moved, both survivors agree where, and the
#      survivors' dataplanes host them; redirects no longer name node 3.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP LOUDLY: $(basename "$0") needs root for namespaces and hugepages" >&2
	exit 77
fi

P=ha$$
WORK=$(mktemp -d /tmp/herald-ha.XXXXXX)
INTERVAL_MS=${HERALD_HA_INTERVAL_MS:-50}
DEAD_AFTER=6
KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
CONTEXTS=30
declare -A HD_PID DP_PID

ip_of() { echo "198.19.77.$1"; }
in_ns() { local n=$1; shift; ip netns exec "$P-n$n" "$@"; }

cleanup() {
	set +e
	for n in 1 2 3; do
		[ -n "${HD_PID[$n]:-}" ] && kill -9 "${HD_PID[$n]}" 2>/dev/null
		[ -n "${DP_PID[$n]:-}" ] && kill -9 "${DP_PID[$n]}" 2>/dev/null
	done
	wait 2>/dev/null
	for ns in "$P-n1" "$P-n2" "$P-n3" "$P-sw"; do
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
		cat "$WORK/hd$n.log" >&2 2>/dev/null
	done
	exit 1
}

# Hugepages and bpffs as the lab sets them up.
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ "$(cat $nr)" -ge 512 ] || echo 512 >"$nr"
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }

ip netns add "$P-sw"
ip -n "$P-sw" link add br0 type bridge
ip -n "$P-sw" link set br0 up
for n in 1 2 3; do
	ip netns add "$P-n$n"
	ip -n "$P-n$n" link set lo up
	ip -n "$P-sw" link add "v$n" type veth peer name eth0 netns "$P-n$n"
	ip -n "$P-sw" link set "v$n" master br0 up
	ip -n "$P-n$n" addr add "$(ip_of $n)/24" dev eth0
	ip -n "$P-n$n" link set eth0 up
done

start_node() { # N: dataplane (null port, sleeping idle) then heraldd
	local n=$1 peers=() m
	# Not through in_ns: $! must be the process itself, not a subshell.
	ip netns exec "$P-n$n" "$HERALD_BUILD/dataplane/herald-dataplane" -l $((n % 2)) --no-pci \
		--file-prefix "$P-dp$n" --log-level=lib.eal:warning -- --port null --ip "$(ip_of "$n")" \
		--idle sleep --max-contexts 256 --max-keys 1024 --max-sessions 1024 \
		--max-history-contexts 1 --history 64 --ctl-sock "$WORK/dp$n.sock" \
		>"$WORK/dp$n.log" 2>&1 &
	DP_PID[$n]=$!
	for _ in $(seq 1 100); do
		[ -S "$WORK/dp$n.sock" ] && break
		kill -0 "${DP_PID[$n]}" 2>/dev/null || { cat "$WORK/dp$n.log" >&2; fail "dataplane $n died"; }
		sleep 0.1
	done
	for m in 1 2 3; do
		[ "$m" = "$n" ] || peers+=(--peer "$(ip_of "$m"):7600")
	done
	ip netns exec "$P-n$n" "$HERALD_BUILD/controlplane/heraldd" --node-id "$n" --listen "$(ip_of "$n"):7600" \
		"${peers[@]}" --hello "$(ip_of "$n"):7400" --dataplane-sock "$WORK/dp$n.sock" \
		--dataplane-addr "$(ip_of "$n")" --interval-ms "$INTERVAL_MS" --dead-after "$DEAD_AFTER" \
		--key "$KEY" --xdp-pin-dir "" --status-file "$WORK/st$n.json" >"$WORK/hd$n.log" 2>&1 &
	HD_PID[$n]=$!
}

# status N EXPR: evaluate a python expression over node N's status (s).
status() {
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$WORK/st$1.json" "$2" 2>/dev/null || echo "?"
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
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
		[ "$(status "$n" "sum(m['state']=='active' for m in s['members'])")" = 3 ] || return 1
	done
}
wait_for 10 all_active || fail "the three nodes did not see each other active"
echo "ok: three heraldd see each other active"

# 1. HELLO -> REDIRECT through node 1's userspace responder.
in_ns 1 "$HERALD_BUILD/tests/integration/herald-hello-check" --to "$(ip_of 1):7400" \
	--context 1 --count "$CONTEXTS" --key "$KEY" >"$WORK/hello1.log" || {
	cat "$WORK/hello1.log"
	fail "HELLO -> REDIRECT check on node 1"
}
echo "ok: $CONTEXTS HELLOs answered by node 1's userspace responder, every token verified"
placed_everywhere() {
	for n in 1 2 3; do
		[ "$(status "$n" "sum(c['confirmed'] for c in s['contexts'].values())")" = "$CONTEXTS" ] || return 1
	done
}
wait_for 10 placed_everywhere || fail "contexts not confirmed by their hosts on every node"
before=$(status 1 "' '.join('%s:%s' % (k, c['primary']) for k, c in sorted(s['contexts'].items()))")
on3=$(status 1 "sum(c['primary']==3 for c in s['contexts'].values())")
for n in 1 2 3; do
	echo "node $n hosts $(status 1 "sum(c['primary']==$n for c in s['contexts'].values())") contexts"
done
[ "$on3" -gt 0 ] || fail "node 3 hosts no context; the test needs some to move"
for n in 2 3; do
	[ "$(status "$n" "' '.join('%s:%s' % (k, c['primary']) for k, c in sorted(s['contexts'].items()))")" = "$before" ] ||
		fail "node $n disagrees with node 1 on placement"
done

# 2. kill -9 node 3, daemon and dataplane.
t_kill=$(date +%s%3N)
kill -9 "${HD_PID[3]}" "${DP_PID[3]}"
wait "${HD_PID[3]}" "${DP_PID[3]}" 2>/dev/null || true
HD_PID[3]= DP_PID[3]=
dead_seen() { grep -q "node 3 dead" "$WORK/hd1.log" && grep -q "node 3 dead" "$WORK/hd2.log"; }
wait_for 10 dead_seen || fail "survivors did not declare node 3 dead in 10 s"
bound=$(( (DEAD_AFTER + 4) * INTERVAL_MS + 500 )) # dead_after intervals + ticks + scheduling, generous
for n in 1 2; do
	t=$(grep -m1 "node 3 dead" "$WORK/hd$n.log" | sed 's/^\[\([0-9]*\)\].*/\1/')
	det=$((t - t_kill))
	echo "node $n detected node 3 dead after $det ms ($DEAD_AFTER x $INTERVAL_MS ms heartbeats;" \
		"$(grep -m1 'node 3 dead' "$WORK/hd$n.log" | sed 's/.*: //'))"
	[ "$det" -le "$bound" ] || fail "node $n took $det ms to detect the death (bound $bound ms)"
done

# 3. Only node 3's contexts moved, and the survivors host them.
moved_and_hosted() {
	for n in 1 2; do
		[ "$(status "$n" "sum(c['confirmed'] and c['primary'] in (1,2) for c in s['contexts'].values())")" = "$CONTEXTS" ] || return 1
	done
}
wait_for 10 moved_and_hosted || fail "node 3's contexts not hosted by the survivors"
after=$(status 1 "' '.join('%s:%s' % (k, c['primary']) for k, c in sorted(s['contexts'].items()))")
[ "$(status 2 "' '.join('%s:%s' % (k, c['primary']) for k, c in sorted(s['contexts'].items()))")" = "$after" ] ||
	fail "survivors disagree after failover"
python3 - "$before" "$after" <<'PY' || fail "contexts of live nodes moved"
import sys
b = dict(x.split(':') for x in sys.argv[1].split())
a = dict(x.split(':') for x in sys.argv[2].split())
moved = [k for k in b if b[k] != a.get(k)]
bad = [k for k in moved if b[k] != '3']
print("moved %d contexts, all from node 3: %s" % (len(moved), "yes" if not bad else "NO: %s" % bad))
sys.exit(1 if bad or len(moved) != sum(v == '3' for v in b.values()) else 0)
PY
for n in 1 2; do
	python3 - "$WORK/dp$n.sock" "$n" "$after" <<'PY' || fail "dataplane $n does not host what heraldd says"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
f.write(b'{"cmd":"contexts"}\n'); f.flush()
have = {c['id'] for c in json.loads(f.readline())['contexts']}
want = {int(k) for k, v in (x.split(':') for x in sys.argv[3].split()) if v == sys.argv[2]}
print("dataplane %s hosts %d contexts" % (sys.argv[2], len(have)))
sys.exit(0 if want <= have else 1)
PY
done
in_ns 2 "$HERALD_BUILD/tests/integration/herald-hello-check" --to "$(ip_of 2):7400" \
	--context 1 --count "$CONTEXTS" --key "$KEY" >"$WORK/hello2.log" || fail "HELLO check on node 2"
! grep -q "$(ip_of 3):" "$WORK/hello2.log" || fail "node 2 still redirects to the dead node 3"
echo "ok: after the failover node 2 redirects all $CONTEXTS contexts to live nodes"
grep -h "failover of node 3" "$WORK/hd1.log" "$WORK/hd2.log"
echo "PASS"
