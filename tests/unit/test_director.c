/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of weighted rendezvous placement (controlplane/director.c).
 * Every test uses a fixed key and fixed context ids, so the measured
 * fractions are the same on every run: a tolerance here guards against a
 * wrong algorithm, never against bad luck.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <herald/proto.h>

#include "director.h"

#define CONTEXTS 100000u

static const uint8_t key_a[HERALD_DIRECTOR_KEY_LEN] = {
	0x48, 0x65, 0x72, 0x61, 0x6c, 0x64, 0x20, 0x70,
	0x6c, 0x61, 0x63, 0x65, 0x6d, 0x65, 0x6e, 0x74,
};
static const uint8_t key_b[HERALD_DIRECTOR_KEY_LEN] = {
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
};

static struct herald_director dir;

static void setup(void)
{
	herald_director_init(&dir, key_a);
}

TestSuite(director, .init = setup);

/* Context ids spread like real ones: not 0..N, which a weak hash would love. */
static uint32_t ctx(uint32_t i)
{
	return i * 2654435761u + 12345u;
}

static unsigned int make_nodes(struct herald_node *nodes, unsigned int n,
			       uint32_t first_id)
{
	for (unsigned int i = 0; i < n; i++)
		nodes[i] = (struct herald_node){
			.id = first_id + i, .weight = 1, .queues = 4,
		};
	return n;
}

/* Node id of the primary (or replica) of a context, or HERALD_NODE_NONE. */
static uint32_t primary_id(const struct herald_node *nodes, unsigned int n, uint32_t c)
{
	struct herald_placement p;

	cr_assert_eq(herald_director_place(&dir, nodes, n, c, &p), 0);
	return nodes[p.primary].id;
}

static uint32_t replica_id(const struct herald_node *nodes, unsigned int n, uint32_t c)
{
	struct herald_placement p;

	cr_assert_eq(herald_director_place(&dir, nodes, n, c, &p), 0);
	return p.replica < 0 ? HERALD_NODE_NONE : nodes[p.replica].id;
}

Test(director, straw_is_positive_finite_and_keyed)
{
	struct herald_director other;
	unsigned int differ = 0;

	herald_director_init(&other, key_b);
	for (uint32_t i = 0; i < 1000; i++) {
		double s = herald_director_straw(&dir, 7, 3, ctx(i));

		cr_assert(isfinite(s) && s > 0.0, "straw %g", s);
		cr_assert_eq(s, herald_director_straw(&dir, 7, 3, ctx(i)));
		/* Weight scales the straw exactly: -ln(u) / w. */
		cr_assert_float_eq(s * 3.0, herald_director_straw(&dir, 7, 1, ctx(i)), 1e-12);
		if (s != herald_director_straw(&other, 7, 3, ctx(i)))
			differ++;
	}
	cr_assert_eq(differ, 1000, "another key must draw other straws");
	cr_assert(isinf(herald_director_straw(&dir, 7, 0, 1)));
}

Test(director, primary_is_shortest_and_replica_second_shortest_straw)
{
	struct herald_node nodes[7];
	unsigned int n = make_nodes(nodes, 7, 100);

	for (unsigned int i = 0; i < n; i++)
		nodes[i].weight = 1 + i % 3;
	for (uint32_t i = 0; i < 10000; i++) {
		struct herald_placement p;
		double s[7];
		int first = -1, second = -1;

		for (unsigned int k = 0; k < n; k++) {
			s[k] = herald_director_straw(&dir, nodes[k].id, nodes[k].weight, ctx(i));
			if (first < 0 || s[k] < s[first]) {
				second = first;
				first = (int)k;
			} else if (second < 0 || s[k] < s[second]) {
				second = (int)k;
			}
		}
		cr_assert_eq(herald_director_place(&dir, nodes, n, ctx(i), &p), 0);
		cr_assert_eq(p.primary, first, "context %u", ctx(i));
		cr_assert_eq(p.replica, second, "context %u", ctx(i));
	}
}

