/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "histogram.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* v in [2^e, 2^(e+1)), e >= HIST_SUB_BITS */
	if (e >= HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	return ((e - HIST_SUB_BITS + 1) << HIST_SUB_BITS) +
	       (unsigned)((v >> (e - HIST_SUB_BITS)) - HIST_SUB);
}

uint64_t hist_bucket_high(unsigned idx)
{
	unsigned block = idx >> HIST_SUB_BITS, shift;
	uint64_t low;

	if (block == 0)
		return idx;
	shift = block - 1; /* bucket width 2^shift */
	low = ((uint64_t)HIST_SUB + (idx & (HIST_SUB - 1))) << shift;
	return low + (1ull << shift) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t rank, seen = 0;

	if (h->total == 0)
		return 0;
	if (p <= 0)
		return h->min;
	if (p >= 100)
		return h->max;
	rank = (uint64_t)((p / 100.0) * (double)h->total + 0.999999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = hist_bucket_high(i);

			return v < h->max ? (v > h->min ? v : h->min) : h->max;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0;
}
