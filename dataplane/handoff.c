/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames on the wrong queue. A context belongs to one worker (its queue,
 * herald_queue_of()), but the NIC picks the RX queue: by UDP port where flow
 * rules steer base + q to queue q, by a flow hash elsewhere (RSS without
 * rules, a veth). A frame that lands on another queue is put, as received,
 * on the owner's ring: many producers (the other workers), one consumer (the
 * owner, at the top of its loop). The store, sessions and budgets stay with
 * their one worker; only the mbuf pointer crosses, never a lock.
 */
#include <stdio.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "dataplane.h"

/* Frames in flight to one worker; a full ring drops (handoff_full). */
#define HANDOFF_RING_SIZE 4096

int dp_handoff_init(struct dp_worker *workers, uint16_t n)
{
	char name[RTE_RING_NAMESIZE];

	for (uint16_t q = 0; q < n; q++) {
		workers[q].peers = workers;
		if (n < 2)
			continue;
		snprintf(name, sizeof(name), "herald_handoff_%u", q);
		workers[q].handoff = rte_ring_create(name, HANDOFF_RING_SIZE, (int)rte_socket_id(),
						     RING_F_SC_DEQ);
		if (workers[q].handoff == NULL)
			return -rte_errno;
	}
	return 0;
}

void dp_handoff_free(struct dp_worker *workers, uint16_t n)
{
	struct rte_mbuf *m;

	for (uint16_t q = 0; q < n; q++) {
		if (workers[q].handoff == NULL)
			continue;
		while (rte_ring_dequeue(workers[q].handoff, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(workers[q].handoff);
		workers[q].handoff = NULL;
	}
}

void dp_handoff_push(struct dp_worker *w, struct rte_mbuf *m, uint16_t owner)
{
	struct rte_ring *r = w->peers != NULL ? w->peers[owner].handoff : NULL;

	if (r == NULL || rte_ring_mp_enqueue(r, m) != 0)
		return dp_drop(w, m, HERALD_DROP_HANDOFF_FULL);
	w->ctr[HERALD_CTR_MISQUEUED]++;
}

unsigned dp_handoff_drain(struct dp_worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];

	if (w->handoff == NULL || rte_ring_empty(w->handoff))
		return 0;
	unsigned n = rte_ring_sc_dequeue_burst(w->handoff, (void **)pkts, DP_BURST, NULL);
	for (unsigned i = 0; i < n; i++)
		dp_net_rx_handed(w, pkts[i]);
	return n;
}