Test(director, replica_differs_from_primary)
{
	struct herald_node nodes[5];
	unsigned int n = make_nodes(nodes, 5, 1);

	for (uint32_t i = 0; i < CONTEXTS; i++) {
		struct herald_placement p;

		cr_assert_eq(herald_director_place(&dir, nodes, n, ctx(i), &p), 0);
		cr_assert(p.primary >= 0 && p.replica >= 0);
		cr_assert_neq(p.primary, p.replica);
	}
}

Test(director, edge_cases)
{
	struct herald_node nodes[HERALD_NODES_MAX + 1];
	struct herald_placement p;

	make_nodes(nodes, HERALD_NODES_MAX + 1, 1);
	cr_assert_eq(herald_director_place(&dir, nodes, 0, 1, &p), -ENOENT);
	cr_assert_eq(herald_director_place(&dir, nodes, HERALD_NODES_MAX + 1, 1, &p), -EINVAL);
	cr_assert_eq(herald_director_place(&dir, NULL, 2, 1, &p), -EINVAL);
	cr_assert_eq(herald_director_place(&dir, nodes, 2, 1, NULL), -EINVAL);

	/* One node: it hosts everything and there is no replica. */
	cr_assert_eq(herald_director_place(&dir, nodes, 1, 1, &p), 0);
	cr_assert_eq(p.primary, 0);
	cr_assert_eq(p.replica, -1);

	/* A zero weight (draining) node never wins, nor is it a replica. */
	nodes[1].weight = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		cr_assert_eq(herald_director_place(&dir, nodes, 3, ctx(i), &p), 0);
		cr_assert_neq(p.primary, 1);
		cr_assert_neq(p.replica, 1);
	}
	nodes[0].weight = 0;
	nodes[2].weight = 0;
	cr_assert_eq(herald_director_place(&dir, nodes, 3, 1, &p), -ENOENT);
}

Test(director, deterministic_and_order_independent)
{
	struct herald_node nodes[8], rev[8];
	struct herald_director same, other;
	unsigned int n = make_nodes(nodes, 8, 40), differ = 0;

	herald_director_init(&same, key_a);
	herald_director_init(&other, key_b);
	for (unsigned int i = 0; i < n; i++)
		rev[i] = nodes[n - 1 - i];
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		struct herald_placement a, b, r, o;

		cr_assert_eq(herald_director_place(&dir, nodes, n, ctx(i), &a), 0);
		cr_assert_eq(herald_director_place(&same, nodes, n, ctx(i), &b), 0);
		cr_assert_eq(herald_director_place(&dir, rev, n, ctx(i), &r), 0);
		cr_assert_eq(herald_director_place(&other, nodes, n, ctx(i), &o), 0);
		cr_assert_eq(a.primary, b.primary);
		cr_assert_eq(a.replica, b.replica);
		cr_assert_eq(nodes[a.primary].id, rev[r.primary].id);
		cr_assert_eq(nodes[a.replica].id, rev[r.replica].id);
		if (o.primary != a.primary)
			differ++;
	}
	/* Independent keys agree on a context 1/8 of the time. */
	cr_assert(differ > CONTEXTS * 7 / 8 * 0.9 && differ < CONTEXTS * 7 / 8 * 1.1,
		  "other key moved %u", differ);
}

/* Relative tolerance on a moved fraction; the runs are deterministic. */
#define STABILITY_TOL 0.15

