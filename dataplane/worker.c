/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-lcore loop: receive a burst, handle each frame to completion,
 * drain TX, run timers. Nothing here locks, allocates memory (beyond mbufs),
 * logs or makes a system call while there is traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dataplane.h"

volatile bool dp_quit;

/* TX attempts on a full ring before the rest of a burst is dropped. */
#define TX_RETRIES 64

void dp_tx_flush(struct dp_worker *w)
{
	uint16_t sent = 0;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < w->ntx; i++)
		bytes += w->tx[i]->pkt_len;
	for (int tries = 0; sent < w->ntx && tries < TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(w->port_id, w->queue, w->tx + sent, w->ntx - sent);
	for (uint16_t i = sent; i < w->ntx; i++) {
		bytes -= w->tx[i]->pkt_len;
		dp_drop(w, w->tx[i], HERALD_DROP_TX_FULL);
	}
	w->ctr[HERALD_CTR_TX_PACKETS] += sent;
	w->ctr[HERALD_CTR_TX_BYTES] += bytes;
	w->ntx = 0;
}

void dp_tx(struct dp_worker *w, struct rte_mbuf *m)
{
	w->tx[w->ntx++] = m;
	if (w->ntx == DP_TX_BUF)
		dp_tx_flush(w);
}

/*
 * Refusals of a SUBSCRIBE carry a code and no text: an ERROR with an empty
 * text (36 bytes) is smaller than the SUBSCRIBE (40), so a spoofed request
 * cannot make the refusal an amplifier.
 */
static void subscribe_rx(struct dp_worker *w, const struct herald_frame *f,
			 const struct rte_ether_hdr *eth, uint32_t ip, uint16_t port)
{
	struct herald_subscribe_body sb;
	uint32_t ctx = dp_context_get(w, f->context, false);
	uint32_t s = ctx == DP_NONE ? DP_NONE : dp_session_find(w, ip, port, ctx);
	if (s == DP_NONE && dp_source_full(w, ip)) {
		w->drop[HERALD_DROP_SOURCE_LIMIT]++;
		return dp_error_send(w, ip, port, &eth->src_addr, f->context, HERALD_ERR_NO_SESSION_SPACE, "");
	}
	if (ctx == DP_NONE) {
		ctx = dp_context_get(w, f->context, true);
		if (ctx == DP_NONE) {
			w->drop[HERALD_DROP_NO_CONTEXT_SPACE]++;
			return dp_error_send(w, ip, port, &eth->src_addr, f->context,
					     HERALD_ERR_NO_CONTEXT_SPACE, "");
		}
		w->contexts[ctx].ephemeral = true;
	}
	if (s == DP_NONE)
		s = dp_session_open(w, ip, port, ctx);
	if (s == DP_NONE) {
		if (w->contexts[ctx].ephemeral && w->contexts[ctx].nsubs == 0)
			dp_context_remove(w, ctx, &(uint32_t){0}, &(uint32_t){0});
		w->drop[HERALD_DROP_NO_SESSION_SPACE]++;
		return dp_error_send(w, ip, port, &eth->src_addr, f->context,
				     HERALD_ERR_NO_SESSION_SPACE, "");
	}

	struct dp_session *ses = &w->sessions[s];
	memcpy(&sb, f->body, sizeof(sb));
	uint16_t hb_ms = rte_be_to_cpu_16(sb.heartbeat_ms);
	if (hb_ms != 0)
		ses->hb_tsc = rte_get_tsc_hz() / 1000 *
			      RTE_MIN(RTE_MAX(hb_ms, 10), HERALD_HEARTBEAT_MS_MAX);
	ses->budget = rte_be_to_cpu_32(sb.budget);
	ses->credit_mode = (rte_be_to_cpu_16(sb.flags) & HERALD_SUB_F_CREDITS) != 0;
	dp_budget_reset(w, ses);
	ses->mac = eth->src_addr;
	ses->last_rx_tsc = w->now;
	w->ctr[HERALD_CTR_SUBSCRIBES]++;
	/* A SUBSCRIBE on a live session is a resync: the state again, seq going on. */
	dp_snapshot_send(w, s);
}

static void frags_drop(struct dp_worker *w, struct rte_mbuf **frags, uint8_t n, enum herald_drop why)
{
	for (unsigned i = 0; i < n; i++)
		dp_drop(w, frags[i], why);
}

