/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file proto.h
 * The contract between every part of Herald: the wire format (protocol v1),
 * drop reasons and counters. The dataplane, libherald, the XDP programs, the
 * daemon and heraldctl all include this header; nothing here is duplicated
 * anywhere else. See docs/protocol.md for the prose specification.
 *
 * All multi-byte wire fields are big-endian (network byte order).
 */
#ifndef HERALD_PROTO_H
#define HERALD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/** Frame magic, "HR". */
#define HERALD_MAGIC 0x4852
/** Wire protocol version this build speaks. */
#define HERALD_VERSION 1
/** Default UDP port of queue 0 on a node (queue q listens on base + q). */
#define HERALD_UDP_PORT_BASE 7400

/* Context life cycle defaults (docs/checkpoints.md): the dataplane's
 * --idle-unload-s, --checkpoint-interval-s and --checkpoint-map-mb, and
 * herald.conf's keys of the same names. */
#define HERALD_CKPT_IDLE_UNLOAD_S 60
#define HERALD_CKPT_INTERVAL_S 10
#define HERALD_CKPT_MAP_MB 1024
/** Most queues (workers) one node runs; also the XSK map's size. */
#define HERALD_QUEUES_MAX 64

/**
 * The queue that owns @p context on a node with @p queues queues: the queue
 * heraldd names in a REDIRECT (port base + queue), the one the dataplane's
 * control requests and frames for the context go to. Every part of Herald
 * calls this one function, so they cannot disagree.
 *
 * Jump consistent hash (Lamping and Veach, 2014) of the context id, mixed
 * first by the SplitMix64 finaliser so that consecutive ids spread: shares
 * are uniform, and going from n to n + 1 queues moves only the 1/(n + 1) of
 * contexts that the new queue takes (a node restarted with one more queue
 * keeps most routes its clients hold). Integer arithmetic only, so every
 * build on every architecture gives the same answer. Unkeyed on purpose: a
 * context's queue is no secret (the REDIRECT port shows it), and a publisher
 * who wants to load one queue can do so with one context anyway.
 *
 * @return 0 .. queues - 1; 0 when @p queues is 0 or 1.
 */
static inline uint16_t herald_queue_of(uint32_t context, uint16_t queues)
{
	uint64_t key = (uint64_t)context + 0x9e3779b97f4a7c15ull;
	int64_t b = 0, j = 0;

	if (queues <= 1)
		return 0;
	key = (key ^ (key >> 30)) * 0xbf58476d1ce4e5b9ull;
	key = (key ^ (key >> 27)) * 0x94d049bb133111ebull;
	key ^= key >> 31;
	while (j < queues) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((uint64_t)(b + 1) * (1ull << 31) / ((key >> 33) + 1));
	}
	return (uint16_t)b;
}

/** Largest IP MTU a frame is sized for; larger values travel as fragments. */
#define HERALD_MTU 1500
/** Bytes of IPv4 (no options) + UDP in front of every herald header. */
#define HERALD_IPV4_UDP_LEN 28
/** Longest key, in bytes. */
#define HERALD_KEY_MAX 64
/** Largest value, in bytes. */
#define HERALD_VALUE_MAX 4096
/** Longest ERROR text, in bytes. */
#define HERALD_ERROR_TEXT_MAX 128

/** Message types. */
enum herald_type {
	HERALD_T_SUBSCRIBE = 1, /**< client -> node: open a session on a context */
	HERALD_T_SNAPSHOT = 2,  /**< node -> client: one entry of the current state */
	HERALD_T_DELTA = 3,     /**< node -> client: one updated entry */
	HERALD_T_PUBLISH = 4,   /**< publisher -> node: one entry to apply */
	HERALD_T_HEARTBEAT = 5, /**< both ways: liveness + latest sequence */
	HERALD_T_BYE = 6,       /**< both ways: the session ends */
	HERALD_T_ERROR = 7,     /**< node -> client: a request was refused */
	HERALD_T_HELLO = 8,     /**< client -> any node: where is this context? */
	HERALD_T_REDIRECT = 9,  /**< node -> client: the node and queue hosting it, with a token */
	HERALD_T_ACK = 10,      /**< client -> node: sequence consumed, credits returned */
	HERALD_T_NAK = 11,      /**< client -> node: retransmit a range (policy none) */
	HERALD_T_RESYNC = 12,   /**< client -> node: send a fresh snapshot (conflated policies) */
	HERALD_T_MAX
};

