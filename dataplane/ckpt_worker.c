/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's side of the context life cycle (checkpoint.h). Everything
 * here runs on the worker between bursts or in its timers, except
 * dp_ckpt_hold, one hash lookup for SUBSCRIBE and PUBLISH while some context
 * is parked. No system call, no lock: the checkpoint thread does the I/O.
 *
 * A context is unloaded in two steps so that a failed or slow write never
 * loses state: its bodies (references) go to the store while it stays in
 * memory and keeps serving; only when the store says the record is
 * committed, and the context is still idle and unchanged, is it removed and
 * parked.
 */
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "checkpoint.h"
#include "dataplane.h"

/* How often the timers look for idle and dirty contexts. */
#define SCAN_PERIOD_MS 250
#define DRAIN_BURST 8

static size_t msgs_per_save_max(const struct dp_config *cfg)
{
	return (cfg->max_keys_per_context + DP_CKPT_BATCH - 1) / DP_CKPT_BATCH + 1;
}

/* Ring size fitting two whole records of the largest context, and the pool behind all rings. */
unsigned dp_ckpt_ring_size(const struct dp_config *cfg)
{
	return rte_align32pow2((uint32_t)(2 * msgs_per_save_max(cfg) + 64));
}

int dp_ckpt_worker_init(struct dp_worker *w, struct dp_ckpt_worker *cw, unsigned index)
{
	const struct dp_config *cfg = w->cfg;
	char name[RTE_RING_NAMESIZE];
	uint64_t hz = rte_get_tsc_hz();
	unsigned size = dp_ckpt_ring_size(cfg);

	snprintf(name, sizeof(name), "ckpt_to_%u", index);
	cw->to_store = rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "ckpt_from_%u", index);
	cw->from_store = rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "parked_%u", index);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = RTE_MAX(cfg->max_contexts * DP_CKPT_PARKED_PER_CONTEXT, 1024u),
		.key_len = sizeof(uint32_t),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	cw->parked = rte_hash_create(&p);
	cw->batch = rte_zmalloc_socket("ckpt_batch", sizeof(void *) * msgs_per_save_max(cfg), 0,
				       (int)rte_socket_id());
	cw->loading_ctx = DP_NONE;
	cw->idle_tsc = hz * cfg->idle_unload_s;
	cw->interval_tsc = hz * cfg->checkpoint_interval_s;
	cw->scan_period_tsc = hz / 1000 * SCAN_PERIOD_MS;
	w->ckpt = cw;
	if (cw->to_store == NULL || cw->from_store == NULL || cw->parked == NULL || cw->batch == NULL)
		return -ENOMEM;
	return 0;
}

static void entry_free(struct dp_ckpt_entry *e)
{
	for (unsigned f = 0; f < e->nfrags; f++)
		rte_pktmbuf_free(e->frag[f]);
	e->nfrags = 0;
}

void dp_ckpt_msg_free(struct rte_mempool *pool, struct dp_ckpt_msg *msg)
{
	for (unsigned i = 0; i < msg->n; i++)
		entry_free(&msg->ent[i]);
	rte_mempool_put(pool, msg);
}

void dp_ckpt_worker_free(struct dp_worker *w)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	void *msg;

	if (cw == NULL)
		return;
	for (uint32_t i = 0; i < cw->nheld; i++)
		rte_pktmbuf_free(cw->held[i].m);
	cw->nheld = 0;
	for (struct rte_ring *r = cw->to_store; r != NULL; r = r == cw->to_store ? cw->from_store : NULL)
		while (rte_ring_dequeue(r, &msg) == 0)
			dp_ckpt_msg_free(cw->msgs, msg);
	rte_ring_free(cw->to_store);
	rte_ring_free(cw->from_store);
	rte_hash_free(cw->parked);
	rte_free(cw->batch);
	w->ckpt = NULL;
}

static void parked_gauge(struct dp_worker *w)
{
	w->ctr[HERALD_CTR_CONTEXTS_PARKED] = w->ckpt->nparked;
}

/*
 * A parked context's table value: its policy (the merge operation's address,
 * 8-byte aligned, with the kind in bits 1-2) and bit 0 set while it loads.
 */
#define PARKED_LOADING 1u

static uintptr_t parked_value(const struct dp_policy *p)
{
	return (uintptr_t)p->merge | (uintptr_t)p->kind << 1;
}

