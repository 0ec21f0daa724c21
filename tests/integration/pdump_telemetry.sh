#!/usr/bin/env bash
# DPDK's own tools against a running dataplane (issue 6): dpdk-dumpcap (a
# secondary process on the dataplane's --file-prefix, through rte_pdump)
# writes a pcap of lab traffic that tshark reads back, ICMP echoes and herald
# PUBLISHes with the values sent; dpdk-telemetry.py lists the /herald/
# commands and their answers agree with heraldctl's view of the same node.
. "$(dirname "$0")/lab.sh"

CTL="$HERALD_BUILD/cli/heraldctl"
CAP_PID=
trap '[ -z "$CAP_PID" ] || kill -9 "$CAP_PID" 2>/dev/null || true; lab_cleanup' EXIT
for tool in dpdk-dumpcap dpdk-telemetry.py tshark jq; do
	command -v "$tool" >/dev/null || fail "$tool is missing (scripts/deps installs dpdk, tshark and jq)"
done

# dpdk-dumpcap is a secondary process: it must map the dataplane's memory at
# the primary's addresses. Left to ASLR, those can be taken in the secondary
# (seen with the ASan build, whose shadow moves everything: "Cannot get a
# virtual area at requested address"); 32 TiB is free in both, ASan included.
HERALD_DP_EAL=--base-virtaddr=0x200000000000 dataplane_start "$WORK/dp.log" "af_packet:$DATAPLANE_IF" --idle sleep
NODE="$DATAPLANE_IP:7400"

echo "== dpdk-telemetry.py"
# tel CMD: the dataplane's answer to one telemetry command, as JSON in $OUT
tel() {
	OUT=$(echo "$1" | dpdk-telemetry.py -f "$HERALD_DP_PREFIX" 2>&1 | grep '^{' | tail -n 1)
	[ -n "$OUT" ] || fail "dpdk-telemetry.py gave no answer to $1"
}
tel /
echo "$OUT" | jq -c '.["/"] | map(select(startswith("/herald/")))'
for c in /herald/stats /herald/info /herald/queue_stats; do
	jq -e --arg c "$c" '.["/"] | index($c) != null' <<<"$OUT" >/dev/null || fail "$c not listed: $OUT"
done
tel /help,/herald/queue_stats
jq -e '.["/help"]["/herald/queue_stats"] | test("queue")' <<<"$OUT" >/dev/null || fail "no help text: $OUT"
tel /herald/info
echo "$OUT"
jq -e --arg ip "$DATAPLANE_IP" '.["/herald/info"] | .ip == $ip and .udp_port == 7400 and .queues == 1 and .port == "af_packet"' \
	<<<"$OUT" >/dev/null || fail "/herald/info: $OUT"

echo "== dpdk-dumpcap"
dpdk-dumpcap --file-prefix="$HERALD_DP_PREFIX" -D >"$WORK/ports.txt" 2>&1 || fail "dumpcap -D: $(cat "$WORK/ports.txt")"
cat "$WORK/ports.txt"
IFACE=$(grep -o 'net_af_packet[^ ]*' "$WORK/ports.txt" | head -n 1)
[ -n "$IFACE" ] || fail "dpdk-dumpcap does not see the dataplane's af_packet port"
dpdk-dumpcap --file-prefix="$HERALD_DP_PREFIX" -i "$IFACE" -w "$WORK/lab.pcap" -P >"$WORK/dumpcap.log" 2>&1 &
CAP_PID=$!
for _ in $(seq 1 100); do # it counts once the primary installed its callbacks
	grep -q "Packets captured" "$WORK/dumpcap.log" && break
	kill -0 "$CAP_PID" 2>/dev/null || fail "dpdk-dumpcap exited: $(cat "$WORK/dumpcap.log")"
	sleep 0.1
done
grep -q "Packets captured" "$WORK/dumpcap.log" || fail "dpdk-dumpcap did not start: $(cat "$WORK/dumpcap.log")"
in_client ping -c 3 -i 0.2 -W 2 "$DATAPLANE_IP" >/dev/null || fail "no ping answer while capturing"
for i in 1 2 3; do
	in_client "$CTL" pub 300 "key$i" "captured-$i" --node "$NODE" >/dev/null || fail "pub $i"
done
sleep 1
kill -INT "$CAP_PID"
wait "$CAP_PID" || fail "dpdk-dumpcap failed: $(cat "$WORK/dumpcap.log")"
CAP_PID=
cat "$WORK/dumpcap.log"

echo "== tshark -r"
tshark -r "$WORK/lab.pcap" >"$WORK/lab.txt" 2>"$WORK/tshark.err" || fail "tshark cannot read the capture: $(cat "$WORK/tshark.err")"
head -n 12 "$WORK/lab.txt"
echo "... $(wc -l <"$WORK/lab.txt") frames in all"
requests=$(tshark -r "$WORK/lab.pcap" -Y "icmp.type == 8 && ip.dst == $DATAPLANE_IP" 2>/dev/null | wc -l)
replies=$(tshark -r "$WORK/lab.pcap" -Y "icmp.type == 0 && ip.src == $DATAPLANE_IP" 2>/dev/null | wc -l)
[ "$requests" -ge 3 ] && [ "$replies" -ge 3 ] || fail "capture holds $requests echo requests and $replies replies, expected 3 each"
# herald has no dissector: the UDP payloads to port 7400 hold the published values
payloads=$(tshark -r "$WORK/lab.pcap" -Y "udp.dstport == 7400 && ip.dst == $DATAPLANE_IP" -T fields -e data 2>/dev/null |
	xxd -r -p | tr -c '[:print:]' '\n' | grep -o 'captured-[0-9]' | sort -u | tr '\n' ' ')
[ "$payloads" = "captured-1 captured-2 captured-3 " ] || fail "PUBLISHes in the capture: '$payloads'"

echo "== telemetry counters agree with what was sent"
tel /herald/stats
jq -e '.["/herald/stats"] | .publishes == 3 and .icmp_echo_replies >= 3 and has("drop_bad_magic")' <<<"$OUT" >/dev/null ||
	fail "/herald/stats: $OUT"
tel /herald/queue_stats,0
jq -e '.["/herald/queue_stats"].publishes == 3' <<<"$OUT" >/dev/null || fail "/herald/queue_stats,0: $OUT"
tel /herald/queue_stats,7
jq -e '.["/herald/queue_stats"] == null' <<<"$OUT" >/dev/null || fail "queue 7 of 1 answered: $OUT"

dataplane_stop
echo "ok: dpdk-dumpcap captured $requests echo requests, $replies replies and 3 PUBLISHes that tshark reads; dpdk-telemetry.py lists and answers /herald/"