/*
 * Fold an update into the key's value with the context's merge operation.
 * The result is a new body written here; the update's buffer is released.
 * Values are 8-byte big-endian signed integers.
 */
static struct rte_mbuf *merge_fold(struct dp_worker *w, const struct dp_context *c,
				   const struct dp_key *k, struct rte_mbuf *upd, uint16_t key_len)
{
	const uint8_t *in = rte_pktmbuf_mtod(upd, const uint8_t *);
	uint16_t len = (uint16_t)(2 + key_len + sizeof(int64_t));
	int64_t value;

	memcpy(&value, in + 2 + key_len, sizeof(value));
	value = (int64_t)rte_be_to_cpu_64((uint64_t)value);
	if (k != NULL && k->nfrags != 0) {
		int64_t cur;
		memcpy(&cur, rte_pktmbuf_mtod(k->frag[0], const uint8_t *) + 2 + key_len, sizeof(cur));
		value = c->policy.merge->fn((int64_t)rte_be_to_cpu_64((uint64_t)cur), value);
	}

	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	if (m == NULL)
		return NULL;
	uint8_t *out = (uint8_t *)rte_pktmbuf_append(m, len);
	uint64_t be = rte_cpu_to_be_64((uint64_t)value);
	memcpy(out, in, 2 + key_len);
	memcpy(out + 2 + key_len, &be, sizeof(be));
	rte_pktmbuf_free(upd);
	w->ctr[HERALD_CTR_MERGES]++;
	return m;
}

/*
 * Install a complete PUBLISH body (its fragments, in order) and fan it out.
 * @p raw: the body is a value the primary already merged (the relay's
 * `put`): stored as it is, since folding it in again would count it twice.
 */
static void publish_apply(struct dp_worker *w, uint32_t ctx, struct rte_mbuf **frags,
			  uint8_t nfrags, uint16_t msg_len, bool raw)
{
	const struct dp_context *c = &w->contexts[ctx];
	const uint8_t *body = rte_pktmbuf_mtod(frags[0], const uint8_t *);
	uint16_t key_len = (uint16_t)(body[0] << 8 | body[1]);

	if (c->policy.kind == DP_POLICY_MERGE && msg_len != 2 + key_len + sizeof(int64_t))
		return frags_drop(w, frags, nfrags, HERALD_DROP_BAD_VALUE);
	uint32_t k = dp_key_find(w, ctx, body + 2, key_len, false);
	struct rte_mbuf *merged;
	if (c->policy.kind == DP_POLICY_MERGE && !raw) {
		/* Folded before the key is created: a key never exists without a value. */
		merged = merge_fold(w, c, k == DP_NONE ? NULL : &w->keys[k], frags[0], key_len);
		if (merged == NULL)
			return frags_drop(w, frags, nfrags, HERALD_DROP_NO_MBUF);
		frags = &merged; /* the update's buffer is released: read the key here */
		body = rte_pktmbuf_mtod(merged, const uint8_t *);
		msg_len = merged->data_len;
	}
	if (k == DP_NONE && (k = dp_key_find(w, ctx, body + 2, key_len, true)) == DP_NONE)
		return frags_drop(w, frags, nfrags, HERALD_DROP_NO_KEY_SPACE);
	dp_key_set(w, k, frags, nfrags, msg_len);
	if (c->policy.kind == DP_POLICY_NONE)
		dp_hist_append(w, ctx, k);
	w->ctr[HERALD_CTR_PUBLISHES]++;
	dp_fanout(w, ctx, k);
}

