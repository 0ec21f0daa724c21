// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loss, duplication and reordering for tests: this kernel has no netem.
 * Attached to the client-side veth of the lab, the XDP program drops a
 * configurable fraction of the herald frames a node sends (UDP source port
 * in [port_lo, port_hi]) and the tc program duplicates or holds back
 * another fraction of those that survive; everything else passes. Fractions
 * are read from maps on every frame so a test can change them while traffic
 * flows.
 *
 * Reordering: a BPF program cannot keep a packet, but it can keep its bytes.
 * A frame chosen to be held back is copied into a map entry of its flow
 * (destination address and port: one client socket) and dropped. When the
 * next frame of that flow arrives, the program lets it through and sends the
 * held bytes after it: it rewrites the packet into the held frame, clones
 * that into this device's ingress (the backlog, processed after the packet
 * being handled now), and rewrites the packet back. So a held frame arrives
 * right after the next frame its client gets (a DELTA or a HEARTBEAT).
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>

#include "parsing.bpf.h"

enum { LOSS_SEEN, LOSS_DROPPED, LOSS_DUPLICATED, LOSS_REORDERED, LOSS_NSTATS };

/* skb->mark of a duplicate or held-back frame, so it passes when it re-enters ingress. */
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

/* Hold-back (reordering) probability in parts per million, index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} reorder_ppm SEC(".maps");

/* The bytes of one frame: a whole Ethernet frame of a 1500-byte MTU. */
#define FRAME_MAX 1514
struct frame_copy {
	__u32 len;
	__u8 data[FRAME_MAX];
};

/* Held-back frames, one per flow (client address << 16 | client port). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct frame_copy);
} held SEC(".maps");

/* Per-CPU scratch: the frame being held, or the frame let through while a held one is sent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frame_copy);
} scratch SEC(".maps");

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

/* A herald frame a node sent: UDP from one of its queue ports. *flow names its destination. */
static __always_inline int from_node_flow(struct hdr_cursor *c, void *end, __u64 *flow)
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
	*flow = (__u64)ip->daddr << 16 | udp->dest;
	return sport >= port_lo && sport <= port_hi;
}

static __always_inline int from_node(struct hdr_cursor *c, void *end)
{
	__u64 flow;
	return from_node_flow(c, end, &flow);
}

/* Make the packet the frame @p f (its length and bytes). */
static __always_inline int become(struct __sk_buff *skb, const struct frame_copy *f)
{
	__u32 len = f->len;

	if (len < 1 || len > FRAME_MAX)
		return -1;
	if (bpf_skb_change_tail(skb, len, 0) < 0)
		return -1;
	return bpf_skb_store_bytes(skb, 0, f->data, len, BPF_F_INVALIDATE_HASH);
}

/* Copy the packet into @p f. */
static __always_inline int keep(struct __sk_buff *skb, struct frame_copy *f)
{
	__u32 len = skb->len;

	if (len < 1 || len > FRAME_MAX)
		return -1;
	f->len = len;
	return bpf_skb_load_bytes(skb, 0, f->data, len);
}

/*
 * Reordering (file comment). Returns a verdict if the frame was held or a
 * held one was sent behind it, -1 to go on with duplication.
 */
static __always_inline int reorder(struct __sk_buff *skb, __u64 flow)
{
	__u32 zero = 0, *ppm = bpf_map_lookup_elem(&reorder_ppm, &zero);
	struct frame_copy *f = bpf_map_lookup_elem(&scratch, &zero), *h;

	if (ppm == NULL || *ppm == 0 || f == NULL)
		return -1;
	h = bpf_map_lookup_elem(&held, &flow);
	if (h == NULL) {
		if (bpf_get_prandom_u32() % 1000000 >= *ppm || keep(skb, f) < 0 ||
		    bpf_map_update_elem(&held, &flow, f, BPF_NOEXIST) < 0)
			return -1;
		bump(LOSS_REORDERED);
		return TC_ACT_SHOT;
	}
	/* This frame first, then the held one: the clone is processed after this packet. */
	if (keep(skb, f) < 0 || become(skb, h) < 0)
		return -1;
	skb->mark = DUP_MARK;
	bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS);
	skb->mark = 0;
	bpf_map_delete_elem(&held, &flow);
	return become(skb, f) < 0 ? TC_ACT_SHOT : TC_ACT_OK;
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
 * into this device's ingress, marked so that it is not duplicated again; a
 * held-back frame is sent the same way (reorder()).
 */
SEC("tc")
int herald_dup(struct __sk_buff *skb)
{
	void *end = (void *)(long)skb->data_end;
	struct hdr_cursor c = {.pos = (void *)(long)skb->data};
	__u32 zero = 0, *ppm;
	__u64 flow;
	int verdict;

	if (skb->mark == DUP_MARK) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if (!from_node_flow(&c, end, &flow))
		return TC_ACT_OK;
	if ((verdict = reorder(skb, flow)) >= 0)
		return verdict;
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
