/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outgoing herald messages. A message body is never written per recipient:
 * each recipient gets a small header segment (Ethernet, IPv4, UDP, herald)
 * chained to the stored body mbuf, which gains one reference per frame in
 * flight. Ports without multi-segment TX get a contiguous copy instead, and
 * every such copy is counted (tx_copied).
 */
#include <string.h>

#include "dataplane.h"

#define L4_END (RTE_ETHER_HDR_LEN + HERALD_IPV4_UDP_LEN)

static void frame_send(struct dp_worker *w, const struct rte_ether_addr *mac, uint32_t ip, uint16_t port,
		       const struct herald_hdr_fields *h, uint16_t frag_off, uint16_t msg_len,
		       const void *inline_body, uint16_t inline_len, struct rte_mbuf *body)
{
	uint16_t blen = body != NULL ? body->data_len : inline_len;
	bool chain = body != NULL && w->zero_copy;
	struct rte_mbuf *m = rte_pktmbuf_alloc(chain ? w->hdr_pool : w->pool);
	if (m == NULL) {
		w->drop[HERALD_DROP_NO_MBUF]++;
		return;
	}
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_HDRS_LEN + (chain ? 0 : blen)));
	dp_headers_write(w, p, mac, ip, port, blen);
	herald_hdr_encode(p + L4_END, h, frag_off, blen, msg_len);

	if (chain) {
		rte_mbuf_refcnt_update(body, 1);
		m->next = body;
		m->nb_segs = 2;
		m->pkt_len += blen;
		w->ctr[HERALD_CTR_TX_ZEROCOPY]++;
	} else if (body != NULL) {
		memcpy(p + DP_HDRS_LEN, rte_pktmbuf_mtod(body, const void *), blen);
		w->ctr[HERALD_CTR_TX_COPIED]++;
	} else if (inline_len > 0) {
		memcpy(p + DP_HDRS_LEN, inline_body, inline_len);
	}
	dp_tx(w, m);
}

/* Send one stored entry to a session as message type @p type. */
static void entry_send(struct dp_worker *w, struct dp_session *s, uint32_t sidx, uint8_t type,
		       uint16_t flags, const struct dp_key *k)
{
	struct herald_hdr_fields h = {
		.type = type,
		.flags = flags,
		.context = w->contexts[s->ctx].id,
		.session = dp_session_wire_id(sidx),
		.seq = ++s->seq,
	};
	for (unsigned i = 0; i < k->nfrags; i++)
		frame_send(w, &s->mac, s->ip, s->port, &h, (uint16_t)(i * HERALD_FRAG_BODY_MAX), k->msg_len,
			   NULL, 0, k->frag[i]);
	s->last_tx_tsc = w->now;
}

void dp_fanout(struct dp_worker *w, uint32_t ctx, uint32_t kidx)
{
	const struct dp_key *k = &w->keys[kidx];
	uint32_t n = 0;

	for (uint32_t s = w->contexts[ctx].sub_head; s != DP_NONE; s = w->sessions[s].next, n++)
		entry_send(w, &w->sessions[s], s, HERALD_T_DELTA, 0, k);
	w->ctr[HERALD_CTR_DELIVERIES] += n;
}

void dp_snapshot_send(struct dp_worker *w, uint32_t sidx)
{
	struct dp_session *s = &w->sessions[sidx];
	const struct dp_context *c = &w->contexts[s->ctx];

	if (c->key_head == DP_NONE) {
		struct herald_hdr_fields h = {
			.type = HERALD_T_SNAPSHOT,
			.flags = HERALD_F_SNAP_END,
			.context = c->id,
			.session = dp_session_wire_id(sidx),
			.seq = ++s->seq,
		};
		frame_send(w, &s->mac, s->ip, s->port, &h, 0, 0, NULL, 0, NULL);
		s->last_tx_tsc = w->now;
		return;
	}
	for (uint32_t k = c->key_head; k != DP_NONE; k = w->keys[k].next) {
		uint16_t flags = w->keys[k].next == DP_NONE ? HERALD_F_SNAP_END : 0;
		entry_send(w, s, sidx, HERALD_T_SNAPSHOT, flags, &w->keys[k]);
		w->ctr[HERALD_CTR_SNAPSHOT_ENTRIES]++;
	}
}

void dp_heartbeat_send(struct dp_worker *w, uint32_t sidx)
{
	struct dp_session *s = &w->sessions[sidx];
	struct herald_hdr_fields h = {
		.type = HERALD_T_HEARTBEAT,
		.context = w->contexts[s->ctx].id,
		.session = dp_session_wire_id(sidx),
		.seq = s->seq,
	};
	frame_send(w, &s->mac, s->ip, s->port, &h, 0, 0, NULL, 0, NULL);
	s->last_tx_tsc = w->now;
	w->ctr[HERALD_CTR_HEARTBEATS_SENT]++;
}

void dp_error_send(struct dp_worker *w, uint32_t ip, uint16_t port, const struct rte_ether_addr *mac,
		   uint32_t context, enum herald_error code, const char *text)
{
	uint8_t body[sizeof(struct herald_error_body) + HERALD_ERROR_TEXT_MAX];
	size_t tlen = strnlen(text, HERALD_ERROR_TEXT_MAX);
	struct herald_error_body eb = {.code = rte_cpu_to_be_16((uint16_t)code)};
	struct herald_hdr_fields h = {.type = HERALD_T_ERROR, .context = context};

	memcpy(body, &eb, sizeof(eb));
	memcpy(body + sizeof(eb), text, tlen);
	uint16_t len = (uint16_t)(sizeof(eb) + tlen);
	frame_send(w, mac, ip, port, &h, 0, len, body, len, NULL);
	w->ctr[HERALD_CTR_ERRORS_SENT]++;
}
