/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * steer: Herald's XDP program on a node's NIC.
 *
 *  - herald data frames go to the AF_XDP socket of the queue they arrived on
 *    (XSK map, indexed by rx queue), or to the kernel if none is bound;
 *  - a HELLO for a context in the route map is answered in place with a
 *    REDIRECT (XDP_TX) carrying the address-ownership token; a miss goes to
 *    userspace, which knows how to place a new context;
 *  - herald frames that fail the header checks are dropped and counted by
 *    the same reasons and in the same order as client/wire.c;
 *  - ARP and ICMP for the node's own address (node_ip: the dataplane owns it,
 *    the kernel does not) go to the AF_XDP socket too, so the dataplane's
 *    ARP and ping responders see them;
 *  - everything else (ARP for the host, SSH, the daemon's own traffic) passes.
 */
#include <linux/bpf.h>
#include <linux/if_arp.h>
#include <linux/in.h>

#include "parsing.bpf.h"
#include "siphash.bpf.h"

/* Not in libbpf 1.1's helper list; the kernel has it since 6.1. */
static __u64 (*const herald_ktime_get_tai_ns)(void) = (void *)BPF_FUNC_ktime_get_tai_ns;

#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFSET 0x1fff

/*
 * Herald ports are [port_base, port_base + nqueues), set by herald_xdp before
 * load. The defaults are what a loader that cannot set them gets (DPDK
 * 22.11's net_af_xdp xdp_prog= devarg): every port a queue could have.
 */
#ifndef HERALD_RODATA
#define HERALD_RODATA const volatile /* the host fuzz target makes them writable */
#endif
HERALD_RODATA __u16 port_base = HERALD_UDP_PORT_BASE;
HERALD_RODATA __u16 nqueues = HERALD_XDP_MAX_QUEUES;
/*
 * The dataplane's IPv4 address, network order; 0 (what a loader that cannot
 * set it gets) steers no ARP or ICMP: they pass to the kernel.
 */
HERALD_RODATA __u32 node_ip = 0;
/*
 * 1: HELLOs this program does not answer go to the AF_XDP socket, where the
 * dataplane answers them itself (it was given the token key); 0: to the
 * kernel (heraldd's userspace responder, if the host owns the address).
 */
HERALD_RODATA __u8 hello_to_xsk = 0;

/* Named xsks_map because DPDK's net_af_xdp PMD looks it up by that name. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, HERALD_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HERALD_XDP_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct herald_xdp_route);
} herald_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct herald_xdp_secret);
} herald_secret SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HERALD_DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} herald_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HERALD_XDP_CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} herald_stats SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *v = bpf_map_lookup_elem(&herald_stats, &counter);

	if (v)
		*v += 1;
}

static __always_inline int pass(__u32 counter)
{
	count(counter);
	return XDP_PASS;
}

static __always_inline int drop(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&herald_drops, &reason);

	if (v)
		*v += 1;
	return XDP_DROP;
}

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of an option-less IPv4 header whose check field is zero. */
static __always_inline __u16 ipv4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	return csum_fold(sum);
}

