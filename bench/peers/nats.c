/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NATS through libnats (cnats): one connection, a synchronous subscription
 * and publishes on the same subject (the server echoes a connection's own
 * messages by default). SendAsap writes each publish at once instead of
 * leaving it to the library's flusher thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "peer.h"

struct peer {
	natsOptions *opts;
	natsConnection *nc;
	natsSubscription *sub;
	char topic[64];
	uint64_t *count; /* fan-out subscriber: deliveries, added on the library's threads */
};

static void nats_close(struct peer *p)
{
	if (p == NULL)
		return;
	natsSubscription_Destroy(p->sub);
	natsConnection_Destroy(p->nc);
	natsOptions_Destroy(p->opts);
	free(p);
	/* Not nats_Close(): the library cannot be opened again after it (fan-out opens many). */
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *user)
{
	struct peer *p = user;

	(void)nc;
	(void)sub;
	__atomic_fetch_add(p->count, 1, __ATOMIC_RELAXED);
	natsMsg_Destroy(msg);
}

/*
 * A connection; subscribed to @p topic synchronously (ping-pong), with a
 * callback counting into @p count (fan-out), or not at all (publisher).
 */
static struct peer *nats_client(const char *ip, uint16_t port, const char *topic, int timeout_ms,
				bool sub, uint64_t *count)
{
	struct peer *p = calloc(1, sizeof(*p));
	natsStatus s;
	char url[96];

	if (p == NULL || strlen(topic) >= sizeof(p->topic)) {
		free(p);
		return NULL;
	}
	strcpy(p->topic, topic);
	snprintf(url, sizeof(url), "nats://%s:%u", ip, port);
	s = natsOptions_Create(&p->opts);
	if (s == NATS_OK)
		s = natsOptions_SetURL(p->opts, url);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(p->opts, timeout_ms);
	if (s == NATS_OK)
		s = natsOptions_SetSendAsap(p->opts, true);
	/* Fan-out subscribers share the library's delivery threads: not one each. */
	if (s == NATS_OK && count)
		s = natsOptions_UseGlobalMessageDelivery(p->opts, true);
	if (s == NATS_OK)
		s = natsConnection_Connect(&p->nc, p->opts);
	p->count = count;
	if (s == NATS_OK && count)
		s = natsConnection_Subscribe(&p->sub, p->nc, topic, on_msg, p);
	else if (s == NATS_OK && sub)
		s = natsConnection_SubscribeSync(&p->sub, p->nc, topic);
	/* The flush's PONG comes after the server has processed SUB. */
	if (s == NATS_OK)
		s = natsConnection_FlushTimeout(p->nc, timeout_ms);
	if (s != NATS_OK) {
		fprintf(stderr, "nats: %s subject %s: %s\n", url, topic, natsStatus_GetText(s));
		nats_close(p);
		return NULL;
	}
	return p;
}

static struct peer *nats_open(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return nats_client(ip, port, topic, timeout_ms, true, NULL);
}

static struct peer *nats_open_pub(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return nats_client(ip, port, topic, timeout_ms, false, NULL);
}

static struct peer *nats_open_sub(const char *ip, uint16_t port, const char *topic,
				  int timeout_ms, uint64_t *count)
{
	return nats_client(ip, port, topic, timeout_ms, true, count);
}

static int nats_fd(struct peer *p)
{
	(void)p;
	return -1;
}

static int nats_drain(struct peer *p)
{
	(void)p;
	return 0;
}

static int nats_publish(struct peer *p, const void *buf, size_t len)
{
	natsStatus s = natsConnection_Publish(p->nc, p->topic, buf, (int)len);

	if (s != NATS_OK) {
		fprintf(stderr, "nats: publish: %s\n", natsStatus_GetText(s));
		return -EIO;
	}
	return 0;
}

static int nats_receive(struct peer *p, void *buf, size_t cap, int timeout_ms)
{
	natsMsg *msg = NULL;
	natsStatus s = natsSubscription_NextMsg(&msg, p->sub, timeout_ms);
	int len;

	if (s == NATS_TIMEOUT && timeout_ms == 0)
		return 0;
	if (s == NATS_TIMEOUT)
		return 0;
	if (s != NATS_OK) {
		fprintf(stderr, "nats: receive: %s\n", natsStatus_GetText(s));
		return -EIO;
	}
	len = natsMsg_GetDataLength(msg);
	if ((size_t)len > cap)
		len = (int)cap;
	memcpy(buf, natsMsg_GetData(msg), (size_t)len);
	natsMsg_Destroy(msg);
	return len;
}

/*
 * The subscription's queue without waiting (NextMsg with timeout 0). Only
 * this thread spins: libnats reads the socket on a thread of its own, which
 * still sleeps in poll() and is woken by the kernel.
 */
static int nats_try_receive(struct peer *p, void *buf, size_t cap)
{
	return nats_receive(p, buf, cap, 0);
}

const struct peer_ops peer_nats = {
	.name = "nats",
	.default_port = 4222,
	.open = nats_open,
	.publish = nats_publish,
	.receive = nats_receive,
	.try_receive = nats_try_receive,
	.close = nats_close,
	.open_pub = nats_open_pub,
	.open_sub = nats_open_sub,
	.fd = nats_fd,
	.drain = nats_drain,
};
