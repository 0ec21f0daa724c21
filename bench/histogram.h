/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A log-linear latency histogram in the style of HdrHistogram (Debian has no
 * C HdrHistogram library): every power-of-two range of values is split into
 * HIST_SUB linear buckets, so a recorded value is known to within 1/HIST_SUB
 * (0.8 %) of itself whatever its magnitude, in constant memory and O(1) per
 * record. Values below HIST_SUB are exact; min, max, count and sum are exact.
 * Percentiles are nearest-rank and report the highest value the rank's
 * bucket can hold (as HdrHistogram does), capped at the exact max.
 */
#ifndef HERALD_BENCH_HISTOGRAM_H
#define HERALD_BENCH_HISTOGRAM_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
/* Values up to 2^40 (18 minutes in ns); larger ones land in the top bucket. */
#define HIST_MAX_BITS 40
#define HIST_BUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total, min, max;
	double sum;
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* The bucket @p v falls in, and the highest value that bucket holds. */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_high(unsigned idx);
/* Nearest-rank percentile @p p (0..100): 0 when empty, min at 0, max at 100. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);

#endif /* HERALD_BENCH_HISTOGRAM_H */
