/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the protocol v1 codec. Every input is one UDP payload
 * as the dataplane would hand it to herald_frame_decode(). Beyond "no crash,
 * no out-of-bounds read" (ASan/UBSan do that part), it checks the promises an
 * accepted frame makes, and that a whole entry frame re-encodes to exactly
 * the bytes it was decoded from: the codec has one encoding per message.
 * A PUBLISH with HERALD_F_AUTH also goes through the MAC check (auth.c),
 * which must leave the datagram as it was, and a re-signed copy verifies.
 *
 * Build by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -D_GNU_SOURCE \
 *         client/wire.c tests/fuzz/fuzz_wire.c -o /tmp/fuzz_wire
 *   /tmp/fuzz_wire -max_total_time=60 tests/fuzz/corpus/wire/
 * or through meson, see tests/fuzz/meson.build.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <herald/proto.h>

#include "fuzz.h"

#define HDR_LEN sizeof(struct herald_hdr)

static int is_entry(uint8_t type)
{
	return type == HERALD_T_SNAPSHOT || type == HERALD_T_DELTA || type == HERALD_T_PUBLISH;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herald_frame f;
	enum herald_drop r = herald_frame_decode(data, size, &f);

	check((unsigned)r < HERALD_DROP_MAX);
	check(herald_drop_name(r) != NULL);
	if (r != HERALD_DROP_NONE)
		return 0;

	/* What an accepted frame promises its consumer. */
	check(size == HDR_LEN + f.length);
	check(f.type > 0 && f.type < HERALD_T_MAX);
	check(f.body == data + HDR_LEN);
	check(f.length <= HERALD_FRAG_BODY_MAX);
	check(f.msg_len <= HERALD_MSG_MAX);
	check(f.frag_off % HERALD_FRAG_BODY_MAX == 0);
	check((unsigned)f.frag_off + f.length <= f.msg_len);
	check(f.frag_off == 0 || is_entry(f.type));
	if (f.flags & HERALD_F_AUTH) {
		static const uint8_t key[HERALD_PUBLISH_KEY_LEN] = "fuzz publish key";
		uint8_t copy[HDR_LEN + HERALD_FRAG_BODY_MAX];
		struct herald_frame g;

		check(f.type == HERALD_T_PUBLISH && f.session == 0);
		memcpy(copy, data, size);
		(void)herald_publish_verify(copy, size, &f, key);
		check(memcmp(copy, data, size) == 0);
		herald_publish_sign(copy, size, key);
		check(herald_frame_decode(copy, size, &g) == HERALD_DROP_NONE);
		check(herald_publish_verify(copy, size, &g, key));
	} else {
		check(f.tag == 0);
	}
	if (f.key != NULL) {
		check(is_entry(f.type) && f.frag_off == 0);
		check(f.key == f.body + 2);
		check(f.key_len >= 1 && f.key_len <= HERALD_KEY_MAX);
		check(2u + f.key_len <= f.length);
		check(f.value_len <= HERALD_VALUE_MAX);
		check(2u + f.key_len + f.value_len == f.msg_len);
	}

	if (!is_entry(f.type) || f.key == NULL || f.length != f.msg_len)
		return 0;

	/* A whole entry frame: re-encode it and expect the same bytes. */
	struct herald_hdr_fields h = {
		.type = f.type,
		.flags = f.flags,
		.context = f.context,
		.session = f.session,
		.seq = f.seq,
	};
	uint8_t out[HDR_LEN + HERALD_FRAG_BODY_MAX];
	const uint8_t *value = f.key + f.key_len;

	int n = herald_entry_encode(out, sizeof(out), &h, f.key, f.key_len, value, f.value_len, 0);
	check(n == (int)size);
	if (f.flags & HERALD_F_AUTH) { /* the MAC travels in session and reserved, big-endian */
		for (int i = 0; i < 4; i++) {
			out[offsetof(struct herald_hdr, session) + i] = (uint8_t)(f.tag >> (56 - 8 * i));
			out[offsetof(struct herald_hdr, reserved) + i] = (uint8_t)(f.tag >> (24 - 8 * i));
		}
	}
	check(memcmp(out, data, size) == 0);

	/* One byte less room must be refused, never overrun. */
	check(herald_entry_encode(out, size - 1, &h, f.key, f.key_len, value, f.value_len, 0) ==
	      -ENOSPC);
	return 0;
}
