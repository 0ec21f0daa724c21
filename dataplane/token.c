/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The address token on the dataplane (herald-dataplane --token-key,
 * docs/protocol.md §3.2.1): a SUBSCRIBE creates state only with a token that
 * a HELLO responder issued for its very source address, port and context,
 * so a spoofed SUBSCRIBE buys no snapshot and no table entry. The dataplane
 * is a HELLO responder too: a HELLO that reaches it (not answered by XDP,
 * no heraldd in front) gets a REDIRECT to this node, the same size as the
 * HELLO. Per packet: one SipHash-2-4 of 16 bytes, no system call (the clock
 * is read by the timers).
 */
#include <time.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane.h"
#include "redirect.h"
#include "token.h"

void dp_clock_refresh(struct dp_worker *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	w->tai_s = (uint32_t)ts.tv_sec;
	clock_gettime(CLOCK_REALTIME, &ts);
	w->unix_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

enum herald_drop dp_subscribe_admit(struct dp_worker *w, const struct herald_frame *f, uint32_t ip,
				    uint16_t port)
{
	uint32_t expiry;
	uint64_t token;

	if (!w->cfg->token_required)
		return HERALD_DROP_NONE;
	if (!herald_subscribe_token_get(f, &expiry, &token))
		return HERALD_DROP_TOKEN_REQUIRED;
	enum herald_drop why = herald_token_check(w->cfg->token_key, ip, port, f->context, expiry,
						  token, w->tai_s);
	if (why == HERALD_DROP_NONE)
		w->ctr[HERALD_CTR_TOKENS_VERIFIED]++;
	return why;
}

_Static_assert(DP_HDRS_LEN + (int)sizeof(struct herald_redirect_body) ==
		       RTE_ETHER_HDR_LEN + HERALD_IPV4_UDP_LEN + HERALD_REDIRECT_LEN,
	       "the REDIRECT frame is the HELLO frame's size (without IPv4 options)");

void dp_hello_rx(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ether_hdr *eth,
		 uint32_t src_ip, uint16_t src_port, uint16_t dst_port, const uint8_t *payload,
		 uint16_t len)
{
	struct herald_frame f;
	enum herald_drop why = herald_frame_decode(payload, len, &f);
	uint8_t hello[HERALD_REDIRECT_LEN];

	if (why != HERALD_DROP_NONE)
		return dp_drop(w, m, why);
	/* The codec took exactly 32 zero bytes of body: the HELLO is HERALD_REDIRECT_LEN long. */
	memcpy(hello, payload, sizeof(hello));
	struct rte_ether_addr peer = eth->src_addr;
	uint16_t q = herald_queue_of(f.context, w->nqueues);
	struct herald_xdp_route self = {
		.node_ip = w->ip,
		.port = (uint16_t)(w->port_base + q),
		.queue = q,
		.epoch = 0,
	};
	/* Written over the HELLO, which is at least as long (more with IPv4 options). */
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	dp_headers_write(w, frame, &peer, src_ip, src_port, sizeof(struct herald_redirect_body));
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(frame + RTE_ETHER_HDR_LEN +
							 sizeof(struct rte_ipv4_hdr));
	udp->src_port = dst_port; /* from the port the client wrote to: a connected socket hears it */
	uint32_t ttl = w->cfg->token_ttl_s ? w->cfg->token_ttl_s : HERALD_TOKEN_TTL_DEFAULT;
	herald_redirect_write(frame + DP_HDRS_LEN - sizeof(struct herald_hdr), hello, &self,
			      w->cfg->token_key, src_ip, src_port, w->tai_s + ttl);
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - (DP_HDRS_LEN + sizeof(struct herald_redirect_body))));
	w->ctr[HERALD_CTR_REDIRECTS_SENT]++;
	dp_tx(w, m);
}
