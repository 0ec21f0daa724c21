/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file client.h
 * libherald: the kernel-socket client of a Herald node.
 *
 * One struct herald_client is one UDP socket. With herald_client_opts::node
 * it is connected to that one node queue; with herald_client_opts::seeds it
 * finds each context's node by itself (HELLO to a random seed, REDIRECT to
 * the hosting node and queue) and moves a subscription to another node when
 * its node falls silent (see "Seeds" below). It holds up to
 * herald_client_opts::max_subscriptions subscriptions (one per context) and
 * publishes into any context. Everything the client needs is
 * allocated by herald_client_open(); receiving, reassembling and dispatching
 * a frame never allocates.
 *
 * The client is single-threaded: call every function of one client from one
 * thread (different clients may live in different threads). Callbacks run
 * inside herald_client_poll() and may call herald_publish(),
 * herald_subscribe() and herald_unsubscribe() on the same client; they must
 * not call herald_client_close().
 *
 * Sequence numbers: every message a session delivers carries a sequence
 * number one above the previous one (all fragments of a message share it).
 * How a missing range is repaired depends on the context's policy, which
 * the node knows and the client is told at subscribe time:
 *
 * - Conflated contexts (replace, merge:OP; herald_subscribe()): a gap is
 *   reported with herald_callbacks::on_gap and repaired by a fresh snapshot
 *   (herald_resync(), or automatically with herald_client_opts::auto_resync).
 *   The snapshot holds every key's current value, so the view converges to
 *   exactly the node's state; replaying the lost deltas would not be better.
 * - `none` contexts (herald_subscribe_ex() with HERALD_SUB_ORDERED): every
 *   message matters, so a gap is first repaired by retransmission. The
 *   client NAKs the missing range, holds later messages in a bounded reorder
 *   buffer (herald_client_opts::reorder_slots) and delivers them in order
 *   once the hole is filled; on_gap is called only when messages are really
 *   lost (the node answered ERROR HERALD_ERR_HISTORY_LOST, the reorder
 *   buffer overflowed, or NAKs went unanswered), and a snapshot follows.
 *
 * Budgets: herald_client_opts::budget is declared in every SUBSCRIBE. In rate
 * mode (the default) it is messages per second; past it the node conflates
 * (sends only the latest value of each key it owes) or, on a `none` context,
 * lags in its history. With herald_client_opts::credits it is a window of
 * messages the node may send before the client returns credits in ACKs.
 *
 * Seeds (herald_client_opts::seeds, docs/protocol.md §3.9-3.10): a
 * subscription starts with a HELLO for its context to a seed drawn at random
 * (herald_client_opts::rand); the REDIRECT names the node and queue hosting
 * the context, and the SUBSCRIBE goes there with the REDIRECT's address
 * token (kept with the route too, herald_client_route()). A HELLO without an answer is sent again to another
 * random seed, never in a fixed order, after a jittered, exponentially
 * growing wait (attempt k waits between half and all of
 * min(reconnect_max, reconnect_min * 2^k)). When a subscription's node falls
 * silent (on_timeout) or does not answer its SUBSCRIBE for
 * HERALD_CLIENT_SUBSCRIBE_TRIES heartbeat intervals, the client reconnects:
 * it forgets the session, waits a random time in [0, reconnect_min] (so the
 * clients of a dead node do not arrive together), HELLOs a random seed with
 * the same backoff, ignores a REDIRECT back to the node that failed unless
 * its epoch is newer, and subscribes at the new node, whose snapshot
 * replaces the view (on_snapshot entries, then on_snapshot_end). A complete
 * snapshot resets the backoff. herald_publish() finds its context's node the
 * same way (it returns -EAGAIN until the first REDIRECT arrived) and asks
 * again every route_refresh_ms, since a publisher hears no heartbeats.
 *
 * Address tokens (docs/protocol.md §3.2.1): a node started with --token-key
 * refuses a SUBSCRIBE without a valid token with ERROR TOKEN_REQUIRED (not
 * passed to on_error). The client then HELLOs that node, takes the token of
 * its REDIRECT (with seeds it follows the REDIRECT if it points elsewhere,
 * and retries go to the seeds) and subscribes again. A token is kept per
 * context until its expiry and sent in every SUBSCRIBE meanwhile
 * (retransmits, resubscribes after UNKNOWN_SESSION, reconnects).
 */
