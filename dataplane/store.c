/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The context store of one worker: contexts, their keys and their
 * subscribers. Tables are sized at start-up; the position rte_hash assigns to
 * a key is the index of its slot, so no separate allocator is needed and
 * nothing is allocated after start-up.
 */
#include <stdio.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <sodium.h>

#include "dataplane.h"

struct key_id {
	uint32_t ctx;
	uint8_t len;
	uint8_t pad[3];
	uint8_t bytes[HERALD_KEY_MAX];
};

struct session_id {
	uint32_t ip;
	uint32_t ctx;
	uint16_t port;
	uint16_t pad;
};

static struct rte_hash *table_create(const char *what, unsigned lcore, uint32_t entries,
				     uint32_t key_len)
{
	char name[RTE_HASH_NAMESIZE];
	snprintf(name, sizeof(name), "%s_%u", what, lcore);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = entries < 8 ? 8 : entries,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		/* The extendable table guarantees the configured capacity. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	return rte_hash_create(&p);
}

int dp_store_init(struct dp_worker *w, const struct dp_config *cfg, unsigned lcore)
{
	int socket = (int)rte_socket_id();

	w->max_contexts = cfg->max_contexts;
	w->max_keys = cfg->max_keys;
	w->max_sessions = cfg->max_sessions;
	w->reasm_slots = cfg->reasm_slots;
	w->ctx_hash = table_create("ctx", lcore, cfg->max_contexts, sizeof(uint32_t));
	w->key_hash = table_create("key", lcore, cfg->max_keys, sizeof(struct key_id));
	w->session_hash = table_create("ses", lcore, cfg->max_sessions, sizeof(struct session_id));
	w->source_hash = table_create("src", lcore, cfg->max_sessions, sizeof(uint32_t));
	w->source_sessions = rte_zmalloc_socket("sources", sizeof(uint32_t) * (cfg->max_sessions + 8), 0, socket);
	w->max_per_source = cfg->max_sessions_per_source;
	if (sodium_init() < 0)
		return -ENOTRECOVERABLE;
	randombytes_buf(w->id_key, sizeof(w->id_key));
	w->contexts = rte_zmalloc_socket("contexts", sizeof(*w->contexts) * (cfg->max_contexts + 8), 0, socket);
	w->keys = rte_zmalloc_socket("keys", sizeof(*w->keys) * (cfg->max_keys + 8), 0, socket);
	w->sessions = rte_zmalloc_socket("sessions", sizeof(*w->sessions) * (cfg->max_sessions + 8), 0, socket);
	w->reasm = rte_zmalloc_socket("reasm", sizeof(*w->reasm) * cfg->reasm_slots, 0, socket);
	w->max_kpc = cfg->max_keys_per_context;
	w->dirty_words = (cfg->max_keys_per_context + 63) / 64;
	w->history = cfg->history;
	w->max_history_contexts = cfg->max_history_contexts;
	w->dirty = rte_zmalloc_socket("dirty", sizeof(uint64_t) * w->dirty_words * (cfg->max_sessions + 8), 0, socket);
	w->ctx_keys = rte_zmalloc_socket("ctx_keys", sizeof(uint32_t) * w->max_kpc * (cfg->max_contexts + 8), 0, socket);
	w->hist_pool = rte_zmalloc_socket("history", sizeof(struct dp_hist_entry) * cfg->history * (cfg->max_history_contexts + 1), 0, socket);
	w->dirty_head = DP_NONE;
	if (!w->ctx_hash || !w->key_hash || !w->session_hash || !w->source_hash ||
	    !w->source_sessions || !w->contexts || !w->keys ||
	    !w->sessions || !w->reasm || !w->dirty || !w->ctx_keys || !w->hist_pool) {
		dp_store_free(w);
		return -ENOMEM;
	}
	return 0;
}

void dp_store_free(struct dp_worker *w)
{
	if (w->keys != NULL)
		for (uint32_t k = 0; k < w->max_keys + 8; k++) /* rte_hash may use up to 8 slots more */
			for (unsigned i = 0; i < w->keys[k].nfrags; i++)
				rte_pktmbuf_free(w->keys[k].frag[i]);
	if (w->reasm != NULL)
		for (uint32_t i = 0; i < w->reasm_slots; i++)
			dp_reasm_release(&w->reasm[i], true);
	if (w->hist_pool != NULL)
		for (size_t e = 0; e < (size_t)w->history * w->max_history_contexts; e++)
			for (unsigned i = 0; i < w->hist_pool[e].nfrags; i++)
				rte_pktmbuf_free(w->hist_pool[e].frag[i]);
	rte_free(w->dirty);
	rte_free(w->ctx_keys);
	rte_free(w->hist_pool);
	w->dirty = NULL;
	w->ctx_keys = NULL;
	w->hist_pool = NULL;
	rte_hash_free(w->ctx_hash);
	rte_hash_free(w->key_hash);
	rte_hash_free(w->session_hash);
	rte_hash_free(w->source_hash);
	rte_free(w->source_sessions);
	w->source_hash = NULL;
	w->source_sessions = NULL;
	rte_free(w->contexts);
	rte_free(w->keys);
	rte_free(w->sessions);
	rte_free(w->reasm);
	w->ctx_hash = w->key_hash = w->session_hash = NULL;
	w->contexts = NULL;
	w->keys = NULL;
	w->sessions = NULL;
	w->reasm = NULL;
}