static void check_remove(unsigned int n)
{
	struct herald_node before[HERALD_NODES_MAX], after[HERALD_NODES_MAX];
	uint32_t gone = 1000 + n / 2;
	unsigned int moved = 0, on_gone = 0;
	double expect = 1.0 / n, frac;

	make_nodes(before, n, 1000);
	for (unsigned int i = 0, k = 0; i < n; i++)
		if (before[i].id != gone)
			after[k++] = before[i];

	for (uint32_t i = 0; i < CONTEXTS; i++) {
		uint32_t old = primary_id(before, n, ctx(i));
		uint32_t rep = replica_id(before, n, ctx(i));
		uint32_t now = primary_id(after, n - 1, ctx(i));

		if (old == gone) {
			on_gone++;
			/* Only the removed node's contexts move, each to its replica. */
			cr_assert_eq(now, rep, "context %u went to %u, replica %u", ctx(i), now, rep);
		} else {
			cr_assert_eq(now, old, "context %u moved off a surviving node", ctx(i));
		}
		if (now != old)
			moved++;
	}
	frac = (double)moved / CONTEXTS;
	cr_log_info("remove 1 of %2u nodes: moved %.4f of %u contexts (ideal %.4f)",
		    n, frac, CONTEXTS, expect);
	cr_assert_eq(moved, on_gone);
	cr_assert(fabs(frac - expect) <= STABILITY_TOL * expect,
		  "removing 1 of %u moved %.4f, want %.4f +- %.0f%%", n, frac, expect,
		  STABILITY_TOL * 100);
}

static void check_add(unsigned int n)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	uint32_t added = 1000 + n;
	unsigned int moved = 0;
	double expect = 1.0 / (n + 1), frac;

	make_nodes(nodes, n + 1, 1000);
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		uint32_t old = primary_id(nodes, n, ctx(i));
		uint32_t now = primary_id(nodes, n + 1, ctx(i));

		if (now != old) {
			moved++;
			/* A context only ever moves to the node that arrived. */
			cr_assert_eq(now, added, "context %u moved %u -> %u", ctx(i), old, now);
		}
	}
	frac = (double)moved / CONTEXTS;
	cr_log_info("add 1 to %2u nodes:      moved %.4f of %u contexts (ideal %.4f)",
		    n, frac, CONTEXTS, expect);
	cr_assert(fabs(frac - expect) <= STABILITY_TOL * expect,
		  "adding 1 to %u moved %.4f, want %.4f +- %.0f%%", n, frac, expect,
		  STABILITY_TOL * 100);
}

Test(director, removing_one_of_n_moves_one_nth_and_only_its_contexts)
{
	static const unsigned int sizes[] = { 3, 5, 10, 16 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_remove(sizes[i]);
}

Test(director, adding_one_node_moves_one_in_n_plus_one_only_to_it)
{
	static const unsigned int sizes[] = { 3, 5, 10, 16 };

	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_add(sizes[i]);
}

/* Shares of primaries over CONTEXTS, checked against weight / sum(weights). */
static void check_shares(const uint32_t *weights, unsigned int n, double tol)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	unsigned int count[HERALD_NODES_MAX] = { 0 };
	double sum = 0;

	make_nodes(nodes, n, 1);
	for (unsigned int i = 0; i < n; i++) {
		nodes[i].weight = weights[i];
		sum += weights[i];
	}
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		struct herald_placement p;

		cr_assert_eq(herald_director_place(&dir, nodes, n, ctx(i), &p), 0);
		count[p.primary]++;
	}
	for (unsigned int i = 0; i < n; i++) {
		double share = (double)count[i] / CONTEXTS, want = weights[i] / sum;

		cr_log_info("weight %2u: share %.4f (ideal %.4f)", weights[i], share, want);
		cr_assert(fabs(share - want) <= tol,
			  "node %u weight %u share %.4f, want %.4f +- %.3f", i, weights[i],
			  share, want, tol);
	}
}

Test(director, weights_1_2_3_give_proportional_shares)
{
	static const uint32_t w[] = { 1, 2, 3 };

	check_shares(w, 3, 0.02);
}

Test(director, arbitrary_weights_need_not_sum_to_anything)
{
	/* katran#35: weights that only worked when they summed to the ring size. */
	static const uint32_t w[] = { 7, 1, 13, 100, 3 };

	check_shares(w, 5, 0.02);
}