#ifndef HERALD_CLIENT_H
#define HERALD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <herald/proto.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Subscriptions one client holds when herald_client_opts::max_subscriptions is 0. */
#define HERALD_CLIENT_SUBS_DEFAULT 64
/** Heartbeat intervals of silence after which a subscription times out, by default. */
#define HERALD_CLIENT_TIMEOUT_BEATS_DEFAULT 10
/** Messages an ordered subscription holds while a hole is repaired, by default. */
#define HERALD_CLIENT_REORDER_DEFAULT 256
/** NAKs sent for one hole before the client gives up and resyncs. */
#define HERALD_CLIENT_NAK_TRIES 6

/** Seeds a client can hold (herald_client_opts::seeds). */
#define HERALD_CLIENT_SEEDS_MAX 16
/** SUBSCRIBEs sent to a redirected node without an answer before the client looks again (seeds). */
#define HERALD_CLIENT_SUBSCRIBE_TRIES 3
/** Longest reconnect wait, in multiples of reconnect_min, when reconnect_max_ms is 0. */
#define HERALD_CLIENT_BACKOFF_CAP_DEFAULT 32

/** herald_subscribe_ex() flag: the context's policy is `none`; repair gaps by NAK. */
#define HERALD_SUB_ORDERED 0x0001

struct herald_client;

/** One key/value entry delivered by a SNAPSHOT or DELTA message. */
struct herald_entry {
	uint32_t context;    /**< context the entry belongs to */
	uint64_t seq;        /**< session sequence number of the message */
	const void *key;     /**< key bytes (not NUL-terminated), valid during the callback */
	uint16_t key_len;    /**< 1 .. HERALD_KEY_MAX */
	const void *value;   /**< value bytes, valid during the callback */
	uint16_t value_len;  /**< 0 .. HERALD_VALUE_MAX */
};

/**
 * Event callbacks; any of them may be NULL. @p user is
 * herald_callbacks::user.
 */
struct herald_callbacks {
	/** One entry of a snapshot (after a subscribe or a resync). */
	void (*on_snapshot)(void *user, const struct herald_entry *e);
	/** The snapshot of @p context is complete; deltas follow. */
	void (*on_snapshot_end)(void *user, uint32_t context, uint64_t seq);
	/** One updated entry. */
	void (*on_delta)(void *user, const struct herald_entry *e);
	/**
	 * Messages [@p expected, @p next) of @p context were lost: @p next is the
	 * sequence of the message that revealed the gap, or a node heartbeat's
	 * sequence + 1 when the loss was at the tail. On an ordered subscription
	 * (HERALD_SUB_ORDERED) this is the GAP notice: retransmission could not
	 * repair the range (ERROR HERALD_ERR_HISTORY_LOST, reorder buffer
	 * overflow, or HERALD_CLIENT_NAK_TRIES NAKs unanswered); messages held
	 * after the hole are discarded and a fresh snapshot follows. A session
	 * the node cut names the newest lost message; if a node names none, the
	 * extent is unknown and @p next equals @p expected.
	 */
	void (*on_gap)(void *user, uint32_t context, uint64_t expected, uint64_t next);
	/**
	 * Nothing was heard on @p context for timeout_beats heartbeat intervals.
	 * Reported once per silence; traffic on the context re-arms it.
	 */
	void (*on_timeout)(void *user, uint32_t context);
	/** The node refused a request on @p context (code: enum herald_error). */
	void (*on_error)(void *user, uint32_t context, uint16_t code, const char *text,
			 size_t text_len);
	/** The node ended the session on @p context (BYE); the subscription is kept but idle. */
	void (*on_closed)(void *user, uint32_t context);
	/** Passed to every callback. */
	void *user;
};