/** Header flags. */
#define HERALD_F_SNAP_END 0x0001 /**< SNAPSHOT: last entry of the snapshot */
#define HERALD_F_AUTH 0x0002     /**< PUBLISH: session and reserved carry a MAC (herald_publish_tag()) */
#define HERALD_F_KNOWN (HERALD_F_SNAP_END | HERALD_F_AUTH)

/**
 * Frame header, 32 bytes, in front of every message body (or body slice,
 * for a fragment). All fields big-endian.
 */
struct herald_hdr {
	uint16_t magic;    /**< HERALD_MAGIC */
	uint8_t version;   /**< HERALD_VERSION */
	uint8_t type;      /**< enum herald_type */
	uint16_t flags;    /**< HERALD_F_* */
	uint16_t length;   /**< body bytes carried by this datagram */
	uint32_t context;  /**< context id */
	uint32_t session;  /**< node-assigned session id (0 before one exists) */
	uint64_t seq;      /**< per-session message sequence (per-publisher for PUBLISH) */
	uint16_t frag_off; /**< offset of this body slice in the message body */
	uint16_t msg_len;  /**< total message body length */
	uint32_t reserved; /**< must be zero in v1 (low half of the MAC with HERALD_F_AUTH) */
} __attribute__((packed));

_Static_assert(sizeof(struct herald_hdr) == 32, "wire header is 32 bytes");

/** Body bytes one datagram carries at most (1500 MTU, no IP options). */
#define HERALD_FRAG_BODY_MAX (HERALD_MTU - HERALD_IPV4_UDP_LEN - (int)sizeof(struct herald_hdr))
/** Largest message body: an entry with the longest key and value. */
#define HERALD_MSG_MAX (2 + HERALD_KEY_MAX + HERALD_VALUE_MAX)
/** Fragments a message needs at most. */
#define HERALD_FRAGS_MAX ((HERALD_MSG_MAX + HERALD_FRAG_BODY_MAX - 1) / HERALD_FRAG_BODY_MAX)

_Static_assert(HERALD_FRAG_BODY_MAX == 1440, "fragment body for a 1500 MTU");
_Static_assert(2 + HERALD_KEY_MAX <= HERALD_FRAG_BODY_MAX, "a key always fits the first fragment");
_Static_assert(HERALD_MSG_MAX <= UINT16_MAX, "msg_len is 16 bits");

/** SUBSCRIBE body, 8 bytes. */
struct herald_subscribe_body {
	uint16_t heartbeat_ms; /**< idle interval after which the node sends a HEARTBEAT; 0 = default */
	uint16_t flags;        /**< HERALD_SUB_F_* */
	uint32_t budget;       /**< messages/s the client accepts (credits with HERALD_SUB_F_CREDITS); 0 = unlimited */
} __attribute__((packed));

/** SUBSCRIBE flag: budget is an initial credit count, topped up by ACKs, not a rate. */
#define HERALD_SUB_F_CREDITS 0x0001
/**
 * SUBSCRIBE flag: a struct herald_subscribe_token follows the 8 bytes (the
 * body is then 20 bytes): the token and expiry of a REDIRECT, proof that the
 * client receives at its source address (docs/protocol.md §3.2.1).
 */
#define HERALD_SUB_F_TOKEN 0x0002
#define HERALD_SUB_F_KNOWN (HERALD_SUB_F_CREDITS | HERALD_SUB_F_TOKEN)

_Static_assert(sizeof(struct herald_subscribe_body) == 8, "subscribe body is 8 bytes");

/** After the SUBSCRIBE body with HERALD_SUB_F_TOKEN: the REDIRECT's expiry and token, as sent. */
struct herald_subscribe_token {
	uint32_t expiry; /**< herald_redirect_body.expiry */
	uint64_t token;  /**< herald_redirect_body.token */
} __attribute__((packed));