Test(director, less_loaded_node_draws_shorter_straws)
{
	/* Same capacity; idle, half and three-quarters loaded: 16 : 8 : 4. */
	uint32_t w[3] = {
		herald_director_weight(1, 0),
		herald_director_weight(1, 500),
		herald_director_weight(1, 750),
	};

	cr_assert_eq(w[0], 16);
	cr_assert_eq(w[1], 8);
	cr_assert_eq(w[2], 4);
	check_shares(w, 3, 0.02);
}

Test(director, weight_levels)
{
	cr_assert_eq(herald_director_weight(4, 0), 4 * HERALD_WEIGHT_LEVELS);
	/* Jitter below one level does not change the published weight. */
	cr_assert_eq(herald_director_weight(4, 62), 4 * HERALD_WEIGHT_LEVELS);
	cr_assert_eq(herald_director_weight(4, 63), 4 * (HERALD_WEIGHT_LEVELS - 1));
	/* A full or overloaded node keeps the smallest share, never zero. */
	cr_assert_eq(herald_director_weight(4, 1000), 4);
	cr_assert_eq(herald_director_weight(4, 5000), 4);
	cr_assert_eq(herald_director_weight(0, 0), 0);
	cr_assert_eq(herald_director_weight(UINT32_MAX, 0),
		     UINT32_MAX / HERALD_WEIGHT_LEVELS * HERALD_WEIGHT_LEVELS);
}

Test(director, raising_a_weight_only_pulls_contexts_to_that_node)
{
	struct herald_node nodes[4];
	unsigned int n = make_nodes(nodes, 4, 1), moved = 0;
	struct herald_node heavier[4];

	memcpy(heavier, nodes, sizeof(nodes));
	heavier[2].weight = 2;
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		uint32_t old = primary_id(nodes, n, ctx(i));
		uint32_t now = primary_id(heavier, n, ctx(i));

		if (now != old) {
			moved++;
			cr_assert_eq(now, heavier[2].id);
		}
	}
	/* Its share goes from 1/4 to 2/5: 15% of all contexts move to it. */
	cr_assert(fabs((double)moved / CONTEXTS - 0.15) <= 0.15 * 0.15,
		  "moved %u", moved);
}

Test(director, queue_is_not_correlated_with_the_winning_node)
{
	struct herald_node nodes[2];
	unsigned int count[2][2] = { { 0 } };

	make_nodes(nodes, 2, 1);
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		struct herald_target t;

		cr_assert_eq(herald_director_redirect(&dir, nodes, 2, ctx(i), &t), 0);
		count[t.node][herald_queue_of(ctx(i), 2)]++;
	}
	for (unsigned int a = 0; a < 2; a++)
		for (unsigned int b = 0; b < 2; b++)
			cr_assert(fabs((double)count[a][b] / CONTEXTS - 0.25) <= 0.01,
				  "node %u queue %u share %.4f", a, b,
				  (double)count[a][b] / CONTEXTS);
}

Test(director, redirect_names_the_primary_and_its_queue)
{
	struct herald_node nodes[4];
	unsigned int n = make_nodes(nodes, 4, 1);

	nodes[0].queues = 1;
	nodes[1].queues = 2;
	nodes[2].queues = 6;
	nodes[3].queues = 0;
	for (uint32_t i = 0; i < 10000; i++) {
		struct herald_placement p;
		struct herald_target t;

		cr_assert_eq(herald_director_place(&dir, nodes, n, ctx(i), &p), 0);
		cr_assert_eq(herald_director_redirect(&dir, nodes, n, ctx(i), &t), 0);
		cr_assert_eq(t.node, p.primary);
		cr_assert_eq(t.queue, herald_queue_of(ctx(i), nodes[t.node].queues));
		cr_assert_lt(t.queue, nodes[t.node].queues ? nodes[t.node].queues : 1);
	}
	cr_assert_eq(herald_director_redirect(&dir, nodes, 0, 1, &(struct herald_target){ 0 }),
		     -ENOENT);
}