static __always_inline void swap_mac(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/*
 * HELLO: validated like the codec does (steps 9-11 of docs/protocol.md §2.1
 * for a non-entry type), then answered in place. The REDIRECT has the same
 * length as the HELLO by construction of the protocol, so the frame is
 * rewritten without growing it: no amplification is possible.
 */
static __always_inline int to_xsk(struct xdp_md *ctx, __u32 counter);

/* A HELLO this program does not answer: to the dataplane's responder, or the kernel. */
static __always_inline int hello_up(struct xdp_md *ctx, __u32 counter)
{
	return hello_to_xsk ? to_xsk(ctx, counter) : pass(counter);
}

static __always_inline int hello(struct xdp_md *ctx, struct ethhdr *eth, struct iphdr *ip,
				 struct udphdr *udp, struct herald_hdr *h, void *end)
{
	struct herald_redirect_body *rb = (void *)(h + 1);
	const struct herald_xdp_secret *s;
	const struct herald_xdp_route *r;
	union {
		struct herald_token_msg m;
		__u64 words[2];
	} t;
	__u32 zero = 0, context, expiry, ttl;
	__u64 token, nz;

	if (h->frag_off != 0 || h->length != h->msg_len)
		return drop(HERALD_DROP_BAD_FRAGMENT);
	if (bpf_ntohs(h->length) != sizeof(struct herald_hello_body))
		return drop(HERALD_DROP_BAD_BODY);
	if ((void *)(rb + 1) > end)
		return drop(HERALD_DROP_TRUNCATED);
	/* Word loads: the x86 JIT allows unaligned packet access. */
	nz = ((__u64 *)rb)[0] | ((__u64 *)rb)[1] | ((__u64 *)rb)[2] | ((__u64 *)rb)[3];
	if (nz != 0)
		return drop(HERALD_DROP_BAD_FLAGS);

	/*
	 * Options would have to be echoed or stripped, and a reply from a
	 * multicast source MAC is wrong: both are rare enough for userspace.
	 */
	if (ip->ihl != 5 || (eth->h_dest[0] & 1))
		return hello_up(ctx, HERALD_XDP_CTR_HELLO_PUNTED);

	s = bpf_map_lookup_elem(&herald_secret, &zero);
	if (!s || !s->valid)
		return hello_up(ctx, HERALD_XDP_CTR_HELLO_NO_KEY);
	context = bpf_ntohl(h->context);
	r = bpf_map_lookup_elem(&herald_routes, &context);
	if (!r)
		return hello_up(ctx, HERALD_XDP_CTR_HELLO_UNKNOWN_CONTEXT);

	ttl = s->ttl_s ? s->ttl_s : HERALD_TOKEN_TTL_DEFAULT;
	expiry = (__u32)(herald_ktime_get_tai_ns() / 1000000000ULL) + ttl;
	t.m.client_ip = ip->saddr;
	t.m.client_port = udp->source;
	t.m.zero = 0;
	t.m.context = h->context;
	t.m.expiry = bpf_htonl(expiry);
	/* Map values are 8-byte aligned, so the key is too. */
	token = herald_siphash24_16(s->key, t.words);

	swap_mac(eth);

	__u32 addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->ttl = 64;
	ip->frag_off = bpf_htons(IP_DF);
	ip->check = 0;
	ip->check = ipv4_csum(ip);

	__u16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->check = 0;

	h->type = HERALD_T_REDIRECT;
	h->session = 0;

	rb->node_ip = r->node_ip;
	rb->port = bpf_htons(r->port);
	rb->queue = bpf_htons(r->queue);
	rb->epoch = bpf_htonl(r->epoch);
	rb->expiry = bpf_htonl(expiry);
	rb->token = bpf_cpu_to_be64(token);
	rb->reserved = 0;

	count(HERALD_XDP_CTR_REDIRECTS_SENT);
	return XDP_TX;
}

/* Into the AF_XDP socket of the queue the frame arrived on, or to the kernel. */
static __always_inline int to_xsk(struct xdp_md *ctx, __u32 counter)
{
	long rc = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);

	count(rc == XDP_REDIRECT ? counter : HERALD_XDP_CTR_XSK_MISSING);
	return (int)rc;
}

/* ARP over Ethernet for IPv4 whose target is the node: the dataplane answers. */
static __always_inline int arp_for_node(struct hdr_cursor *c, void *end)
{
	struct arphdr *a = c->pos;
	__u8 *tpa = (__u8 *)(a + 1) + ETH_ALEN + 4 + ETH_ALEN;
	__u32 target;

	if ((void *)(tpa + 4) > end || a->ar_hrd != bpf_htons(ARPHRD_ETHER) ||
	    a->ar_pro != bpf_htons(ETH_P_IP) || a->ar_hln != ETH_ALEN || a->ar_pln != 4)
		return 0;
	__builtin_memcpy(&target, tpa, sizeof(target));
	return target == node_ip;
}