/* NAK on a `none` context: retransmit what the history still holds. */
static void nak_rx(struct dp_worker *w, uint32_t sidx, const struct herald_frame *f)
{
	struct dp_session *s = &w->sessions[sidx];
	const struct dp_context *c = &w->contexts[s->ctx];
	struct herald_nak_body nb;

	memcpy(&nb, f->body, sizeof(nb));
	uint64_t first = rte_be_to_cpu_64(nb.first), last = rte_be_to_cpu_64(nb.last);
	/*
	 * Fix (tests/unit/test_dataplane.c): the range is clamped in the
	 * session's sequence space, unsigned. Converting the client's numbers to
	 * message numbers first overflowed int64 on huge values (undefined; a
	 * range not sent yet was answered HISTORY_LOST), and the seqs of the
	 * session's snapshot entries mapped onto older history messages, which
	 * were resent as DELTAs under those numbers. Resendable are the messages
	 * sent after the session's snapshot that the ring still holds.
	 */
	uint64_t oldest = c->hist_head >= w->history ? c->hist_head - w->history + 1 : 1;
	uint64_t lo = (uint64_t)((int64_t)RTE_MAX(oldest, s->hist_first) + s->seq_offset);
	uint64_t sent = (uint64_t)((int64_t)s->hist_next - 1 + s->seq_offset);

	w->ctr[HERALD_CTR_NAKS]++;
	if (last > sent)
		last = sent; /* not sent yet: it will come anyway */
	if (first > last)
		return;
	if (first < lo) {
		w->drop[HERALD_DROP_HISTORY_LOST]++;
		dp_error_send(w, s->ip, s->port, &s->mac, c->id, HERALD_ERR_HISTORY_LOST,
			      "NAK range no longer in the history");
		first = lo;
	}
	for (uint64_t q = first; q <= last; q++) {
		dp_hist_send(w, sidx, (uint64_t)((int64_t)q - s->seq_offset));
		w->ctr[HERALD_CTR_RETRANSMITS]++;
	}
}

static void publish_rx(struct dp_worker *w, struct rte_mbuf *m, const struct herald_frame *f,
		       uint32_t ip, uint16_t port)
{
	/*
	 * Authenticated first, before the frame can create a context or take a
	 * reassembly slot: every datagram (fragment) carries its own MAC. The
	 * MAC is computed in place over the datagram, which is this mbuf's.
	 */
	if (w->cfg->publish_auth) {
		uint8_t *dgram = rte_pktmbuf_mtod_offset(m, uint8_t *, f->body - sizeof(struct herald_hdr) -
							 rte_pktmbuf_mtod(m, const uint8_t *));
		if (!herald_publish_verify(dgram, sizeof(struct herald_hdr) + f->length, f,
					   w->cfg->publish_key))
			return dp_drop(w, m, HERALD_DROP_BAD_AUTH);
		enum herald_drop why = dp_replay_admit(w, f);
		if (why != HERALD_DROP_NONE)
			return dp_drop(w, m, why);
	}
	uint32_t ctx = dp_context_get(w, f->context, true);
	if (ctx == DP_NONE)
		return dp_drop(w, m, HERALD_DROP_NO_CONTEXT_SPACE);
	w->contexts[ctx].ephemeral = false; /* it will hold state */

	/* Keep exactly the body: it is what every recipient will be sent. */
	rte_pktmbuf_adj(m, (uint16_t)(f->body - rte_pktmbuf_mtod(m, const uint8_t *)));
	rte_pktmbuf_trim(m, m->data_len - f->length);

	if (f->frag_off == 0 && f->length == f->msg_len)
		return publish_apply(w, ctx, &m, 1, f->msg_len, false);

	struct dp_reasm *r;
	enum herald_drop why = dp_reasm_add(w, ip, port, f, m, &r);
	if (why != HERALD_DROP_NONE)
		return dp_drop(w, m, why);
	if (r != NULL) {
		w->ctr[HERALD_CTR_FRAGMENTS_REASSEMBLED]++;
		publish_apply(w, ctx, r->frag, r->nfrags, r->msg_len, false);
		dp_reasm_release(r, false);
	}
}

int dp_put(struct dp_worker *w, uint32_t ctx, const uint8_t *body, uint16_t len)
{
	struct rte_mbuf *frags[HERALD_FRAGS_MAX];
	uint8_t n = 0;

	for (uint16_t off = 0; off < len; off = (uint16_t)(off + HERALD_FRAG_BODY_MAX)) {
		uint16_t part = (uint16_t)RTE_MIN(len - off, HERALD_FRAG_BODY_MAX);
		char *dst;
		if (n == HERALD_FRAGS_MAX || (frags[n] = rte_pktmbuf_alloc(w->pool)) == NULL ||
		    (dst = rte_pktmbuf_append(frags[n], part)) == NULL) {
			if (n < HERALD_FRAGS_MAX && frags[n] != NULL)
				n++;
			frags_drop(w, frags, n, HERALD_DROP_NO_MBUF);
			return -ENOMEM;
		}
		memcpy(dst, body + off, part);
		n++;
	}
	publish_apply(w, ctx, frags, n, len, true);
	return 0;
}