uint32_t dp_context_get(struct dp_worker *w, uint32_t id, bool create)
{
	int32_t pos = rte_hash_lookup(w->ctx_hash, &id);
	if (pos >= 0)
		return (uint32_t)pos;
	if (!create)
		return DP_NONE;
	return dp_context_add(w, id, dp_policy_for(w->cfg, id));
}

/*
 * History rings of `none` contexts: handed out in order, and those of removed
 * contexts kept on a free list chained through their first entry's key field.
 */
static struct dp_hist_entry *hist_take(struct dp_worker *w)
{
	if (w->hist_free != 0) {
		struct dp_hist_entry *h = &w->hist_pool[(size_t)(w->hist_free - 1) * w->history];
		w->hist_free = h->key;
		h->key = 0;
		return h;
	}
	if (w->nhistory == w->max_history_contexts)
		return NULL;
	return &w->hist_pool[(size_t)w->nhistory++ * w->history];
}

uint32_t dp_context_add(struct dp_worker *w, uint32_t id, const struct dp_policy *policy)
{
	int32_t pos = rte_hash_add_key(w->ctx_hash, &id);
	if (pos < 0 || (uint32_t)pos >= w->max_contexts + 8)
		return DP_NONE;
	struct dp_hist_entry *hist = NULL;
	if (policy->kind == DP_POLICY_NONE && (hist = hist_take(w)) == NULL) {
		rte_hash_del_key(w->ctx_hash, &id);
		return DP_NONE;
	}
	struct dp_context *c = &w->contexts[pos];
	*c = (struct dp_context){
		.id = id, .in_use = true, .policy = *policy, .sub_head = DP_NONE,
		.keys = &w->ctx_keys[(size_t)pos * w->max_kpc], .hist = hist,
		.touched_tsc = w->now,
	};
	w->ctr[HERALD_CTR_CONTEXTS_ACTIVE]++;
	return (uint32_t)pos;
}

/*
 * Drop a context and everything it holds: its sessions (closed without a
 * word: their clients notice the silence), keys and history. Returns the
 * numbers through @p sessions and @p keys. Control path only.
 */