_Static_assert(sizeof(struct herald_subscribe_token) == 12, "subscribe token is 12 bytes");
/** SUBSCRIBE body with a token. */
#define HERALD_SUBSCRIBE_TOKEN_BODY_LEN \
	((int)(sizeof(struct herald_subscribe_body) + sizeof(struct herald_subscribe_token)))

/** ERROR body: code, then up to HERALD_ERROR_TEXT_MAX bytes of text. */
struct herald_error_body {
	uint16_t code;     /**< enum herald_error */
	uint16_t reserved; /**< must be zero */
} __attribute__((packed));

/**
 * HELLO body, 32 bytes of zeros. The padding makes a HELLO exactly as large
 * as the REDIRECT it asks for, so a node answering a spoofed source never
 * sends more bytes than it received.
 */
struct herald_hello_body {
	uint8_t zero[32];
} __attribute__((packed));

/**
 * REDIRECT body, 32 bytes. The token is a keyed MAC (SipHash-2-4, 128-bit
 * key held by the control plane) over client address, client port, context
 * and expiry; a client presents it in SUBSCRIBE to prove it owns its address.
 */
struct herald_redirect_body {
	uint32_t node_ip;  /**< IPv4 address of the hosting node */
	uint16_t port;     /**< UDP port of the hosting queue (base + queue) */
	uint16_t queue;    /**< queue index on that node */
	uint32_t epoch;    /**< placement epoch the answer was computed in */
	uint32_t expiry;   /**< token expiry, seconds on the node's clock */
	uint64_t token;    /**< SipHash-2-4(client ip, client port, context, expiry) */
	uint64_t reserved; /**< must be zero */
} __attribute__((packed));

_Static_assert(sizeof(struct herald_hello_body) == 32, "hello body is 32 bytes");
_Static_assert(sizeof(struct herald_redirect_body) == sizeof(struct herald_hello_body),
	       "a REDIRECT is never larger than the HELLO it answers");

/** ACK body: credits the client returns (messages it can take again). */
struct herald_ack_body {
	uint32_t credits;
	uint32_t reserved; /**< must be zero */
} __attribute__((packed));

/** NAK body: inclusive sequence range to retransmit. */
struct herald_nak_body {
	uint64_t first;
	uint64_t last;
} __attribute__((packed));

_Static_assert(sizeof(struct herald_ack_body) == 8, "ack body is 8 bytes");
_Static_assert(sizeof(struct herald_nak_body) == 16, "nak body is 16 bytes");

/** Reasons a node refuses a request (ERROR code). */
enum herald_error {
	HERALD_ERR_NO_SESSION_SPACE = 1,
	HERALD_ERR_NO_CONTEXT_SPACE = 2,
	HERALD_ERR_NO_KEY_SPACE = 3,
	HERALD_ERR_UNKNOWN_SESSION = 4,
	HERALD_ERR_HISTORY_LOST = 5, /**< policy none: the client fell beyond the history */
	HERALD_ERR_BAD_VALUE = 6,    /**< merge policy: value is not a big-endian int64 */
	HERALD_ERR_MOVED = 7,        /**< the context left this node (drain): HELLO a seed again */
	HERALD_ERR_TOKEN_REQUIRED = 8, /**< SUBSCRIBE without a valid, unexpired token: HELLO, then SUBSCRIBE with its token */
};

/** Default node heartbeat interval towards an idle session. */
#define HERALD_HEARTBEAT_MS_DEFAULT 100
/** Longest heartbeat interval a node grants, whatever a SUBSCRIBE asks for. */
#define HERALD_HEARTBEAT_MS_MAX 10000
/** A session the node has not heard from in this many heartbeat intervals is closed. */
#define HERALD_SESSION_TIMEOUT_BEATS 30
/**
 * A session whose client has not yet sent a frame naming it (its id comes
 * in the first snapshot frame, so only a client that receives at its source
 * address can) gets its snapshot and nothing more: no heartbeats, and its
 * updates wait (dirty keys, history lag) until the confirmation comes. It is
 * closed after this many heartbeat intervals: a spoofed SUBSCRIBE cannot buy
 * a stream of traffic, and a slow client loses nothing by confirming late.
 */
