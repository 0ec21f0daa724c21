/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file director.h
 * Placement of contexts on nodes: weighted rendezvous hashing (highest random
 * weight). Every function here is a pure function of the cluster key, the
 * candidate nodes and the context id, so every node that holds the same view
 * computes the same answer, and tests can check it without a network, a
 * clock or a random source. Lookups never allocate; they cost one keyed hash
 * and one logarithm per candidate. See docs/director.md.
 */
#ifndef HERALD_DIRECTOR_H
#define HERALD_DIRECTOR_H

#include <stdint.h>

/** Most nodes a cluster (and so a view or a candidate array) holds. */
#define HERALD_NODES_MAX 64
/** Bytes of the cluster placement key (SipHash-2-4 key). */
#define HERALD_DIRECTOR_KEY_LEN 16
/** A node id that names no node. */
#define HERALD_NODE_NONE UINT32_MAX
/** Spare-capacity levels a published weight is quantised to. */
#define HERALD_WEIGHT_LEVELS 16
/** Load is expressed in per-mille of a node's capacity. */
#define HERALD_LOAD_FULL 1000

/** A placement candidate: one live node as the view describes it. */
struct herald_node {
	uint32_t id;     /**< cluster-wide node id, stable across restarts */
	uint32_t weight; /**< relative share of new contexts; 0 = draws no straw */
	uint16_t queues; /**< dataplane queues on the node; 0 is treated as 1 */
};

/** Where a context lives: indices into the candidate array, -1 for none. */
struct herald_placement {
	int primary; /**< shortest straw: the node that hosts the context */
	int replica; /**< second-shortest straw: takes over if the primary dies */
};

/** The answer to a HELLO: the node and queue hosting a context. */
struct herald_target {
	int node;       /**< index into the candidate array */
	uint16_t queue; /**< queue on that node, 0 .. queues - 1 */
};

/** The director's state: only the cluster key, shared by every node. */
struct herald_director {
	uint8_t key[HERALD_DIRECTOR_KEY_LEN];
};

/**
 * Set the cluster placement key. Every node of a cluster must use the same
 * key, or they disagree on placement.
 */
void herald_director_init(struct herald_director *d,
			  const uint8_t key[HERALD_DIRECTOR_KEY_LEN]);

/**
 * Weight a node publishes in its heartbeats: capacity times its spare
 * capacity, quantised to HERALD_WEIGHT_LEVELS steps so that small load
 * jitter does not change the weight other nodes place with.
 *
 * @param capacity  relative capacity of the node (e.g. its queue count)
 * @param load      per-mille utilisation; >= HERALD_LOAD_FULL means full
 * @return capacity * level, level in 1 .. HERALD_WEIGHT_LEVELS (a full node
 *         still takes a small share); 0 only when capacity is 0.
 */
uint32_t herald_director_weight(uint32_t capacity, uint32_t load);

/**
 * Length of a node's straw for a context: -ln(u) / weight, where u in (0, 1)
 * comes from SipHash-2-4 of (node id, context) under the cluster key. The
 * straws of a node are exponentially distributed with rate weight, so the
 * shortest one falls on a node with probability weight / sum of weights.
 *
 * @return the straw, or +infinity when weight is 0.
 */
double herald_director_straw(const struct herald_director *d, uint32_t node,
			     uint32_t weight, uint32_t context);

/**
 * Place a context: the shortest straw is the primary, the second-shortest
 * the replica. Equal straws are broken by the lower node id, so the answer
 * does not depend on the order of @p nodes.
 *
 * @return 0; -EINVAL on bad arguments or n > HERALD_NODES_MAX; -ENOENT when
 *         no candidate has a non-zero weight. The replica is -1 when only
 *         one candidate draws.
 */
int herald_director_place(const struct herald_director *d,
			  const struct herald_node *nodes, unsigned int n,
			  uint32_t context, struct herald_placement *out);

/**
 * The redirect answer for a context that is not placed yet: the primary of
 * herald_director_place() and herald_queue_of() (include/herald/proto.h,
 * the dataplane's owner function) over that node's queue count.
 *
 * @return 0, or the error of herald_director_place().
 */
int herald_director_redirect(const struct herald_director *d,
			     const struct herald_node *nodes, unsigned int n,
			     uint32_t context, struct herald_target *out);

#endif /* HERALD_DIRECTOR_H */
