/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Weighted rendezvous placement. Why rendezvous rather than Maglev, and why
 * the logarithmic straw, is argued in docs/director.md; in short, a cluster
 * has a handful of nodes, so an O(N) lookup costs less than keeping a
 * lookup table consistent, and -ln(u) / w gives exactly proportional shares
 * for any weights with exactly minimal disruption when a node comes or goes.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <sodium.h>

#include <herald/proto.h>

#include "director.h"

_Static_assert(crypto_shorthash_KEYBYTES == HERALD_DIRECTOR_KEY_LEN,
	       "the placement key is a SipHash-2-4 key");
_Static_assert(crypto_shorthash_BYTES == sizeof(uint64_t),
	       "SipHash-2-4 yields 64 bits");

/*
 * The domain tag of the straw hash. The queue hash of a context
 * (herald_queue_of) is another function altogether, so the queue of a
 * context is not correlated with which node won it.
 */
enum {
	TAG_STRAW = 'S',
};

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The hash input is serialised byte by byte, not copied from a struct, so
 * nodes of either endianness (and any padding rules) agree on placement.
 */
static uint64_t keyed_hash(const struct herald_director *d, const uint8_t *in,
			   size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];

	crypto_shorthash(out, in, len, d->key);
	return get_le64(out);
}

void herald_director_init(struct herald_director *d,
			  const uint8_t key[HERALD_DIRECTOR_KEY_LEN])
{
	memcpy(d->key, key, sizeof(d->key));
}

uint32_t herald_director_weight(uint32_t capacity, uint32_t load)
{
	uint32_t spare = load >= HERALD_LOAD_FULL ? 0 : HERALD_LOAD_FULL - load;
	uint32_t level;

	/*
	 * Round the level up so an idle node and one with a little load
	 * publish the same weight; a full node keeps level 1 rather than 0
	 * because a zero weight means "draining" and would leave a cluster of
	 * busy nodes with nowhere to put a new context.
	 */
	level = (HERALD_WEIGHT_LEVELS * spare + HERALD_LOAD_FULL - 1) / HERALD_LOAD_FULL;
	if (level < 1)
		level = 1;
	if (capacity > UINT32_MAX / HERALD_WEIGHT_LEVELS)
		capacity = UINT32_MAX / HERALD_WEIGHT_LEVELS;
	return capacity * level;
}

double herald_director_straw(const struct herald_director *d, uint32_t node,
			     uint32_t weight, uint32_t context)
{
	uint8_t in[9];
	uint64_t h;
	double u;

	if (weight == 0)
		return INFINITY;
	in[0] = TAG_STRAW;
	put_le32(in + 1, node);
	put_le32(in + 5, context);
	h = keyed_hash(d, in, sizeof(in));
	/*
	 * The top 53 bits plus one half, scaled by 2^-53, land strictly
	 * inside (0, 1): ln(u) is finite and negative, so every straw is a
	 * positive, finite length and comparisons never meet NaN.
	 */
	u = ((double)(h >> 11) + 0.5) * 0x1p-53;
	return -log(u) / (double)weight;
}

/* Is straw a (of node ida) shorter than straw b (of node idb)? */
static int shorter(double a, uint32_t ida, double b, uint32_t idb)
{
	return a < b || (a == b && ida < idb);
}

int herald_director_place(const struct herald_director *d,
			  const struct herald_node *nodes, unsigned int n,
			  uint32_t context, struct herald_placement *out)
{
	double best = INFINITY, second = INFINITY;
	int ib = -1, is = -1;

	if (d == NULL || out == NULL || (nodes == NULL && n > 0) ||
	    n > HERALD_NODES_MAX)
		return -EINVAL;

	/* Keep the two shortest straws in one pass: no sort, no allocation. */
	for (unsigned int i = 0; i < n; i++) {
		double s;

		if (nodes[i].weight == 0)
			continue;
		s = herald_director_straw(d, nodes[i].id, nodes[i].weight, context);
		if (ib < 0 || shorter(s, nodes[i].id, best, nodes[ib].id)) {
			second = best;
			is = ib;
			best = s;
			ib = (int)i;
		} else if (is < 0 || shorter(s, nodes[i].id, second, nodes[is].id)) {
			second = s;
			is = (int)i;
		}
	}
	out->primary = ib;
	out->replica = is;
	return ib < 0 ? -ENOENT : 0;
}

int herald_director_redirect(const struct herald_director *d,
			     const struct herald_node *nodes, unsigned int n,
			     uint32_t context, struct herald_target *out)
{
	struct herald_placement p;
	int ret;

	if (out == NULL)
		return -EINVAL;
	ret = herald_director_place(d, nodes, n, context, &p);
	if (ret < 0)
		return ret;
	out->node = p.primary;
	out->queue = herald_queue_of(context, nodes[p.primary].queues);
	return 0;
}