#define HERALD_SESSION_CONFIRM_BEATS 10
/** ... but never less than this (a loaded client may be slow to answer) nor more than the max. */
#define HERALD_SESSION_CONFIRM_MIN_MS 5000
#define HERALD_SESSION_CONFIRM_MAX_MS 10000

/*
 * Drop reasons and counters. Every layer names them from these tables, so a
 * counter reads the same in the dataplane's dump, heraldctl and Prometheus.
 */
#define HERALD_DROP_REASONS(X)                                                  \
	X(NONE, "not dropped")                                                  \
	X(NOT_IPV4, "ethertype is neither IPv4 nor ARP")                        \
	X(MALFORMED_IP, "IPv4 header truncated, bad IHL or bad total length")   \
	X(IP_FRAGMENT, "IP fragment (herald never uses IP fragmentation)")     \
	X(NOT_FOR_US, "destination address is not this node")                   \
	X(NOT_UDP, "IPv4 protocol other than UDP or ICMP")                      \
	X(WRONG_PORT, "UDP destination port is not a herald port")              \
	X(MALFORMED_UDP, "UDP length disagrees with the IPv4 length")           \
	X(MALFORMED_ARP, "ARP packet truncated or not Ethernet/IPv4")           \
	X(MALFORMED_ICMP, "ICMP truncated or not an echo request")              \
	X(TRUNCATED, "datagram shorter than the herald header")                 \
	X(BAD_MAGIC, "herald magic mismatch")                                   \
	X(BAD_VERSION, "unsupported herald version")                            \
	X(BAD_TYPE, "unknown herald message type")                              \
	X(BAD_LENGTH, "header length disagrees with the datagram")              \
	X(BAD_FLAGS, "unknown flags or non-zero reserved field")                \
	X(OVERSIZED, "body or message larger than the protocol allows")         \
	X(BAD_FRAGMENT, "fragment offset/length outside the message")           \
	X(BAD_BODY, "body malformed for its message type")                      \
	X(BAD_KEY, "key empty or longer than HERALD_KEY_MAX")                   \
	X(UNEXPECTED_TYPE, "message type not accepted in this direction")       \
	X(UNKNOWN_SESSION, "session id unknown or not owned by the sender")    \
	X(NO_SESSION_SPACE, "session table full")                               \
	X(NO_CONTEXT_SPACE, "context table full")                               \
	X(NO_KEY_SPACE, "key table full")                                       \
	X(REASSEMBLY_FULL, "no free reassembly slot for a fragmented message")  \
	X(REASSEMBLY_MISMATCH, "fragment does not match its message")           \
	X(BAD_VALUE, "merge context: value is not an 8-byte big-endian integer") \
	X(HISTORY_LOST, "NAK for messages no longer in the history")            \
	X(NO_MBUF, "mbuf pool exhausted")                                       \
	X(TX_FULL, "transmit queue full")                                       \
	X(SOURCE_LIMIT, "source address already holds its maximum of sessions")  \
	X(WRONG_QUEUE, "sent to a queue port (base + q) whose queue does not own the context") \
	X(HANDOFF_FULL, "frame on the wrong RX queue: its owner's hand-off ring was full") \
	X(BAD_AUTH, "PUBLISH without a valid MAC on a node that requires publish authentication") \
	X(PUBLISH_REPLAYED, "signed PUBLISH datagram the node already applied (its MAC is in the replay cache): a replay or a duplicate") \
	X(PUBLISH_STALE, "signed PUBLISH whose seq (a Unix-time stamp in us) is outside the node's --publish-window or not newer than its replay cache remembers") \
	X(CHECKPOINT_LOAD, "context not loadable from the checkpoint now (hold queue, ring or buffers full): the next frame retries") \
	X(TOKEN_REQUIRED, "SUBSCRIBE without a token on a node that requires one (--token-key)") \
	X(BAD_TOKEN, "SUBSCRIBE token not issued for this source address, port and context (forged, or another client's)") \
	X(TOKEN_EXPIRED, "SUBSCRIBE token past its expiry")