static struct dp_policy parked_policy(uintptr_t v)
{
	return (struct dp_policy){.kind = (enum dp_policy_kind)((v >> 1) & 3),
				  .merge = (const struct dp_merge_op *)(v & ~(uintptr_t)7)};
}

int dp_ckpt_park(struct dp_worker *w, uint32_t context, const struct dp_policy *policy)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	void *old;
	bool known = rte_hash_lookup_data(cw->parked, &context, &old) >= 0;
	uintptr_t v = policy != NULL ? parked_value(policy)
		    : known	     ? (uintptr_t)old & ~(uintptr_t)PARKED_LOADING
				     : parked_value(dp_policy_for(w->cfg, context));
	if (rte_hash_add_key_data(cw->parked, &context, (void *)v) < 0)
		return -ENOSPC;
	cw->nparked += !known;
	parked_gauge(w);
	return 0;
}

bool dp_ckpt_parked_next(struct dp_worker *w, uint32_t *iter, uint32_t *context,
			 struct dp_policy *policy)
{
	const void *key;
	void *data;

	if (w->ckpt == NULL || rte_hash_iterate(w->ckpt->parked, &key, &data, iter) < 0)
		return false;
	memcpy(context, key, sizeof(*context));
	*policy = parked_policy((uintptr_t)data);
	return true;
}

uint32_t dp_ckpt_parked_count(const struct dp_worker *w)
{
	return w->ckpt == NULL ? 0 : *(const volatile uint32_t *)&w->ckpt->nparked;
}

static void unpark(struct dp_worker *w, uint32_t context)
{
	if (rte_hash_del_key(w->ckpt->parked, &context) >= 0)
		w->ckpt->nparked--;
	parked_gauge(w);
}

static int parked_state(struct dp_ckpt_worker *cw, uint32_t context, uintptr_t *value)
{
	void *data;
	if (cw->nparked == 0 || rte_hash_lookup_data(cw->parked, &context, &data) < 0)
		return 0;
	*value = (uintptr_t)data;
	return *value & PARKED_LOADING ? DP_PARKED_LOADING : DP_PARKED_STORED;
}

static int load_request(struct dp_worker *w, uint32_t context, uintptr_t value)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	struct dp_ckpt_msg *msg;

	if (rte_mempool_get(cw->msgs, (void **)&msg) != 0)
		return -ENOBUFS;
	*msg = (struct dp_ckpt_msg){.kind = DP_CKPT_LOAD, .context = context, .first = true, .last = true};
	if (rte_ring_enqueue(cw->to_store, msg) != 0) {
		rte_mempool_put(cw->msgs, msg);
		return -EBUSY;
	}
	rte_hash_add_key_data(cw->parked, &context, (void *)(value | PARKED_LOADING));
	return 0;
}

bool dp_ckpt_hold(struct dp_worker *w, struct rte_mbuf *m, uint32_t context, uint32_t ip,
		  uint16_t port, const uint8_t *payload, uint16_t len)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	uintptr_t value;
	int state = parked_state(cw, context, &value);

	if (state == 0)
		return false;
	if ((state == DP_PARKED_STORED && load_request(w, context, value) < 0) ||
	    cw->nheld == DP_CKPT_HOLD) {
		dp_drop(w, m, HERALD_DROP_CHECKPOINT_LOAD);
		return true;
	}
	cw->held[cw->nheld++] = (struct dp_ckpt_held){
		.m = m, .context = context, .ip = ip, .port = port, .len = len,
		.off = (uint16_t)(payload - rte_pktmbuf_mtod(m, const uint8_t *)),
	};
	return true;
}

int dp_ckpt_activate(struct dp_worker *w, uint32_t context)
{
	if (w->ckpt == NULL)
		return 0;
	uintptr_t value;
	int state = parked_state(w->ckpt, context, &value);
	if (state == DP_PARKED_STORED) {
		int rc = load_request(w, context, value);
		if (rc < 0)
			return rc;
	}
	return state != 0;
}

