/* SPDX-License-Identifier: BSD-3-Clause */
/* The latency histogram of the ping-pong benchmark (bench/histogram.c). */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "histogram.h"

static struct hist h;

Test(histogram, empty_is_zero)
{
	hist_reset(&h);
	cr_assert_eq(hist_percentile(&h, 50), 0);
	cr_assert_eq(hist_percentile(&h, 100), 0);
	cr_assert_eq(hist_mean(&h), 0);
}

Test(histogram, small_values_are_exact)
{
	hist_reset(&h);
	for (uint64_t v = 1; v <= 100; v++)
		hist_record(&h, v);
	cr_assert_eq(hist_percentile(&h, 50), 50);
	cr_assert_eq(hist_percentile(&h, 90), 90);
	cr_assert_eq(hist_percentile(&h, 99), 99);
	cr_assert_eq(hist_percentile(&h, 0), 1);
	cr_assert_eq(hist_percentile(&h, 100), 100);
	cr_assert_float_eq(hist_mean(&h), 50.5, 1e-9);
}

/* Every value maps to a bucket whose range holds it, within 1/128 of it. */
Test(histogram, buckets_hold_their_values)
{
	uint64_t v = 1;

	for (int i = 0; i < 200000; i++) {
		unsigned idx = hist_index(v);
		uint64_t high = hist_bucket_high(idx);

		cr_assert_lt(idx, HIST_BUCKETS);
		cr_assert_geq(high, v, "v %lu high %lu", (unsigned long)v, (unsigned long)high);
		cr_assert_leq((double)(high - v), (double)v / HIST_SUB, "v %lu high %lu",
			      (unsigned long)v, (unsigned long)high);
		if (idx > 0)
			cr_assert_lt(hist_bucket_high(idx - 1), v);
		v += 1 + v / 1000;
		if (v >= (1ull << HIST_MAX_BITS))
			break;
	}
}

/* Percentiles of 1..1e6 ns (a uniform spread) are within 0.8 % above the exact rank. */
Test(histogram, percentiles_of_a_known_distribution)
{
	static const double ps[] = {50, 90, 99, 99.9, 99.99};

	hist_reset(&h);
	for (uint64_t v = 1; v <= 1000000; v++)
		hist_record(&h, v);
	for (unsigned i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double exact = ps[i] / 100.0 * 1e6;
		uint64_t got = hist_percentile(&h, ps[i]);

		cr_assert_geq((double)got, exact, "p%g: %lu", ps[i], (unsigned long)got);
		cr_assert_leq((double)got, exact * (1 + 1.0 / HIST_SUB), "p%g: %lu", ps[i],
			      (unsigned long)got);
	}
	cr_assert_eq(hist_percentile(&h, 100), 1000000);
	cr_assert_eq(h.min, 1);
}

/* A few huge outliers move p99.99 and max, not p50; beyond the range they clamp. */
Test(histogram, outliers_and_clamp)
{
	hist_reset(&h);
	for (int i = 0; i < 9999; i++)
		hist_record(&h, 20000);
	hist_record(&h, 1ull << 50);
	cr_assert_leq(hist_percentile(&h, 50), 20000 + 20000 / HIST_SUB);
	cr_assert_geq(hist_percentile(&h, 50), 20000);
	cr_assert_eq(hist_percentile(&h, 100), 1ull << 50);
	cr_assert_eq(hist_index(1ull << 50), HIST_BUCKETS - 1);
	cr_assert_eq(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
}
