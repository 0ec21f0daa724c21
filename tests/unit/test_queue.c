/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of herald_queue_of() (include/herald/proto.h): the one function
 * heraldd names a REDIRECT's queue with and the dataplane hands frames and
 * control requests to their owner with. Fixed context ids, so the measured
 * shares are the same on every run: a tolerance here guards against a wrong
 * function, never against bad luck.
 */
#include <math.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include <herald/proto.h>

#define CONTEXTS 100000u

/* Context ids spread like real ones, and plain consecutive ones. */
static uint32_t spread(uint32_t i)
{
	return i * 2654435761u + 12345u;
}

static uint32_t consecutive(uint32_t i)
{
	return i;
}

static void assert_uniform(uint32_t (*id)(uint32_t), uint16_t queues)
{
	unsigned count[HERALD_QUEUES_MAX] = {0};

	for (uint32_t i = 0; i < CONTEXTS; i++) {
		uint16_t q = herald_queue_of(id(i), queues);
		cr_assert_lt(q, queues, "context %u: queue %u of %u", id(i), q, queues);
		count[q]++;
	}
	for (uint16_t q = 0; q < queues; q++)
		cr_assert(fabs((double)count[q] / CONTEXTS - 1.0 / queues) <= 0.1 / queues,
			  "%u queues: queue %u has share %.4f", queues, q, (double)count[q] / CONTEXTS);
}

Test(queue, zero_or_one_queue_is_queue_0)
{
	for (uint32_t i = 0; i < 1000; i++) {
		cr_assert_eq(herald_queue_of(spread(i), 0), 0);
		cr_assert_eq(herald_queue_of(spread(i), 1), 0);
	}
	cr_assert_eq(herald_queue_of(UINT32_MAX, 1), 0);
}

Test(queue, in_range_and_uniform)
{
	static const uint16_t shapes[] = {2, 3, 4, 7, 8, 16, HERALD_QUEUES_MAX};

	for (unsigned s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		assert_uniform(spread, shapes[s]);
		assert_uniform(consecutive, shapes[s]);
	}
}

/* One more queue takes its 1/(n + 1) share from every queue and moves nothing else. */
Test(queue, one_more_queue_moves_only_what_it_takes)
{
	for (uint16_t n = 1; n < HERALD_QUEUES_MAX; n++) {
		unsigned moved = 0;
		for (uint32_t i = 0; i < CONTEXTS; i++) {
			uint16_t before = herald_queue_of(spread(i), n), after = herald_queue_of(spread(i), n + 1);
			if (before != after) {
				cr_assert_eq(after, n, "context %u moved from queue %u to %u, not to the new queue %u",
					     spread(i), before, after, n);
				moved++;
			}
		}
		cr_assert(fabs((double)moved / CONTEXTS - 1.0 / (n + 1)) <= 0.1 / (n + 1),
			  "%u -> %u queues moved %.4f of the contexts", n, n + 1, (double)moved / CONTEXTS);
	}
}

/*
 * The values themselves: heraldd and the dataplane of one cluster may be
 * different builds, so a change to the function must be deliberate (and
 * needs every node upgraded together). Computed by this very function when
 * it was written; a reimplementation must reproduce them.
 */
Test(queue, golden_values)
{
	static const struct {
		uint32_t context;
		uint16_t q2, q3, q8, q64;
	} golden[] = {
		{0, 1, 2, 7, 26},
		{1, 0, 0, 3, 50},
		{2, 0, 0, 0, 19},
		{3, 1, 1, 4, 58},
		{42, 0, 0, 0, 0},
		{1000, 0, 0, 0, 33},
		{123456789, 0, 0, 4, 36},
		{UINT32_MAX, 0, 2, 2, 22},
	};

	for (unsigned i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		uint32_t c = golden[i].context;
		cr_assert_eq(herald_queue_of(c, 2), golden[i].q2, "context %u, 2 queues", c);
		cr_assert_eq(herald_queue_of(c, 3), golden[i].q3, "context %u, 3 queues", c);
		cr_assert_eq(herald_queue_of(c, 8), golden[i].q8, "context %u, 8 queues", c);
		cr_assert_eq(herald_queue_of(c, 64), golden[i].q64, "context %u, 64 queues", c);
	}
}