int dp_ckpt_forget(struct dp_worker *w, uint32_t context)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	struct dp_ckpt_msg *msg;
	uintptr_t value;

	if (cw == NULL)
		return 0;
	int state = parked_state(cw, context, &value);
	if (state == DP_PARKED_LOADING)
		return -EBUSY;
	if (rte_mempool_get(cw->msgs, (void **)&msg) != 0)
		return -ENOBUFS;
	*msg = (struct dp_ckpt_msg){.kind = DP_CKPT_DELETE, .context = context, .first = true, .last = true};
	if (rte_ring_enqueue(cw->to_store, msg) != 0) {
		rte_mempool_put(cw->msgs, msg);
		return -EBUSY;
	}
	if (state != 0)
		unpark(w, context);
	return state != 0;
}

/* Frames held for @p context, in arrival order, through the normal path; or dropped. */
static void held_release(struct dp_worker *w, uint32_t context, bool replay)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	struct dp_ckpt_held mine[DP_CKPT_HOLD];
	uint32_t n = 0, keep = 0;

	for (uint32_t i = 0; i < cw->nheld; i++) {
		if (cw->held[i].context == context)
			mine[n++] = cw->held[i];
		else
			cw->held[keep++] = cw->held[i];
	}
	cw->nheld = keep;
	for (uint32_t i = 0; i < n; i++) {
		struct dp_ckpt_held *h = &mine[i];
		const uint8_t *frame = rte_pktmbuf_mtod(h->m, const uint8_t *);
		if (replay)
			dp_herald_rx(w, h->m, (const struct rte_ether_hdr *)frame, h->ip, h->port,
				     frame + h->off, h->len);
		else
			dp_drop(w, h->m, HERALD_DROP_CHECKPOINT_LOAD);
	}
}

/* Hand the context's state to the store; false if the ring or the pool is short. */
static bool save(struct dp_worker *w, uint32_t ctx, bool unload)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	struct dp_context *c = &w->contexts[ctx];
	unsigned nmsg = RTE_MAX((c->nkeys + DP_CKPT_BATCH - 1) / DP_CKPT_BATCH, 1u);
	char policy[DP_CKPT_POLICY_LEN];

	/* All or nothing: the store never sees half a record. This worker is the ring's only producer. */
	if (rte_ring_free_count(cw->to_store) < nmsg ||
	    rte_mempool_get_bulk(cw->msgs, cw->batch, nmsg) != 0)
		return false;
	dp_policy_name(&c->policy, policy, sizeof(policy));
	uint32_t o = 0;
	for (unsigned i = 0; i < nmsg; i++) {
		struct dp_ckpt_msg *msg = cw->batch[i];
		*msg = (struct dp_ckpt_msg){.kind = DP_CKPT_SAVE, .context = c->id, .first = i == 0,
					    .last = i + 1 == nmsg};
		memcpy(msg->policy, policy, sizeof(policy));
		for (; o < c->nkeys && msg->n < DP_CKPT_BATCH; o++) {
			const struct dp_key *k = &w->keys[c->keys[o]];
			struct dp_ckpt_entry *e = &msg->ent[msg->n++];
			*e = (struct dp_ckpt_entry){.msg_len = k->msg_len, .nfrags = k->nfrags};
			for (unsigned f = 0; f < k->nfrags; f++) {
				rte_mbuf_refcnt_update(k->frag[f], 1);
				e->frag[f] = k->frag[f];
			}
		}
	}
	rte_ring_enqueue_bulk(cw->to_store, cw->batch, nmsg, NULL);
	c->dirty = false;
	c->save_pending = true;
	c->unload_wanted = unload;
	return true;
}

void dp_ckpt_timers(struct dp_worker *w)
{
	struct dp_ckpt_worker *cw = w->ckpt;

	if (cw == NULL || w->now < cw->next_scan_tsc)
		return;
	cw->next_scan_tsc = w->now + cw->scan_period_tsc;
	for (uint32_t i = 0; i < w->max_contexts + 8; i++) {
		struct dp_context *c = &w->contexts[i];
		/* A replica copy is the primary's to keep: never written, never unloaded here. */
		if (!c->in_use || c->save_pending || c->ephemeral || c->replica)
			continue;
		bool idle = cw->idle_tsc != 0 && c->nsubs == 0 && w->now - c->touched_tsc >= cw->idle_tsc;
		bool due = cw->interval_tsc != 0 && c->dirty && w->now - c->saved_tsc >= cw->interval_tsc;
		if ((idle || due) && !save(w, i, idle))
			break; /* the store is behind: the next scan goes on */
	}
}