enum herald_drop {
#define HERALD_X_ENUM(name, help) HERALD_DROP_##name,
	HERALD_DROP_REASONS(HERALD_X_ENUM)
#undef HERALD_X_ENUM
	HERALD_DROP_MAX
};

#define HERALD_COUNTERS(X)                                                          \
	X(RX_PACKETS, "frames received")                                            \
	X(RX_BYTES, "bytes received")                                               \
	X(TX_PACKETS, "frames transmitted")                                         \
	X(TX_BYTES, "bytes transmitted")                                            \
	X(ARP_REPLIES, "ARP requests answered")                                     \
	X(ICMP_ECHO_REPLIES, "ICMP echo requests answered")                         \
	X(SUBSCRIBES, "SUBSCRIBE requests accepted")                                \
	X(PUBLISHES, "PUBLISH messages applied")                                    \
	X(DELIVERIES, "messages fanned out to subscribers (per recipient)")         \
	X(TX_ZEROCOPY, "frames sent as header segment + shared payload")           \
	X(TX_COPIED, "frames sent as a copy because the port lacks multi-seg TX")   \
	X(SNAPSHOT_ENTRIES, "snapshot entries sent")                                \
	X(HEARTBEATS_SENT, "heartbeats sent to idle sessions")                      \
	X(HEARTBEATS_RECEIVED, "heartbeats received from clients")                  \
	X(BYES, "sessions closed by the client")                                    \
	X(SESSIONS_EXPIRED, "sessions closed after heartbeat timeout")              \
	X(ERRORS_SENT, "ERROR replies sent")                                        \
	X(FRAGMENTS_REASSEMBLED, "fragmented PUBLISH messages completed")           \
	X(MERGES, "PUBLISH messages folded by a merge operation")                   \
	X(DIRTY_MARKED, "deliveries deferred past a budget (key marked dirty)")     \
	X(DIRTY_SENT, "latest values sent when budget returned")                    \
	X(HISTORY_LAGGED, "deliveries deferred past a budget on a none context")    \
	X(RESYNCS, "fresh snapshots sent on RESYNC")                                \
	X(ACKS, "ACK frames received (credits returned)")                           \
	X(NAKS, "NAK frames received")                                              \
	X(RETRANSMITS, "messages retransmitted from history on NAK")                \
	X(SESSIONS_CUT, "sessions cut: fell beyond the history")                    \
	X(SESSIONS_ACTIVE, "sessions open now (gauge)")                             \
	X(CONTEXTS_ACTIVE, "contexts in memory now (gauge)")                        \
	X(KEYS_ACTIVE, "keys in memory now (gauge)")                                \
	X(MBUFS_IN_USE, "packet buffers taken from both pools now (gauge)")          \
	X(SESSIONS_UNCONFIRMED, "sessions closed: the client never named its session (spoofed source?)") \
	X(WORKER_STALLS, "timer runs more than a second late: the worker was not scheduled") \
	X(UNKNOWN_SESSION_ERRORS, "HEARTBEATs for a closed session answered with ERROR UNKNOWN_SESSION") \
	X(MISQUEUED, "frames received on another queue than their context's owner, handed to it") \
	X(CONTEXTS_UNLOADED, "idle contexts written to the checkpoint store and unloaded") \
	X(CONTEXTS_LOADED, "contexts loaded back from the checkpoint store")            \
	X(CHECKPOINTS_WRITTEN, "context records committed to the checkpoint store")     \
	X(CHECKPOINT_ERRORS, "checkpoint records refused (corrupt) or not written/read (I/O)") \
	X(CONTEXTS_PARKED, "contexts in the checkpoint store and not in memory now (gauge)") \
	X(REDIRECTS_SENT, "HELLOs answered by the dataplane itself with a REDIRECT to this node (--token-key)") \
	X(TOKENS_VERIFIED, "SUBSCRIBEs whose address token was verified (--token-key)")

