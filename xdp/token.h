/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file token.h
 * The REDIRECT token in userspace: the same SipHash-2-4 the XDP program
 * computes (xdp/siphash.bpf.h), here through libsodium. The dataplane uses it
 * to verify the token a SUBSCRIBE carries; the userspace responder to issue one.
 */
#ifndef HERALD_XDP_TOKEN_H
#define HERALD_XDP_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <herald/proto.h>

/**
 * SipHash-2-4 of @p m under @p key, as the 64-bit value SipHash defines
 * (host order; htobe64() it for herald_redirect_body.token).
 */
uint64_t herald_token_compute(const uint8_t key[HERALD_TOKEN_KEY_LEN], const struct herald_token_msg *m);

/**
 * Token for a client (@p client_ip, @p client_port in network order, as in
 * the packet), @p context and @p expiry (host order).
 */
uint64_t herald_token_for(const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
			  uint16_t client_port, uint32_t context, uint32_t expiry);

/**
 * Is @p token (host order, as herald_subscribe_token_get() returns it) the
 * token for (@p client_ip, @p client_port: network order, as in the packet;
 * @p context, @p expiry: host order), and is it unexpired at @p now_tai
 * (CLOCK_TAI seconds)? The MAC is compared in constant time, before the
 * expiry, so a forgery counts as forged whatever expiry it names.
 * @return HERALD_DROP_NONE, HERALD_DROP_BAD_TOKEN or HERALD_DROP_TOKEN_EXPIRED.
 */
enum herald_drop herald_token_check(const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
				    uint16_t client_port, uint32_t context, uint32_t expiry,
				    uint64_t token, uint32_t now_tai);

/** Bytes of the cluster secret the token key is derived from ([cluster] key_file). */
#define HERALD_TOKEN_SECRET_LEN 32

/**
 * The token key heraldd derives from the cluster secret (libsodium's KDF,
 * subkey 2, context "herald-t"): a dataplane given the secret computes the
 * same key, so it verifies the tokens heraldd and XDP issue.
 */
void herald_token_key_derive(const uint8_t secret[HERALD_TOKEN_SECRET_LEN],
			     uint8_t key[HERALD_TOKEN_KEY_LEN]);

/**
 * Read a token key file: 32 hex digits (the token key itself) or 64 (the
 * cluster secret, from which the key is derived as heraldd derives it).
 * @return 0, or -1 with the reason in @p err.
 */
int herald_token_key_load(const char *path, uint8_t key[HERALD_TOKEN_KEY_LEN], char *err,
			  size_t errlen);

#endif /* HERALD_XDP_TOKEN_H */