/** Options of herald_client_open(). Zero means "the default" for every field. */
struct herald_client_opts {
	/**
	 * Node IPv4 address, "A.B.C.D" or "A.B.C.D:PORT": the client talks to
	 * this node queue only. Exactly one of @p node and @p seeds is required.
	 */
	const char *node;
	/**
	 * Seed list "A.B.C.D[:PORT],A.B.C.D[:PORT],...": where HELLOs go (each
	 * node's HELLO responder), at most HERALD_CLIENT_SEEDS_MAX. Contexts are
	 * found by HELLO/REDIRECT and subscriptions move on node failure (see
	 * the file comment).
	 */
	const char *seeds;
	/** Node (or seed) UDP port when an address has none; 0 = HERALD_UDP_PORT_BASE. */
	uint16_t port;
	/** Local address to bind, "A.B.C.D[:PORT]"; NULL = any address, ephemeral port. */
	const char *bind;
	/** Heartbeat interval in both directions; 0 = HERALD_HEARTBEAT_MS_DEFAULT. */
	uint16_t heartbeat_ms;
	/** Silent heartbeat intervals before on_timeout; 0 = HERALD_CLIENT_TIMEOUT_BEATS_DEFAULT. */
	uint16_t timeout_beats;
	/**
	 * Messages/s this client accepts per subscription (SUBSCRIBE budget);
	 * 0 = unlimited. With @p credits, the number of messages the node may
	 * send ahead of the client's ACKs instead.
	 */
	uint32_t budget;
	/**
	 * Credit mode (HERALD_SUB_F_CREDITS): @p budget is a window, not a rate.
	 * Unless @p manual_ack is set, the client returns credits by itself: one
	 * ACK every @p ack_batch messages consumed. Credits are counted from the
	 * sequence numbers, so messages lost on the way are returned too and loss
	 * cannot shrink the window; snapshot entries (which the node does not
	 * charge) are not returned. An ACK lost on the way would shrink it, so
	 * when a node heartbeat shows the session idle and fully received, the
	 * client sends one extra batch of credits (at most once per pause).
	 */
	int credits;
	/** Credit mode: messages per automatic ACK; 0 = budget / 4 (at least 1). */
	uint32_t ack_batch;
	/** Credit mode: send no ACK by itself; the application calls herald_ack(). */
	int manual_ack;
	/** Subscriptions this client can hold; 0 = HERALD_CLIENT_SUBS_DEFAULT. */
	uint16_t max_subscriptions;
	/**
	 * Re-subscribe by itself after a gap or when the node forgot the session.
	 * Resyncs back off (one heartbeat interval, doubling while snapshots keep
	 * arriving with gaps, up to 64 intervals), so loss cannot cause a storm.
	 */
	int auto_resync;
	/** SO_RCVBUF in bytes (SO_RCVBUFFORCE is tried first); 0 = kernel default. */
	int rcvbuf;
	/**
	 * Messages an ordered subscription can hold behind a hole; 0 =
	 * HERALD_CLIENT_REORDER_DEFAULT. Each slot is HERALD_MSG_MAX bytes,
	 * allocated when the ordered subscription is made.
	 */
	uint16_t reorder_slots;
	/**
	 * Wait for a NAK's retransmission before NAKing again, doubling per
	 * retry; 0 = a quarter of the heartbeat interval (at least 1 ms).
	 */
	uint16_t nak_timeout_ms;
	/** Clock in nanoseconds, for tests; NULL = CLOCK_MONOTONIC. */
	uint64_t (*now_ns)(void *arg);
	/** Passed to @p now_ns. */
	void *clock_arg;
	/** Seeds: shortest HELLO/reconnect wait (the backoff base); 0 = heartbeat_ms. */
	uint32_t reconnect_min_ms;
	/** Seeds: longest HELLO/reconnect wait (the cap); 0 = HERALD_CLIENT_BACKOFF_CAP_DEFAULT x reconnect_min_ms. */
	uint32_t reconnect_max_ms;
	/** Seeds: a publish-only route is asked for again this often; 0 = 1000 ms. */
	uint32_t route_refresh_ms;
	/**
	 * 64 random bits, for tests (seed choice and jitter); NULL = a
	 * per-client generator seeded from getrandom().
	 */
	uint64_t (*rand)(void *arg);
	/** Passed to @p rand. */
	void *rand_arg;
	/**
	 * Publish key, HERALD_PUBLISH_KEY_LEN bytes (copied at open), or NULL.
	 * With a key every PUBLISH datagram is signed (HERALD_F_AUTH and a
	 * SipHash-2-4 MAC over header and body, docs/protocol.md §3.5.1), as a
	 * node started with --publish-key requires: it drops unsigned or badly
	 * signed PUBLISH silently (counter drop_bad_auth). Nodes without a key
	 * accept signed publishes too. herald_key_file_load() reads the key
	 * file the node uses.
	 */
	const uint8_t *publish_key;
};

/** Where a context lives, as the last accepted REDIRECT said (seeds); see herald_client_route(). */
struct herald_route {
	struct sockaddr_in node; /**< the hosting node queue's address and port */
	uint16_t queue;          /**< queue index on that node */
	uint32_t epoch;          /**< placement epoch of the REDIRECT */
	uint32_t expiry;         /**< token expiry, seconds of the node's CLOCK_TAI */
	uint64_t token;          /**< address token, sent in SUBSCRIBE (docs/protocol.md §3.2.1) */
};

