// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loss injection for tests: this kernel has no netem. Attached to the
 * client-side veth of the lab, it drops a configurable fraction of the herald
 * frames a node sends (UDP source port in [port_lo, port_hi]) and passes
 * everything else. The fraction is read from a map on every frame so a
 * test can change it while traffic flows.
 */
#include <linux/bpf.h>
#include <linux/in.h>

#include "parsing.bpf.h"

enum { LOSS_SEEN, LOSS_DROPPED, LOSS_NSTATS };

const volatile __u16 port_lo = HERALD_UDP_PORT_BASE;
const volatile __u16 port_hi = HERALD_UDP_PORT_BASE + 63;

/* Drop probability in parts per million, index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} loss_ppm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOSS_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} loss_stats SEC(".maps");

static __always_inline void bump(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&loss_stats, &what);
	if (v)
		*v += 1;
}

SEC("xdp")
int herald_loss(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = {.pos = (void *)(long)ctx->data};
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 zero = 0, *ppm;

	if (parse_ethhdr(&c, end, &eth) != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (parse_iphdr(&c, end, &ip) < 0 || ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	if (parse_udphdr(&c, end, &udp) < 0)
		return XDP_PASS;
	__u16 sport = bpf_ntohs(udp->source);
	if (sport < port_lo || sport > port_hi)
		return XDP_PASS;

	bump(LOSS_SEEN);
	ppm = bpf_map_lookup_elem(&loss_ppm, &zero);
	if (ppm && bpf_get_prandom_u32() % 1000000 < *ppm) {
		bump(LOSS_DROPPED);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
