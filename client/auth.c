/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Publish authentication (proto.h, docs/protocol.md §3.5.1): a 64-bit
 * SipHash-2-4 MAC per PUBLISH datagram, carried in the header's session and
 * reserved fields, and the key files of Herald (publish key, cluster secret).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <sodium.h>

#include <herald/proto.h>

_Static_assert(crypto_shorthash_siphash24_KEYBYTES == HERALD_PUBLISH_KEY_LEN, "SipHash-2-4 key");
_Static_assert(crypto_shorthash_siphash24_BYTES == sizeof(uint64_t), "SipHash-2-4 output");

#define TAG_HI offsetof(struct herald_hdr, session)
#define TAG_LO offsetof(struct herald_hdr, reserved)

uint64_t herald_publish_tag(void *dgram, size_t len, const uint8_t key[HERALD_PUBLISH_KEY_LEN])
{
	uint8_t *p = dgram, saved[8];
	unsigned char out[crypto_shorthash_siphash24_BYTES];
	uint64_t tag = 0;

	if (len < sizeof(struct herald_hdr))
		return 0;
	memcpy(saved, p + TAG_HI, 4);
	memcpy(saved + 4, p + TAG_LO, 4);
	memset(p + TAG_HI, 0, 4);
	memset(p + TAG_LO, 0, 4);
	/* Needs no sodium_init(): SipHash uses no randomness or CPU dispatch. */
	crypto_shorthash_siphash24(out, p, len, key);
	memcpy(p + TAG_HI, saved, 4);
	memcpy(p + TAG_LO, saved + 4, 4);
	for (int i = 7; i >= 0; i--) /* SipHash's output is a little-endian 64-bit value */
		tag = tag << 8 | out[i];
	return tag;
}

void herald_publish_sign(void *dgram, size_t len, const uint8_t key[HERALD_PUBLISH_KEY_LEN])
{
	uint8_t *p = dgram;
	uint16_t flags;

	if (len < sizeof(struct herald_hdr))
		return;
	memcpy(&flags, p + offsetof(struct herald_hdr, flags), sizeof(flags));
	flags = htons((uint16_t)(ntohs(flags) | HERALD_F_AUTH));
	memcpy(p + offsetof(struct herald_hdr, flags), &flags, sizeof(flags));
	uint64_t tag = herald_publish_tag(p, len, key);
	uint32_t hi = htonl((uint32_t)(tag >> 32)), lo = htonl((uint32_t)tag);
	memcpy(p + TAG_HI, &hi, 4);
	memcpy(p + TAG_LO, &lo, 4);
}

int herald_publish_verify(void *dgram, size_t len, const struct herald_frame *f,
			  const uint8_t key[HERALD_PUBLISH_KEY_LEN])
{
	if (f->type != HERALD_T_PUBLISH || !(f->flags & HERALD_F_AUTH))
		return 0;
	uint64_t want = herald_publish_tag(dgram, len, key);
	uint8_t a[8], b[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (uint8_t)(want >> (8 * i));
		b[i] = (uint8_t)(f->tag >> (8 * i));
	}
	return sodium_memcmp(a, b, sizeof(a)) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int herald_key_file_load(const char *path, uint8_t *key, size_t key_len, char *err, size_t errlen)
{
	char buf[2 * 64 + 8];
	FILE *fp = fopen(path, "r");

	if (fp == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	size_t i = 0, digits = 0;
	while (i < n && buf[i] != '\0' && strchr(" \t\r\n", buf[i]) != NULL)
		i++;
	for (; i < n && hexval(buf[i]) >= 0 && digits < 2 * key_len; i++, digits++) {
		if (digits % 2 == 0)
			key[digits / 2] = (uint8_t)(hexval(buf[i]) << 4);
		else
			key[digits / 2] |= (uint8_t)hexval(buf[i]);
	}
	while (i < n && buf[i] != '\0' && strchr(" \t\r\n", buf[i]) != NULL)
		i++;
	sodium_memzero(buf, sizeof(buf));
	if (key_len > 64 || digits != 2 * key_len || i != n) {
		sodium_memzero(key, key_len);
		snprintf(err, errlen, "%s must hold exactly %zu hex digits (one line)", path, 2 * key_len);
		return -1;
	}
	return 0;
}
