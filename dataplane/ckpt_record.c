/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checkpoint record format (ckpt_record.h). Header, all big-endian:
 *   0  magic "HCKP"      4  version (16)   6  reserved (16, zero)
 *   8  policy text (16, NUL padded)       24  nkeys (32)   28  CRC-32
 * The CRC covers the header with its CRC field zeroed, then the body. LMDB
 * itself has no page checksums, so this is what tells a record someone or
 * something garbled from one the dataplane wrote.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include <herald/proto.h>

#include "ckpt_record.h"

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *body, size_t body_len)
{
	uint8_t h[DP_CKPT_HDR_LEN];
	memcpy(h, hdr, sizeof(h));
	memset(h + 28, 0, 4);
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, h, sizeof(h));
	/* zlib takes a uInt length: feed large bodies in slices. */
	for (size_t off = 0; off < body_len;) {
		size_t n = body_len - off > (1u << 30) ? (1u << 30) : body_len - off;
		crc = crc32(crc, body + off, (uInt)n);
		off += n;
	}
	return (uint32_t)crc;
}

void dp_ckpt_rec_encode_hdr(uint8_t hdr[DP_CKPT_HDR_LEN], const char *policy, uint32_t nkeys,
			    const uint8_t *body, size_t body_len)
{
	memset(hdr, 0, DP_CKPT_HDR_LEN);
	be32_put(hdr, DP_CKPT_MAGIC);
	hdr[4] = 0;
	hdr[5] = DP_CKPT_VERSION;
	strncpy((char *)hdr + 8, policy, DP_CKPT_POLICY_LEN - 1);
	be32_put(hdr + 24, nkeys);
	be32_put(hdr + 28, rec_crc(hdr, body, body_len));
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

int dp_ckpt_rec_decode(const void *buf, size_t len, struct dp_ckpt_rec *out, char *err,
		       size_t errlen)
{
	const uint8_t *p = buf;

	if (len < DP_CKPT_HDR_LEN)
		FAIL("record of %zu bytes is shorter than its %d-byte header (torn?)", len, DP_CKPT_HDR_LEN);
	if (be32_get(p) != DP_CKPT_MAGIC)
		FAIL("bad magic 0x%08x (expected 0x%08x)", be32_get(p), DP_CKPT_MAGIC);
	unsigned version = (unsigned)p[4] << 8 | p[5];
	if (version != DP_CKPT_VERSION)
		FAIL("format version %u, this dataplane reads %d", version, DP_CKPT_VERSION);
	if (p[6] != 0 || p[7] != 0)
		FAIL("reserved header bytes are not zero");
	*out = (struct dp_ckpt_rec){.nkeys = be32_get(p + 24), .body = p + DP_CKPT_HDR_LEN,
				    .body_len = len - DP_CKPT_HDR_LEN};
	if (be32_get(p + 28) != rec_crc(p, out->body, out->body_len))
		FAIL("checksum mismatch (torn or garbled record)");
	memcpy(out->policy, p + 8, DP_CKPT_POLICY_LEN);
	size_t plen = strnlen(out->policy, DP_CKPT_POLICY_LEN);
	if (plen == 0 || plen == DP_CKPT_POLICY_LEN)
		FAIL("policy field is not a string");
	for (size_t i = plen; i < DP_CKPT_POLICY_LEN; i++)
		if (out->policy[i] != '\0')
			FAIL("policy field is not NUL padded");
	bool merge = strncmp(out->policy, "merge:", 6) == 0;

	size_t off = 0;
	for (uint32_t i = 0; i < out->nkeys; i++) {
		if (out->body_len - off < 2)
			FAIL("entry %u of %u: record ends inside its length", i, out->nkeys);
		unsigned msg_len = (unsigned)out->body[off] << 8 | out->body[off + 1];
		off += 2;
		if (msg_len > HERALD_MSG_MAX || msg_len > out->body_len - off)
			FAIL("entry %u: body of %u bytes runs past the record or HERALD_MSG_MAX", i, msg_len);
		const uint8_t *e = out->body + off;
		unsigned key_len = msg_len < 2 ? 0 : (unsigned)e[0] << 8 | e[1];
		if (key_len == 0 || key_len > HERALD_KEY_MAX || 2 + key_len > msg_len)
			FAIL("entry %u: key length %u invalid for a %u-byte body", i, key_len, msg_len);
		if (merge && msg_len != 2 + key_len + 8)
			FAIL("entry %u: merge value is not 8 bytes", i);
		off += msg_len;
	}
	if (off != out->body_len)
		FAIL("%zu bytes after the last of %u entries", out->body_len - off, out->nkeys);
	return 0;
}

const uint8_t *dp_ckpt_rec_entry(const struct dp_ckpt_rec *r, size_t *off, uint16_t *msg_len)
{
	const uint8_t *e = r->body + *off;
	*msg_len = (uint16_t)(e[0] << 8 | e[1]);
	*off += 2u + *msg_len;
	return e + 2;
}
