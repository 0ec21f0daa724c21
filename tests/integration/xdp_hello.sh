#!/usr/bin/env bash
# The steer XDP program on the dataplane's af_xdp port (docs/xdp.md): with a
# route and a token key written into its pinned maps, HELLOs from the client
# namespace are answered with REDIRECTs by XDP on the dataplane's veth
# (herald-hello-check verifies every byte and the token), the dataplane never
# sees them, and ARP, ping and herald data still reach the dataplane. Then a
# dataplane with --token-key on the same port answers the HELLOs XDP cannot,
# and heraldctl sub subscribes with the token it got.
. "$(dirname "$0")/lab.sh"
maps() { "$HERALD_BUILD/tests/integration/herald-xdp-maps" --pin-dir "$PIN" "$@"; }
xdp() { maps --stats | awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'; }
PIN=/sys/fs/bpf/$HERALD_DP_PREFIX
KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
N=20

dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF"
grep -q "xdp: steer on $DATAPLANE_IF" "$WORK/dp.log" || fail "steer program not in place"
# A veth delivers XDP_TX frames to its peer only if the peer runs an XDP
# program too (its NAPI ring is what receives them; a NIC has no such need):
# the loss injector's object at its default rate 0 passes everything.
ip -n "$CLIENT_NS" link set dev "$CLIENT_IF" xdpdrv obj "$HERALD_BUILD/xdp/loss.bpf.o" sec xdp ||
	fail "cannot attach a pass-through XDP program to $CLIENT_IF"

# No key yet: a HELLO goes up (to the kernel, which does not own the address).
in_client "$HERALD_BUILD/tests/integration/herald-hello-check" --to "$DATAPLANE_IP:7400" \
	--context 4242 --key "$KEY" >/dev/null 2>&1 && fail "a HELLO was answered before any key was installed"
[ "$(xdp hello_no_key)" -ge 1 ] || fail "HELLO without key not counted: $(maps --stats | tr '\n' ' ')"

maps --ttl 30 --secret "$KEY" --route "1000+$N=$DATAPLANE_IP:7400/0" || fail "cannot write the pinned maps"
in_client "$HERALD_BUILD/tests/integration/herald-hello-check" --to "$DATAPLANE_IP:7400" \
	--context 1000 --count "$N" --key "$KEY" --ttl 30 --expect-ip "$DATAPLANE_IP" | tee "$WORK/hello.log" ||
	fail "HELLO not answered with a valid REDIRECT by XDP: $(maps --stats | tr '\n' ' ')"
[ "$(grep -c 'token ok' "$WORK/hello.log")" -eq "$N" ] || fail "not every context redirected"
# A context with no route: to userspace, counted.
in_client "$HERALD_BUILD/tests/integration/herald-hello-check" --to "$DATAPLANE_IP:7400" \
	--context 999 --key "$KEY" >/dev/null 2>&1 && fail "a HELLO for an unrouted context was answered"

# The dataplane's own traffic still reaches it through the same program.
in_client ping -c 3 -i 0.2 -W 2 "$DATAPLANE_IP" >/dev/null || fail "ping not answered with steer in place"
in_client "$HERALD_BUILD/tests/integration/herald-fanout-check" --node "$DATAPLANE_IP" \
	--subscribers 5 --updates 200 --keys 10 >"$WORK/fanout.log" || fail "herald data not served: $(cat "$WORK/fanout.log")"

maps --stats | tee "$WORK/xdp.txt"
redirects=$(xdp redirects_sent) unknown=$(xdp hello_unknown_context)
steered=$(xdp node_steered) data=$(xdp xsk_redirected)
dataplane_stop
hellos_seen=$(counter "$WORK/dp.log" drop_unexpected_type)
[ "$redirects" -ge "$N" ] || fail "redirects_sent=$redirects, expected >= $N"
[ "$unknown" -ge 1 ] || fail "hello_unknown_context=$unknown"
[ "$steered" -ge 4 ] || fail "node_steered=$steered: ARP and ICMP did not go to the dataplane"
[ "$data" -ge 200 ] || fail "xsk_redirected=$data"
[ "$hellos_seen" -eq 0 ] || fail "the dataplane saw $hellos_seen HELLOs"
echo "ok: XDP answered $redirects HELLOs (REDIRECT, token verified), $unknown unrouted to userspace," \
	"$steered ARP/ICMP and $data herald frames steered into the dataplane"

# A node started with --token-key (docs/protocol.md §3.2.1): the steer program
# sends the HELLOs it cannot answer (this context has no route) into the
# AF_XDP socket, the dataplane answers them with a REDIRECT to itself, and
# heraldctl sub (refused TOKEN_REQUIRED first) gets its token and the snapshot.
CTL=$HERALD_BUILD/cli/heraldctl
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/token.key"
unrouted_before=$(xdp hello_unknown_context) # the pinned counters go on from the first dataplane
dataplane_start "$WORK/dp2.log" "af_xdp:$DATAPLANE_IF" --token-key "$WORK/token.key"
in_client "$CTL" pub 5000 k v --node "$DATAPLANE_IP" >/dev/null || fail "pub to a node with a token key"
in_client "$CTL" --json sub 5000 --node "$DATAPLANE_IP" --count 1 --timeout 30 >"$WORK/sub.json" 2>&1 ||
	fail "heraldctl sub against a token-requiring af_xdp node: $(cat "$WORK/sub.json")"
dataplane_stop
c2() { counter "$WORK/dp2.log" "$1"; }
[ "$(c2 drop_token_required)" -ge 1 ] && [ "$(c2 redirects_sent)" -ge 1 ] && [ "$(c2 tokens_verified)" -ge 1 ] &&
	[ "$(c2 xdp_hello_unknown_context)" -gt "$unrouted_before" ] ||
	fail "token path: $(grep -E '^(drop_token|redirects_sent|tokens_verified|xdp_hello)' "$WORK/dp2.log" | tr '\n' ' ')"
echo "ok: with --token-key, XDP handed $(( $(c2 xdp_hello_unknown_context) - unrouted_before )) unrouted HELLO(s) to the dataplane," \
	"which answered $(c2 redirects_sent); heraldctl sub was refused $(c2 drop_token_required) time(s)," \
	"then subscribed with its token"
