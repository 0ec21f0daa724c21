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

/* A message body as stored: the key's latest value or a history entry. */
struct body {
	struct rte_mbuf *const *frag;
	uint8_t nfrags;
	uint16_t msg_len;
};

static void body_send(struct dp_worker *w, uint32_t sidx, uint8_t type, uint16_t flags,
		      uint64_t seq, const struct body *b)
{
	struct dp_session *s = &w->sessions[sidx];
	struct herald_hdr_fields h = {
		.type = type,
		.flags = flags,
		.context = w->contexts[s->ctx].id,
		.session = dp_session_wire_id(w, sidx),
		.seq = seq,
	};
	for (unsigned i = 0; i < b->nfrags; i++)
		frame_send(w, &s->mac, s->ip, s->port, &h, (uint16_t)(i * HERALD_FRAG_BODY_MAX),
			   b->msg_len, NULL, 0, b->frag[i]);
	if (seq > s->seq)
		s->seq = seq;
	s->last_tx_tsc = w->now;
}

static struct body key_body(const struct dp_key *k)
{
	return (struct body){.frag = k->frag, .nfrags = k->nfrags, .msg_len = k->msg_len};
}

void dp_delta_send(struct dp_worker *w, uint32_t sidx, uint32_t k)
{
	struct body b = key_body(&w->keys[k]);
	body_send(w, sidx, HERALD_T_DELTA, 0, w->sessions[sidx].seq + 1, &b);
}

void dp_hist_send(struct dp_worker *w, uint32_t sidx, uint64_t msg)
{
	struct dp_session *s = &w->sessions[sidx];
	const struct dp_context *c = &w->contexts[s->ctx];
	const struct dp_hist_entry *e = &c->hist[(msg - 1) % w->history];
	struct body b = {.frag = e->frag, .nfrags = e->nfrags, .msg_len = e->msg_len};

	body_send(w, sidx, HERALD_T_DELTA, 0, (uint64_t)((int64_t)msg + s->seq_offset), &b);
}

void dp_hist_append(struct dp_worker *w, uint32_t ctx, uint32_t kidx)
{
	struct dp_context *c = &w->contexts[ctx];
	const struct dp_key *k = &w->keys[kidx];
	struct dp_hist_entry *e = &c->hist[c->hist_head % w->history];

	/* The entry leaving the ring gives its references back. */
	for (unsigned i = 0; i < e->nfrags; i++)
		rte_pktmbuf_free(e->frag[i]);
	*e = (struct dp_hist_entry){.key = kidx, .msg_len = k->msg_len, .nfrags = k->nfrags};
	for (unsigned i = 0; i < k->nfrags; i++) {
		rte_mbuf_refcnt_update(k->frag[i], 1);
		e->frag[i] = k->frag[i];
	}
	c->hist_head++;
}

/*
 * One update to every subscriber. A session within its budget gets it now;
 * one past its budget (or already owing older deliveries, which must go
 * first) is marked: a dirty key, or a lag in the history.
 */
void dp_fanout(struct dp_worker *w, uint32_t ctx, uint32_t kidx)
{
	const struct dp_context *c = &w->contexts[ctx];
	const struct dp_key *k = &w->keys[kidx];
	bool none = c->policy.kind == DP_POLICY_NONE;
	uint64_t msg = c->hist_head;
	uint32_t n = 0;

	for (uint32_t s = c->sub_head; s != DP_NONE; s = w->sessions[s].next) {
		struct dp_session *ses = &w->sessions[s];
		bool behind = none ? ses->hist_next != msg : ses->ndirty != 0;
		if (!behind && dp_budget_take(w, ses)) {
			if (none) {
				dp_hist_send(w, s, msg);
				ses->hist_next = msg + 1;
			} else {
				dp_delta_send(w, s, kidx);
			}
			n++;
		} else if (none) {
			w->ctr[HERALD_CTR_HISTORY_LAGGED]++;
			dp_session_dirty_link(w, s);
		} else {
			dp_dirty_mark(w, s, k->ordinal);
		}
	}
	w->ctr[HERALD_CTR_DELIVERIES] += n;
}

