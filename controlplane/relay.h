/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file relay.h
 * The replica relay (docs/heraldd.md): heraldd on a context's replica node
 * subscribes to the context on the primary's dataplane with libherald and
 * writes every entry it receives (snapshot and deltas) into its own
 * dataplane's replica copy with the control socket's `put`, which stores
 * the value as it is. A promoted replica therefore holds the primary's
 * conflated state. heraldd decides what to relay (its director's table);
 * this module owns the subscriptions and the writes.
 */
#ifndef HERALD_RELAY_H
#define HERALD_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "dpctl.h"

/** Subscriptions one relay client (one socket to one primary queue) holds. */
#define HERALD_RELAY_SUBS_PER_CLIENT 256

struct herald_relay;

/** Counters of the relay, shown in heraldd's status. */
struct herald_relay_stats {
	uint64_t entries;    /**< entries received from primaries and written */
	uint64_t puts;       /**< `put` requests sent to the local dataplane */
	uint64_t put_errors; /**< `put` requests refused or lost (entries not written) */
	uint64_t unknown;    /**< entries the dataplane had no copy for */
	uint64_t snapshots;  /**< snapshots completed (a relay start or a resync) */
	uint64_t gaps;       /**< gaps seen (each repaired by a fresh snapshot) */
	uint64_t timeouts;   /**< primary fell silent on a relayed context */
	uint64_t started, stopped;
	uint32_t active;     /**< contexts relayed now */
	uint32_t synced;     /**< of them, with a complete snapshot */
	uint64_t put_ns_max; /**< longest `put` round trip */
};

/** @return a relay writing through @p dp, or NULL (ENOMEM). */
struct herald_relay *herald_relay_new(struct herald_dpctl *dp, uint32_t max_contexts);
/** Stop every relay and free it. Accepts NULL. */
void herald_relay_free(struct herald_relay *r);

/** Whether @p context is relayed; if so *@p from is the primary node's id. */
bool herald_relay_has(const struct herald_relay *r, uint32_t context, uint32_t *from);
/**
 * Start relaying @p context from node @p node's dataplane queue at @p from
 * into local queue @p local_queue. The local replica copy must be activated
 * already.
 * @return 0, -EEXIST, -ENOSPC (table full), -ENOMEM or a socket errno.
 */
int herald_relay_start(struct herald_relay *r, uint32_t context, uint32_t node,
		       const struct sockaddr_in *from, uint16_t local_queue);
/** Stop relaying @p context (entries received so far are written first). */
void herald_relay_stop(struct herald_relay *r, uint32_t context);

/**
 * The contexts relayed now, into @p out (up to @p max), with their sources.
 * @return how many were written.
 */
uint32_t herald_relay_list(const struct herald_relay *r, uint32_t *out, uint32_t *nodes,
			   uint32_t max);

/** Sockets to wait on, into @p p (up to @p max). @return how many. */
unsigned herald_relay_pollfds(const struct herald_relay *r, struct pollfd *p, unsigned max);
/** Receive what arrived, run the clients' timers, and write it to the dataplane. */
void herald_relay_service(struct herald_relay *r);
/** Write what was received and not written yet. */
void herald_relay_flush(struct herald_relay *r);

void herald_relay_stats(const struct herald_relay *r, struct herald_relay_stats *out);

#endif /* HERALD_RELAY_H */