enum herald_counter {
#define HERALD_X_ENUM(name, help) HERALD_CTR_##name,
	HERALD_COUNTERS(HERALD_X_ENUM)
#undef HERALD_X_ENUM
	HERALD_CTR_MAX
};

/*
 * The port's own counters (DPDK's struct rte_eth_stats), reported next to
 * Herald's so an operator sees drops below the dataplane: the NIC or the
 * kernel ring out of buffers, frames the PMD could not send. What each PMD
 * fills differs (af_packet: no imissed nor rx_nombuf; docs/reliability.md).
 */
#define HERALD_PORT_STATS(X)                                                         \
	X(IPACKETS, "frames the port received")                                     \
	X(OPACKETS, "frames the port transmitted")                                  \
	X(IMISSED, "frames the NIC dropped: its RX ring was full (the dataplane fell behind)") \
	X(IERRORS, "frames the NIC received with errors")                           \
	X(OERRORS, "frames the PMD failed to transmit")                             \
	X(RX_NOMBUF, "RX mbuf allocation failures in the PMD (the mbuf pool ran dry)")

enum herald_port_stat {
#define HERALD_X_ENUM(name, help) HERALD_PORT_##name,
	HERALD_PORT_STATS(HERALD_X_ENUM)
#undef HERALD_X_ENUM
	HERALD_PORT_STAT_MAX
};

/** Lower-case name of a drop reason ("bad_magic"), or NULL if out of range. */
const char *herald_drop_name(enum herald_drop reason);
/** Lower-case name of a counter ("tx_zerocopy"), or NULL if out of range. */
const char *herald_counter_name(enum herald_counter counter);
/** Lower-case name of a port counter ("rx_nombuf"), or NULL if out of range. */
const char *herald_port_stat_name(enum herald_port_stat stat);

/** A decoded frame. Pointers refer into the caller's buffer. */
struct herald_frame {
	uint8_t type;
	uint16_t flags;
	uint16_t length;   /**< body bytes in this datagram */
	uint32_t context;
	uint32_t session;    /**< 0 on a PUBLISH with HERALD_F_AUTH: the field holds the MAC */
	uint64_t seq;
	uint16_t frag_off;
	uint16_t msg_len;
	uint64_t tag;        /**< PUBLISH with HERALD_F_AUTH: the MAC (session << 32 | reserved) */
	const uint8_t *body; /**< this datagram's body slice */
	/* Entry messages (SNAPSHOT, DELTA, PUBLISH), first fragment only: */
	const uint8_t *key;  /**< NULL unless frag_off == 0 and the entry has a key */
	uint16_t key_len;
	uint16_t value_len;  /**< total value length across all fragments */
};

/**
 * Validate and decode one herald datagram (the UDP payload).
 * Every length is checked against @p len before it is used.
 * @return HERALD_DROP_NONE, or the reason the frame must be dropped.
 */
enum herald_drop herald_frame_decode(const void *buf, size_t len, struct herald_frame *f);

/**
 * The token a decoded SUBSCRIBE carries (HERALD_SUB_F_TOKEN).
 * @return 1 with @p expiry and @p token in host order, or 0 when it carries none.
 */
int herald_subscribe_token_get(const struct herald_frame *f, uint32_t *expiry, uint64_t *token);

/** Number of datagrams a message body of @p msg_len bytes travels in. */
static inline unsigned herald_frag_count(unsigned msg_len)
{
	return msg_len == 0 ? 1 : (msg_len + HERALD_FRAG_BODY_MAX - 1) / HERALD_FRAG_BODY_MAX;
}

/** Fields of a header to encode (host byte order). */
struct herald_hdr_fields {
	uint8_t type;
	uint16_t flags;
	uint32_t context;
	uint32_t session;
	uint64_t seq;
};

/*
 * Publish authentication (docs/protocol.md §3.5.1). A node configured with a
 * publish key accepts a PUBLISH datagram only with HERALD_F_AUTH and a valid
 * MAC: SipHash-2-4 under the 128-bit key over the whole datagram (header and
 * body slice) with the tag's 8 bytes (session, offset 12, and reserved,
 * offset 28) taken as zero. The 64-bit result travels big-endian, high half
 * in session, low half in reserved. Every fragment carries its own MAC, so a
 * forged fragment is dropped before it takes a reassembly slot.
 */

