/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-hello-check: send HELLOs to a node's userspace responder (heraldd
 * --hello) and check every REDIRECT byte by byte: the header echoed with
 * type REDIRECT and session 0, the body's reserved word 0, the expiry within
 * a second of now + TTL (CLOCK_TAI) and the token recomputed from the
 * cluster secret. Prints one line per context: where it was sent.
 *
 *   herald-hello-check --to ADDR:PORT --context N [--count N] [--key HEX] [--ttl S]
 *                      [--expect-ip A.B.C.D]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <herald/client.h>
#include <herald/proto.h>

#include "keys.h"
#include "redirect.h"
#include "token.h"

static int fail(const char *fmt, const char *what, unsigned context)
{
	fprintf(stderr, "herald-hello-check: context %u: ", context);
	fprintf(stderr, fmt, what);
	fputc('\n', stderr);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"to", required_argument, NULL, 't'}, {"context", required_argument, NULL, 'c'},
		{"count", required_argument, NULL, 'n'}, {"key", required_argument, NULL, 'k'},
		{"ttl", required_argument, NULL, 'T'}, {"expect-ip", required_argument, NULL, 'e'},
		{0},
	};
	struct sockaddr_in to, me;
	uint8_t secret[HERALD_CLUSTER_SECRET_LEN] = {0}, placement[HERALD_DIRECTOR_KEY_LEN],
		tkey[HERALD_TOKEN_KEY_LEN];
	unsigned context = 1, count = 1, ttl = HERALD_TOKEN_TTL_DEFAULT;
	struct in_addr expect = {0};
	bool have_to = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (herald_addr_parse(optarg, HERALD_UDP_PORT_BASE, &to) < 0)
				return 2;
			have_to = true;
			break;
		case 'c': context = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'T': ttl = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'k':
			if (sodium_hex2bin(secret, sizeof(secret), optarg, strlen(optarg), NULL, NULL, NULL) != 0)
				return 2;
			break;
		case 'e':
			if (inet_pton(AF_INET, optarg, &expect) != 1)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (!have_to) {
		fprintf(stderr, "usage: herald-hello-check --to ADDR:PORT --context N [--count N] [--key HEX] [--ttl S] [--expect-ip IP]\n");
		return 2;
	}
	herald_keys_derive(secret, placement, tkey);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t ml = sizeof(me);
	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&me, &ml) < 0) {
		perror("herald-hello-check: socket");
		return 1;
	}
	for (unsigned ctx = context; ctx < context + count; ctx++) {
		uint8_t hello[HERALD_REDIRECT_LEN] = {0}, r[256];
		struct herald_hdr_fields h = {.type = HERALD_T_HELLO, .context = ctx, .seq = 1000 + ctx};
		herald_hdr_encode(hello, &h, 0, 32, 32);
		ssize_t k = -1;
		for (int tries = 0; tries < 20 && k < 0; tries++) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			send(fd, hello, sizeof(hello), 0);
			if (poll(&p, 1, 250) == 1)
				k = recv(fd, r, sizeof(r), 0);
		}
		if (k < 0)
			return fail("%s", "no REDIRECT in 5 s", ctx);
		struct timespec ts;
		clock_gettime(CLOCK_TAI, &ts);
		struct herald_frame f;
		if (k != HERALD_REDIRECT_LEN || herald_frame_decode(r, (size_t)k, &f) != HERALD_DROP_NONE ||
		    f.type != HERALD_T_REDIRECT)
			return fail("%s", "answer is not a valid REDIRECT", ctx);
		if (f.context != ctx || f.seq != 1000 + ctx || f.session != 0)
			return fail("%s", "header not echoed (context, seq) or session not 0", ctx);
		struct herald_redirect_body rb;
		memcpy(&rb, f.body, sizeof(rb));
		uint32_t expiry = ntohl(rb.expiry);
		long skew = (long)expiry - (long)(ts.tv_sec + ttl);
		if (skew < -2 || skew > 1)
			return fail("%s", "expiry is not now + TTL on CLOCK_TAI", ctx);
		if (be64toh(rb.token) != herald_token_for(tkey, me.sin_addr.s_addr, me.sin_port, ctx, expiry))
			return fail("%s", "token does not verify", ctx);
		if (expect.s_addr != 0 && rb.node_ip != expect.s_addr)
			return fail("%s", "redirected to another node than expected", ctx);
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &rb.node_ip, ip, sizeof(ip));
		printf("context %u -> %s:%u queue %u epoch %u token ok\n", ctx, ip, ntohs(rb.port),
		       ntohs(rb.queue), ntohl(rb.epoch));
	}
	close(fd);
	return 0;
}