/* HEARTBEAT and BYE name a session, which must belong to the sender. */
static uint32_t session_of(struct dp_worker *w, const struct herald_frame *f, uint32_t ip,
			   uint16_t port)
{
	uint32_t ctx = dp_context_get(w, f->context, false);
	uint32_t s = ctx == DP_NONE ? DP_NONE : dp_session_find(w, ip, port, ctx);
	if (s == DP_NONE || dp_session_wire_id(w, s) != f->session)
		return DP_NONE;
	/* The id came in the node's reply: the client receives at its source address. */
	w->sessions[s].confirmed = true;
	return s;
}

void dp_herald_rx(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ether_hdr *eth,
		  uint32_t ip, uint16_t port, const uint8_t *payload, uint16_t len)
{
	struct herald_frame f;
	enum herald_drop why = herald_frame_decode(payload, len, &f);
	uint32_t s;

	if (why != HERALD_DROP_NONE)
		return dp_drop(w, m, why);
	/*
	 * --token-key: a SUBSCRIBE that does not prove its source address
	 * creates nothing (no session, no context, no checkpoint load) and is
	 * told so in 36 bytes, fewer than it carried.
	 */
	if (f.type == HERALD_T_SUBSCRIBE && (why = dp_subscribe_admit(w, &f, ip, port)) != HERALD_DROP_NONE) {
		dp_error_send(w, ip, port, &eth->src_addr, f.context, HERALD_ERR_TOKEN_REQUIRED, "");
		return dp_drop(w, m, why);
	}
	/* A context in the checkpoint store: held until it is loaded (ckpt_worker.c). */
	if (w->ckpt != NULL && (f.type == HERALD_T_PUBLISH || f.type == HERALD_T_SUBSCRIBE) &&
	    dp_ckpt_hold(w, m, f.context, ip, port, payload, len))
		return;

	switch (f.type) {
	case HERALD_T_PUBLISH:
		return publish_rx(w, m, &f, ip, port);
	case HERALD_T_SUBSCRIBE:
		subscribe_rx(w, &f, eth, ip, port);
		break;
	case HERALD_T_HEARTBEAT:
		if ((s = session_of(w, &f, ip, port)) == DP_NONE) {
			/*
			 * A client still heartbeating a session the node closed (it
			 * expired, the node restarted) is told so, or it would wait in
			 * silence. Rate-limited, and no text: 36 bytes for 32 received.
			 */
			if (w->unknown_replies != 0) {
				w->unknown_replies--;
				w->ctr[HERALD_CTR_UNKNOWN_SESSION_ERRORS]++;
				dp_error_send(w, ip, port, &eth->src_addr, f.context,
					      HERALD_ERR_UNKNOWN_SESSION, "");
			}
			return dp_drop(w, m, HERALD_DROP_UNKNOWN_SESSION);
		}
		w->sessions[s].last_rx_tsc = w->now;
		w->ctr[HERALD_CTR_HEARTBEATS_RECEIVED]++;
		break;
	case HERALD_T_BYE:
		if ((s = session_of(w, &f, ip, port)) == DP_NONE)
			return dp_drop(w, m, HERALD_DROP_UNKNOWN_SESSION);
		dp_session_close(w, s);
		w->ctr[HERALD_CTR_BYES]++;
		break;
	case HERALD_T_RESYNC:
		if ((s = session_of(w, &f, ip, port)) == DP_NONE)
			return dp_drop(w, m, HERALD_DROP_UNKNOWN_SESSION);
		w->sessions[s].last_rx_tsc = w->now;
		dp_snapshot_send(w, s);
		w->ctr[HERALD_CTR_RESYNCS]++;
		break;
	case HERALD_T_ACK: {
		struct herald_ack_body ab;
		if ((s = session_of(w, &f, ip, port)) == DP_NONE)
			return dp_drop(w, m, HERALD_DROP_UNKNOWN_SESSION);
		memcpy(&ab, f.body, sizeof(ab));
		w->sessions[s].last_rx_tsc = w->now;
		dp_budget_credit(&w->sessions[s], rte_be_to_cpu_32(ab.credits));
		w->ctr[HERALD_CTR_ACKS]++;
		break;
	}
	case HERALD_T_NAK:
		if ((s = session_of(w, &f, ip, port)) == DP_NONE)
			return dp_drop(w, m, HERALD_DROP_UNKNOWN_SESSION);
		if (w->contexts[w->sessions[s].ctx].policy.kind != DP_POLICY_NONE)
			return dp_drop(w, m, HERALD_DROP_UNEXPECTED_TYPE);
		w->sessions[s].last_rx_tsc = w->now;
		nak_rx(w, s, &f);
		break;
	default:
		return dp_drop(w, m, HERALD_DROP_UNEXPECTED_TYPE);
	}
	rte_pktmbuf_free(m);
}

