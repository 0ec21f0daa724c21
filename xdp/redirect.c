/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <endian.h>
#include <string.h>

#include "redirect.h"
#include "token.h"

enum herald_drop herald_hello_check(const void *buf, size_t len, uint32_t *context)
{
	struct herald_frame f;
	enum herald_drop why = herald_frame_decode(buf, len, &f);
	if (why != HERALD_DROP_NONE)
		return why;
	if (f.type != HERALD_T_HELLO)
		return HERALD_DROP_UNEXPECTED_TYPE;
	*context = f.context;
	return HERALD_DROP_NONE;
}

void herald_redirect_write(uint8_t out[HERALD_REDIRECT_LEN], const void *hello,
			   const struct herald_xdp_route *r,
			   const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t client_ip,
			   uint16_t client_port, uint32_t expiry)
{
	struct herald_hdr h;
	memcpy(&h, hello, sizeof(h));
	h.type = HERALD_T_REDIRECT;
	h.session = 0;
	struct herald_redirect_body rb = {
		.node_ip = r->node_ip,
		.port = htons(r->port),
		.queue = htons(r->queue),
		.epoch = htonl(r->epoch),
		.expiry = htonl(expiry),
		.token = htobe64(herald_token_for(key, client_ip, client_port, ntohl(h.context), expiry)),
		.reserved = 0,
	};
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), &rb, sizeof(rb));
}
