/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <endian.h>
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