static void stats_print(const struct dp_worker *w)
{
	uint64_t drops = 0;
	for (int i = 1; i < HERALD_DROP_MAX; i++)
		drops += w->drop[i];
	printf("lcore %u: rx %lu tx %lu publishes %lu deliveries %lu zerocopy %lu copied %lu "
	       "sessions %lu drops %lu (no_mbuf %lu tx_full %lu) mbufs_in_use %lu",
	       rte_lcore_id(), w->ctr[HERALD_CTR_RX_PACKETS], w->ctr[HERALD_CTR_TX_PACKETS],
	       w->ctr[HERALD_CTR_PUBLISHES], w->ctr[HERALD_CTR_DELIVERIES],
	       w->ctr[HERALD_CTR_TX_ZEROCOPY], w->ctr[HERALD_CTR_TX_COPIED],
	       w->ctr[HERALD_CTR_SESSIONS_ACTIVE], drops, w->drop[HERALD_DROP_NO_MBUF],
	       w->drop[HERALD_DROP_TX_FULL], w->ctr[HERALD_CTR_MBUFS_IN_USE]);
	/* The port is shared by every queue: queue 0's line carries its counters. */
	uint64_t ps[HERALD_PORT_STAT_MAX];
	if (w->queue == 0 && dp_port_stats(w->port_id, ps) == 0) {
		printf(" | port");
		for (int s = 0; s < HERALD_PORT_STAT_MAX; s++)
			printf(" %s %lu", herald_port_stat_name(s), ps[s]);
	}
	printf("\n");
	fflush(stdout);
}

/* ERROR UNKNOWN_SESSION answers per timer period (10 ms): 1600/s at most. */
#define UNKNOWN_REPLIES_PER_PERIOD 16

void dp_worker_timers(struct dp_worker *w)
{
	uint64_t late = w->now > w->next_timer_tsc ? w->now - w->next_timer_tsc : 0;

	/*
	 * A worker that was not scheduled for a while (a stalled VM, a stopped
	 * process) heard nothing meanwhile, through no fault of its clients:
	 * give them as long again to be heard before anything expires.
	 */
	if (w->next_timer_tsc != 0 && late > rte_get_tsc_hz()) {
		w->grace_until_tsc = w->now + late;
		w->ctr[HERALD_CTR_WORKER_STALLS]++;
	}
	bool expire = w->now >= w->grace_until_tsc;
	w->unknown_replies = UNKNOWN_REPLIES_PER_PERIOD;
	/*
	 * The pools are shared by every queue: one worker reports them. Read
	 * before this run queues heartbeats, with TX flushed: what the node
	 * holds between bursts (store, history, reassembly), so a leak shows
	 * as a gauge that does not come back (tests/integration/faults.sh).
	 */
	if (w->queue == 0)
		w->ctr[HERALD_CTR_MBUFS_IN_USE] = rte_mempool_in_use_count(w->pool) +
						  rte_mempool_in_use_count(w->hdr_pool);
	if (w->cfg->token_required || w->cfg->publish_auth)
		dp_clock_refresh(w); /* token expiry, PUBLISH stamps: the clock is read here, not per packet */

	for (uint32_t s = 0; s < w->session_hwm; s++) {
		struct dp_session *ses = &w->sessions[s];
		if (!ses->in_use)
			continue;
		if (!expire) {
			if (ses->confirmed && w->now - ses->last_tx_tsc >= ses->hb_tsc)
				dp_heartbeat_send(w, s);
		} else if (!ses->confirmed) {
			/* No heartbeats to an address that may not have asked for them. */
			uint64_t wait = RTE_MIN(RTE_MAX(ses->hb_tsc * HERALD_SESSION_CONFIRM_BEATS,
							w->confirm_min_tsc), w->confirm_max_tsc);
			if (w->now - ses->last_rx_tsc > wait) {
				dp_session_close(w, s);
				w->ctr[HERALD_CTR_SESSIONS_UNCONFIRMED]++;
			}
		} else if (w->now - ses->last_rx_tsc > ses->hb_tsc * HERALD_SESSION_TIMEOUT_BEATS) {
			dp_session_close(w, s);
			w->ctr[HERALD_CTR_SESSIONS_EXPIRED]++;
		} else if (w->now - ses->last_tx_tsc >= ses->hb_tsc) {
			dp_heartbeat_send(w, s);
		}
	}
	dp_budget_drain(w);
	dp_reasm_expire(w);
	dp_ckpt_timers(w);
	if (w->stats_period_tsc != 0 && w->now >= w->next_stats_tsc) {
		stats_print(w);
		w->next_stats_tsc = w->now + w->stats_period_tsc;
	}
	w->next_timer_tsc = w->now + w->timer_period_tsc;
}

