"""Herald datagrams for the hostile-input tests (hostile.sh): frames built by
hand, and a raw IPv4 socket that sends them from made-up source addresses
and ports (11.0.0.0/8), as an attacker spoofing its victims would."""
import random
import socket
import struct

PORT = 7400
T_SUBSCRIBE, T_PUBLISH, T_ERROR, T_HELLO = 1, 4, 7, 8
SUB_F_TOKEN = 0x0002


def hdr(typ, length, ctx, ses=0):
    return struct.pack("!HBBHHIIQHHI", 0x4852, 1, typ, 0, length, ctx, ses, 0, 0, length, 0)


def hello(ctx):
    return hdr(T_HELLO, 32, ctx) + bytes(32)


def subscribe(ctx, heartbeat_ms=0, token=None):
    """SUBSCRIBE; token = (expiry, token) adds HERALD_SUB_F_TOKEN and its 12 bytes."""
    if token is None:
        return hdr(T_SUBSCRIBE, 8, ctx) + struct.pack("!HHI", heartbeat_ms, 0, 0)
    body = struct.pack("!HHIIQ", heartbeat_ms, SUB_F_TOKEN, 0, token[0], token[1])
    return hdr(T_SUBSCRIBE, len(body), ctx) + body


def publish(ctx, key, value):
    body = struct.pack("!H", len(key)) + key + value
    return hdr(T_PUBLISH, len(body), ctx) + body


def random_context():
    return random.randrange(1, 1 << 31)


def _csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


class Spoofer:
    """Sends UDP payloads to node:PORT from random 11.x.y.z:port sources."""

    def __init__(self, node):
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        self.node = node
        self.dst = socket.inet_aton(node)

    def send(self, payload):
        """Send one spoofed datagram; returns the bytes the node receives (Ethernet included)."""
        src = struct.pack("!I", random.randrange(0x0b000001, 0x0bfffffe))
        udp = struct.pack("!HHHH", random.randrange(1024, 65535), PORT, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, self.dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        self.raw.sendto(ip + udp, (self.node, 0))
        return 14 + len(ip) + len(udp)


def snapshot_bytes(sock):
    """Bytes a node sends in answer until SNAP_END, an ERROR or a second of silence."""
    got = 0
    sock.settimeout(1)
    try:
        while True:
            d = sock.recv(4096)
            got += len(d)
            if d[3] == T_ERROR or (d[3] == 2 and struct.unpack("!H", d[4:6])[0] & 1):
                break
    except socket.timeout:
        pass
    return got