SEC("xdp")
int herald_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct hdr_cursor c = {.pos = data};
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	struct herald_hdr *h;
	int ihl_len, udp_len, ip_len, dlen;
	__u16 flags;
	int proto;

	proto = parse_ethhdr(&c, end, &eth);
	if (proto == bpf_htons(ETH_P_ARP) && node_ip != 0 && arp_for_node(&c, end))
		return to_xsk(ctx, HERALD_XDP_CTR_NODE_STEERED);
	if (proto != bpf_htons(ETH_P_IP))
		return pass(HERALD_XDP_CTR_PASSED);
	ihl_len = parse_iphdr(&c, end, &ip);
	if (ihl_len < 0)
		return pass(HERALD_XDP_CTR_PASSED);
	if (ip->protocol == IPPROTO_ICMP && node_ip != 0 && ip->daddr == node_ip)
		return to_xsk(ctx, HERALD_XDP_CTR_NODE_STEERED);
	if (ip->protocol != IPPROTO_UDP)
		return pass(HERALD_XDP_CTR_PASSED);
	/*
	 * A later fragment has no UDP header to tell whose it is; the kernel
	 * cannot reassemble it anyway once its first fragment was dropped here.
	 */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return pass(HERALD_XDP_CTR_PASSED);
	udp_len = parse_udphdr(&c, end, &udp);
	if (udp_len < 0 || (__u16)(bpf_ntohs(udp->dest) - port_base) >= nqueues)
		return pass(HERALD_XDP_CTR_PASSED);

	/* From here on the frame is addressed to Herald: junk is dropped. */
	if (ip->frag_off & bpf_htons(IP_MF))
		return drop(HERALD_DROP_IP_FRAGMENT);
	ip_len = bpf_ntohs(ip->tot_len);
	if (ip_len < ihl_len + (int)sizeof(*udp) || (void *)ip + ip_len > end)
		return drop(HERALD_DROP_MALFORMED_IP);
	if (udp_len != ip_len - ihl_len)
		return drop(HERALD_DROP_MALFORMED_UDP);
	dlen = udp_len - (int)sizeof(*udp);

	/* Header checks in the codec's order (docs/protocol.md §2.1, 1-8). */
	if (dlen < (int)sizeof(*h) || parse_heraldhdr(&c, end, &h) < 0)
		return drop(HERALD_DROP_TRUNCATED);
	if (h->magic != bpf_htons(HERALD_MAGIC))
		return drop(HERALD_DROP_BAD_MAGIC);
	if (h->version != HERALD_VERSION)
		return drop(HERALD_DROP_BAD_VERSION);
	if (h->type == 0 || h->type >= HERALD_T_MAX)
		return drop(HERALD_DROP_BAD_TYPE);
	if (bpf_ntohs(h->length) != dlen - (int)sizeof(*h))
		return drop(HERALD_DROP_BAD_LENGTH);
	flags = bpf_ntohs(h->flags);
	/* An authenticated PUBLISH carries its MAC in session and reserved. */
	if ((flags & ~HERALD_F_KNOWN) || (h->reserved != 0 && !(flags & HERALD_F_AUTH)))
		return drop(HERALD_DROP_BAD_FLAGS);
	if ((flags & HERALD_F_SNAP_END) && h->type != HERALD_T_SNAPSHOT)
		return drop(HERALD_DROP_BAD_FLAGS);
	if ((flags & HERALD_F_AUTH) && h->type != HERALD_T_PUBLISH)
		return drop(HERALD_DROP_BAD_FLAGS);
	if (bpf_ntohs(h->length) > HERALD_FRAG_BODY_MAX || bpf_ntohs(h->msg_len) > HERALD_MSG_MAX)
		return drop(HERALD_DROP_OVERSIZED);

	if (h->type == HERALD_T_HELLO)
		return hello(ctx, eth, ip, udp, h, end);

	/* The rest of the checks need the body and state: the dataplane's. */
	return to_xsk(ctx, HERALD_XDP_CTR_XSK_REDIRECTED);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
