/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Context life cycle (docs/checkpoints.md): a context nobody uses is written
 * to an LMDB checkpoint and unloaded; a SUBSCRIBE, PUBLISH or activation
 * loads it again. Workers never touch LMDB: they hand references to their
 * stored bodies to the checkpoint thread through a ring (to_store) and get
 * loaded bodies back in mbufs through another (from_store), drained between
 * bursts. Frames for a context being loaded are held and replayed in order
 * after it is installed, so a SUBSCRIBE gets the loaded state and a PUBLISH
 * lands on top of it.
 */
#ifndef HERALD_CHECKPOINT_H
#define HERALD_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_hash.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <herald/proto.h>

#include "ckpt_record.h"

struct dp_worker;
struct dp_config;
struct dp_policy;

enum dp_ckpt_kind {
	DP_CKPT_SAVE,   /* worker -> store: a context's state (references), maybe several messages */
	DP_CKPT_SAVED,  /* store -> worker: that record is committed (or not: status) */
	DP_CKPT_LOAD,   /* worker -> store: read a context */
	DP_CKPT_LOADED, /* store -> worker: its state in fresh mbufs, maybe several messages */
	DP_CKPT_DELETE, /* worker -> store: forget a context's record (no answer) */
};

enum dp_ckpt_status {
	DP_CKPT_OK,
	DP_CKPT_NOT_FOUND, /* no record: the context starts empty */
	DP_CKPT_CORRUPT,   /* record refused (logged, counted): the context starts empty */
	DP_CKPT_FAILED,    /* I/O or resources: nothing changed, the worker retries later */
};

/* Entries per message: a context with more keys travels in several. */
#define DP_CKPT_BATCH 32

/* One key's latest body, as the store keeps it (struct dp_key). */
struct dp_ckpt_entry {
	uint16_t msg_len;
	uint8_t nfrags;
	struct rte_mbuf *frag[HERALD_FRAGS_MAX];
};

struct dp_ckpt_msg {
	uint8_t kind;   /* enum dp_ckpt_kind */
	uint8_t status; /* enum dp_ckpt_status (SAVED, LOADED) */
	bool first, last; /* first and last message of one context's record */
	uint16_t n;     /* entries used */
	uint32_t context;
	char policy[DP_CKPT_POLICY_LEN];
	struct dp_ckpt_entry ent[DP_CKPT_BATCH];
};

enum { DP_PARKED_STORED = 1, DP_PARKED_LOADING = 2 };

/* A frame held while its context loads; replayed through dp_herald_rx. */
struct dp_ckpt_held {
	struct rte_mbuf *m;
	uint32_t context;
	uint32_t ip;
	uint16_t port;
	uint16_t off, len; /* herald payload within the frame */
};

#define DP_CKPT_HOLD 256
/* Context ids the parked table holds, per context the memory holds (--max-contexts). */
#define DP_CKPT_PARKED_PER_CONTEXT 16u

/* A worker's side of the checkpoint store (its fields belong to the worker). */
struct dp_ckpt_worker {
	struct rte_ring *to_store, *from_store;
	struct rte_mempool *msgs;
	/* Context ids with a record and not in memory: id -> policy and state (ckpt_worker.c). */
	struct rte_hash *parked;
	uint32_t nparked;
	uint64_t idle_tsc, interval_tsc, scan_period_tsc, next_scan_tsc;
	void **batch;       /* messages of one save, max_keys_per_context / DP_CKPT_BATCH + 1 */
	uint32_t loading_ctx; /* context being installed from LOADED messages (they come in a row) */
	bool loading_ok;      /* ... and it took */
	uint32_t nheld;
	struct dp_ckpt_held held[DP_CKPT_HOLD];
};

/* ckpt_worker.c: the worker's side. */
int dp_ckpt_worker_init(struct dp_worker *w, struct dp_ckpt_worker *cw, unsigned index);
void dp_ckpt_worker_free(struct dp_worker *w);
/* Note that @p context has a record (with @p policy; NULL: as noted before, else configured). */
int dp_ckpt_park(struct dp_worker *w, uint32_t context, const struct dp_policy *policy);
/* Ring size holding two records of the largest context, with room to spare. */
unsigned dp_ckpt_ring_size(const struct dp_config *cfg);
/* Return a message to @p pool with the mbuf references it still holds. */
void dp_ckpt_msg_free(struct rte_mempool *pool, struct dp_ckpt_msg *msg);

/* checkpoint.c: the store's side. */
/* Run one round of the checkpoint thread's work (tests call it directly). */
unsigned dp_ckpt_service(void);

#endif
