// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loss and duplication for tests: this kernel has no netem. Attached to
 * the client-side veth of the lab, the XDP program drops a configurable
 * fraction of the herald frames a node sends (UDP source port in
 * [port_lo, port_hi]) and the tc program duplicates another fraction of
 * those that survive; everything else passes. Fractions are read from maps
 * on every frame so a test can change them while traffic flows.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

#include "parsing.bpf.h"

enum { LOSS_SEEN, LOSS_DROPPED, LOSS_DUPLICATED, LOSS_NSTATS };

/* skb->mark of a duplicate, so it is not duplicated again when it re-enters ingress. */
#define DUP_MARK 0x48524450u

const volatile __u16 port_lo = HERALD_UDP_PORT_BASE;
const volatile __u16 port_hi = HERALD_UDP_PORT_BASE + 63;

/* Drop probability in parts per million, index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} loss_ppm SEC(".maps");

/* Duplication probability in parts per million, index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} dup_ppm SEC(".maps");

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

/* A herald frame a node sent: UDP from one of its queue ports. */
static __always_inline int from_node(struct hdr_cursor *c, void *end)
{
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;

	if (parse_ethhdr(c, end, &eth) != bpf_htons(ETH_P_IP))
		return 0;
	if (parse_iphdr(c, end, &ip) < 0 || ip->protocol != IPPROTO_UDP)
		return 0;
	if (parse_udphdr(c, end, &udp) < 0)
		return 0;
	__u16 sport = bpf_ntohs(udp->source);
	return sport >= port_lo && sport <= port_hi;
}

SEC("xdp")
int herald_loss(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = {.pos = (void *)(long)ctx->data};
	__u32 zero = 0, *ppm;

	if (!from_node(&c, end))
		return XDP_PASS;
	bump(LOSS_SEEN);
	ppm = bpf_map_lookup_elem(&loss_ppm, &zero);
	if (ppm && bpf_get_prandom_u32() % 1000000 < *ppm) {
		bump(LOSS_DROPPED);
		return XDP_DROP;
	}
	return XDP_PASS;
}

/*
 * tc ingress, after the XDP program: a duplicate is a clone redirected back
 * into this device's ingress, marked so that it is not duplicated again.
 */
SEC("tc")
int herald_dup(struct __sk_buff *skb)
{
	void *end = (void *)(long)skb->data_end;
	struct hdr_cursor c = {.pos = (void *)(long)skb->data};
	__u32 zero = 0, *ppm;

	if (skb->mark == DUP_MARK) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if (!from_node(&c, end))
		return TC_ACT_OK;
	ppm = bpf_map_lookup_elem(&dup_ppm, &zero);
	if (ppm && bpf_get_prandom_u32() % 1000000 < *ppm) {
		skb->mark = DUP_MARK;
		if (bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS) == 0)
			bump(LOSS_DUPLICATED);
		skb->mark = 0;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
