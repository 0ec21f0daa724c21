# Sourced by every integration test: a private lab (own namespace, veths and
# EAL prefix, named after the test) that is torn down however the test ends.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

if [ "$(id -u)" != 0 ]; then
	echo "SKIP LOUDLY: $(basename "$0") needs root for namespaces, veth and hugepages" >&2
	exit 77
fi

export HERALD_LAB_PREFIX=${HERALD_LAB_PREFIX:-hit$$}
export HERALD_DP_PREFIX=$HERALD_LAB_PREFIX
WORK=$(mktemp -d /tmp/herald-it.XXXXXX)

lab_cleanup() {
	dataplane_stop || true
	"$HERALD_ROOT/scripts/lab" down
	rm -rf /dev/hugepages/"${HERALD_DP_PREFIX}"map_* 2>/dev/null || true
	rm -rf "/sys/fs/bpf/$HERALD_DP_PREFIX" 2>/dev/null || true
	rm -rf "$WORK"
}
trap lab_cleanup EXIT
eval "$("$HERALD_ROOT/scripts/lab" up)"
in_client() { ip netns exec "$CLIENT_NS" "$@"; }

fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/dp.log" ] && { echo "--- dataplane log ---" >&2; cat "$WORK/dp.log" >&2; }
	exit 1
}

# dpctl JSON [SOCKET]: one request on a dataplane's control socket (default
# $WORK/dp.sock, its --ctl-sock), the reply line.
dpctl() {
	python3 - "${2:-$WORK/dp.sock}" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
print(buf.decode(), end="")
PY
}
