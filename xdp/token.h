/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file token.h
 * The REDIRECT token in userspace: the same SipHash-2-4 the XDP program
 * computes (xdp/siphash.bpf.h), here through libsodium. The dataplane uses it
 * to verify the token a SUBSCRIBE carries; the userspace responder to issue one.
 */
#ifndef HERALD_XDP_TOKEN_H
#define HERALD_XDP_TOKEN_H

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

#endif /* HERALD_XDP_TOKEN_H */
