/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for checkpoint records (dataplane/ckpt_record.c), the
 * bytes the dataplane reads back from LMDB. Each input is tried twice: as a
 * whole record (the checksum refuses almost all of them, as it must), and
 * with a valid header and checksum written in front of the input taken as a
 * body, so the entry checks behind the checksum are reached too. An accepted
 * record must walk in bounds, hold only valid keys, and re-encode to the same
 * header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <herald/proto.h>

#include "ckpt_record.h"

#include "fuzz.h"

static void accepted(const uint8_t *rec, size_t len, const struct dp_ckpt_rec *r)
{
	uint8_t hdr[DP_CKPT_HDR_LEN];
	size_t off = 0;

	for (uint32_t i = 0; i < r->nkeys; i++) {
		uint16_t msg_len;
		const uint8_t *body = dp_ckpt_rec_entry(r, &off, &msg_len);
		check(off <= r->body_len && body + msg_len <= r->body + r->body_len);
		unsigned key_len = (unsigned)body[0] << 8 | body[1];
		check(key_len >= 1 && key_len <= HERALD_KEY_MAX && 2 + key_len <= msg_len);
		check(msg_len <= HERALD_MSG_MAX);
	}
	check(off == r->body_len && len == DP_CKPT_HDR_LEN + r->body_len);
	dp_ckpt_rec_encode_hdr(hdr, r->policy, r->nkeys, r->body, r->body_len);
	check(memcmp(hdr, rec, DP_CKPT_HDR_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const policies[] = {"replace", "none", "merge:add", "merge:"};
	struct dp_ckpt_rec r;
	char err[160];

	if (dp_ckpt_rec_decode(data, size, &r, err, sizeof(err)) == 0)
		accepted(data, size, &r);
	check(strlen(err) < sizeof(err));

	/* First byte: policy and key count; the rest: the body. */
	if (size < 1)
		return 0;
	uint8_t *rec = malloc(DP_CKPT_HDR_LEN + size - 1);
	check(rec != NULL);
	memcpy(rec + DP_CKPT_HDR_LEN, data + 1, size - 1);
	dp_ckpt_rec_encode_hdr(rec, policies[data[0] & 3], data[0] >> 2, rec + DP_CKPT_HDR_LEN, size - 1);
	if (dp_ckpt_rec_decode(rec, DP_CKPT_HDR_LEN + size - 1, &r, err, sizeof(err)) == 0)
		accepted(rec, DP_CKPT_HDR_LEN + size - 1, &r);
	free(rec);
	return 0;
}
