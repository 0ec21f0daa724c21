/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peer datagrams, laid out as:
 *   0 magic u32 | 4 version u8 | 5 type u8 | 6 length u16 (whole datagram)
 *   HEARTBEAT: 8 node | 12 incarnation | 16 epoch | 20 weight | 24 contexts
 *              | 28 queues u16 | 30 dp_port u16 | 32 dp_ip (as on the wire)
 *              | 36 chunk u16 | 38 chunks u16 | 40 n u16 | 42 zero u16
 *              | 44 n x context u32
 *   PLACE:     8 from | 12 to | 16 context | 20 epoch | 24 flags u8 | 25 zero u8 x 3
 *              | 28 policy (16 bytes, NUL-padded); a 24-byte PLACE (no flags,
 *              no policy: the first version) is still accepted
 * All big-endian except dp_ip, which is copied as the network-order address.
 */
#include <errno.h>
#include <string.h>

#include "peer_msg.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void head_put(uint8_t *b, uint8_t type, size_t len)
{
	put32(b, HERALD_PEER_MAGIC);
	b[4] = HERALD_PEER_VERSION;
	b[5] = type;
	put16(b + 6, (uint16_t)len);
}

uint32_t herald_peer_hb_id(const struct herald_peer_hb *hb, unsigned i)
{
	return get32(hb->ids + 4 * (size_t)i);
}

int herald_peer_hb_encode(void *buf, size_t cap, const struct herald_peer_hb *hb,
			  const uint32_t *ids)
{
	uint8_t *b = buf;
	size_t len = HERALD_PEER_HB_FIXED + 4 * (size_t)hb->n;

	if (hb->n > HERALD_PEER_HB_CONTEXTS || hb->chunks == 0 || hb->chunk >= hb->chunks ||
	    hb->n > hb->contexts)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	head_put(b, HERALD_PEER_HEARTBEAT, len);
	put32(b + 8, hb->node);
	put32(b + 12, hb->incarnation);
	put32(b + 16, hb->epoch);
	put32(b + 20, hb->weight);
	put32(b + 24, hb->contexts);
	put16(b + 28, hb->queues);
	put16(b + 30, hb->dp_port);
	memcpy(b + 32, &hb->dp_ip, 4);
	put16(b + 36, hb->chunk);
	put16(b + 38, hb->chunks);
	put16(b + 40, hb->n);
	put16(b + 42, 0);
	for (unsigned i = 0; i < hb->n; i++)
		put32(b + HERALD_PEER_HB_FIXED + 4 * i, ids[i]);
	return (int)len;
}

int herald_peer_place_encode(void *buf, size_t cap, const struct herald_peer_place *p)
{
	uint8_t *b = buf;
	if (cap < HERALD_PEER_PLACE_LEN)
		return -ENOSPC;
	head_put(b, HERALD_PEER_PLACE, HERALD_PEER_PLACE_LEN);
	put32(b + 8, p->from);
	put32(b + 12, p->to);
	put32(b + 16, p->context);
	put32(b + 20, p->epoch);
	memset(b + 24, 0, HERALD_PEER_PLACE_LEN - 24);
	b[24] = p->flags;
	memcpy(b + 28, p->policy, strnlen(p->policy, HERALD_PEER_POLICY_LEN - 1));
	return HERALD_PEER_PLACE_LEN;
}

int herald_peer_decode(const void *buf, size_t len, struct herald_peer_hb *hb,
		       struct herald_peer_place *place)
{
	const uint8_t *b = buf;

	if (len < 8 || len > HERALD_PEER_DGRAM_MAX || get32(b) != HERALD_PEER_MAGIC ||
	    b[4] != HERALD_PEER_VERSION || get16(b + 6) != len)
		return -EBADMSG;
	switch (b[5]) {
	case HERALD_PEER_HEARTBEAT:
		if (len < HERALD_PEER_HB_FIXED)
			return -EBADMSG;
		*hb = (struct herald_peer_hb){
			.node = get32(b + 8), .incarnation = get32(b + 12), .epoch = get32(b + 16),
			.weight = get32(b + 20), .contexts = get32(b + 24), .queues = get16(b + 28),
			.dp_port = get16(b + 30), .chunk = get16(b + 36), .chunks = get16(b + 38),
			.n = get16(b + 40), .ids = b + HERALD_PEER_HB_FIXED,
		};
		memcpy(&hb->dp_ip, b + 32, 4);
		if (len != HERALD_PEER_HB_FIXED + 4 * (size_t)hb->n || get16(b + 42) != 0)
			return -EBADMSG;
		if (hb->chunks == 0 || hb->chunk >= hb->chunks || hb->n > hb->contexts)
			return -EINVAL;
		return HERALD_PEER_HEARTBEAT;
	case HERALD_PEER_PLACE:
		if (len != HERALD_PEER_PLACE_LEN && len != HERALD_PEER_PLACE_V0_LEN)
			return -EBADMSG;
		*place = (struct herald_peer_place){
			.from = get32(b + 8), .to = get32(b + 12), .context = get32(b + 16),
			.epoch = get32(b + 20),
		};
		if (len == HERALD_PEER_PLACE_V0_LEN)
			return HERALD_PEER_PLACE;
		if ((b[24] & ~HERALD_PEER_PLACE_REPLICA) != 0 || b[25] != 0 || get16(b + 26) != 0)
			return -EINVAL;
		place->flags = b[24];
		memcpy(place->policy, b + 28, HERALD_PEER_POLICY_LEN);
		if (place->policy[HERALD_PEER_POLICY_LEN - 1] != '\0')
			return -EINVAL;
		/* Lower-case text, then NUL padding: one encoding per policy. */
		size_t plen = strlen(place->policy);
		for (size_t i = 0; i < HERALD_PEER_POLICY_LEN; i++) {
			char c = place->policy[i];
			if (i < plen ? !((c >= 'a' && c <= 'z') || c == ':') : c != '\0')
				return -EINVAL;
		}
		return HERALD_PEER_PLACE;
	default:
		return -EBADMSG;
	}
}
