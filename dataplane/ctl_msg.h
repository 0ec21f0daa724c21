/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file ctl_msg.h
 * The dataplane's control protocol, one request per line of JSON, parsed
 * into a struct with every field checked (docs/heraldd.md). No DPDK, and
 * the parser touches no socket, so the unit tests feed it bad input
 * directly. The dataplane (ctl.c) serves it; heraldd speaks it, and serves
 * the same framing on its own socket (controlplane/mgmt.c).
 */
#ifndef HERALD_CTL_MSG_H
#define HERALD_CTL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/**
 * Longest request line the dataplane accepts, newline included: room for a
 * `put` of a dozen entries of the largest value, hex-encoded.
 */
#define HERALD_CTL_LINE_MAX (1 << 17)
/** Bytes of `put` entries (decoded) one request carries at most. */
#define HERALD_CTL_PUT_MAX ((HERALD_CTL_LINE_MAX - 256) / 2)
/** Longest policy text ("merge:max"). */
#define HERALD_CTL_POLICY_MAX 32

enum herald_ctl_cmd {
	HERALD_CTL_PING,       /**< liveness, and what the dataplane serves */
	HERALD_CTL_ACTIVATE,   /**< create a context with a policy */
	HERALD_CTL_DEACTIVATE, /**< drop a context, its keys and sessions */
	HERALD_CTL_CONTEXTS,   /**< list contexts: id, policy, keys, sessions */
	HERALD_CTL_STATS,      /**< counters and drops */
	HERALD_CTL_PUT,        /**< store entries as they are (the replica relay) */
	HERALD_CTL_SET_POLICY, /**< change a live context's policy (docs/cli.md: what is kept) */
	HERALD_CTL_SESSIONS,   /**< list sessions (all, or one context's) */
	HERALD_CTL_KICK,       /**< close one session, telling its client (BYE) */
	HERALD_CTL_CMD_MAX
};

struct herald_ctl_req {
	enum herald_ctl_cmd cmd;
	uint32_t context;                      /**< activate, deactivate */
	char policy[HERALD_CTL_POLICY_MAX];    /**< activate; "" = the dataplane's policy for the id */
	uint16_t queue;                        /**< activate, deactivate, put, set_policy; 0 unless given */
	bool replica;                          /**< activate: as a replica copy (see docs/heraldd.md) */
	/**
	 * put: entries, each `context (u32) | length (u16) | PUBLISH body`
	 * (the body: key length u16, key, value), big-endian, checked by the
	 * parser. Allocated by herald_ctl_parse(); herald_ctl_req_release() frees it.
	 */
	uint8_t *data;
	uint32_t data_len;
	bool has_context;                      /**< sessions: list only @p context's */
	uint32_t session;                      /**< kick: the session id clients see on the wire */
	bool moved;                            /**< deactivate: tell each session's client to look again (ERROR MOVED) */
};

/** Bytes of one `put` entry in front of its PUBLISH body: context and length. */
#define HERALD_CTL_PUT_ENTRY_HDR 6

/** Free what herald_ctl_parse() allocated in @p req (the `put` data). */
void herald_ctl_req_release(struct herald_ctl_req *req);

/**
 * Check `put` entries: every entry complete, its key 1..HERALD_KEY_MAX
 * bytes, its value at most HERALD_VALUE_MAX.
 * @return the number of entries, or -EINVAL with @p err filled.
 */
int herald_ctl_put_check(const uint8_t *data, size_t len, char *err, size_t errlen);

/** Command name ("activate"), or NULL. */
const char *herald_ctl_cmd_name(enum herald_ctl_cmd c);

/**
 * Parse one request line (without or with its trailing newline).
 * Unknown commands, unknown or missing fields and out-of-range values are
 * errors; @p err gets a one-line human-readable reason.
 * @return 0, or -EINVAL with @p err filled.
 */
int herald_ctl_parse(const char *line, size_t len, struct herald_ctl_req *out, char *err,
		     size_t errlen);

/**
 * Encode a request as one line of JSON with its newline (what heraldd sends).
 * @return the length written, or -ENOSPC.
 */
int herald_ctl_encode(const struct herald_ctl_req *req, char *buf, size_t cap);

/**
 * Send @p reply as one line of compact JSON and take its reference, on a
 * blocking stream socket (both ends of the control protocol answer this way).
 * @return 0, -ENOMEM or -EIO (the peer is gone: close it).
 */
int herald_ctl_reply_send(int fd, json_t *reply);

#endif /* HERALD_CTL_MSG_H */