/** Length of a publish key (SipHash-2-4). */
#define HERALD_PUBLISH_KEY_LEN 16

/**
 * MAC of one PUBLISH datagram of @p len bytes (at least the header). The tag
 * fields are zeroed while hashing and restored, hence the writable buffer.
 */
uint64_t herald_publish_tag(void *dgram, size_t len, const uint8_t key[HERALD_PUBLISH_KEY_LEN]);

/** Set HERALD_F_AUTH and write the MAC into an encoded PUBLISH datagram. */
void herald_publish_sign(void *dgram, size_t len, const uint8_t key[HERALD_PUBLISH_KEY_LEN]);

/**
 * Does the decoded PUBLISH @p f (decoded from @p dgram, @p len bytes) carry
 * HERALD_F_AUTH and a MAC valid under @p key? Compares in constant time.
 */
int herald_publish_verify(void *dgram, size_t len, const struct herald_frame *f,
			  const uint8_t key[HERALD_PUBLISH_KEY_LEN]);

/**
 * Replay protection of signed PUBLISH (docs/protocol.md §3.5.2). The MAC
 * covers `seq`, and a signed PUBLISH's `seq` is a stamp: microseconds of Unix
 * time (CLOCK_REALTIME) when it was sent, strictly increasing per publisher.
 */
#define HERALD_PUBLISH_WINDOW_DEFAULT_S 30 /**< accepted clock skew, either way */

/** The seq of a publisher's next signed PUBLISH: now, or one past its last if that is later. */
static inline uint64_t herald_publish_stamp_next(uint64_t last, uint64_t now_us)
{
	return now_us > last ? now_us : last + 1;
}

/**
 * Is a signed PUBLISH stamped @p stamp_us fresh at @p now_us: within
 * @p window_us of it either way, and newer than @p horizon_us (the newest
 * stamp the node's replay cache no longer remembers)?
 * @return HERALD_DROP_NONE or HERALD_DROP_PUBLISH_STALE.
 */
static inline enum herald_drop herald_publish_stamp_check(uint64_t stamp_us, uint64_t now_us,
							  uint64_t window_us, uint64_t horizon_us)
{
	if (stamp_us <= horizon_us || stamp_us > now_us + window_us ||
	    (now_us > window_us && stamp_us < now_us - window_us))
		return HERALD_DROP_PUBLISH_STALE;
	return HERALD_DROP_NONE;
}

/**
 * Read a key file: 2 x @p key_len hexadecimal digits, optional surrounding
 * whitespace, nothing else (the publish key, the cluster secret, the remote
 * heraldctl key).
 * @return 0, or -1 with the reason written to @p err.
 */
int herald_key_file_load(const char *path, uint8_t *key, size_t key_len, char *err, size_t errlen);

/**
 * Write a 32-byte header for the body slice [frag_off, frag_off + length)
 * of a message of @p msg_len bytes.
 */
void herald_hdr_encode(void *dst, const struct herald_hdr_fields *h, uint16_t frag_off,
		       uint16_t length, uint16_t msg_len);

/**
 * Encode fragment @p frag of an entry message (key, value) into @p dst.
 * @return datagram length written, or -EINVAL (bad key/value/fragment
 *         index) / -ENOSPC (@p cap too small).
 */
int herald_entry_encode(void *dst, size_t cap, const struct herald_hdr_fields *h,
			const void *key, size_t key_len, const void *value, size_t value_len,
			unsigned frag);

/** Body length of an entry message. */
static inline unsigned herald_entry_msg_len(size_t key_len, size_t value_len)
{
	return (unsigned)(2 + key_len + value_len);
}

/*
 * Address-ownership token and the XDP redirect responder (xdp/steer.bpf.c).
 * The structs below are the values of the maps the control plane fills and
 * the XDP program reads; pinned under HERALD_XDP_PIN_DIR, they are the
 * contract between the loader, heraldd, the dataplane and heraldctl.
 */

