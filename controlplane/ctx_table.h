/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file ctx_table.h
 * The director's table: where each active context lives (primary and
 * replica node ids). Open addressing, sized once, so a redirect is one hash
 * probe sequence and no allocation.
 */
#ifndef HERALD_CTX_TABLE_H
#define HERALD_CTX_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct herald_ctx_entry {
	uint32_t context;
	uint32_t primary;   /**< node id */
	uint32_t replica;   /**< node id, HERALD_NODE_NONE if none */
	uint32_t epoch;     /**< view epoch of the last change */
	uint64_t since_ns;  /**< when primary last changed (pending claims expire) */
	bool confirmed;     /**< the primary itself said it hosts it */
	char policy[16];    /**< its conflation policy as the primary's dataplane lists it, or a PLACE
			     *   said ("" = not known: the dataplane's default) */
	uint32_t told;      /**< primary: the replica last sent the policy (PLACE), NONE = not yet */
	uint32_t contested_by;       /**< the higher id of two live claimants, NONE = uncontested */
	uint64_t contested_since_ns; /**< when their claims first met */
	uint64_t contested_last_ns;  /**< when they last met */
	uint8_t slot;       /**< 0 empty, 1 used, 2 deleted */
};

struct herald_ctx_table {
	struct herald_ctx_entry *e;
	uint32_t cap;     /**< power of two */
	uint32_t max;     /**< most entries it holds */
	uint32_t n;       /**< used */
	uint32_t deleted; /**< tombstones */
};

/** @return 0, -EINVAL (max 0 or above 2^24), -ENOMEM. Holds up to @p max contexts. */
int herald_ctx_table_init(struct herald_ctx_table *t, uint32_t max);
void herald_ctx_table_free(struct herald_ctx_table *t);
struct herald_ctx_entry *herald_ctx_find(struct herald_ctx_table *t, uint32_t context);
/** Find or add (primary, replica NONE, not confirmed); NULL when full. */
struct herald_ctx_entry *herald_ctx_add(struct herald_ctx_table *t, uint32_t context, bool *added);
void herald_ctx_del(struct herald_ctx_table *t, struct herald_ctx_entry *e);

#define HERALD_CTX_FOREACH(t, it) \
	for (struct herald_ctx_entry *it = (t)->e; it < (t)->e + (t)->cap; it++) \
		if (it->slot == 1)

#endif /* HERALD_CTX_TABLE_H */
