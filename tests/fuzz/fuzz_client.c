/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for libherald's receive path: the datagrams a node (or
 * anyone who can reach the client's socket) sends, through reassembly,
 * sequence tracking, the reorder buffer, NAK/resync decisions, REDIRECT and
 * ERROR handling, to the application's callbacks.
 *
 * Each run opens a fresh client subscribed to context 42 against a fake node
 * (a UDP socket on 127.0.0.1 in this process) and feeds it the input as a
 * sequence of datagrams from that node. Input layout:
 *
 *   byte 0             mode: bit 0 auto_resync, bit 1 ordered (`none`),
 *                      bit 2 credit budget of 4, bit 3 rate budget of 100
 *   then records       [u8 ms to advance the client's clock]
 *                      [u16 big-endian length][length bytes: one datagram]
 *
 * Beyond ASan/UBSan, the callbacks check what the library promises the
 * application: entry keys and values within the protocol's bounds (and
 * every byte readable), only the subscribed context, error texts within
 * HERALD_ERROR_TEXT_MAX, a gap's range never reversed.
 *
 * Seeds: tests/fuzz/corpus/client, sequences of the datagrams in
 * tests/fuzz/corpus/wire (snapshot then deltas, fragments out of order, an
 * ordered stream ending in BYE, errors under a credit or rate budget).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <herald/client.h>
#include <herald/proto.h>

#include "fuzz.h"

#define CTX 42
#define DGRAM_MAX 1600

static int node_fd = -1;
static char node_str[32];
static uint64_t fake_now;
static volatile uint8_t sink;

static uint64_t clock_now(void *arg)
{
	(void)arg;
	return fake_now;
}

static uint64_t fixed_rand(void *arg)
{
	(void)arg;
	return 0x9e3779b97f4a7c15ull;
}

static void touch(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t x = 0;

	for (size_t i = 0; i < n; i++)
		x ^= b[i];
	sink = x;
}

static void on_entry(void *u, const struct herald_entry *en)
{
	(void)u;
	check(en->context == CTX);
	check(en->key_len >= 1 && en->key_len <= HERALD_KEY_MAX && en->value_len <= HERALD_VALUE_MAX);
	touch(en->key, en->key_len);
	touch(en->value, en->value_len);
}

static void on_snapshot_end(void *u, uint32_t ctx, uint64_t seq)
{
	(void)u;
	(void)seq;
	check(ctx == CTX);
}

static void on_gap(void *u, uint32_t ctx, uint64_t expected, uint64_t next)
{
	(void)u;
	check(ctx == CTX);
	check(expected <= next); /* equal: a cut whose extent the node did not name */
}

static void on_ctx(void *u, uint32_t ctx)
{
	(void)u;
	check(ctx == CTX);
}

static void on_error(void *u, uint32_t ctx, uint16_t code, const char *text, size_t len)
{
	(void)u;
	(void)ctx;
	(void)code;
	check(len <= HERALD_ERROR_TEXT_MAX);
	touch(text, len);
}

static const struct herald_callbacks callbacks = {
	.on_snapshot = on_entry,
	.on_snapshot_end = on_snapshot_end,
	.on_delta = on_entry,
	.on_gap = on_gap,
	.on_timeout = on_ctx,
	.on_error = on_error,
	.on_closed = on_ctx,
};

static void node_up(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	node_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	check(node_fd >= 0);
	check(bind(node_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	check(getsockname(node_fd, (struct sockaddr *)&a, &len) == 0);
	snprintf(node_str, sizeof(node_str), "127.0.0.1:%u", ntohs(a.sin_port));
}

/* Discard what the client sent (SUBSCRIBE, heartbeats, NAKs, ACKs). */
static void node_drain(void)
{
	uint8_t buf[DGRAM_MAX];

	while (recv(node_fd, buf, sizeof(buf), 0) >= 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (node_fd < 0)
		node_up();
	uint8_t mode = data[0];
	fake_now = 1000000000ull;
	struct herald_client_opts o = {
		.node = node_str,
		.heartbeat_ms = 100,
		.timeout_beats = 5,
		.auto_resync = mode & 1,
		.max_subscriptions = 2,
		.reorder_slots = 8,
		.now_ns = clock_now,
		.rand = fixed_rand,
	};
	if (mode & 4) {
		o.budget = 4;
		o.credits = 1;
	} else if (mode & 8) {
		o.budget = 100;
	}
	struct herald_client *c = herald_client_open(&o, &callbacks);
	check(c != NULL);
	check(herald_subscribe_ex(c, CTX, (mode & 2) ? HERALD_SUB_ORDERED : 0) == 0);

	struct sockaddr_in to;
	socklen_t tolen = sizeof(to);
	check(getsockname(herald_client_fd(c), (struct sockaddr *)&to, &tolen) == 0);
	if (to.sin_addr.s_addr == htonl(INADDR_ANY))
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	size_t off = 1;
	while (off + 3 <= size) {
		uint8_t advance = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		off += 3;
		if (len > size - off)
			len = size - off;
		if (len > DGRAM_MAX)
			len = DGRAM_MAX;
		fake_now += advance * 1000000ull;
		if (sendto(node_fd, data + off, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			check(errno == EAGAIN || errno == ENOBUFS);
		off += len;
		herald_client_poll(c, 0);
		node_drain();
	}
	/* Let the timers run once more: heartbeats, NAK retries, timeouts. */
	fake_now += 1000000000ull;
	herald_client_poll(c, 0);
	node_drain();
	herald_client_close(c);
	return 0;
}
