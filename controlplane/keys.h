/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file keys.h
 * The cluster secret and the keys derived from it (libsodium's KDF, one
 * subkey per purpose), so one secret configures placement and tokens alike.
 */
#ifndef HERALD_KEYS_H
#define HERALD_KEYS_H

#include <stdint.h>

#include <herald/proto.h>

#include "director.h"

#define HERALD_CLUSTER_SECRET_LEN 32

/** Derive the placement (director) key and the REDIRECT token key. */
void herald_keys_derive(const uint8_t secret[HERALD_CLUSTER_SECRET_LEN],
			uint8_t placement[HERALD_DIRECTOR_KEY_LEN],
			uint8_t token[HERALD_TOKEN_KEY_LEN]);

#endif /* HERALD_KEYS_H */
