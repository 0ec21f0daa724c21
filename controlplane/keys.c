/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <sodium.h>

#include "keys.h"
#include "token.h"

_Static_assert(HERALD_CLUSTER_SECRET_LEN == crypto_kdf_KEYBYTES, "KDF master key");

void herald_keys_derive(const uint8_t secret[HERALD_CLUSTER_SECRET_LEN],
			uint8_t placement[HERALD_DIRECTOR_KEY_LEN],
			uint8_t token[HERALD_TOKEN_KEY_LEN])
{
	crypto_kdf_derive_from_key(placement, HERALD_DIRECTOR_KEY_LEN, 1, "herald-p", secret);
	herald_token_key_derive(secret, token); /* the dataplane derives it with the same code */
}
