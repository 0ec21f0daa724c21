#!/usr/bin/env bash
# Publish authentication (issue 8, docs/protocol.md §3.5.1): a dataplane
# started with --publish-key applies only PUBLISH datagrams signed with that
# key. A real publisher (heraldctl pub --publish-key) sets 10 keys; then
# 10 000 forged PUBLISH frames for the same keys, some fragmented, some for
# made-up contexts (unsigned, or HERALD_F_AUTH with a MAC made up or made
# under another key) and an unsigned heraldctl pub are dropped and counted
# (drop_bad_auth, exactly), create no context, and leave the real state: a
# subscriber's snapshot holds the real publisher's values, including one it
# published after the flood. Replays (§3.5.2): a genuinely signed PUBLISH
# sent again from another port is dropped as publish_replayed, and signed
# ones stamped an hour in the past or the future as publish_stale.
. "$(dirname "$0")/lab.sh"
CTL="$HERALD_BUILD/cli/heraldctl"
CTX=77
KEYS=10
FORGED=${HERALD_FORGED_PUBLISHES:-10000}

umask 077
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/publish.key"
echo >>"$WORK/publish.key"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/other.key"

# A bad key file is refused with its reason, before the dataplane starts.
echo "not a key" >"$WORK/bad.key"
out=$("$HERALD_BUILD/dataplane/herald-dataplane" -l "${HERALD_DP_LCORE:-1}" --no-pci --no-huge \
	--file-prefix "${HERALD_DP_PREFIX}bad" --log-level=lib.eal:warning -- --port null --ip 10.0.0.1 \
	--publish-key "$WORK/bad.key" 2>&1) && fail "a bad --publish-key file was accepted"
grep -q "publish-key: $WORK/bad.key must hold exactly 32 hex digits" <<<"$out" ||
	fail "bad key file refused without its reason: $out"

dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --publish-key "$WORK/publish.key" \
	--stats-interval 1
node="$DATAPLANE_IP"
for i in $(seq 0 $((KEYS - 1))); do
	in_client "$CTL" pub "$CTX" "k$i" "real-$i" --node "$node" --publish-key "$WORK/publish.key" \
		>/dev/null || fail "signed publish of k$i failed"
done
# Unsigned, from the same tool: sent, and dropped by the node.
in_client "$CTL" pub "$CTX" k0 unsigned --node "$node" >/dev/null || fail "unsigned heraldctl pub failed to send"

in_client python3 - "$node" "$CTX" "$KEYS" "$FORGED" "$(cat "$WORK/other.key")" "$(cat "$WORK/publish.key")" \
	>"$WORK/forge.log" <<'PY' ||
import random, socket, struct, sys, time
node, ctx, nkeys, forged, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), bytes.fromhex(sys.argv[5])
real = bytes.fromhex(sys.argv[6])
M = (1 << 64) - 1

def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M

def siphash24(k, m):  # SipHash-2-4, as libsodium's crypto_shorthash
    k0, k1 = struct.unpack("<QQ", k)
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]
    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)
    n = len(m) // 8 * 8
    for i in range(0, n, 8):
        w = struct.unpack("<Q", m[i:i + 8])[0]
        v[3] ^= w; rnd(); rnd(); v[0] ^= w
    b = (len(m) & 0xFF) << 56 | struct.unpack("<Q", m[n:] + bytes(8 - len(m) + n))[0]
    v[3] ^= b; rnd(); rnd(); v[0] ^= b
    v[2] ^= 0xFF
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]

def frame(c, seq, key, value, frag, auth):
    body = struct.pack("!H", len(key)) + key + value
    off = 1440 * frag
    part = body[off:off + 1440]
    flags = 2 if auth else 0
    h = struct.pack("!HBBHHIIQHHI", 0x4852, 1, 4, flags, len(part), c, 0, seq, off, len(body), 0)
    d = bytearray(h + part)
    if auth == "other":  # a valid MAC, under a key that is not the node's
        t = siphash24(other, bytes(d))
    elif auth == "real":  # the node's key: what a real publisher sends
        t = siphash24(real, bytes(d))
    elif auth:  # a made-up MAC
        t = random.getrandbits(64)
    else:
        return bytes(d)
    d[12:16] = struct.pack("!I", t >> 32)
    d[28:32] = struct.pack("!I", t & 0xFFFFFFFF)
    return bytes(d)

socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(16)]
kinds = {}
for i in range(forged):
    auth = (False, True, "other")[i % 3]
    c = ctx if i % 10 else random.randrange(1000, 1 << 31)  # every tenth for a made-up context
    key = b"k%d" % random.randrange(nkeys)
    frag = 0
    value = b"forged-%d" % i
    if i % 7 == 0:  # the first fragment of a 2000-byte value: it would take a reassembly slot
        value = b"f" * 2000
    socks[i % len(socks)].sendto(frame(c, i + 1, key, value, frag, auth), (node, 7400))
    kinds[str(auth)] = kinds.get(str(auth), 0) + 1
    if i % 500 == 0:
        time.sleep(0.005)  # forged traffic, not an overflow of our own socket
print("forged", forged, "unsigned", kinds.get("False", 0), "made_up_mac", kinds.get("True", 0),
      "other_key", kinds.get("other", 0))

# Replays: seq is a stamp, Unix time in us. Two genuine PUBLISHes of k1 (the
# second restores real-1), then the first sent again from another socket: a
# replay would set k1 back. Then k2 stamped an hour ago and an hour ahead.
time.sleep(0.5)
now = int(time.time() * 1e6)
first = frame(ctx, now, b"k1", b"before-the-replay", 0, "real")
socks[0].sendto(first, (node, 7400))
socks[0].sendto(frame(ctx, now + 1, b"k1", b"real-1", 0, "real"), (node, 7400))
time.sleep(0.2)
socks[1].sendto(first, (node, 7400))
socks[0].sendto(frame(ctx, now - 3600 * 10**6, b"k2", b"stale", 0, "real"), (node, 7400))
socks[0].sendto(frame(ctx, now + 3600 * 10**6, b"k2", b"future", 0, "real"), (node, 7400))
print("replayed 1 genuine PUBLISH, sent 2 with stale stamps")
PY
	fail "forging script failed: $(cat "$WORK/forge.log")"
cat "$WORK/forge.log"
sleep 0.5
in_client "$CTL" pub "$CTX" k0 after-the-flood --node "$node" --publish-key "$WORK/publish.key" >/dev/null ||
	fail "signed publish after the flood failed"
sleep 0.2

# The state is the real publisher's: every key, no forged value.
in_client "$CTL" --json sub "$CTX" --node "$node" --count "$KEYS" --timeout 10 >"$WORK/sub.json" ||
	fail "subscriber got no full snapshot: $(cat "$WORK/sub.json")"
want=$( (echo "k0 after-the-flood"; for i in $(seq 1 $((KEYS - 1))); do echo "k$i real-$i"; done) | sort)
got=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") == "snapshot":
        print(e["key"], e["value"])' "$WORK/sub.json" | sort)
[ "$got" = "$want" ] || fail "snapshot is not the real publisher's state: $got"

dataplane_stop
sed -n '/== herald-dataplane counters/,$p' "$WORK/dp.log" | grep -E "^(publishes|drop_bad_auth|drop_publish_|contexts_active|fragments|drop_reassembly)"
bad=$(counter "$WORK/dp.log" drop_bad_auth)
pubs=$(counter "$WORK/dp.log" publishes)
ctxs=$(counter "$WORK/dp.log" contexts_active)
# Every forged frame and the unsigned heraldctl pub: dropped as bad_auth, nothing else.
[ "$bad" -eq $((FORGED + 1)) ] || fail "drop_bad_auth $bad, expected $((FORGED + 1))"
[ "$pubs" -eq $((KEYS + 3)) ] || fail "$pubs publishes applied, expected $((KEYS + 3)) (the signed ones)"
replayed=$(counter "$WORK/dp.log" drop_publish_replayed)
stale=$(counter "$WORK/dp.log" drop_publish_stale)
[ "$replayed" -eq 1 ] || fail "drop_publish_replayed $replayed, expected 1 (the genuine PUBLISH sent again)"
[ "$stale" -eq 2 ] || fail "drop_publish_stale $stale, expected 2 (stamped an hour ago and an hour ahead)"
[ "$ctxs" -eq 1 ] || fail "$ctxs contexts: forged PUBLISHes for made-up contexts created some"
[ "$(counter "$WORK/dp.log" drop_reassembly_full)" -eq 0 ] || fail "forged fragments took reassembly slots"
echo "ok: $FORGED forged PUBLISH frames + 1 unsigned dropped as bad_auth ($bad), $pubs signed applied," \
	"a replay and 2 stale stamps refused, no context created, the subscriber sees the real state"
