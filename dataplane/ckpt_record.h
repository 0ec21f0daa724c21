/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One context's checkpoint record (the value stored under its id in LMDB):
 * a 32-byte header, then the latest message body of every key, each behind
 * its 16-bit length. The header carries a magic, a format version and a
 * CRC-32 of header and body, so a torn or garbled record is refused as a
 * whole instead of being served. Pure code (zlib only): the dataplane, the
 * unit tests and the fuzz target share it.
 */
#ifndef HERALD_CKPT_RECORD_H
#define HERALD_CKPT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define DP_CKPT_MAGIC 0x48434b50u /* "HCKP" */
#define DP_CKPT_VERSION 1
#define DP_CKPT_HDR_LEN 32
#define DP_CKPT_POLICY_LEN 16 /* "merge:add" and the like, NUL padded */

/* A record checked by dp_ckpt_rec_decode; body points into the caller's buffer. */
struct dp_ckpt_rec {
	char policy[DP_CKPT_POLICY_LEN];
	uint32_t nkeys;
	const uint8_t *body;
	size_t body_len;
};

/*
 * Write the header for @p nkeys entries already laid out in @p body (each a
 * big-endian 16-bit length and that many bytes) into @p hdr.
 */
void dp_ckpt_rec_encode_hdr(uint8_t hdr[DP_CKPT_HDR_LEN], const char *policy, uint32_t nkeys,
			    const uint8_t *body, size_t body_len);

/*
 * Check a whole record: magic, version, lengths, checksum, policy text and
 * every entry (a key of 1..HERALD_KEY_MAX bytes, a body no longer than
 * HERALD_MSG_MAX; 8-byte values under a merge policy). 0, or -EINVAL with
 * the reason in @p err.
 */
int dp_ckpt_rec_decode(const void *buf, size_t len, struct dp_ckpt_rec *out, char *err,
		       size_t errlen);

/* Entry at @p *off of a decoded record: its body and length; advances @p *off. */
const uint8_t *dp_ckpt_rec_entry(const struct dp_ckpt_rec *r, size_t *off, uint16_t *msg_len);

#endif
