/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internal interfaces of herald-dataplane. Each worker (one per lcore/queue)
 * owns everything reachable from its struct dp_worker: contexts, keys,
 * sessions, reassembly slots and counters. Nothing here is shared between
 * workers, so the hot path takes no locks. A context belongs to the worker
 * herald_queue_of() names; a frame another worker receives for it reaches
 * the owner through the owner's hand-off ring (handoff.c).
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

/* Conflation policy of a context (names follow Diffusion: off = none). */
enum dp_policy_kind { DP_POLICY_REPLACE, DP_POLICY_MERGE, DP_POLICY_NONE };

typedef int64_t (*dp_merge_fn)(int64_t current, int64_t update);

struct dp_merge_op {
	const char *name;
	dp_merge_fn fn;
};

struct dp_policy {
	enum dp_policy_kind kind;
	const struct dp_merge_op *merge; /* DP_POLICY_MERGE only */
};

struct dp_context_policy {
	uint32_t context;
	struct dp_policy policy;
};

#define DP_POLICIES_MAX 64

/* One config struct with a const defaults instance (see dp_config_defaults). */
struct dp_config {
	struct herald_port_spec port;
	uint32_t ip;          /* network byte order */
	uint16_t udp_port;    /* host byte order; queue q serves udp_port + q */
	uint16_t queues;      /* RX/TX queue pairs, one worker each */
	uint32_t max_sessions;
	uint32_t max_sessions_per_source; /* per client IPv4 address */
	uint32_t max_contexts;
	uint32_t max_keys;
	uint32_t max_keys_per_context;
	uint32_t history;        /* messages kept per `none` context */
	uint32_t max_history_contexts;
	uint32_t mbufs;
	uint32_t hdr_mbufs;   /* header-segment pool; 0 = derived from the queues */
	uint32_t reasm_slots;
	uint32_t stats_interval_s;
	enum dp_idle idle;
	bool force_copy;
	bool publish_auth; /* --publish-key: PUBLISH must carry a MAC under publish_key */
	uint8_t publish_key[HERALD_PUBLISH_KEY_LEN];
	uint32_t publish_window_s; /* accepted skew of a signed PUBLISH's stamp, either way */
	uint32_t replay_cache;     /* MACs remembered per queue (replay.c) */
	/*
	 * --token-key: SUBSCRIBE must carry a valid, unexpired REDIRECT token for
	 * its source (docs/protocol.md §3.2.1), and the dataplane answers the
	 * HELLOs that reach it with a REDIRECT to itself carrying one.
	 */
	bool token_required;
	uint8_t token_key[HERALD_TOKEN_KEY_LEN];
	uint32_t token_ttl_s;    /* lifetime of the tokens it issues */
	struct dp_policy default_policy;
	uint32_t npolicies;
	struct dp_context_policy policies[DP_POLICIES_MAX]; /* --context ID=POLICY */
	/* Context life cycle (docs/checkpoints.md); NULL checkpoint_dir = off. */
	const char *checkpoint_dir;
	uint32_t idle_unload_s;         /* 0 = never unload */
	uint32_t checkpoint_interval_s; /* 0 = write only on unload and at exit */
	uint32_t checkpoint_map_mb;     /* LMDB map size */
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
	/*
	 * Budget: a token bucket in milli-messages. Rate mode refills it by time
	 * (budget messages/s); credit mode only by the client's ACKs. Past the
	 * budget nothing is queued: conflated keys are marked dirty (one bit
	 * per key of the context) and `none` sessions lag behind in the history.
	 */
	uint32_t budget;       /* 0 = unlimited */
	bool credit_mode;
	int64_t tokens;        /* milli-messages */
	uint64_t refill_tsc;
	uint32_t ndirty;
	uint32_t dirty_cursor; /* next key ordinal the drain looks at */
	uint32_t dirty_prev, dirty_next; /* the worker's list of sessions with dirty keys */
	bool on_dirty_list;
	uint64_t hist_next;    /* `none`: next context message number to send */
	uint64_t hist_first;   /* `none`: first message after the snapshot (older: not NAKable) */
	int64_t seq_offset;    /* `none`: session seq = context message number + offset */
	uint32_t wire_id;      /* the id on the wire: unguessable, see dp_session_open */
	bool confirmed;        /* the client has named the session at least once */
};

/* One message of a `none` context's history, holding body references. */
struct dp_hist_entry {
	uint32_t key;     /* key slot, for the key bytes */
	uint16_t msg_len;
	uint8_t nfrags;
	struct rte_mbuf *frag[HERALD_FRAGS_MAX];
};

