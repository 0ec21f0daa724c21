#!/usr/bin/env bash
# Client ramp: herald-bench-ramp adds subscribers in steps against a
# dataplane started with --max-sessions, until the node refuses them; one
# step more shows that refused clients stay refused and established ones keep
# receiving. Builds a lab of its own (prefix hramp), dataplane on af_xdp on
# CPU 1 as scripts/demo runs it, the bench in the client namespace on CPU 0.
#
#   sudo bench/ramp.sh [--max-sessions N] [--out FILE] [--json FILE]
#                      [-- herald-bench-ramp options]
#
# Appends the table, the exact commands, the commit, the dataplane's session
# counters and drop reasons, and top samples to bench/results/ramp-<date>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export HERALD_LAB_PREFIX=${HERALD_LAB_PREFIX:-hramp}
export HERALD_DP_PREFIX=${HERALD_DP_PREFIX:-$HERALD_LAB_PREFIX}
. scripts/lib.sh

max_sessions=200 json= extra=()
out=bench/results/ramp-$(date +%F).txt
cmdline="$0 $*"
while [ $# -gt 0 ]; do
	case "$1" in
	--max-sessions) max_sessions=${2:?--max-sessions needs a number}; shift 2 ;;
	--out) out=$(realpath -m "${2:?--out needs a file name}"); shift 2 ;;
	--json) json=$(realpath -m "${2:?--json needs a file name}"); shift 2 ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "ramp.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[[ $max_sessions =~ ^[1-9][0-9]*$ ]] || { echo "ramp.sh: --max-sessions expects a positive number" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "ramp.sh: must run as root (namespaces, hugepages, XDP)" >&2; exit 1; }

echo "== build ($HERALD_BUILD)"
herald_build
work=$(mktemp -d /tmp/herald-ramp.XXXXXX)
cleanup() {
	dataplane_stop || true
	scripts/lab down
	rm -rf /dev/hugepages/"${HERALD_DP_PREFIX}"map_* "/sys/fs/bpf/$HERALD_DP_PREFIX" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
echo "== lab $HERALD_LAB_PREFIX"
eval "$(scripts/lab up)"
dataplane_start "$work/dp.log" "af_xdp:$DATAPLANE_IF" --max-sessions "$max_sessions"
load() { echo "-- $(uptime)"; top -bn1 -w 160 | sed -n '8,13p'; }
load >"$work/load.txt"
ramp=("$HERALD_BUILD/bench/herald-bench-ramp" --node "$DATAPLANE_IP" ${extra[@]+"${extra[@]}"})
status=0
ip netns exec "$CLIENT_NS" taskset -c 0 "${ramp[@]}" ${json:+--json "$json"} 2>"$work/err.txt" |
	tee "$work/table.txt" || status=1
load >>"$work/load.txt"
dataplane_stop || status=1

mkdir -p "$(dirname "$out")"
{
	echo "# herald client ramp, $(date -u '+%F %T UTC')"
	echo "command:   $cmdline"
	echo "bench:     ip netns exec $CLIENT_NS taskset -c 0 ${ramp[*]}"
	echo "dataplane: herald-dataplane -l ${HERALD_DP_LCORE:-1} --no-pci -- --port af_xdp:$DATAPLANE_IF --ip $DATAPLANE_IP --max-sessions $max_sessions"
	echo "commit:    $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree has uncommitted changes)')"
	echo
	cat "$work/table.txt"
	echo
	echo "== bench stderr (first 20 lines)"
	head -20 "$work/err.txt"
	echo
	echo "== dataplane counters (sessions, errors, drops)"
	sed -n '/== herald-dataplane counters/,$p' "$work/dp.log" | grep -iE "session|error|space|drop|deliver|publish" | grep -vE ' 0$' || true
	echo
	echo "== what else ran (top, before and after)"
	cat "$work/load.txt"
	echo
} >>"$out"
echo "ramp.sh: results appended to $out"
exit "$status"
