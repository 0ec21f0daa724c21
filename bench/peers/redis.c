/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Redis pub/sub through hiredis. A connection in subscribe mode cannot
 * PUBLISH, so the client holds two: one SUBSCRIBEd, one that publishes.
 * PUBLISH is written without waiting for its reply (the receiver count);
 * the reply is read in settle(), after the delivery has been timed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "peer.h"

struct peer {
	redisContext *pub, *sub;
	char topic[64];
	unsigned pending; /* PUBLISH replies not read yet */
	uint64_t *count;  /* fan-out subscriber: deliveries */
};

static redisContext *connect_to(const char *ip, uint16_t port, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(ip, port, tv);

	if (c == NULL || c->err) {
		fprintf(stderr, "redis: connect %s:%u: %s\n", ip, port, c ? c->errstr : "no memory");
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		fprintf(stderr, "redis: timeout: %s\n", c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

static void redis_close(struct peer *p)
{
	if (p == NULL)
		return;
	redisFree(p->pub);
	redisFree(p->sub);
	free(p);
}

/* A client with a publishing connection (@p pub) and/or a subscribed one (@p sub). */
static struct peer *redis_client(const char *ip, uint16_t port, const char *topic, int timeout_ms,
				 bool pub, bool sub)
{
	struct peer *p = calloc(1, sizeof(*p));
	redisReply *r;

	if (p == NULL || strlen(topic) >= sizeof(p->topic)) {
		free(p);
		return NULL;
	}
	strcpy(p->topic, topic);
	if (pub && (p->pub = connect_to(ip, port, timeout_ms)) == NULL) {
		redis_close(p);
		return NULL;
	}
	if (!sub)
		return p;
	p->sub = connect_to(ip, port, timeout_ms);
	if (p->sub == NULL) {
		redis_close(p);
		return NULL;
	}
	/* The reply to SUBSCRIBE is the server's confirmation. */
	r = redisCommand(p->sub, "SUBSCRIBE %s", topic);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		fprintf(stderr, "redis: SUBSCRIBE %s: %s\n", topic, r ? "unexpected reply" : p->sub->errstr);
		if (r)
			freeReplyObject(r);
		redis_close(p);
		return NULL;
	}
	freeReplyObject(r);
	return p;
}

static struct peer *redis_open(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return redis_client(ip, port, topic, timeout_ms, true, true);
}

static struct peer *redis_open_pub(const char *ip, uint16_t port, const char *topic, int timeout_ms)
{
	return redis_client(ip, port, topic, timeout_ms, true, false);
}

static struct peer *redis_open_sub(const char *ip, uint16_t port, const char *topic,
				   int timeout_ms, uint64_t *count)
{
	struct peer *p = redis_client(ip, port, topic, timeout_ms, false, true);

	if (p)
		p->count = count;
	return p;
}

static int redis_fd(struct peer *p)
{
	return p->sub->fd;
}

/* One read (the socket is readable), then every complete message in the buffer. */
static int redis_drain(struct peer *p)
{
	void *r = NULL;

	if (redisBufferRead(p->sub) != REDIS_OK) {
		fprintf(stderr, "redis: read: %s\n", p->sub->errstr);
		return -EIO;
	}
	for (;;) {
		if (redisGetReplyFromReader(p->sub, &r) != REDIS_OK)
			return -EPROTO;
		if (r == NULL)
			return 0;
		freeReplyObject(r);
		(*p->count)++;
	}
}

static int redis_publish(struct peer *p, const void *buf, size_t len)
{
	int done = 0;

	if (redisAppendCommand(p->pub, "PUBLISH %s %b", p->topic, buf, len) != REDIS_OK)
		return -ENOMEM;
	while (!done)
		if (redisBufferWrite(p->pub, &done) != REDIS_OK) {
			fprintf(stderr, "redis: PUBLISH: %s\n", p->pub->errstr);
			return -EIO;
		}
	p->pending++;
	return 0;
}

/* A pub/sub message's payload into @p buf; frees @p r. */
static int payload_of(redisReply *r, void *buf, size_t cap)
{
	redisReply *payload;
	int len;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[2]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		return -EPROTO;
	}
	payload = r->element[2];
	len = (int)(payload->len < cap ? payload->len : cap);
	memcpy(buf, payload->str, (size_t)len);
	freeReplyObject(r);
	return len;
}

static int redis_receive(struct peer *p, void *buf, size_t cap, int timeout_ms)
{
	redisReply *r = NULL;

	/*
	 * The socket timeout set at open() applies; after it hiredis gives the
	 * connection up, so a timeout is an error here, not a lost round trip.
	 */
	(void)timeout_ms;
	if (redisGetReply(p->sub, (void **)&r) != REDIS_OK) {
		fprintf(stderr, "redis: receive: %s\n", p->sub->errstr);
		return -EIO;
	}
	return payload_of(r, buf, cap);
}

/*
 * The context is blocking (its reads would sleep): read the socket here
 * with MSG_DONTWAIT and feed hiredis's reply parser.
 */
static int redis_try_receive(struct peer *p, void *buf, size_t cap)
{
	char in[16384];
	void *r = NULL;
	ssize_t n;

	if (redisReaderGetReply(p->sub->reader, &r) != REDIS_OK)
		return -EPROTO;
	if (r)
		return payload_of(r, buf, cap);
	n = recv(p->sub->fd, in, sizeof(in), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		fprintf(stderr, "redis: receive: %s\n", n ? strerror(errno) : "connection closed");
		return -EIO;
	}
	if (redisReaderFeed(p->sub->reader, in, (size_t)n) != REDIS_OK ||
	    redisReaderGetReply(p->sub->reader, &r) != REDIS_OK)
		return -EPROTO;
	return r ? payload_of(r, buf, cap) : 0;
}

static int redis_settle(struct peer *p)
{
	while (p->pending) {
		redisReply *r = NULL;

		if (redisGetReply(p->pub, (void **)&r) != REDIS_OK) {
			fprintf(stderr, "redis: PUBLISH reply: %s\n", p->pub->errstr);
			return -EIO;
		}
		freeReplyObject(r);
		p->pending--;
	}
	return 0;
}

const struct peer_ops peer_redis = {
	.name = "redis",
	.default_port = 6379,
	.open = redis_open,
	.publish = redis_publish,
	.receive = redis_receive,
	.try_receive = redis_try_receive,
	.settle = redis_settle,
	.close = redis_close,
	.open_pub = redis_open_pub,
	.open_sub = redis_open_sub,
	.fd = redis_fd,
	.drain = redis_drain,
};
