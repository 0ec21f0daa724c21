#!/usr/bin/env bash
# Plain ping from the client namespace is answered by the dataplane (the
# kernel side of the veth has no address, so nobody else could answer).
. "$(dirname "$0")/lab.sh"
port=${1:-af_xdp}

dataplane_start "$WORK/dp.log" "$port:$DATAPLANE_IF"
in_client ping -c 5 -i 0.2 -W 2 "$DATAPLANE_IP" || fail "ping to $DATAPLANE_IP not answered"
dataplane_stop
replies=$(counter "$WORK/dp.log" icmp_echo_replies)
arp=$(counter "$WORK/dp.log" arp_replies)
[ "$replies" -ge 5 ] || fail "dataplane answered $replies of 5 echo requests"
[ "$arp" -ge 1 ] || fail "dataplane answered no ARP request"
echo "ok: $port: $replies echo replies, $arp ARP replies from the dataplane"
