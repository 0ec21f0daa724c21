/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-session budgets. A client that cannot keep up is never queued for:
 * on a conflated context each key it missed is one dirty bit, and when its
 * budget returns it gets the latest value of each dirty key, round robin;
 * on a `none` context it lags behind in the context's bounded history and is
 * cut with an ERROR once the history has moved past it. Memory per slow
 * client is its bitmap, whatever the update rate.
 */
#include <string.h>

#include <rte_cycles.h>

#include "dataplane.h"

#define MILLI 1000
/* Credits a client may bank with ACKs. */
#define CREDITS_MAX (1 << 20)

/* A rate bucket holds at most 50 ms worth of messages. */
static int64_t rate_burst(uint32_t budget)
{
	return (int64_t)RTE_MAX(budget / 20, 1u) * MILLI;
}

/*
 * The budget a SUBSCRIBE sets: the credit window, or a rate bucket.
 * Fixes (tests/unit/test_dataplane.c): a rate bucket used to start empty, so
 * the first updates after a SUBSCRIBE were marked dirty and waited for the
 * next drain although the client had used none of its budget (an idle
 * bucket is full); and the initial credit window was not capped, so an ACK
 * on a session subscribed with more than CREDITS_MAX credits lowered them.
 */
void dp_budget_reset(struct dp_worker *w, struct dp_session *s)
{
	s->tokens = s->credit_mode ? RTE_MIN((int64_t)s->budget, (int64_t)CREDITS_MAX) * MILLI
				   : rate_burst(s->budget);
	s->refill_tsc = w->now;
}

bool dp_budget_take(struct dp_worker *w, struct dp_session *s)
{
	/*
	 * Until its client names it, a session gets its snapshot and nothing
	 * more: updates wait as dirty keys (or history lag) and go out when the
	 * confirmation comes. A spoofed SUBSCRIBE cannot buy a stream.
	 */
	if (!s->confirmed)
		return false;
	if (s->budget == 0)
		return true;
	if (!s->credit_mode) {
		uint64_t hz = rte_get_tsc_hz();
		uint64_t elapsed = RTE_MIN(w->now - s->refill_tsc, hz);
		int64_t burst = rate_burst(s->budget);
		s->tokens += (int64_t)(elapsed * s->budget / (hz / MILLI));
		if (s->tokens > burst)
			s->tokens = burst;
		s->refill_tsc = w->now;
	}
	if (s->tokens < MILLI)
		return false;
	s->tokens -= MILLI;
	return true;
}

void dp_budget_credit(struct dp_session *s, uint32_t credits)
{
	if (s->credit_mode)
		s->tokens = RTE_MIN(s->tokens + (int64_t)credits * MILLI, (int64_t)CREDITS_MAX * MILLI);
}

/* Next dirty key ordinal at or after the cursor, wrapping; clears it. */
static uint32_t dirty_pop(struct dp_worker *w, uint32_t sidx, struct dp_session *s)
{
	uint64_t *bits = dp_dirty_bits(w, sidx);
	uint32_t word = s->dirty_cursor / 64;

	for (uint32_t n = 0; n <= w->dirty_words; n++, word = (word + 1) % w->dirty_words) {
		uint64_t v = bits[word];
		if (n == 0)
			v &= ~0ull << (s->dirty_cursor % 64);
		if (v != 0) {
			uint32_t ord = word * 64 + (uint32_t)__builtin_ctzll(v);
			bits[word] &= ~(1ull << (ord % 64));
			s->ndirty--;
			s->dirty_cursor = (ord + 1) % (w->dirty_words * 64);
			return ord;
		}
	}
	return DP_NONE; /* unreachable while ndirty > 0 */
}

static void drain_one(struct dp_worker *w, uint32_t sidx)
{
	struct dp_session *s = &w->sessions[sidx];
	struct dp_context *c = &w->contexts[s->ctx];

	if (c->policy.kind == DP_POLICY_NONE) {
		if (c->hist_head >= s->hist_next + w->history && !s->confirmed) {
			/* Not a word to an address that may never have asked. */
			w->ctr[HERALD_CTR_SESSIONS_UNCONFIRMED]++;
			dp_session_close(w, sidx);
			return;
		}
		if (c->hist_head >= s->hist_next + w->history) {
			/* seq: the newest message it will not get one by one (its GAP's end). */
			dp_error_send_seq(w, s->ip, s->port, &s->mac, c->id,
					  (uint64_t)((int64_t)c->hist_head + s->seq_offset),
					  HERALD_ERR_HISTORY_LOST, "fell beyond the history: resubscribe");
			w->ctr[HERALD_CTR_SESSIONS_CUT]++;
			dp_session_close(w, sidx);
			return;
		}
		while (s->hist_next <= c->hist_head && dp_budget_take(w, s))
			dp_hist_send(w, sidx, s->hist_next++);
		if (s->hist_next > c->hist_head)
			dp_session_dirty_unlink(w, sidx);
		return;
	}
	while (s->ndirty != 0 && dp_budget_take(w, s)) {
		uint32_t ord = dirty_pop(w, sidx, s);
		if (ord == DP_NONE)
			break;
		dp_delta_send(w, sidx, c->keys[ord]);
		w->ctr[HERALD_CTR_DIRTY_SENT]++;
	}
	if (s->ndirty == 0)
		dp_session_dirty_unlink(w, sidx);
}

void dp_budget_drain(struct dp_worker *w)
{
	uint32_t next;
	for (uint32_t s = w->dirty_head; s != DP_NONE; s = next) {
		next = w->sessions[s].dirty_next;
		drain_one(w, s);
	}
}

void dp_dirty_mark(struct dp_worker *w, uint32_t sidx, uint32_t ordinal)
{
	struct dp_session *s = &w->sessions[sidx];
	uint64_t *word = &dp_dirty_bits(w, sidx)[ordinal / 64];
	uint64_t bit = 1ull << (ordinal % 64);

	if (!(*word & bit)) {
		*word |= bit;
		s->ndirty++;
	}
	w->ctr[HERALD_CTR_DIRTY_MARKED]++;
	dp_session_dirty_link(w, sidx);
}

void dp_dirty_clear(struct dp_worker *w, uint32_t sidx)
{
	memset(dp_dirty_bits(w, sidx), 0, sizeof(uint64_t) * w->dirty_words);
	w->sessions[sidx].ndirty = 0;
	dp_session_dirty_unlink(w, sidx);
}