#define REASM_TIMEOUT_MS 100
#define TIMER_PERIOD_MS 10

int dp_worker_init(struct dp_worker *w, const struct dp_config *cfg,
		       const struct herald_port *port, uint16_t queue, struct rte_mempool *pool,
		       struct rte_mempool *hdr_pool)
{
	uint64_t hz = rte_get_tsc_hz();

	w->port_id = port->port_id;
	w->queue = queue;
	w->ip = cfg->ip;
	w->port_base = cfg->udp_port;
	w->nqueues = port->nb_queues > 1 ? port->nb_queues : 1;
	w->udp_port_be = rte_cpu_to_be_16((uint16_t)(cfg->udp_port + queue));
	w->mac = port->mac;
	w->zero_copy = port->caps.multi_seg_tx && !cfg->force_copy;
	w->pool = pool;
	w->hdr_pool = hdr_pool;
	w->idle = cfg->idle;
	w->hb_default_tsc = hz / 1000 * HERALD_HEARTBEAT_MS_DEFAULT;
	w->reasm_timeout_tsc = hz / 1000 * REASM_TIMEOUT_MS;
	w->timer_period_tsc = hz / 1000 * TIMER_PERIOD_MS;
	w->confirm_min_tsc = hz / 1000 * HERALD_SESSION_CONFIRM_MIN_MS;
	w->confirm_max_tsc = hz / 1000 * HERALD_SESSION_CONFIRM_MAX_MS;
	w->stats_period_tsc = hz * cfg->stats_interval_s;
	w->cfg = cfg;
	dp_clock_refresh(w);
	int r = dp_store_init(w, cfg, queue);
	return r < 0 ? r : dp_replay_init(w, queue);
}

/* Empty polls before a sleeping worker starts to nap, and the nap. */
#define IDLE_POLLS 256
#define IDLE_NAP_US 50

int dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned empty = 0;

	w->now = rte_rdtsc();
	w->next_timer_tsc = w->now + w->timer_period_tsc;
	w->next_stats_tsc = w->now + w->stats_period_tsc;
	while (!dp_quit) {
		uint16_t n = rte_eth_rx_burst(w->port_id, w->queue, pkts, DP_BURST);
		w->now = rte_rdtsc();
		unsigned handed = dp_handoff_drain(w); /* what other queues received for ours */
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			dp_net_rx(w, pkts[i]);
		}
		if (w->ntx != 0)
			dp_tx_flush(w);
		if (w->now >= w->next_timer_tsc) {
			dp_worker_timers(w);
			if (w->ntx != 0)
				dp_tx_flush(w);
		}
		dp_ctl_drain(w); /* control requests (ctl.c): between bursts, never per packet */
		dp_ckpt_drain(w); /* checkpoint store answers (ckpt_worker.c), likewise */
		if (n != 0 || handed != 0) {
			empty = 0;
		} else if (w->idle == DP_IDLE_SLEEP && ++empty > IDLE_POLLS) {
			/* Back off on shared hosts; costs up to IDLE_NAP_US of latency. */
			rte_delay_us_sleep(IDLE_NAP_US);
		}
	}
	return 0;
}
