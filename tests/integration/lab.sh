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