/** Counters of one client; see herald_client_stats(). */
struct herald_client_stats {
	uint64_t rx_frames;        /**< datagrams received */
	uint64_t rx_bytes;         /**< bytes received (UDP payload) */
	uint64_t tx_frames;        /**< datagrams sent */
	uint64_t tx_bytes;         /**< bytes sent (UDP payload) */
	uint64_t snapshot_entries; /**< snapshot entries dispatched */
	uint64_t snapshots;        /**< snapshots completed */
	uint64_t deltas;           /**< deltas dispatched */
	uint64_t publishes;        /**< messages published */
	uint64_t heartbeats_rx;    /**< node heartbeats received */
	uint64_t heartbeats_tx;    /**< heartbeats sent */
	uint64_t errors;           /**< ERROR messages received */
	uint64_t closed;           /**< sessions ended by the node (BYE) */
	uint64_t gaps;             /**< gaps detected */
	uint64_t lost;             /**< messages known lost (sum of gap sizes) */
	uint64_t stale;            /**< duplicate or old messages/fragments ignored */
	uint64_t reassembly_dropped; /**< incomplete messages abandoned for a newer one */
	uint64_t timeouts;         /**< heartbeat timeouts reported */
	uint64_t resyncs;          /**< fresh snapshots asked for (RESYNC, or SUBSCRIBE again) */
	uint64_t subscribe_retries; /**< SUBSCRIBE retransmitted because no snapshot came */
	uint64_t unknown_context;  /**< well-formed frames for a context not subscribed */
	uint64_t icmp_errors;      /**< ICMP errors reported by the kernel (node unreachable) */
	uint64_t acks;             /**< ACK frames sent (credit mode) */
	uint64_t credits_returned; /**< credits returned in those ACKs */
	uint64_t naks;             /**< NAK frames sent (ordered subscriptions) */
	uint64_t nak_retries;      /**< NAKs sent again after a timeout */
	uint64_t held;             /**< messages held in a reorder buffer behind a hole */
	uint64_t repaired;         /**< missing messages that arrived after a NAK */
	uint64_t history_lost;     /**< ERROR HERALD_ERR_HISTORY_LOST received */
	uint64_t reorder_overflows; /**< holes abandoned because the reorder buffer was full */
	uint64_t hellos;           /**< HELLOs sent (seeds), retransmissions included */
	uint64_t hello_retries;    /**< HELLOs sent again because no usable REDIRECT came */
	uint64_t redirects;        /**< REDIRECTs followed */
	uint64_t redirects_ignored; /**< REDIRECTs not asked for, late, or back to a node that failed */
	uint64_t reconnects;       /**< subscriptions moved off a silent node (seeds) */
	uint64_t wrong_source;     /**< frames from an address that is not the context's node (seeds) */
	uint64_t token_refusals;   /**< SUBSCRIBEs refused with ERROR TOKEN_REQUIRED (a HELLO for a token followed) */
	uint64_t tokens;           /**< address tokens taken from REDIRECTs */
	uint64_t drops[HERALD_DROP_MAX]; /**< malformed frames dropped, by reason */
};

/**
 * Open a client: create the UDP socket, bind it if asked, connect it to the
 * node (not with seeds: it then talks to many addresses) and allocate all
 * per-client state. Sends nothing.
 * @return the client, or NULL with errno set (EINVAL: bad options or
 *         address; ENOMEM; a socket error).
 */
struct herald_client *herald_client_open(const struct herald_client_opts *opts,
					 const struct herald_callbacks *cb);

/** Close the socket and free the client. Sends nothing. Accepts NULL. */
void herald_client_close(struct herald_client *c);

/** The client's socket, for callers that wait on many clients with poll/epoll. */
int herald_client_fd(const struct herald_client *c);

/**
 * Subscribe to @p context: send SUBSCRIBE; the snapshot and the deltas
 * arrive through herald_client_poll(). On a context already subscribed,
 * ask for a fresh snapshot (a resync). SUBSCRIBE is retransmitted every
 * heartbeat interval until the snapshot starts.
 * @return 0, -ENOSPC (max_subscriptions reached) or a negative send errno.
 */
int herald_subscribe(struct herald_client *c, uint32_t context);

/**
 * Subscribe to @p context with @p flags: 0 is herald_subscribe();
 * HERALD_SUB_ORDERED says the context's policy is `none`, so gaps are
 * repaired by NAK and the reorder buffer (allocated here, once per
 * subscription slot) instead of a snapshot. On a context already subscribed
 * the flags are updated and a fresh snapshot is asked for.
 * @return 0, -EINVAL (unknown flag), -ENOSPC (max_subscriptions reached),
 *         -ENOMEM (reorder buffer) or a negative send errno.
 */
