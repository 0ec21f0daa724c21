/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Herald through libherald, behind the same calls as the peers, for the
 * fan-out bench (herald-pingpong measures Herald's round trip itself). The
 * topic names the context (an FNV-1a hash of it, or the number itself for a
 * topic of digits: a context the node was given a policy for); each message
 * is published under one of KEYS keys in turn.
 *
 * Two more systems for the conflation cases (herald_fan_setup()):
 * "herald-replace" and "herald-none" subscribe with a credit window and
 * auto-resync, "herald-none" as an ordered (`none`) subscription; their
 * subscribers also count snapshot entries, gaps, and how many deliveries
 * were still their key's newest version when they arrived (the publisher
 * is in the same process and thread, so that is known exactly).
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
	bool synced, conflation;
	uint64_t *count; /* subscriber: deliveries */
};

static int fan_credits;
static uint64_t latest[KEYS];	     /* the newest counter published under each key */
static struct herald_fan_stats stats; /* of the conflation systems' subscribers */

void herald_fan_setup(int credits)
{
	fan_credits = credits;
}

void herald_fan_stats_take(struct herald_fan_stats *out)
{
	*out = stats;
	memset(&stats, 0, sizeof(stats));
}

static uint32_t context_of(const char *topic)
{
	uint32_t h = 2166136261u;
	const char *t;

	for (t = topic; *t >= '0' && *t <= '9'; t++)
		;
	if (*topic && *t == '\0' && t - topic < 10)
		return (uint32_t)strtoul(topic, NULL, 10);
	for (; *topic; topic++)
		h = (h ^ (uint8_t)*topic) * 16777619u;
	return h ? h : 1;
}

/* The key ordinal of a key this file published ("%02u"), or KEYS. */
static unsigned key_ordinal(const struct herald_entry *e)
{
	const char *k = e->key;

	if (e->key_len != 2 || k[0] < '0' || k[0] > '9' || k[1] < '0' || k[1] > '9')
		return KEYS;
	return (unsigned)((k[0] - '0') * 10 + k[1] - '0');
}

static void on_delta(void *user, const struct herald_entry *e)
{
	struct peer *p = user;
	unsigned k = key_ordinal(e);
	uint64_t v;

	if (e->context != p->context || p->count == NULL)
		return;
	(*p->count)++;
	if (!p->conflation || k >= KEYS || e->value_len < sizeof(v))
		return;
	memcpy(&v, e->value, sizeof(v));
	stats.current += v == latest[k];
}

static void on_snapshot(void *user, const struct herald_entry *e)
{
	struct peer *p = user;

	if (e->context == p->context && p->conflation && p->synced)
		stats.snapshot++;
}

static void on_gap(void *user, uint32_t context, uint64_t expected, uint64_t next)
{
	struct peer *p = user;

	(void)expected;
	(void)next;
	if (context == p->context && p->conflation)
		stats.gaps++;
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
	struct peer *p = user;

	/* A `none` subscriber that fell behind the history: the case being measured. */
	if (p->conflation && code == HERALD_ERR_HISTORY_LOST) {
		stats.cuts++;
		return;
	}
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

static struct peer *herald_client(const char *ip, uint16_t port, const char *topic, uint64_t *count,
				  bool conflation)
{
	struct herald_client_opts o = {.node = ip, .port = port, .max_subscriptions = 1,
				       .rcvbuf = 4 << 20};
	struct herald_callbacks cb = {.on_delta = on_delta, .on_snapshot_end = on_snapshot_end,
				      .on_error = on_error, .on_snapshot = on_snapshot,
				      .on_gap = on_gap};
	struct peer *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->context = context_of(topic);
	p->count = count;
	p->conflation = conflation;
	if (conflation && count) {
		o.credits = fan_credits > 0;
		o.budget = fan_credits > 0 ? (uint32_t)fan_credits : 0;
		o.auto_resync = 1;
	}
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
	return herald_client(ip, port, topic, NULL, false);
}

static struct peer *sub_open(const char *ip, uint16_t port, const char *topic, int timeout_ms,
			     uint64_t *count, bool conflation, bool ordered)
{
	struct peer *p = herald_client(ip, port, topic, count, conflation);
	int waited = 0;

	if (p == NULL)
		return NULL;
	if (herald_subscribe_ex(p->c, p->context, ordered ? HERALD_SUB_ORDERED : 0) < 0) {
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

static struct peer *herald_open_sub(const char *ip, uint16_t port, const char *topic,
				    int timeout_ms, uint64_t *count)
{
	return sub_open(ip, port, topic, timeout_ms, count, false, false);
}

static struct peer *replace_open_sub(const char *ip, uint16_t port, const char *topic,
				     int timeout_ms, uint64_t *count)
{
	return sub_open(ip, port, topic, timeout_ms, count, true, false);
}

static struct peer *none_open_sub(const char *ip, uint16_t port, const char *topic,
				  int timeout_ms, uint64_t *count)
{
	return sub_open(ip, port, topic, timeout_ms, count, true, true);
}

static int herald_pub(struct peer *p, const void *buf, size_t len)
{
	unsigned k = p->next_key++ % KEYS;
	char key[4];

	snprintf(key, sizeof(key), "%02u", k);
	if (len >= sizeof(latest[k]))
		memcpy(&latest[k], buf, sizeof(latest[k]));
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

#define HERALD_OPS(NAME, OPEN_SUB)                                                              \
	{                                                                                        \
		.name = NAME, .default_port = HERALD_UDP_PORT_BASE, .publish = herald_pub,       \
		.settle = herald_drain, .close = herald_close, .open_pub = herald_open_pub,      \
		.open_sub = OPEN_SUB, .fd = herald_fd, .drain = herald_drain,                    \
	}

const struct peer_ops peer_herald = HERALD_OPS("herald", herald_open_sub);
const struct peer_ops peer_herald_replace = HERALD_OPS("herald-replace", replace_open_sub);
const struct peer_ops peer_herald_none = HERALD_OPS("herald-none", none_open_sub);
