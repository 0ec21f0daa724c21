#!/usr/bin/env bash
# Hostile and broken frames are dropped and counted by reason; the dataplane
# keeps serving afterwards. On af_xdp the steer XDP program drops header-level
# junk before the dataplane sees it (xdp_drop_<reason> in the dump, same
# reason names): a reason counts wherever it was dropped.
. "$(dirname "$0")/lab.sh"

dataplane_start "$WORK/dp.log" "af_xdp:$DATAPLANE_IF"
in_client python3 - "$DATAPLANE_IP" >"$WORK/expected" <<'PY'
import collections, socket, struct, sys
ip = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def hdr(magic=0x4852, ver=1, typ=1, flags=0, length=8, ctx=1, ses=0, seq=0, off=0, msg=8, res=0):
    return struct.pack("!HBBHHIIQHHI", magic, ver, typ, flags, length, ctx, ses, seq, off, msg, res)
sub = struct.pack("!HHI", 100, 0, 0)
frames = [
    ("truncated", b"\x48\x52\x01"),
    ("bad_magic", hdr(magic=0xdead) + sub),
    ("bad_version", hdr(ver=2) + sub),
    ("bad_type", hdr(typ=99) + sub),
    ("bad_length", hdr(length=9) + sub),
    ("bad_flags", hdr(res=1) + sub),
    ("bad_flags", hdr() + struct.pack("!HHI", 100, 0x8000, 0)),   # unknown SUBSCRIBE flag
    ("bad_key", hdr(typ=4, length=4, msg=4) + b"\x00\x00zz"),
    ("unexpected_type", hdr(typ=3, length=4, msg=4) + b"\x00\x01kv"),
    ("unknown_session", hdr(typ=5, length=0, msg=0, ses=77)),
    # ACK, NAK and RESYNC: the bodies of issue 3's messages.
    ("bad_body", hdr(typ=10, length=4, msg=4, ses=77) + b"\x00\x00\x00\x01"),  # ACK body 4, not 8
    ("bad_flags", hdr(typ=10, ses=77) + struct.pack("!II", 1, 1)),           # ACK reserved set
    ("bad_body", hdr(typ=11, length=16, msg=16, ses=77) + struct.pack("!QQ", 9, 3)),  # NAK first > last
    ("bad_body", hdr(typ=11, ses=77) + struct.pack("!Q", 3)),                # NAK body 8, not 16
    ("bad_body", hdr(typ=12, length=4, msg=4, ses=77) + b"junk"),            # RESYNC with a body
    ("unknown_session", hdr(typ=10, ses=77) + struct.pack("!II", 1, 0)),     # well-formed, no session
    ("unknown_session", hdr(typ=11, length=16, msg=16, ses=77) + struct.pack("!QQ", 1, 2)),
    ("unknown_session", hdr(typ=12, length=0, msg=0, ses=77)),
]
for _, frame in frames:
    for _ in range(3):
        s.sendto(frame, (ip, 7400))
s.sendto(b"x" * 10, (ip, 7401))  # wrong port
for reason, n in collections.Counter(r for r, _ in frames).items():
    print(reason, 3 * n)
PY
sleep 0.5
in_client ping -c 2 -i 0.2 -W 2 "$DATAPLANE_IP" >/dev/null || fail "dataplane stopped answering after junk"
dataplane_stop
while read -r reason want; do
	n=$(($(counter "$WORK/dp.log" "drop_$reason") + $(counter "$WORK/dp.log" "xdp_drop_$reason")))
	[ "$n" -eq "$want" ] || fail "drop_$reason is $n, expected $want"
done <"$WORK/expected"
# Outside the herald ports XDP passes it to the kernel, which has no such address.
[ "$(counter "$WORK/dp.log" drop_wrong_port)" -ge 1 ] || [ "$(counter "$WORK/dp.log" xdp_passed)" -ge 1 ] ||
	fail "wrong-port datagram not counted"
[ "$(counter "$WORK/dp.log" subscribes)" -eq 0 ] || fail "a malformed SUBSCRIBE opened a session"
echo "ok: every malformed frame dropped and counted by reason"
