/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The replay cache of signed PUBLISH (docs/protocol.md §3.5.2). A MAC proves
 * who made a datagram, not that it is new: without this a captured PUBLISH
 * could be sent again to set a key back, or to add twice on `merge:add`.
 *
 * Every signed datagram the node accepts leaves its MAC here, in arrival
 * order, with its stamp (the seq: Unix time in us). When the cache is full
 * the oldest MAC is forgotten and the horizon rises to its stamp; a stamp at
 * or below the horizon is refused. So every datagram the cache does not
 * remember is refused by its stamp, and every one newer than the horizon is
 * looked up: a datagram is applied at most once, with any cache size. A small
 * cache only refuses datagrams delayed by more than the cache's span.
 *
 * The horizon starts at the node's start time, so a datagram captured before
 * a restart is refused after it too (given publishers' clocks within
 * --publish-window of the node's). The MACs are keys of an rte_hash sized
 * at start; per datagram: one lookup, one add, at most one delete.
 */
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "dataplane.h"

int dp_replay_init(struct dp_worker *w, unsigned lcore)
{
	char name[RTE_HASH_NAMESIZE];
	uint32_t size = w->cfg->replay_cache;

	if (!w->cfg->publish_auth)
		return 0;
	snprintf(name, sizeof(name), "replay_%u", lcore);
	struct rte_hash_parameters p = {
		.name = name,
		.entries = size,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	w->replay.macs = rte_hash_create(&p);
	w->replay.fifo = rte_zmalloc_socket("replay", sizeof(*w->replay.fifo) * size, 0,
					    (int)rte_socket_id());
	w->replay.size = size;
	w->replay.horizon_us = w->unix_us;
	if (w->replay.macs == NULL || w->replay.fifo == NULL) {
		dp_replay_free(w);
		return -ENOMEM;
	}
	return 0;
}

void dp_replay_free(struct dp_worker *w)
{
	rte_hash_free(w->replay.macs);
	rte_free(w->replay.fifo);
	w->replay.macs = NULL;
	w->replay.fifo = NULL;
}

enum herald_drop dp_replay_admit(struct dp_worker *w, const struct herald_frame *f)
{
	struct dp_replay *r = &w->replay;
	enum herald_drop why = herald_publish_stamp_check(f->seq, w->unix_us,
							  (uint64_t)w->cfg->publish_window_s * 1000000u,
							  r->horizon_us);
	if (why != HERALD_DROP_NONE)
		return why;
	if (rte_hash_lookup(r->macs, &f->tag) >= 0)
		return HERALD_DROP_PUBLISH_REPLAYED;
	if (r->count == r->size) { /* forget the oldest: the horizon rises to its stamp */
		struct dp_replay_entry *old = &r->fifo[r->head];
		rte_hash_del_key(r->macs, &old->mac);
		if (old->stamp_us > r->horizon_us)
			r->horizon_us = old->stamp_us;
		r->head = r->head + 1 == r->size ? 0 : r->head + 1;
		r->count--;
	}
	if (rte_hash_add_key(r->macs, &f->tag) < 0)
		return HERALD_DROP_PUBLISH_STALE; /* not reached: the table holds size entries */
	uint32_t tail = r->head + r->count;
	r->fifo[tail < r->size ? tail : tail - r->size] =
		(struct dp_replay_entry){.mac = f->tag, .stamp_us = f->seq};
	r->count++;
	return HERALD_DROP_NONE;
}