void dp_context_remove(struct dp_worker *w, uint32_t ctx, uint32_t *sessions, uint32_t *keys)
{
	struct dp_context *c = &w->contexts[ctx];

	c->ephemeral = false; /* closing its sessions must not remove it again */
	*sessions = c->nsubs;
	*keys = c->nkeys;
	while (c->sub_head != DP_NONE)
		dp_session_close(w, c->sub_head);
	for (uint32_t i = 0; i < c->nkeys; i++) {
		struct dp_key *k = &w->keys[c->keys[i]];
		void *id;
		for (unsigned f = 0; f < k->nfrags; f++)
			rte_pktmbuf_free(k->frag[f]);
		*k = (struct dp_key){0};
		if (rte_hash_get_key_with_position(w->key_hash, (int32_t)c->keys[i], &id) == 0) {
			struct key_id kid;
			memcpy(&kid, id, sizeof(kid)); /* not a pointer into the table it edits */
			rte_hash_del_key(w->key_hash, &kid);
		}
		w->ctr[HERALD_CTR_KEYS_ACTIVE]--;
	}
	if (c->hist != NULL) {
		for (uint32_t e = 0; e < w->history; e++) {
			for (unsigned f = 0; f < c->hist[e].nfrags; f++)
				rte_pktmbuf_free(c->hist[e].frag[f]);
			c->hist[e] = (struct dp_hist_entry){0};
		}
		c->hist[0].key = w->hist_free;
		w->hist_free = (uint32_t)((c->hist - w->hist_pool) / w->history) + 1;
	}
	rte_hash_del_key(w->ctx_hash, &c->id);
	*c = (struct dp_context){0};
	w->ctr[HERALD_CTR_CONTEXTS_ACTIVE]--;
}

uint32_t dp_key_find(struct dp_worker *w, uint32_t ctx, const uint8_t *key, uint16_t key_len,
		     bool create)
{
	struct key_id id = {.ctx = ctx, .len = (uint8_t)key_len};
	memcpy(id.bytes, key, key_len);

	int32_t pos = rte_hash_lookup(w->key_hash, &id);
	if (pos >= 0)
		return (uint32_t)pos;
	if (!create)
		return DP_NONE;
	struct dp_context *c = &w->contexts[ctx];
	if (c->nkeys == w->max_kpc)
		return DP_NONE;
	pos = rte_hash_add_key(w->key_hash, &id);
	if (pos < 0 || (uint32_t)pos >= w->max_keys + 8)
		return DP_NONE;

	w->keys[pos] = (struct dp_key){.ctx = ctx, .ordinal = c->nkeys};
	c->keys[c->nkeys++] = (uint32_t)pos;
	w->ctr[HERALD_CTR_KEYS_ACTIVE]++;
	return (uint32_t)pos;
}

void dp_key_set(struct dp_worker *w, uint32_t idx, struct rte_mbuf **frags, uint8_t nfrags,
		uint16_t msg_len)
{
	struct dp_key *k = &w->keys[idx];

	/* Frames still in flight hold their own references to the old value. */
	for (unsigned i = 0; i < k->nfrags; i++)
		rte_pktmbuf_free(k->frag[i]);
	for (unsigned i = 0; i < nfrags; i++)
		k->frag[i] = frags[i];
	k->nfrags = nfrags;
	k->msg_len = msg_len;
	w->contexts[k->ctx].dirty = true;
	w->contexts[k->ctx].touched_tsc = w->now;
}

static struct session_id session_id_make(uint32_t ip, uint16_t port, uint32_t ctx)
{
	return (struct session_id){.ip = ip, .ctx = ctx, .port = port};
}

uint32_t dp_session_find(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx)
{
	struct session_id id = session_id_make(ip, port, ctx);
	int32_t pos = rte_hash_lookup(w->session_hash, &id);
	return pos >= 0 ? (uint32_t)pos : DP_NONE;
}

bool dp_source_full(const struct dp_worker *w, uint32_t ip)
{
	int32_t src = rte_hash_lookup(w->source_hash, &ip);
	return src >= 0 && w->source_sessions[src] >= w->max_per_source;
}

