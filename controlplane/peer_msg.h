/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file peer_msg.h
 * What heraldd instances say to each other over UDP (docs/heraldd.md):
 * HEARTBEAT, every interval, with the sender's incarnation, view epoch,
 * weight, queue count, dataplane address and the contexts it hosts (in
 * chunks when they do not fit one datagram); and PLACE, telling a peer that
 * a context it should host was just placed on it, or that it is the
 * replica of a context, with the context's policy either way. Big-endian, versioned,
 * every length checked. Pure: no socket, no clock.
 */
#ifndef HERALD_PEER_MSG_H
#define HERALD_PEER_MSG_H

#include <stddef.h>
#include <stdint.h>

#define HERALD_PEER_MAGIC 0x48524844u /* "HRHD" */
#define HERALD_PEER_VERSION 1
/** Largest peer datagram: fits a 1500-byte MTU with IPv4 and UDP headers. */
#define HERALD_PEER_DGRAM_MAX 1472
/** Fixed part of a HEARTBEAT, before its context ids. */
#define HERALD_PEER_HB_FIXED 44
/** Context ids one HEARTBEAT carries at most. */
#define HERALD_PEER_HB_CONTEXTS ((HERALD_PEER_DGRAM_MAX - HERALD_PEER_HB_FIXED) / 4)
/** Size of a PLACE message. */
#define HERALD_PEER_PLACE_LEN 44
/** Size of a PLACE without flags and policy (the first heraldd's), still accepted. */
#define HERALD_PEER_PLACE_V0_LEN 24
/** Room for a policy text in PLACE ("merge:max"), NUL-padded. */
#define HERALD_PEER_POLICY_LEN 16
/** PLACE flag: the receiver is the context's replica (it keeps a copy), not its host. */
#define HERALD_PEER_PLACE_REPLICA 0x01

enum herald_peer_type {
	HERALD_PEER_HEARTBEAT = 1,
	HERALD_PEER_PLACE = 2,
};

struct herald_peer_hb {
	uint32_t node, incarnation, epoch, weight;
	uint32_t contexts;    /**< contexts the sender hosts, in all chunks */
	uint16_t queues;
	uint16_t dp_port;     /**< UDP port of the sender's dataplane queue 0 */
	uint32_t dp_ip;       /**< sender's dataplane address, network order */
	uint16_t chunk;       /**< which slice of the context list this is */
	uint16_t chunks;      /**< slices in all, >= 1 */
	uint16_t n;           /**< context ids in this datagram */
	const uint8_t *ids;   /**< decode: n big-endian ids in the datagram */
};

struct herald_peer_place {
	uint32_t from;        /**< node that placed it */
	uint32_t to;          /**< node that should host it */
	uint32_t context;
	uint32_t epoch;       /**< placer's view epoch */
	uint8_t flags;        /**< HERALD_PEER_PLACE_REPLICA */
	char policy[HERALD_PEER_POLICY_LEN]; /**< "replace", "none", "merge:OP"; "" = the receiver's default */
};

/** Context id @p i of a decoded heartbeat. */
uint32_t herald_peer_hb_id(const struct herald_peer_hb *hb, unsigned i);

/**
 * Encode a HEARTBEAT carrying @p hb->n ids from @p ids.
 * @return bytes written, -EINVAL (n too large, chunk >= chunks), -ENOSPC.
 */
int herald_peer_hb_encode(void *buf, size_t cap, const struct herald_peer_hb *hb,
			  const uint32_t *ids);
int herald_peer_place_encode(void *buf, size_t cap, const struct herald_peer_place *p);

/**
 * Decode one peer datagram.
 * @return HERALD_PEER_HEARTBEAT (filled @p hb) or HERALD_PEER_PLACE (filled
 *         @p place); -EBADMSG for a bad magic, version, type or length (a
 *         datagram is at most HERALD_PEER_DGRAM_MAX bytes);
 *         -EINVAL for inconsistent fields (chunk >= chunks, n > contexts,
 *         a policy that is not NUL-terminated lower-case text, unknown flags).
 */
int herald_peer_decode(const void *buf, size_t len, struct herald_peer_hb *hb,
		       struct herald_peer_place *place);

#endif /* HERALD_PEER_MSG_H */
