/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "token.h"

_Static_assert(crypto_shorthash_siphash24_KEYBYTES == HERALD_TOKEN_KEY_LEN, "SipHash-2-4 key");
_Static_assert(crypto_shorthash_siphash24_BYTES == sizeof(uint64_t), "SipHash-2-4 output");

uint64_t herald_token_compute(const uint8_t key[HERALD_TOKEN_KEY_LEN], const struct herald_token_msg *m)
{
	unsigned char out[crypto_shorthash_siphash24_BYTES];
	uint64_t v;

	/* Needs no sodium_init(): SipHash uses no randomness or CPU dispatch. */
	crypto_shorthash_siphash24(out, (const unsigned char *)m, sizeof(*m), key);
	memcpy(&v, out, sizeof(v));
	return le64toh(v);
}

uint64_t herald_token_for(const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
			  uint16_t client_port, uint32_t context, uint32_t expiry)
{
	struct herald_token_msg m = {
		.client_ip = client_ip,
		.client_port = client_port,
		.zero = 0,
		.context = htonl(context),
		.expiry = htonl(expiry),
	};
	return herald_token_compute(key, &m);
}

enum herald_drop herald_token_check(const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
				    uint16_t client_port, uint32_t context, uint32_t expiry,
				    uint64_t token, uint32_t now_tai)
{
	uint64_t want = htobe64(herald_token_for(key, client_ip, client_port, context, expiry));
	uint64_t got = htobe64(token);

	if (sodium_memcmp(&want, &got, sizeof(want)) != 0)
		return HERALD_DROP_BAD_TOKEN;
	return expiry >= now_tai ? HERALD_DROP_NONE : HERALD_DROP_TOKEN_EXPIRED;
}

_Static_assert(HERALD_TOKEN_SECRET_LEN == crypto_kdf_KEYBYTES, "KDF master key");

void herald_token_key_derive(const uint8_t secret[HERALD_TOKEN_SECRET_LEN],
			     uint8_t key[HERALD_TOKEN_KEY_LEN])
{
	crypto_kdf_derive_from_key(key, HERALD_TOKEN_KEY_LEN, 2, "herald-t", secret);
}

int herald_token_key_load(const char *path, uint8_t key[HERALD_TOKEN_KEY_LEN], char *err,
			  size_t errlen)
{
	uint8_t secret[HERALD_TOKEN_SECRET_LEN];

	if (herald_key_file_load(path, key, HERALD_TOKEN_KEY_LEN, err, errlen) == 0)
		return 0;
	if (herald_key_file_load(path, secret, sizeof(secret), err, errlen) == 0) {
		herald_token_key_derive(secret, key);
		sodium_memzero(secret, sizeof(secret));
		return 0;
	}
	/* The second attempt's message names 64 digits only: say both. */
	FILE *fp = fopen(path, "r");
	if (fp != NULL) {
		fclose(fp);
		snprintf(err, errlen, "%s must hold exactly 32 hex digits (the token key) or 64 "
			 "(the cluster secret it is derived from), one line", path);
	}
	return -1;
}
