/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Herald through libherald, behind the same calls as the peers, for the
 * fan-out bench (herald-pingpong measures Herald's round trip itself). The
 * topic names the context (an FNV-1a hash of it); each message is published
 * under one of KEYS keys in turn.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <herald/client.h>

#include "peer.h"

#define KEYS 64
#define SNAPSHOT_WAIT_MS 5000

struct peer {
	struct herald_client *c;
	uint32_t context;
	uint32_t next_key;
	bool synced;
	uint64_t *count; /* subscriber: deliveries */
};

static uint32_t context_of(const char *topic)
{
	uint32_t h = 2166136261u;

	for (; *topic; topic++)
		h = (h ^ (uint8_t)*topic) * 16777619u;
	return h ? h : 1;
}

static void on_delta(void *user, const struct herald_entry *e)
{
	struct peer *p = user;

	if (e->context == p->context && p->count)
		(*p->count)++;
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct peer *p = user;

	(void)seq;
	if (context == p->context)
		p->synced = true;
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	(void)user;
	fprintf(stderr, "herald: node error %u on context %" PRIu32 ": %.*s\n", code, context,
		(int)len, text);
}

static void herald_close(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->count && p->c)
		herald_unsubscribe(p->c, p->context);
	herald_client_close(p->c);
	free(p);
}

static struct peer *herald_client(const char *ip, uint16_t port, const char *topic, uint64_t *count)
{
	struct herald_client_opts o = {.node = ip, .port = port, .max_subscriptions = 1,
				       .rcvbuf = 4 << 20};
	struct herald_callbacks cb = {.on_delta = on_delta, .on_snapshot_end = on_snapshot_end,
				      .on_error = on_error};
	struct peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->context = context_of(topic);
	p->count = count;
	cb.user = p;
	p->c = herald_client_open(&o, &cb);
	if (p->c == NULL) {
		fprintf(stderr, "herald: client to %s:%u: %s\n", ip, port, strerror(errno));
		free(p);
		return NULL;
	}
	return p;
}

static struct peer *herald_open_pub(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	(void)timeout_ms;
	return herald_client(ip, port, topic, NULL);
}

static struct peer *herald_open_sub(const char *ip, uint16_t port, const char *topic,
				    int timeout_ms, uint64_t *count)
{
	struct peer *p = herald_client(ip, port, topic, count);
	int waited = 0;

	if (p == NULL)
		return NULL;
	if (herald_subscribe(p->c, p->context) < 0) {
		herald_close(p);
		return NULL;
	}
	while (!p->synced && waited < timeout_ms + SNAPSHOT_WAIT_MS) {
		herald_client_poll(p->c, 10);
		waited += 10;
	}
	if (!p->synced) {
		fprintf(stderr, "herald: no snapshot of context %" PRIu32 "\n", p->context);
		herald_close(p);
		return NULL;
	}
	return p;
}

static int herald_pub(struct peer *p, const void *buf, size_t len)
{
	char key[4];

	snprintf(key, sizeof(key), "%02u", p->next_key++ % KEYS);
	return herald_publish(p->c, p->context, key, 2, buf, len);
}

static int herald_fd(struct peer *p)
{
	return herald_client_fd(p->c);
}

static int herald_drain(struct peer *p)
{
	int ret = herald_client_poll(p->c, 0);

	return ret < 0 ? ret : 0;
}

const struct peer_ops peer_herald = {
	.name = "herald",
	.default_port = HERALD_UDP_PORT_BASE,
	.publish = herald_pub,
	.settle = herald_drain,
	.close = herald_close,
	.open_pub = herald_open_pub,
	.open_sub = herald_open_sub,
	.fd = herald_fd,
	.drain = herald_drain,
};