uint32_t dp_session_open(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx)
{
	struct session_id id = session_id_make(ip, port, ctx);
	/* Every session has a source, so the source table cannot fill before the session table. */
	int32_t src = rte_hash_add_key(w->source_hash, &ip);
	if (src < 0 || (uint32_t)src >= w->max_sessions + 8)
		return DP_NONE;
	int32_t pos = rte_hash_add_key(w->session_hash, &id);
	if (pos < 0 || (uint32_t)pos >= w->max_sessions + 8) {
		if (w->source_sessions[src] == 0)
			rte_hash_del_key(w->source_hash, &ip);
		return DP_NONE;
	}
	w->source_sessions[src]++;
	/*
	 * The id a client must name in every later frame: SipHash of a counter
	 * under a key drawn at start-up, so an off-path sender cannot guess it
	 * (and a session never reuses the id of the previous one in its slot).
	 */
	uint32_t wire_id = 0;
	while (wire_id == 0) {
		uint64_t n = w->id_counter++, h;
		crypto_shorthash_siphash24((uint8_t *)&h, (const uint8_t *)&n, sizeof(n), w->id_key);
		wire_id = (uint32_t)h;
	}

	struct dp_context *c = &w->contexts[ctx];
	struct dp_session *s = &w->sessions[pos];
	*s = (struct dp_session){
		.ip = ip, .port = port, .in_use = true, .ctx = ctx,
		.prev = DP_NONE, .next = c->sub_head,
		.last_rx_tsc = w->now, .last_tx_tsc = w->now, .hb_tsc = w->hb_default_tsc,
		.dirty_prev = DP_NONE, .dirty_next = DP_NONE, .refill_tsc = w->now,
		.wire_id = wire_id,
	};
	memset(dp_dirty_bits(w, (uint32_t)pos), 0, sizeof(uint64_t) * w->dirty_words);
	if (c->sub_head != DP_NONE)
		w->sessions[c->sub_head].prev = (uint32_t)pos;
	c->sub_head = (uint32_t)pos;
	c->nsubs++;
	if ((uint32_t)pos >= w->session_hwm)
		w->session_hwm = (uint32_t)pos + 1;
	w->ctr[HERALD_CTR_SESSIONS_ACTIVE]++;
	return (uint32_t)pos;
}

void dp_session_close(struct dp_worker *w, uint32_t idx)
{
	struct dp_session *s = &w->sessions[idx];
	struct dp_context *c = &w->contexts[s->ctx];
	struct session_id id = session_id_make(s->ip, s->port, s->ctx);

	if (s->prev != DP_NONE)
		w->sessions[s->prev].next = s->next;
	else
		c->sub_head = s->next;
	if (s->next != DP_NONE)
		w->sessions[s->next].prev = s->prev;
	c->nsubs--;
	c->touched_tsc = w->now; /* its idle period starts when the last one leaves */
	dp_session_dirty_unlink(w, idx);
	s->in_use = false;
	rte_hash_del_key(w->session_hash, &id);
	int32_t src = rte_hash_lookup(w->source_hash, &s->ip);
	if (src >= 0 && --w->source_sessions[src] == 0)
		rte_hash_del_key(w->source_hash, &s->ip);
	w->ctr[HERALD_CTR_SESSIONS_ACTIVE]--;
	if (c->ephemeral && c->nsubs == 0)
		dp_context_remove(w, s->ctx, &(uint32_t){0}, &(uint32_t){0});
}

/* Sessions owing deferred deliveries, walked by the budget drain. */
void dp_session_dirty_link(struct dp_worker *w, uint32_t idx)
{
	struct dp_session *s = &w->sessions[idx];
	if (s->on_dirty_list)
		return;
	s->on_dirty_list = true;
	s->dirty_prev = DP_NONE;
	s->dirty_next = w->dirty_head;
	if (w->dirty_head != DP_NONE)
		w->sessions[w->dirty_head].dirty_prev = idx;
	w->dirty_head = idx;
}

void dp_session_dirty_unlink(struct dp_worker *w, uint32_t idx)
{
	struct dp_session *s = &w->sessions[idx];
	if (!s->on_dirty_list)
		return;
	if (s->dirty_prev != DP_NONE)
		w->sessions[s->dirty_prev].dirty_next = s->dirty_next;
	else
		w->dirty_head = s->dirty_next;
	if (s->dirty_next != DP_NONE)
		w->sessions[s->dirty_next].dirty_prev = s->dirty_prev;
	s->on_dirty_list = false;
	s->dirty_prev = s->dirty_next = DP_NONE;
}
