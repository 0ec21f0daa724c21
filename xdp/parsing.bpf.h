/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet parsing helpers for Herald's XDP programs, after xdp-tutorial: a
 * cursor that each parser advances only after the bounds check that makes the
 * header it returns readable. Each returns the next protocol (or the header
 * length) and -1 when the header does not fit in the frame.
 */
#ifndef HERALD_PARSING_BPF_H
#define HERALD_PARSING_BPF_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <herald/proto.h>

struct hdr_cursor {
	void *pos;
};

/* Returns the ethertype in network order; VLAN tags are not looked through. */
static __always_inline int parse_ethhdr(struct hdr_cursor *c, void *end, struct ethhdr **eth)
{
	struct ethhdr *e = c->pos;

	if ((void *)(e + 1) > end)
		return -1;
	c->pos = e + 1;
	*eth = e;
	return e->h_proto;
}

/* Returns the IPv4 header length in bytes (20..60), options included. */
static __always_inline int parse_iphdr(struct hdr_cursor *c, void *end, struct iphdr **ip)
{
	struct iphdr *h = c->pos;
	int len;

	if ((void *)(h + 1) > end)
		return -1;
	len = h->ihl * 4;
	if (len < (int)sizeof(*h) || c->pos + len > end)
		return -1;
	c->pos += len;
	*ip = h;
	return len;
}

/* Returns the UDP length field in host order. */
static __always_inline int parse_udphdr(struct hdr_cursor *c, void *end, struct udphdr **udp)
{
	struct udphdr *h = c->pos;

	if ((void *)(h + 1) > end)
		return -1;
	c->pos = h + 1;
	*udp = h;
	return bpf_ntohs(h->len);
}

/* Returns 0 when a whole herald header is readable. */
static __always_inline int parse_heraldhdr(struct hdr_cursor *c, void *end, struct herald_hdr **hh)
{
	struct herald_hdr *h = c->pos;

	if ((void *)(h + 1) > end)
		return -1;
	c->pos = h + 1;
	*hh = h;
	return 0;
}

#endif /* HERALD_PARSING_BPF_H */
