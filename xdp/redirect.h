/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file redirect.h
 * The userspace HELLO responder's pure core: check a HELLO and write the
 * REDIRECT exactly as the XDP program writes it (docs/xdp.md): the HELLO's
 * header with type REDIRECT and session 0, and a body with the route, the
 * expiry and the token of xdp/token.c. Same size as the HELLO, so a spoofed
 * source is never amplified.
 */
#ifndef HERALD_REDIRECT_H
#define HERALD_REDIRECT_H

#include <stdint.h>

#include <herald/proto.h>

/** Bytes of a HELLO and of its REDIRECT (header + 32-byte body). */
#define HERALD_REDIRECT_LEN ((int)(sizeof(struct herald_hdr) + sizeof(struct herald_redirect_body)))

/**
 * Decode a datagram that should be a HELLO.
 * @return HERALD_DROP_NONE and @p context, or the drop reason
 *         (HERALD_DROP_UNEXPECTED_TYPE for a valid frame of another type).
 */
enum herald_drop herald_hello_check(const void *buf, size_t len, uint32_t *context);

/**
 * Write the REDIRECT answering @p hello (a checked HELLO, HERALD_REDIRECT_LEN
 * bytes) into @p out. @p client_ip and @p client_port are the HELLO's
 * source in network order; @p expiry is in CLOCK_TAI seconds.
 */
void herald_redirect_write(uint8_t out[HERALD_REDIRECT_LEN], const void *hello,
			   const struct herald_xdp_route *route,
			   const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
			   uint16_t client_port, uint32_t expiry);

#endif /* HERALD_REDIRECT_H */