void dp_snapshot_send(struct dp_worker *w, uint32_t sidx)
{
	struct dp_session *s = &w->sessions[sidx];
	const struct dp_context *c = &w->contexts[s->ctx];

	if (c->nkeys == 0) {
		struct herald_hdr_fields h = {
			.type = HERALD_T_SNAPSHOT,
			.flags = HERALD_F_SNAP_END,
			.context = c->id,
			.session = dp_session_wire_id(w, sidx),
			.seq = ++s->seq,
		};
		frame_send(w, &s->mac, s->ip, s->port, &h, 0, 0, NULL, 0, NULL);
		s->last_tx_tsc = w->now;
	}
	for (uint32_t o = 0; o < c->nkeys; o++) {
		struct body b = key_body(&w->keys[c->keys[o]]);
		uint16_t flags = o + 1 == c->nkeys ? HERALD_F_SNAP_END : 0;
		body_send(w, sidx, HERALD_T_SNAPSHOT, flags, s->seq + 1, &b);
		w->ctr[HERALD_CTR_SNAPSHOT_ENTRIES]++;
	}
	/* The snapshot is the whole state: nothing older is owed any more. */
	dp_dirty_clear(w, sidx);
	s->hist_next = s->hist_first = c->hist_head + 1;
	s->seq_offset = (int64_t)s->seq - (int64_t)c->hist_head;
}

/* An empty-bodied frame on a session: HEARTBEAT or BYE, naming the last sequence sent. */
static void session_frame_send(struct dp_worker *w, uint32_t sidx, enum herald_type type)
{
	struct dp_session *s = &w->sessions[sidx];
	struct herald_hdr_fields h = {
		.type = (uint8_t)type,
		.context = w->contexts[s->ctx].id,
		.session = dp_session_wire_id(w, sidx),
		.seq = s->seq,
	};
	frame_send(w, &s->mac, s->ip, s->port, &h, 0, 0, NULL, 0, NULL);
	s->last_tx_tsc = w->now;
}

void dp_heartbeat_send(struct dp_worker *w, uint32_t sidx)
{
	session_frame_send(w, sidx, HERALD_T_HEARTBEAT);
	w->ctr[HERALD_CTR_HEARTBEATS_SENT]++;
}

void dp_bye_send(struct dp_worker *w, uint32_t sidx)
{
	session_frame_send(w, sidx, HERALD_T_BYE);
}

void dp_error_send(struct dp_worker *w, uint32_t ip, uint16_t port, const struct rte_ether_addr *mac,
		   uint32_t context, enum herald_error code, const char *text)
{
	dp_error_send_seq(w, ip, port, mac, context, 0, code, text);
}

void dp_error_send_seq(struct dp_worker *w, uint32_t ip, uint16_t port,
		       const struct rte_ether_addr *mac, uint32_t context, uint64_t seq,
		       enum herald_error code, const char *text)
{
	uint8_t body[sizeof(struct herald_error_body) + HERALD_ERROR_TEXT_MAX];
	size_t tlen = strnlen(text, HERALD_ERROR_TEXT_MAX);
	struct herald_error_body eb = {.code = rte_cpu_to_be_16((uint16_t)code)};
	struct herald_hdr_fields h = {.type = HERALD_T_ERROR, .context = context, .seq = seq};

	memcpy(body, &eb, sizeof(eb));
	memcpy(body + sizeof(eb), text, tlen);
	uint16_t len = (uint16_t)(sizeof(eb) + tlen);
	frame_send(w, mac, ip, port, &h, 0, len, body, len, NULL);
	w->ctr[HERALD_CTR_ERRORS_SENT]++;
}