struct dp_context {
	uint32_t id;
	bool in_use;
	struct dp_policy policy;
	uint32_t sub_head, nsubs;
	uint32_t nkeys;
	uint32_t *keys;   /* key ordinal -> key slot, max_keys_per_context long */
	/* `none` contexts: ring of the last `history` messages, numbered from 1. */
	struct dp_hist_entry *hist;
	uint64_t hist_head; /* number of the newest message; 0 = none yet */
	/*
	 * Created by a SUBSCRIBE and holding nothing yet: removed when its last
	 * session closes, so SUBSCRIBEs for made-up contexts cannot fill the
	 * table. A PUBLISH or an activation from the control plane keeps it.
	 */
	bool ephemeral;
	/*
	 * A replica copy (heraldd's relay, docs/heraldd.md): filled by `put`
	 * with the primary's values as they are; not listed as hosted by its
	 * node's heraldd. An activation without "replica" promotes it.
	 */
	bool replica;
	/* Life cycle (ckpt_worker.c): last PUBLISH or session change, last checkpoint. */
	uint64_t touched_tsc, saved_tsc;
	bool dirty;         /* changed since its state was last handed to the checkpoint */
	bool save_pending;  /* a checkpoint of it is on its way to the store */
	bool unload_wanted; /* ... and it is to be unloaded once that is committed */
};

/*
 * The latest value of one key. The body of the message that set it is kept
 * as the received mbufs (one per protocol fragment, trimmed to the body), so
 * snapshots and deltas send the very bytes that arrived: written once by the
 * NIC, referenced by every recipient.
 */
struct dp_key {
	uint32_t ctx;
	uint32_t ordinal; /* index in the context's key array and dirty bitmaps */
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

/* The replay cache of signed PUBLISH (replay.c). */
struct dp_replay_entry {
	uint64_t mac;
	uint64_t stamp_us;
};

struct dp_replay {
	struct rte_hash *macs;          /* the MACs remembered */
	struct dp_replay_entry *fifo;   /* the same, in arrival order */
	uint32_t size, head, count;
	uint64_t horizon_us;            /* stamps at or below it are refused */
};

struct dp_worker {
	/* Hot, read every packet. */
	uint16_t port_id, queue;
	uint32_t ip;
	uint16_t udp_port_be;         /* this queue's port: port_base + queue */
	uint16_t port_base, nqueues;  /* host order: the node's queue ports */
	struct dp_worker *peers;      /* every worker, indexed by queue (hand-offs) */
	struct rte_ring *handoff;     /* frames other queues received for this one */
	struct rte_ether_addr mac;
	bool zero_copy;
	struct rte_mempool *pool;     /* RX buffers, and whole frames for copies */
	struct rte_mempool *hdr_pool; /* per-recipient header segments */
	uint16_t ntx;
	struct rte_mbuf *tx[DP_TX_BUF];
	uint64_t now; /* TSC at the start of this burst */
	uint32_t tai_s; /* CLOCK_TAI seconds, refreshed by the timers (10 ms): token expiry */
	uint64_t unix_us; /* CLOCK_REALTIME us, likewise: signed PUBLISH stamps */

	uint64_t ctr[HERALD_CTR_MAX];
	uint64_t drop[HERALD_DROP_MAX];

	const struct dp_config *cfg;

