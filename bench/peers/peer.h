/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One pub/sub system that users pick instead of Herald ("a peer"), behind
 * the few calls herald-peer-pingpong needs. Each backend is one file
 * (redis.c, nats.c, mqtt.c) built only when its Debian client library is
 * installed; each opens one client that is subscribed to @p topic and
 * publishes to it, so a round trip is publish -> server -> delivery back to
 * the same client, like PUBLISH -> dataplane -> DELTA in herald-pingpong.
 */
#ifndef HERALD_BENCH_PEER_H
#define HERALD_BENCH_PEER_H

#include <stddef.h>
#include <stdint.h>

struct peer;

struct peer_ops {
	const char *name;
	uint16_t default_port;
	/*
	 * Connect to @p ip:@p port, subscribe to @p topic and return once the
	 * server has confirmed the subscription (so the first publish is
	 * delivered). Messages print why on failure and return NULL.
	 */
	struct peer *(*open)(const char *ip, uint16_t port, const char *topic, int timeout_ms);
	/* Publish @p len bytes to the topic; the bytes are on the wire when it returns. */
	int (*publish)(struct peer *p, const void *buf, size_t len);
	/*
	 * Wait up to @p timeout_ms for the next delivery on the topic; copy up to
	 * @p cap bytes of it to @p buf. @return its length, 0 on timeout, < 0 on error.
	 */
	int (*receive)(struct peer *p, void *buf, size_t cap, int timeout_ms);
	/*
	 * The same without blocking, for a busy-polling client: the next
	 * delivery if it has arrived (its length), 0 if not yet, < 0 on error.
	 */
	int (*try_receive)(struct peer *p, void *buf, size_t cap);
	/* Optional, outside the timed section: read what the publish left (e.g. a reply). */
	int (*settle)(struct peer *p);
	void (*close)(struct peer *p);

	/* Fan-out (herald-peer-fanout); NULL where a system does not do it. */
	/* A client that only publishes: publish(), settle() and close() apply. */
	struct peer *(*open_pub)(const char *ip, uint16_t port, const char *topic, int timeout_ms);
	/*
	 * A client that only receives: subscribed to @p topic once it returns,
	 * it adds each delivery to *@p count (atomically where the library
	 * delivers on threads of its own).
	 */
	struct peer *(*open_sub)(const char *ip, uint16_t port, const char *topic, int timeout_ms,
				 uint64_t *count);
	/* The socket to wait on before drain(), or -1: the library reads on its own threads. */
	int (*fd)(struct peer *p);
	/* Handle what has arrived, without blocking. */
	int (*drain)(struct peer *p);
};

/* Herald itself, through libherald, so the fan-out bench treats all systems alike. */
extern const struct peer_ops peer_herald;
/*
 * The conflation cases of herald-peer-fanout: subscribers with a credit
 * window (herald_fan_setup()) on a context of policy `replace`, or ordered
 * on a `none` context; the topic is the context's number.
 */
extern const struct peer_ops peer_herald_replace, peer_herald_none;
/* What the conflation systems' subscribers received besides deliveries. */
struct herald_fan_stats {
	uint64_t current;  /* deliveries that were their key's newest version on arrival */
	uint64_t snapshot; /* snapshot entries after the first snapshot (resyncs) */
	uint64_t gaps;	   /* on_gap: messages lost or a session cut */
	uint64_t cuts;	   /* ERROR HISTORY_LOST (`none`: fell behind the history) */
};
/* Credit window of the conflation systems' subscribers (0: none, unlimited). */
void herald_fan_setup(int credits);
/* The counts since the last call, and reset them. */
void herald_fan_stats_take(struct herald_fan_stats *out);
#ifdef HAVE_PEER_REDIS
extern const struct peer_ops peer_redis;
#endif
#ifdef HAVE_PEER_NATS
extern const struct peer_ops peer_nats;
#endif
#ifdef HAVE_PEER_MQTT
extern const struct peer_ops peer_mqtt;
#endif

/* The peers this build has a client library for, NULL-terminated. */
static const struct peer_ops *const peers_built_in[] = {
#ifdef HAVE_PEER_REDIS
	&peer_redis,
#endif
#ifdef HAVE_PEER_NATS
	&peer_nats,
#endif
#ifdef HAVE_PEER_MQTT
	&peer_mqtt,
#endif
	NULL,
};

#endif /* HERALD_BENCH_PEER_H */