static void saved(struct dp_worker *w, const struct dp_ckpt_msg *msg)
{
	uint32_t ctx = dp_context_get(w, msg->context, false);
	if (ctx == DP_NONE || !w->contexts[ctx].save_pending)
		return; /* deactivated meanwhile */
	struct dp_context *c = &w->contexts[ctx];
	c->save_pending = false;
	if (msg->status != DP_CKPT_OK) {
		w->ctr[HERALD_CTR_CHECKPOINT_ERRORS]++;
		c->dirty = true; /* still only in memory: written again later */
		return;
	}
	w->ctr[HERALD_CTR_CHECKPOINTS_WRITTEN]++;
	c->saved_tsc = w->now;
	if (c->unload_wanted && c->nsubs == 0 && !c->dirty && !c->ephemeral &&
	    w->now - c->touched_tsc >= w->ckpt->idle_tsc && dp_ckpt_park(w, msg->context, &c->policy) == 0) {
		dp_context_remove(w, ctx, &(uint32_t){0}, &(uint32_t){0});
		w->ctr[HERALD_CTR_CONTEXTS_UNLOADED]++;
	}
}

static void install(struct dp_worker *w, uint32_t ctx, struct dp_ckpt_entry *e)
{
	const uint8_t *body = rte_pktmbuf_mtod(e->frag[0], const uint8_t *);
	uint16_t key_len = (uint16_t)(body[0] << 8 | body[1]);
	uint32_t k = dp_key_find(w, ctx, body + 2, key_len, true);
	if (k == DP_NONE) {
		w->drop[HERALD_DROP_NO_KEY_SPACE]++;
		return entry_free(e);
	}
	dp_key_set(w, k, e->frag, e->nfrags, e->msg_len);
	e->nfrags = 0; /* the store holds them now */
}

static void loaded(struct dp_worker *w, struct dp_ckpt_msg *msg)
{
	struct dp_ckpt_worker *cw = w->ckpt;

	if (msg->first) {
		struct dp_policy policy;
		char err[128];
		cw->loading_ctx = DP_NONE;
		cw->loading_ok = false;
		if (msg->status == DP_CKPT_OK && dp_context_get(w, msg->context, false) == DP_NONE &&
		    dp_policy_parse(msg->policy, &policy, err, sizeof(err)) == 0) {
			cw->loading_ctx = dp_context_add(w, msg->context, &policy);
			cw->loading_ok = cw->loading_ctx != DP_NONE;
		}
	}
	for (unsigned i = 0; i < msg->n; i++)
		if (cw->loading_ok)
			install(w, cw->loading_ctx, &msg->ent[i]);
		else
			entry_free(&msg->ent[i]);
	if (!msg->last)
		return;

	bool retry = msg->status == DP_CKPT_FAILED ||
		     (msg->status == DP_CKPT_OK && !cw->loading_ok &&
		      dp_context_get(w, msg->context, false) == DP_NONE);
	if (msg->status == DP_CKPT_CORRUPT || msg->status == DP_CKPT_FAILED)
		w->ctr[HERALD_CTR_CHECKPOINT_ERRORS]++;
	if (retry) {
		/* The record is intact on disk: the next frame for the context tries again. */
		if (msg->status == DP_CKPT_OK)
			w->drop[HERALD_DROP_NO_CONTEXT_SPACE]++;
		dp_ckpt_park(w, msg->context, NULL);
		return held_release(w, msg->context, false);
	}
	if (cw->loading_ok) {
		struct dp_context *c = &w->contexts[cw->loading_ctx];
		c->ephemeral = false;
		c->dirty = false;
		c->saved_tsc = c->touched_tsc = w->now;
		w->ctr[HERALD_CTR_CONTEXTS_LOADED]++;
	}
	cw->loading_ctx = DP_NONE;
	cw->loading_ok = false;
	unpark(w, msg->context);
	held_release(w, msg->context, true);
}

void dp_ckpt_drain(struct dp_worker *w)
{
	struct dp_ckpt_worker *cw = w->ckpt;
	void *objs[DRAIN_BURST];

	if (cw == NULL || rte_ring_empty(cw->from_store))
		return;
	unsigned n = rte_ring_dequeue_burst(cw->from_store, objs, DRAIN_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct dp_ckpt_msg *msg = objs[i];
		if (msg->kind == DP_CKPT_SAVED)
			saved(w, msg);
		else
			loaded(w, msg);
		dp_ckpt_msg_free(cw->msgs, msg);
	}
}
