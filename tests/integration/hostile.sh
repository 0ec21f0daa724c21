#!/usr/bin/env bash
# Hostile input (issue 8): floods from spoofed sources, and one source
# trying to exhaust session state.
#  1. 100 000 HELLOs and 100 000 SUBSCRIBEs for made-up contexts (asking for
#     10 ms heartbeats), each from a random spoofed address and port: the
#     dataplane sends no more bytes than it receives, sends no heartbeat to a
#     session whose client never named it, reclaims those sessions and their
#     empty contexts, and keeps serving.
#  2. One address opening sessions from 300 ports stops at
#     --max-sessions-per-source; another address still gets sessions.
#  3. Measured, not asserted: SUBSCRIBE for a context that holds state is
#     answered with its snapshot, larger than the request. That amplification
#     is the open item of docs/protocol.md §9 (token not yet required).
. "$(dirname "$0")/lab.sh"
PER_SOURCE=50
FLOOD=${HERALD_HOSTILE_FLOOD:-100000}

dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --max-sessions-per-source "$PER_SOURCE" \
	--stats-interval 1
second_ip=${CLIENT_IP%.*}.$(( ${CLIENT_IP##*.} + 100 ))
in_client ip addr add "$second_ip/24" dev "$CLIENT_IF"

in_client python3 - "$DATAPLANE_IP" "$FLOOD" "$PER_SOURCE" "$second_ip" >"$WORK/flood.log" <<'PY' ||
import random, socket, struct, sys, time
node, flood, per_source, second_ip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
PORT = 7400

def hdr(typ, length, ctx, ses=0):
    return struct.pack("!HBBHHIIQHHI", 0x4852, 1, typ, 0, length, ctx, ses, 0, 0, length, 0)

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
dst = socket.inet_aton(node)

def spoofed(payload):
    src = struct.pack("!I", random.randrange(0x0b000001, 0x0bfffffe))  # 11.0.0.0/8
    udp = struct.pack("!HHHH", random.randrange(1024, 65535), PORT, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    raw.sendto(ip + udp, (node, 0))
    return 14 + len(ip) + len(udp)  # bytes on the wire the node receives (Ethernet included)

sent = 0
hello = lambda: hdr(8, 32, random.randrange(1, 1 << 31)) + bytes(32)
subscribe = lambda: hdr(1, 8, random.randrange(1, 1 << 31)) + struct.pack("!HHI", 10, 0, 0)
for make in (hello, subscribe):
    for i in range(flood):
        sent += spoofed(make())
        if i % 2000 == 0:
            time.sleep(0.01)  # a flood, not a buffer overflow in our own socket
print("flood_bytes", sent)
time.sleep(2.5)  # the flood's sessions expire unconfirmed (2 s at least), their contexts with them

# One address, many ports, one context: the per-source limit.
socks = []
for i in range(6 * per_source):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 0))
    s.sendto(hdr(1, 8, 42) + struct.pack("!HHI", 1000, 0, 0), (node, PORT))
    socks.append(s)
time.sleep(0.5)
answered = refused = 0
for s in socks:
    s.settimeout(0.05)
    try:
        d = s.recv(2048)
    except socket.timeout:
        continue
    refused += d[3] == 7
    answered += d[3] == 2
print("one_source_snapshots", answered)
print("one_source_refused", refused)
# Another address is not affected by the first one's limit.
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((second_ip, 0))
s.settimeout(2)
s.sendto(hdr(1, 8, 42) + struct.pack("!HHI", 1000, 0, 0), (node, PORT))
print("second_source_type", s.recv(2048)[3])

# Measured: a spoofed SUBSCRIBE for a context that holds 20 keys of 200 bytes.
pub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for k in range(20):
    key = b"key%02d" % k
    body = struct.pack("!H", len(key)) + key + b"v" * 200
    pub.sendto(hdr(4, len(body), 43) + body, (node, PORT))
time.sleep(0.2)
req = hdr(1, 8, 43) + struct.pack("!HHI", 0, 0, 0)
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.bind((second_ip, 0))  # the first address is at its session limit
probe.settimeout(1)
probe.sendto(req, (node, PORT))
got = 0
try:
    while True:
        d = probe.recv(4096)
        got += len(d)
        if d[3] == 2 and struct.unpack("!H", d[4:6])[0] & 1:  # SNAP_END
            break
except socket.timeout:
    pass
print("populated_subscribe_request", len(req))
print("populated_subscribe_answer", got)
PY
	fail "flood script failed: $(cat "$WORK/flood.log")"
cat "$WORK/flood.log"
value() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/flood.log"; }

in_client ping -c 2 -i 0.2 -W 2 "$DATAPLANE_IP" >/dev/null || fail "dataplane stopped answering after the flood"
dataplane_stop
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log" | grep -E "^(rx_|tx_|drop_|sessions|subscribes|errors)"

rx=$(counter "$WORK/dp.log" rx_bytes)
tx=$(counter "$WORK/dp.log" tx_bytes)
hellos=$(counter "$WORK/dp.log" drop_unexpected_type)
heartbeats=$(counter "$WORK/dp.log" heartbeats_sent)
unconfirmed=$(counter "$WORK/dp.log" sessions_unconfirmed)
contexts=$(counter "$WORK/dp.log" contexts_active)
limited=$(counter "$WORK/dp.log" drop_source_limit)
[ "$hellos" -ge "$FLOOD" ] || fail "only $hellos of $FLOOD spoofed HELLOs dropped"
# Everything the node sent, whatever it was answering, is less than it received.
[ "$tx" -le "$rx" ] || fail "amplification: $tx bytes out for $rx bytes in"
# No client in this test ever names its session: none may get a heartbeat.
[ "$heartbeats" -eq 0 ] || fail "$heartbeats heartbeats sent to sessions no client confirmed"
# Every session a SUBSCRIBE opened was reclaimed unconfirmed, except the
# test's own (one address at its limit, the second address, the probe),
# which are still within their confirmation time. How many spoofed
# SUBSCRIBEs got a session at all depends on the flood's speed (tables full).
refused=$(( $(counter "$WORK/dp.log" drop_no_context_space) + $(counter "$WORK/dp.log" drop_no_session_space) ))
opened=$(counter "$WORK/dp.log" subscribes)
active=$(counter "$WORK/dp.log" sessions_active)
[ $((unconfirmed + active)) -eq "$opened" ] && [ "$active" -le $((PER_SOURCE + 2)) ] ||
	fail "$opened sessions opened, $unconfirmed reclaimed unconfirmed, $active still open"
# Left: at most the published context and the one the test's own sockets made.
[ "$contexts" -le 2 ] || fail "$contexts contexts left after the flood: made-up contexts not reclaimed"
[ "$(value one_source_snapshots)" -eq "$PER_SOURCE" ] ||
	fail "one source got $(value one_source_snapshots) sessions, limit $PER_SOURCE"
[ "$(value one_source_refused)" -ge 1 ] && [ "$limited" -ge $((5 * PER_SOURCE)) ] ||
	fail "per-source refusals: $(value one_source_refused) answered, $limited counted"
[ "$(value second_source_type)" -eq 2 ] || fail "a second address was refused a session"
req=$(value populated_subscribe_request) ans=$(value populated_subscribe_answer)
echo "ok: $FLOOD spoofed HELLOs + $FLOOD SUBSCRIBEs: $rx bytes in, $tx bytes out" \
	"(ratio $(awk -v a="$tx" -v b="$rx" 'BEGIN { printf "%.3f", a / b }'));" \
	"one source capped at $PER_SOURCE sessions ($limited refusals);" \
	"$unconfirmed unconfirmed sessions reclaimed ($refused refused: tables full), 0 heartbeats to them," \
	"$contexts contexts left"
echo "measured (not prevented yet, docs/protocol.md §9): a SUBSCRIBE of $req bytes for a" \
	"populated context drew $ans bytes of snapshot (x$(awk -v a="$ans" -v b="$req" 'BEGIN { printf "%.1f", a / b }'))"
