/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reassembly of fragmented PUBLISH messages. Fragments sit on fixed
 * boundaries (the codec enforces it), so a fragment's slot is its index and
 * reassembly is a bounded table of mbuf pointers: nothing is copied and no
 * memory is allocated. Incomplete messages are dropped after a short timeout.
 */
#include "dataplane.h"

void dp_reasm_release(struct dp_reasm *r, bool free_frags)
{
	if (!r->in_use)
		return;
	if (free_frags)
		for (unsigned i = 0; i < r->nfrags; i++)
			rte_pktmbuf_free(r->frag[i]); /* NULL-safe */
	*r = (struct dp_reasm){0};
}

void dp_reasm_expire(struct dp_worker *w)
{
	for (uint32_t i = 0; i < w->reasm_slots; i++) {
		struct dp_reasm *r = &w->reasm[i];
		if (r->in_use && w->now - r->start_tsc > w->reasm_timeout_tsc) {
			w->drop[HERALD_DROP_REASSEMBLY_MISMATCH] += r->have;
			dp_reasm_release(r, true);
		}
	}
}

enum herald_drop dp_reasm_add(struct dp_worker *w, uint32_t ip, uint16_t port,
			      const struct herald_frame *f, struct rte_mbuf *body,
			      struct dp_reasm **done)
{
	struct dp_reasm *r = NULL, *free_slot = NULL;

	*done = NULL;
	for (uint32_t i = 0; i < w->reasm_slots; i++) {
		struct dp_reasm *c = &w->reasm[i];
		if (!c->in_use) {
			if (free_slot == NULL)
				free_slot = c;
		} else if (c->ip == ip && c->port == port && c->context == f->context &&
			   c->seq == f->seq) {
			r = c;
			break;
		}
	}
	if (r == NULL) {
		if (free_slot == NULL)
			return HERALD_DROP_REASSEMBLY_FULL;
		r = free_slot;
		*r = (struct dp_reasm){
			.in_use = true, .ip = ip, .port = port, .context = f->context,
			.seq = f->seq, .msg_len = f->msg_len,
			.nfrags = (uint8_t)herald_frag_count(f->msg_len), .start_tsc = w->now,
		};
	}

	unsigned idx = f->frag_off / HERALD_FRAG_BODY_MAX;
	if (f->msg_len != r->msg_len || idx >= r->nfrags || r->frag[idx] != NULL)
		return HERALD_DROP_REASSEMBLY_MISMATCH;
	r->frag[idx] = body;
	if (++r->have == r->nfrags)
		*done = r;
	return HERALD_DROP_NONE;
}
