/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for heraldd's peer datagrams (controlplane/peer_msg.c):
 * HEARTBEAT and PLACE as they arrive on the HA port from anyone on the
 * network. The decoder is strict, so an accepted datagram must encode back
 * to exactly the same bytes: one encoding per message, no field ignored
 * (a first-version PLACE, 24 bytes, encodes to the same fields in 44).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "peer_msg.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herald_peer_hb hb;
	struct herald_peer_place place;
	uint8_t out[HERALD_PEER_DGRAM_MAX];
	uint32_t ids[HERALD_PEER_HB_CONTEXTS];
	int n;

	switch (herald_peer_decode(data, size, &hb, &place)) {
	case HERALD_PEER_HEARTBEAT:
		check(hb.n <= HERALD_PEER_HB_CONTEXTS && hb.n <= hb.contexts && hb.chunk < hb.chunks);
		check(hb.ids == data + HERALD_PEER_HB_FIXED);
		for (unsigned i = 0; i < hb.n; i++)
			ids[i] = herald_peer_hb_id(&hb, i);
		n = herald_peer_hb_encode(out, sizeof(out), &hb, ids);
		break;
	case HERALD_PEER_PLACE:
		n = herald_peer_place_encode(out, sizeof(out), &place);
		if (size == HERALD_PEER_PLACE_V0_LEN) {
			/* The first version's PLACE: the same fields, now followed by no flags and no policy. */
			check(n == HERALD_PEER_PLACE_LEN && memcmp(out, data, 6) == 0 &&
			      memcmp(out + 8, data + 8, HERALD_PEER_PLACE_V0_LEN - 8) == 0);
			for (int i = HERALD_PEER_PLACE_V0_LEN; i < n; i++)
				check(out[i] == 0);
			return 0;
		}
		break;
	default:
		return 0;
	}
	check(n > 0 && (size_t)n == size && memcmp(out, data, size) == 0);
	return 0;
}
