/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal interfaces of herald-dataplane. Each worker (one per lcore/queue)
 * owns everything reachable from its struct dp_worker: contexts, keys,
 * sessions, reassembly slots and counters. Nothing here is shared between
 * workers, so the hot path takes no locks.
 */
#ifndef HERALD_DATAPLANE_H
#define HERALD_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_mbuf.h>

#include <herald/proto.h>

#include "port.h"

#define DP_BURST 32
#define DP_TX_BUF 64
#define DP_NONE UINT32_MAX
/* Bytes in front of every body on the wire: Ethernet + IPv4 + UDP + herald. */
#define DP_HDRS_LEN (RTE_ETHER_HDR_LEN + HERALD_IPV4_UDP_LEN + (int)sizeof(struct herald_hdr))

enum dp_idle { DP_IDLE_SPIN, DP_IDLE_SLEEP };

/* One config struct with a const defaults instance (see dp_config_defaults). */
struct dp_config {
	struct herald_port_spec port;
	uint32_t ip;          /* network byte order */
	uint16_t udp_port;    /* host byte order */
	uint32_t max_sessions;
	uint32_t max_contexts;
	uint32_t max_keys;
	uint32_t mbufs;
	uint32_t reasm_slots;
	uint32_t stats_interval_s;
	enum dp_idle idle;
	bool force_copy;
};

extern const struct dp_config dp_config_defaults;

/* A subscriber of one context, keyed by (client address, port, context). */
struct dp_session {
	uint32_t ip;   /* network byte order */
	uint16_t port; /* network byte order */
	bool in_use;
	struct rte_ether_addr mac;
	uint32_t ctx;  /* index into contexts */
	uint32_t prev, next; /* the context's subscriber list */
	uint64_t seq;  /* last sequence sent */
	uint64_t last_tx_tsc, last_rx_tsc, hb_tsc;
};

struct dp_context {
	uint32_t id;
	bool in_use;
	uint32_t sub_head, nsubs;
	uint32_t key_head, nkeys;
};

/*
 * The latest value of one key. The body of the message that set it is kept
 * as the received mbufs (one per protocol fragment, trimmed to the body), so
 * snapshots and deltas send the very bytes that arrived: written once by the
 * NIC, referenced by every recipient.
 */
struct dp_key {
	uint32_t ctx;
	uint32_t prev, next; /* the context's key list */
	uint16_t msg_len;
	uint8_t nfrags;
	struct rte_mbuf *frag[HERALD_FRAGS_MAX];
};

/* A fragmented PUBLISH being collected. */
struct dp_reasm {
	bool in_use;
	uint32_t ip;
	uint16_t port;
	uint32_t context;
	uint64_t seq;
	uint16_t msg_len;
	uint8_t nfrags, have;
	uint64_t start_tsc;
	struct rte_mbuf *frag[HERALD_FRAGS_MAX];
};

struct dp_worker {
	/* Hot, read every packet. */
	uint16_t port_id, queue;
	uint32_t ip;
	uint16_t udp_port_be;
	struct rte_ether_addr mac;
	bool zero_copy;
	struct rte_mempool *pool;     /* RX buffers, and whole frames for copies */
	struct rte_mempool *hdr_pool; /* per-recipient header segments */
	uint16_t ntx;
	struct rte_mbuf *tx[DP_TX_BUF];
	uint64_t now; /* TSC at the start of this burst */

	uint64_t ctr[HERALD_CTR_MAX];
	uint64_t drop[HERALD_DROP_MAX];

	/* Store. */
	struct rte_hash *ctx_hash, *key_hash, *session_hash;
	struct dp_context *contexts;
	struct dp_key *keys;
	struct dp_session *sessions;
	uint32_t max_contexts, max_keys, max_sessions;
	uint32_t session_hwm; /* sessions[] is used below this index */
	struct dp_reasm *reasm;
	uint32_t reasm_slots;
	uint64_t reasm_timeout_tsc;
	uint64_t hb_default_tsc;
	uint64_t next_timer_tsc, timer_period_tsc;
	uint64_t next_stats_tsc, stats_period_tsc;
	enum dp_idle idle;
} __rte_cache_aligned;

static inline void dp_count(struct dp_worker *w, enum herald_counter c, uint64_t n)
{
	w->ctr[c] += n;
}

static inline void dp_drop(struct dp_worker *w, struct rte_mbuf *m, enum herald_drop why)
{
	w->drop[why]++;
	rte_pktmbuf_free(m);
}

/* store.c */
int dp_store_init(struct dp_worker *w, const struct dp_config *cfg, unsigned lcore);
void dp_store_free(struct dp_worker *w);
uint32_t dp_context_get(struct dp_worker *w, uint32_t id, bool create);
uint32_t dp_key_find(struct dp_worker *w, uint32_t ctx, const uint8_t *key, uint16_t key_len,
		     bool create);
void dp_key_set(struct dp_worker *w, uint32_t k, struct rte_mbuf **frags, uint8_t nfrags,
		uint16_t msg_len);
uint32_t dp_session_find(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx);
uint32_t dp_session_open(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx);
void dp_session_close(struct dp_worker *w, uint32_t s);
static inline uint32_t dp_session_wire_id(uint32_t s)
{
	return s + 1;
}

/* reasm.c */
enum herald_drop dp_reasm_add(struct dp_worker *w, uint32_t ip, uint16_t port,
			      const struct herald_frame *f, struct rte_mbuf *body,
			      struct dp_reasm **done);
void dp_reasm_release(struct dp_reasm *r, bool free_frags);
void dp_reasm_expire(struct dp_worker *w);

/* fanout.c */
void dp_fanout(struct dp_worker *w, uint32_t ctx, uint32_t k);
void dp_snapshot_send(struct dp_worker *w, uint32_t s);
void dp_heartbeat_send(struct dp_worker *w, uint32_t s);
void dp_error_send(struct dp_worker *w, uint32_t ip, uint16_t port, const struct rte_ether_addr *mac,
		   uint32_t context, enum herald_error code, const char *text);

/* net.c */
void dp_net_rx(struct dp_worker *w, struct rte_mbuf *m);
void dp_headers_write(const struct dp_worker *w, uint8_t *dst, const struct rte_ether_addr *mac,
		      uint32_t ip, uint16_t port, uint16_t body_len);

/* worker.c */
void dp_tx(struct dp_worker *w, struct rte_mbuf *m);
void dp_tx_flush(struct dp_worker *w);
void dp_herald_rx(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ether_hdr *eth,
		  uint32_t src_ip, uint16_t src_port, const uint8_t *udp_payload, uint16_t len);
int dp_worker_main(void *arg);
extern volatile bool dp_quit;

/* telemetry.c */
int dp_telemetry_init(struct dp_worker *workers, unsigned nb_workers);

#endif