/** Length of the SipHash-2-4 key behind REDIRECT tokens. */
#define HERALD_TOKEN_KEY_LEN 16
/** Token lifetime when the control plane does not set one, seconds. */
#define HERALD_TOKEN_TTL_DEFAULT 60

/**
 * The 16 bytes a REDIRECT token is computed over:
 * token = SipHash-2-4(key, these bytes), taken as the little-endian 64-bit
 * value SipHash defines and carried big-endian in herald_redirect_body.token.
 * Every field is in network byte order, as it appears on the wire.
 * expiry is in seconds of CLOCK_TAI (bpf_ktime_get_tai_ns() / 1e9), a clock
 * that nodes synchronised by NTP/PTP agree on, so any node can verify a
 * token another node issued.
 */
struct herald_token_msg {
	uint32_t client_ip;   /**< client IPv4 address (the HELLO's source) */
	uint16_t client_port; /**< client UDP port (the HELLO's source port) */
	uint16_t zero;        /**< always zero: pads the message to two words */
	uint32_t context;     /**< context id */
	uint32_t expiry;      /**< herald_redirect_body.expiry */
} __attribute__((packed));

_Static_assert(sizeof(struct herald_token_msg) == 16, "token message is two SipHash words");

/** Where the XDP program's maps are pinned by default (bpffs). */
#define HERALD_XDP_PIN_DIR "/sys/fs/bpf/herald"
/** Entries of the XSK map: the most queues one node steers into. */
#define HERALD_XDP_MAX_QUEUES HERALD_QUEUES_MAX
/** Default capacity of the context route map. */
#define HERALD_XDP_MAX_ROUTES 65536

/**
 * Value of the route map (key: uint32_t context id, host order): where the
 * context lives. Host byte order except node_ip, which is in network order
 * like struct in_addr.
 */
struct herald_xdp_route {
	uint32_t node_ip; /**< hosting node, network order */
	uint16_t port;    /**< UDP port of the hosting queue */
	uint16_t queue;   /**< queue index on that node */
	uint32_t epoch;   /**< placement epoch */
};

_Static_assert(sizeof(struct herald_xdp_route) == 12, "route map value is 12 bytes");

/** Value of the one-entry secret map: the token key and lifetime. */
struct herald_xdp_secret {
	uint8_t key[HERALD_TOKEN_KEY_LEN]; /**< SipHash-2-4 key */
	uint32_t ttl_s;                    /**< token lifetime; 0 = HERALD_TOKEN_TTL_DEFAULT */
	uint32_t valid;                    /**< 0 until the control plane wrote a key: HELLOs go to userspace */
};

_Static_assert(sizeof(struct herald_xdp_secret) == 24, "secret map value is 24 bytes");

/*
 * What the XDP program did with the frames it did not drop (drops are
 * counted by enum herald_drop). One per-CPU array, indexed by this enum.
 */
#define HERALD_XDP_COUNTERS(X)                                                          \
	X(PASSED, "frames passed to the kernel: not herald traffic")                    \
	X(XSK_REDIRECTED, "herald frames steered into their queue's AF_XDP socket")     \
	X(XSK_MISSING, "frames for the dataplane passed to the kernel: no AF_XDP socket on the queue") \
	X(REDIRECTS_SENT, "HELLOs answered with a REDIRECT from XDP (XDP_TX)")          \
	X(HELLO_UNKNOWN_CONTEXT, "HELLOs passed to userspace: context not in the route map") \
	X(HELLO_NO_KEY, "HELLOs passed to userspace: no token key configured yet")      \
	X(HELLO_PUNTED, "HELLOs passed to userspace: IPv4 options or a multicast destination") \
	X(NODE_STEERED, "ARP and ICMP for the node's address steered into the AF_XDP socket")

enum herald_xdp_counter {
#define HERALD_X_ENUM(name, help) HERALD_XDP_CTR_##name,
	HERALD_XDP_COUNTERS(HERALD_X_ENUM)
#undef HERALD_X_ENUM
	HERALD_XDP_CTR_MAX
};

#endif /* HERALD_PROTO_H */
