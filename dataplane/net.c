/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet, ARP, IPv4, ICMP and UDP: enough of a host that the node answers
 * ping and ARP for its address and hands herald datagrams to the protocol.
 * Every header length is checked against the frame before it is read.
 */
#include <string.h>

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane.h"

static void arp_rx(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth)
{
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);

	if (m->data_len < sizeof(*eth) + sizeof(*arp) ||
	    arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != sizeof(uint32_t))
		return dp_drop(w, m, HERALD_DROP_MALFORMED_ARP);
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    arp->arp_data.arp_tip != w->ip)
		return dp_drop(w, m, HERALD_DROP_NOT_FOR_US);

	struct rte_arp_ipv4 *a = &arp->arp_data;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = a->arp_sip;
	a->arp_sha = w->mac;
	a->arp_sip = w->ip;
	eth->dst_addr = a->arp_tha;
	eth->src_addr = w->mac;
	w->ctr[HERALD_CTR_ARP_REPLIES]++;
	dp_tx(w, m);
}

static void icmp_rx(struct dp_worker *w, struct rte_mbuf *m, struct rte_ether_hdr *eth,
		    struct rte_ipv4_hdr *ip, uint16_t hlen, uint16_t total)
{
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + hlen);
	uint16_t icmp_len = total - hlen;

	if (icmp_len < sizeof(*icmp) || icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    icmp->icmp_code != 0)
		return dp_drop(w, m, HERALD_DROP_MALFORMED_ICMP);

	/* Echo the frame back in place: swap addresses, retype, re-checksum. */
	rte_pktmbuf_trim(m, m->data_len - (uint16_t)(sizeof(*eth) + total));
	struct rte_ether_addr peer = eth->src_addr;
	eth->src_addr = w->mac;
	eth->dst_addr = peer;
	ip->dst_addr = ip->src_addr;
	ip->src_addr = w->ip;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	w->ctr[HERALD_CTR_ICMP_ECHO_REPLIES]++;
	dp_tx(w, m);
}

void dp_net_rx(struct dp_worker *w, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	w->ctr[HERALD_CTR_RX_PACKETS]++;
	w->ctr[HERALD_CTR_RX_BYTES] += m->pkt_len;
	if (m->nb_segs != 1 || m->data_len < sizeof(*eth))
		return dp_drop(w, m, HERALD_DROP_NOT_IPV4);
	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return arp_rx(w, m, eth);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return dp_drop(w, m, HERALD_DROP_NOT_IPV4);

	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint16_t room = m->data_len - sizeof(*eth);
	if (room < sizeof(*ip) || (ip->version_ihl >> 4) != 4)
		return dp_drop(w, m, HERALD_DROP_MALFORMED_IP);
	uint16_t hlen = rte_ipv4_hdr_len(ip);
	uint16_t total = rte_be_to_cpu_16(ip->total_length);
	if (hlen < sizeof(*ip) || hlen > total || total > room ||
	    rte_raw_cksum(ip, hlen) != 0xffff)
		return dp_drop(w, m, HERALD_DROP_MALFORMED_IP);
	if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
		return dp_drop(w, m, HERALD_DROP_IP_FRAGMENT);
	if (ip->dst_addr != w->ip)
		return dp_drop(w, m, HERALD_DROP_NOT_FOR_US);
	if (ip->next_proto_id == IPPROTO_ICMP)
		return icmp_rx(w, m, eth, ip, hlen, total);
	if (ip->next_proto_id != IPPROTO_UDP)
		return dp_drop(w, m, HERALD_DROP_NOT_UDP);

	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + hlen);
	uint16_t udp_room = total - hlen;
	if (udp_room < sizeof(*udp) || rte_be_to_cpu_16(udp->dgram_len) != udp_room)
		return dp_drop(w, m, HERALD_DROP_MALFORMED_UDP);
	uint16_t q = (uint16_t)(rte_be_to_cpu_16(udp->dst_port) - w->port_base);
	if (q >= w->nqueues)
		return dp_drop(w, m, HERALD_DROP_WRONG_PORT);

	const uint8_t *payload = (const uint8_t *)(udp + 1);
	uint16_t len = udp_room - (uint16_t)sizeof(*udp);
	const struct herald_hdr *h = (const struct herald_hdr *)payload;
	/* A HELLO needs no state: whichever worker has it answers, from the port it hit. */
	if (w->cfg->token_required && len >= sizeof(*h) && h->type == HERALD_T_HELLO)
		return dp_hello_rx(w, m, eth, ip->src_addr, udp->src_port, udp->dst_port, payload, len);
	/*
	 * Several queues: the context's owner handles the frame. One the codec
	 * will refuse anyway (no whole header, not herald) is left to the codec
	 * here, where it landed.
	 */
	if (w->nqueues > 1 && len >= sizeof(*h) && h->magic == rte_cpu_to_be_16(HERALD_MAGIC)) {
		uint16_t owner = herald_queue_of(rte_be_to_cpu_32(h->context), w->nqueues);
		/* The client would hear the owner's port, not the one it wrote to. */
		if (owner != q)
			return dp_drop(w, m, HERALD_DROP_WRONG_QUEUE);
		if (owner != w->queue) {
			m->l3_len = hlen;
			return dp_handoff_push(w, m, owner);
		}
	}
	dp_herald_rx(w, m, eth, ip->src_addr, udp->src_port, payload, len);
}

void dp_net_rx_handed(struct dp_worker *w, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + m->l3_len);

	m->l3_len = 0; /* the buffer may be sent on as a body segment */
	dp_herald_rx(w, m, eth, ip->src_addr, udp->src_port, (const uint8_t *)(udp + 1),
		     (uint16_t)(rte_be_to_cpu_16(udp->dgram_len) - sizeof(*udp)));
}

void dp_headers_write(const struct dp_worker *w, uint8_t *dst, const struct rte_ether_addr *mac,
		      uint32_t ip, uint16_t port, uint16_t body_len)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)dst;
	struct rte_ipv4_hdr *iph = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(iph + 1);
	uint16_t udp_len = (uint16_t)(sizeof(*udp) + sizeof(struct herald_hdr) + body_len);

	eth->dst_addr = *mac;
	eth->src_addr = w->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	*iph = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*iph) + udp_len)),
		.fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = w->ip,
		.dst_addr = ip,
	};
	iph->hdr_checksum = rte_ipv4_cksum(iph);
	/*
	 * UDP checksum 0 ("none", RFC 768) is what lets every recipient share one
	 * payload buffer: a checksum would have to read the payload per copy.
	 */
	*udp = (struct rte_udp_hdr){
		.src_port = w->udp_port_be,
		.dst_port = port,
		.dgram_len = rte_cpu_to_be_16(udp_len),
		.dgram_cksum = 0,
	};
}