	/* Store. */
	struct rte_hash *ctx_hash, *key_hash, *session_hash;
	uint8_t id_key[16];           /* session ids are a keyed PRF of id_counter */
	uint64_t id_counter;
	struct rte_hash *source_hash; /* client IPv4 -> slot in source_sessions */
	uint32_t *source_sessions;    /* sessions open per source address */
	uint32_t max_per_source;
	struct dp_context *contexts;
	struct dp_key *keys;
	struct dp_session *sessions;
	uint32_t max_contexts, max_keys, max_sessions;
	uint32_t session_hwm; /* sessions[] is used below this index */
	uint32_t max_kpc, dirty_words, history, max_history_contexts, nhistory;
	uint32_t hist_free;   /* 1 + first history ring freed by dp_context_remove; 0 = none */
	struct rte_ring *ctl_ring; /* control requests from ctl.c, drained by the timers */
	uint64_t *dirty;      /* max_sessions x dirty_words bitmaps */
	uint32_t *ctx_keys;   /* max_contexts x max_kpc */
	struct dp_hist_entry *hist_pool; /* max_history_contexts x history */
	uint32_t dirty_head;  /* sessions with dirty keys or history lag */
	struct dp_reasm *reasm;
	uint32_t reasm_slots;
	uint64_t reasm_timeout_tsc;
	uint64_t hb_default_tsc;
	uint64_t next_timer_tsc, timer_period_tsc;
	uint64_t grace_until_tsc;  /* after a stall of the worker itself, no session expires before this */
	uint64_t confirm_min_tsc, confirm_max_tsc; /* bounds of an unconfirmed session's life */
	uint32_t unknown_replies;  /* ERROR UNKNOWN_SESSION replies left in this timer period */
	uint64_t next_stats_tsc, stats_period_tsc;
	enum dp_idle idle;
	struct dp_ckpt_worker *ckpt; /* NULL unless --checkpoint-dir */
	struct dp_replay replay;     /* empty unless --publish-key */
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

/* replay.c: nothing unless cfg->publish_auth */
int dp_replay_init(struct dp_worker *w, unsigned lcore);
void dp_replay_free(struct dp_worker *w);
/* HERALD_DROP_NONE if the verified signed PUBLISH datagram @p f is fresh; it is then remembered. */
enum herald_drop dp_replay_admit(struct dp_worker *w, const struct herald_frame *f);

/* store.c */
int dp_store_init(struct dp_worker *w, const struct dp_config *cfg, unsigned lcore);
void dp_store_free(struct dp_worker *w);
uint32_t dp_context_get(struct dp_worker *w, uint32_t id, bool create);
uint32_t dp_context_add(struct dp_worker *w, uint32_t id, const struct dp_policy *policy);
void dp_context_remove(struct dp_worker *w, uint32_t ctx, uint32_t *sessions, uint32_t *keys);
const struct dp_policy *dp_policy_for(const struct dp_config *cfg, uint32_t context);
void dp_session_dirty_link(struct dp_worker *w, uint32_t s);
void dp_session_dirty_unlink(struct dp_worker *w, uint32_t s);
static inline uint64_t *dp_dirty_bits(struct dp_worker *w, uint32_t s)
{
	return &w->dirty[(size_t)s * w->dirty_words];
}
uint32_t dp_key_find(struct dp_worker *w, uint32_t ctx, const uint8_t *key, uint16_t key_len,
		     bool create);
void dp_key_set(struct dp_worker *w, uint32_t k, struct rte_mbuf **frags, uint8_t nfrags,
		uint16_t msg_len);
uint32_t dp_session_find(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx);
/* True when @p ip already holds max_sessions_per_source sessions. */
bool dp_source_full(const struct dp_worker *w, uint32_t ip);
uint32_t dp_session_open(struct dp_worker *w, uint32_t ip, uint16_t port, uint32_t ctx);
void dp_session_close(struct dp_worker *w, uint32_t s);
static inline uint32_t dp_session_wire_id(const struct dp_worker *w, uint32_t s)
{
	return w->sessions[s].wire_id;
}

/* reasm.c */
enum herald_drop dp_reasm_add(struct dp_worker *w, uint32_t ip, uint16_t port,
			      const struct herald_frame *f, struct rte_mbuf *body,
			      struct dp_reasm **done);
void dp_reasm_release(struct dp_reasm *r, bool free_frags);
void dp_reasm_expire(struct dp_worker *w);

/* policy.c */
const struct dp_merge_op *dp_merge_op_find(const char *name);
const char *dp_merge_op_names(void);
int dp_policy_parse(const char *text, struct dp_policy *out, char *err, size_t errlen);
const char *dp_policy_name(const struct dp_policy *p, char *buf, size_t len);

/* budget.c */
void dp_budget_reset(struct dp_worker *w, struct dp_session *s);
bool dp_budget_take(struct dp_worker *w, struct dp_session *s);
void dp_budget_credit(struct dp_session *s, uint32_t credits);
void dp_budget_drain(struct dp_worker *w);
void dp_dirty_mark(struct dp_worker *w, uint32_t s, uint32_t ordinal);
void dp_dirty_clear(struct dp_worker *w, uint32_t s);

/* fanout.c */
void dp_fanout(struct dp_worker *w, uint32_t ctx, uint32_t k);
void dp_delta_send(struct dp_worker *w, uint32_t s, uint32_t k);
void dp_hist_send(struct dp_worker *w, uint32_t s, uint64_t msg);
void dp_hist_append(struct dp_worker *w, uint32_t ctx, uint32_t k);
void dp_snapshot_send(struct dp_worker *w, uint32_t s);
void dp_heartbeat_send(struct dp_worker *w, uint32_t s);
/* The node closed the session (heraldctl clients kick): the client treats it as gone. */
void dp_bye_send(struct dp_worker *w, uint32_t s);
void dp_error_send(struct dp_worker *w, uint32_t ip, uint16_t port, const struct rte_ether_addr *mac,
		   uint32_t context, enum herald_error code, const char *text);
/* The same with a sequence in the header (HISTORY_LOST for a cut session: the newest lost). */
void dp_error_send_seq(struct dp_worker *w, uint32_t ip, uint16_t port,
		       const struct rte_ether_addr *mac, uint32_t context, uint64_t seq,
		       enum herald_error code, const char *text);

/* net.c */
void dp_net_rx(struct dp_worker *w, struct rte_mbuf *m);
/* A frame dp_net_rx of another worker checked and handed over (l3_len set). */
void dp_net_rx_handed(struct dp_worker *w, struct rte_mbuf *m);
void dp_headers_write(const struct dp_worker *w, uint8_t *dst, const struct rte_ether_addr *mac,
		      uint32_t ip, uint16_t port, uint16_t body_len);

/* token.c: the address token (--token-key), docs/protocol.md §3.2.1 */
/* Read CLOCK_TAI into w->tai_s and CLOCK_REALTIME into w->unix_us: from the timers, never per packet. */
void dp_clock_refresh(struct dp_worker *w);
/* HERALD_DROP_NONE if the SUBSCRIBE @p f may create state (verified token, or no key). */
enum herald_drop dp_subscribe_admit(struct dp_worker *w, const struct herald_frame *f, uint32_t ip,
				    uint16_t port);
/* A HELLO (--token-key): answered in place with a REDIRECT to this node, from @p dst_port. */
void dp_hello_rx(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ether_hdr *eth,
		 uint32_t src_ip, uint16_t src_port, uint16_t dst_port, const uint8_t *payload,
		 uint16_t len);

/* handoff.c: one MPSC ring per worker when the port runs several queues */
int dp_handoff_init(struct dp_worker *workers, uint16_t n);
void dp_handoff_free(struct dp_worker *workers, uint16_t n);
void dp_handoff_push(struct dp_worker *w, struct rte_mbuf *m, uint16_t owner);
unsigned dp_handoff_drain(struct dp_worker *w);

/* worker.c */
void dp_tx(struct dp_worker *w, struct rte_mbuf *m);
void dp_tx_flush(struct dp_worker *w);
/* Store one PUBLISH body as it is (no merge) and fan it out: the relay's `put`. */
int dp_put(struct dp_worker *w, uint32_t ctx, const uint8_t *body, uint16_t len);
void dp_herald_rx(struct dp_worker *w, struct rte_mbuf *m, const struct rte_ether_hdr *eth,
		  uint32_t src_ip, uint16_t src_port, const uint8_t *udp_payload, uint16_t len);
int dp_worker_init(struct dp_worker *w, const struct dp_config *cfg, const struct herald_port *port,
		   uint16_t queue, struct rte_mempool *pool, struct rte_mempool *hdr_pool);
int dp_worker_main(void *arg);
/* Periodic work (heartbeats, expiry, budget drain, control requests); tests call it directly. */
void dp_worker_timers(struct dp_worker *w);
extern volatile bool dp_quit;

/* ctl.c: the control socket (docs/heraldd.md), served on a control thread */
int dp_ctl_start(const char *path, struct dp_worker *workers, unsigned nb_workers);
void dp_ctl_stop(void);
void dp_ctl_drain(struct dp_worker *w);

/* checkpoint.c and ckpt_worker.c: the context life cycle (docs/checkpoints.md). */
int dp_ckpt_open(const struct dp_config *cfg, struct dp_worker *workers, unsigned nb_workers);
int dp_ckpt_start(void);
/* Stop the thread, checkpoint every context in memory, release everything. Accepts "not open". */
void dp_ckpt_close(void);
/* Hot path, SUBSCRIBE and PUBLISH only: true if the frame was held (or dropped) for a load. */
bool dp_ckpt_hold(struct dp_worker *w, struct rte_mbuf *m, uint32_t context, uint32_t ip,
		  uint16_t port, const uint8_t *payload, uint16_t len);
/* Control plane's deactivate: delete the record; 1 = it was parked, 0 = not, -EBUSY = loading. */
int dp_ckpt_forget(struct dp_worker *w, uint32_t context);
/* Control plane's activate: 1 = a load started (or runs), 0 = not checkpointed, <0 errno. */
int dp_ckpt_activate(struct dp_worker *w, uint32_t context);
void dp_ckpt_drain(struct dp_worker *w);
void dp_ckpt_timers(struct dp_worker *w);
/* Checkpointed contexts not in memory, for the control plane's listing (worker side). */
bool dp_ckpt_parked_next(struct dp_worker *w, uint32_t *iter, uint32_t *context,
			 struct dp_policy *policy);
uint32_t dp_ckpt_parked_count(const struct dp_worker *w);

/* telemetry.c */
int dp_telemetry_init(struct dp_worker *workers, unsigned nb_workers);

/* port_stats.c: the port's rte_eth_stats as HERALD_PORT_STATS; 0 or a negative errno (all 0). */
int dp_port_stats(uint16_t port_id, uint64_t out[HERALD_PORT_STAT_MAX]);

#endif