int herald_subscribe_ex(struct herald_client *c, uint32_t context, unsigned flags);

/**
 * Ask for a fresh snapshot of @p context: RESYNC on the live session (the
 * node sends the state again, numbering going on, and forgets the keys it
 * owed past the budget). Until the snapshot starts the request is repeated
 * every heartbeat interval as a SUBSCRIBE, which also works when the node
 * has lost the session. Deltas keep being delivered meanwhile; the snapshot
 * entries then overwrite them with the current values.
 * @return 0, -ENOENT (not subscribed) or a negative send errno.
 */
int herald_resync(struct herald_client *c, uint32_t context);

/**
 * Return @p credits to the node for @p context (credit mode): the node may
 * send that many more messages. Needed only with
 * herald_client_opts::manual_ack; the automatic ACKs call the same path.
 * @return 0, -ENOENT (not subscribed), -ENOTCONN (no session yet),
 *         -EINVAL (@p credits is 0) or a negative send errno.
 */
int herald_ack(struct herald_client *c, uint32_t context, uint32_t credits);

/**
 * Forget the subscription to @p context and send BYE if a session exists.
 * @return 0, -ENOENT (not subscribed) or a negative send errno (the
 *         subscription is forgotten anyway).
 */
int herald_unsubscribe(struct herald_client *c, uint32_t context);

/**
 * Publish one entry to @p context, in as many fragments as it needs. Each
 * call uses the next sequence number of this client's publish counter. With
 * seeds the entry goes to the context's node; the first publish to a
 * context the client neither subscribes to nor published to takes a
 * subscription slot for its route, sends a HELLO and returns -EAGAIN (call
 * herald_client_poll() and publish again).
 * @return 0, -EINVAL (key empty or longer than HERALD_KEY_MAX, value longer
 *         than HERALD_VALUE_MAX), -EAGAIN (seeds: the node is not known yet),
 *         -ENOSPC (seeds: no slot for the route) or a negative send errno.
 */
int herald_publish(struct herald_client *c, uint32_t context, const void *key,
		   size_t key_len, const void *value, size_t value_len);

/**
 * Wait up to @p timeout_ms (0: do not wait, -1: until something arrives or a
 * timer is due) for the first datagram, then receive and dispatch everything
 * queued without waiting, send due heartbeats and SUBSCRIBE retransmits, and
 * report heartbeat timeouts.
 * @return messages dispatched (snapshot entries, deltas, snapshot ends,
 *         gaps, timeouts, errors), or a negative errno from the socket.
 */
int herald_client_poll(struct herald_client *c, int timeout_ms);

/**
 * Milliseconds until the client next needs herald_client_poll() for its
 * timers (heartbeats, retransmits, timeouts), or -1 if none is armed.
 */
int herald_client_next_timer_ms(const struct herald_client *c);

/**
 * Where @p context lives for this client (seeds): the node of its
 * subscription or of its publish route.
 * @return 0 and *out, -ENOENT (neither subscribed nor published to) or
 *         -EAGAIN (still looking: no REDIRECT followed yet).
 */
int herald_client_route(const struct herald_client *c, uint32_t context, struct herald_route *out);

/** Copy the client's counters into @p out. */
void herald_client_stats(const struct herald_client *c, struct herald_client_stats *out);

/**
 * Whether the subscription to @p context holds a complete, current view: its
 * snapshot is complete, no gap was seen since, and the node is not silent.
 * @return 1, 0, or -ENOENT if @p context is not subscribed.
 */
int herald_client_synced(const struct herald_client *c, uint32_t context);

/**
 * The last sequence number received on @p context (0 if none), so callers
 * can tell when a subscription has caught up.
 * @return 0 and *seq, or -ENOENT if @p context is not subscribed.
 */
int herald_client_last_seq(const struct herald_client *c, uint32_t context, uint64_t *seq);

/**
 * Parse "A.B.C.D" or "A.B.C.D:PORT" into @p out (AF_INET). A missing port is
 * @p default_port; port 0 is accepted only when @p default_port is 0.
 * @return 0 or -EINVAL.
 */
int herald_addr_parse(const char *s, uint16_t default_port, struct sockaddr_in *out);

#ifdef __cplusplus
}
#endif

#endif /* HERALD_CLIENT_H */
