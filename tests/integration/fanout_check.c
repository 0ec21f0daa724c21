/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-fanout-check: end-to-end correctness of fan-out through a node.
 * Many subscribers (one socket each, all polled from one thread) and one
 * publisher; halfway through, a late joiner's snapshot must equal the
 * publisher's state byte for byte, and at the end every subscriber must hold
 * exactly the publisher's final value of every key. A subscriber that sees a
 * gap resyncs (a fresh snapshot), as a real client would; resyncs are counted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <herald/client.h>

#include "check_util.h"

#define SUBS_MAX 1000
#define KEYS_MAX 500
/* Every update_len() is at most BIG_LEN; slots hold a little more to see overruns. */
#define BIG_LEN 2000
#define VAL_CAP 2048
#define RCVBUF (4 << 20)
#define SNAPSHOT_WAIT_MS 10000
#define QUIESCE_WAIT_MS 10000
#define BATCH_WAIT_MS 1000
#define MISMATCH_PRINT_MAX 20

struct value {
	bool present;
	bool overrun; /* the node sent more bytes than any update had */
	uint16_t len;
	uint8_t *buf;
};

struct subscriber {
	struct herald_client *c;
	unsigned id;
	uint32_t context;
	bool snap_done;
	uint64_t max_n;      /* highest update number seen, from deltas or snapshots */
	unsigned gaps;
	unsigned foreign;    /* entries whose key is not one this test publishes */
	unsigned timeouts;
	unsigned errors;
	struct value *vals;
};

struct opts {
	const char *node;
	unsigned subscribers;
	unsigned updates;
	unsigned keys;
	unsigned batch;
	int rcvbuf;
	uint32_t context;
	unsigned queues, queue; /* the node's queue count, and the queue to test (--queue) */
	bool context_given, queue_given;
	char node_buf[64];      /* IP:PORT of the context's queue */
};

static struct subscriber *subs;
static unsigned nsubs; /* opened so far, joiner included */
static struct value *pub_vals;
static uint8_t *val_pool;
static unsigned nkeys;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-fanout-check --node IP[:PORT] [options]\n"
		"  --subscribers N   subscriber clients (default 100, max %d)\n"
		"  --updates N       updates to publish (default 10000)\n"
		"  --keys N          distinct keys (default 50, max %d)\n"
		"  --batch N         updates per burst before subscribers drain (default 100)\n"
		"  --rcvbuf BYTES    subscriber socket buffer (default 4 MiB; a small one\n"
		"                    provokes drops, to exercise gap detection and resync)\n"
		"  --context ID      context id (default: random, so no old state is in it)\n"
		"  --queues N        the node runs N queues: talk to the context's queue port,\n"
		"                    PORT + herald_queue_of(context, N) (default 1)\n"
		"  --queue Q         with --queues: a random context that queue Q owns\n",
		SUBS_MAX, KEYS_MAX);
}

/*
 * Several queues: the context's queue port, as a REDIRECT would name it. With
 * --queue, draw contexts until one belongs to that queue.
 */
static int queue_pick(struct opts *o)
{
	struct sockaddr_in sa;
	char ip[INET_ADDRSTRLEN];

	if (o->queues == 0)
		o->queues = 1;
	if (o->queue_given && o->queue >= o->queues) {
		fprintf(stderr, "herald-fanout-check: --queue %u: the node has queues 0..%u\n", o->queue,
			o->queues - 1);
		return -EINVAL;
	}
	if (o->queue_given && o->context_given && herald_queue_of(o->context, (uint16_t)o->queues) != o->queue) {
		fprintf(stderr, "herald-fanout-check: context %" PRIu32 " belongs to queue %u, not %u\n",
			o->context, herald_queue_of(o->context, (uint16_t)o->queues), o->queue);
		return -EINVAL;
	}
	while (o->queue_given && herald_queue_of(o->context, (uint16_t)o->queues) != o->queue)
		o->context = o->context * 2654435761u + 1;
	o->queue = herald_queue_of(o->context, (uint16_t)o->queues);
	herald_addr_parse(o->node, HERALD_UDP_PORT_BASE, &sa);
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	snprintf(o->node_buf, sizeof(o->node_buf), "%s:%u", ip, ntohs(sa.sin_port) + o->queue);
	o->node = o->node_buf;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"subscribers", required_argument, NULL, 's'},
		{"updates", required_argument, NULL, 'u'},
		{"keys", required_argument, NULL, 'k'},
		{"batch", required_argument, NULL, 'b'},
		{"context", required_argument, NULL, 'x'},
		{"rcvbuf", required_argument, NULL, 'r'},
		{"queues", required_argument, NULL, 'Q'},
		{"queue", required_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sockaddr_in sa;
	unsigned long v;
	int opt;

	memset(o, 0, sizeof(*o));
	o->subscribers = 100;
	o->updates = 10000;
	o->keys = 50;
	o->batch = 100;
	o->rcvbuf = RCVBUF;
	o->context = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16)) | 1;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *what = NULL;

		switch (opt) {
		case 'n':
			if (herald_addr_parse(optarg, HERALD_UDP_PORT_BASE, &sa) < 0)
				what = "IPv4[:PORT]";
			o->node = optarg;
			break;
		case 's':
			if (parse_uint(optarg, 1, SUBS_MAX, &v) < 0)
				what = "1..1000 subscribers";
			o->subscribers = (unsigned)v;
			break;
		case 'u':
			if (parse_uint(optarg, 2, 100000000, &v) < 0)
				what = "at least 2 updates";
			o->updates = (unsigned)v;
			break;
		case 'k':
			if (parse_uint(optarg, 1, KEYS_MAX, &v) < 0)
				what = "1..500 keys";
			o->keys = (unsigned)v;
			break;
		case 'b':
			if (parse_uint(optarg, 1, 100000, &v) < 0)
				what = "1..100000 updates per batch";
			o->batch = (unsigned)v;
			break;
		case 'r':
			if (parse_uint(optarg, 4096, 1 << 30, &v) < 0)
				what = "4096..1073741824 bytes";
			o->rcvbuf = (int)v;
			break;
		case 'x':
			if (parse_uint(optarg, 0, UINT32_MAX, &v) < 0)
				what = "a 32-bit unsigned context id";
			o->context = (uint32_t)v;
			o->context_given = true;
			break;
		case 'Q':
			if (parse_uint(optarg, 1, HERALD_QUEUES_MAX, &v) < 0)
				what = "1..64 queues";
			o->queues = (unsigned)v;
			break;
		case 'q':
			if (parse_uint(optarg, 0, HERALD_QUEUES_MAX - 1, &v) < 0)
				what = "a queue index 0..63";
			o->queue = (unsigned)v;
			o->queue_given = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (what) {
			fprintf(stderr, "herald-fanout-check: bad value '%s': expected %s\n", optarg,
				what);
			return -EINVAL;
		}
	}
	if (optind != argc || o->node == NULL) {
		fprintf(stderr, "herald-fanout-check: --node IP[:PORT] is required\n");
		usage(stderr);
		return -EINVAL;
	}
	return queue_pick(o);
}

/* One update in 50 is a 2000-byte value, so protocol fragments are exercised. */
static unsigned update_len(uint64_t n)
{
	return n % 50 == 49 ? BIG_LEN : 16 + (unsigned)(n * 37 % 200);
}

static unsigned make_value(uint8_t *buf, unsigned key, uint64_t n)
{
	unsigned len = update_len(n);
	int head = snprintf((char *)buf, VAL_CAP, "k%u=v%" PRIu64 ";", key, n);

	for (unsigned i = (unsigned)head; i < len; i++)
		buf[i] = (uint8_t)('a' + (n + i) % 26);
	return len;
}

static int parse_key(const void *key, uint16_t len)
{
	const char *k = key;
	unsigned idx = 0;

	if (len < 2 || len > 4 || k[0] != 'k')
		return -1;
	for (uint16_t i = 1; i < len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return -1;
		idx = idx * 10 + (unsigned)(k[i] - '0');
	}
	return idx < nkeys ? (int)idx : -1;
}

static uint64_t parse_n(const uint8_t *v, uint16_t len)
{
	uint64_t n = 0;
	uint16_t i = 0;

	while (i + 1 < len && !(v[i] == '=' && v[i + 1] == 'v'))
		i++;
	for (i += 2; i < len && v[i] >= '0' && v[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	return n;
}

static void store(struct subscriber *s, const struct herald_entry *e)
{
	int idx = parse_key(e->key, e->key_len);
	struct value *v;

	if (idx < 0) {
		s->foreign++;
		return;
	}
	v = &s->vals[idx];
	v->present = true;
	v->overrun = e->value_len > VAL_CAP;
	v->len = e->value_len;
	if (!v->overrun)
		memcpy(v->buf, e->value, e->value_len);
	uint64_t n = parse_n(e->value, e->value_len);
	if (n > s->max_n)
		s->max_n = n;
}

static void on_snapshot(void *user, const struct herald_entry *e)
{
	store(user, e);
}

static void on_delta(void *user, const struct herald_entry *e)
{
	store(user, e);
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct subscriber *s = user;

	(void)context;
	(void)seq;
	s->snap_done = true;
}

static void on_gap(void *user, uint32_t context, uint64_t expected, uint64_t next)
{
	struct subscriber *s = user;

	(void)context;
	(void)expected;
	(void)next;
	/* The library re-subscribes (auto_resync); herald_client_synced() says when it is whole again. */
	s->gaps++;
}

static void on_timeout(void *user, uint32_t context)
{
	struct subscriber *s = user;

	s->timeouts++;
	fprintf(stderr, "herald-fanout-check: subscriber %u: no traffic on context %" PRIu32
		" (heartbeat timeout)\n", s->id, context);
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	struct subscriber *s = user;

	s->errors++;
	fprintf(stderr, "herald-fanout-check: %s %u: ERROR %u on context %" PRIu32 ": %.*s\n",
		s->id == UINT32_MAX ? "publisher" : "subscriber", s->id, code, context, (int)len,
		text);
}

static struct herald_client *client_open(const struct opts *o, struct subscriber *s)
{
	struct herald_client_opts co = {
		.node = o->node,
		.max_subscriptions = 1,
		.auto_resync = 1,
		.rcvbuf = o->rcvbuf,
	};
	struct herald_callbacks cb = {
		.on_snapshot = on_snapshot,
		.on_snapshot_end = on_snapshot_end,
		.on_delta = on_delta,
		.on_gap = on_gap,
		.on_timeout = on_timeout,
		.on_error = on_error,
		.user = s,
	};

	return herald_client_open(&co, &cb);
}

/* One round of the event loop over every subscriber and the publisher. */
static int pump(struct herald_client *pub, int max_wait_ms)
{
	static struct herald_client *cl[SUBS_MAX + 2];

	for (unsigned i = 0; i < nsubs; i++)
		cl[i] = subs[i].c;
	cl[nsubs] = pub;
	return clients_pump(cl, nsubs + 1, max_wait_ms);
}

static bool caught_up(uint64_t last_n)
{
	for (unsigned i = 0; i < nsubs; i++)
		if (!subs[i].snap_done || herald_client_synced(subs[i].c, subs[i].context) != 1 ||
		    subs[i].max_n < last_n)
			return false;
	return true;
}

static bool all_snapshots(void)
{
	for (unsigned i = 0; i < nsubs; i++)
		if (!subs[i].snap_done)
			return false;
	return true;
}

static int wait_until(struct herald_client *pub, uint64_t last_n,
		      bool snapshots_only, int limit_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)limit_ms * 1000000ull;

	while (!(snapshots_only ? all_snapshots() : caught_up(last_n))) {
		uint64_t t = now_ns();

		if (t >= deadline)
			return -ETIMEDOUT;
		if (pump(pub, (int)((deadline - t) / 1000000ull) + 1) < 0)
			return -EIO;
	}
	return 0;
}

/* Compare one subscriber with the publisher's state; print at most *budget differences. */
static unsigned compare(const struct subscriber *s, const char *who, unsigned *budget)
{
	unsigned bad = 0;

	if (s->foreign) {
		bad++;
		if (*budget && (*budget)--)
			printf("  %s %u: %u entries with keys this test never published\n", who,
			       s->id, s->foreign);
	}
	for (unsigned k = 0; k < nkeys; k++) {
		const struct value *want = &pub_vals[k], *got = &s->vals[k];

		if (want->present == got->present && !got->overrun &&
		    (!want->present ||
		     (want->len == got->len && memcmp(want->buf, got->buf, want->len) == 0)))
			continue;
		bad++;
		if (*budget && (*budget)--)
			printf("  %s %u key k%u: want %s%.*s (%u B), got %s%.*s (%u B)%s\n", who,
			       s->id, k, want->present ? "" : "<absent>",
			       want->present ? 24 : 0, (const char *)want->buf, want->len,
			       got->present ? "" : "<absent>",
			       got->present && !got->overrun ? 24 : 0, (const char *)got->buf,
			       got->len, got->overrun ? " overrun" : "");
	}
	return bad;
}

static int publish_range(struct herald_client *pub, const struct opts *o, uint64_t from, uint64_t to, unsigned *slow_batches)
{
	static uint8_t buf[VAL_CAP];

	for (uint64_t n = from; n <= to;) {
		uint64_t end = n + o->batch - 1 < to ? n + o->batch - 1 : to;

		for (; n <= end; n++) {
			unsigned key = (unsigned)(n % nkeys);
			unsigned len = make_value(buf, key, n);
			char kname[8];
			int kl = snprintf(kname, sizeof(kname), "k%u", key);
			int r = herald_publish(pub, o->context, kname, (size_t)kl, buf, len);

			if (r < 0) {
				fprintf(stderr, "herald-fanout-check: publish %" PRIu64 ": %s\n", n,
					strerror(-r));
				return r;
			}
			memcpy(pub_vals[key].buf, buf, len);
			pub_vals[key].len = (uint16_t)len;
			pub_vals[key].present = true;
		}
		/* Pacing: let every subscriber drain this burst before the next one. */
		if (wait_until(pub, end, false, BATCH_WAIT_MS) == -ETIMEDOUT)
			(*slow_batches)++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct subscriber pub_s = {.id = UINT32_MAX};
	struct herald_client *pub = NULL;
	struct herald_client_stats st;
	unsigned slow = 0, budget = MISMATCH_PRINT_MAX, ok = 0, joiner_bad = 0;
	uint64_t gaps = 0, deltas = 0, resyncs = 0, drops = 0, t0, half;
	struct opts o;
	int ret = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	/* Progress goes to stderr; keep stdout in order with it when both are logged. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	nkeys = o.keys;
	raise_nofile(o.subscribers + 64);

	subs = calloc(o.subscribers + 1, sizeof(*subs));
	pub_vals = calloc(nkeys, sizeof(*pub_vals));
	val_pool = calloc((size_t)(o.subscribers + 2) * nkeys, VAL_CAP);
	if (subs == NULL || pub_vals == NULL || val_pool == NULL) {
		fprintf(stderr, "herald-fanout-check: out of memory\n");
		goto out_free;
	}
	for (unsigned k = 0; k < nkeys; k++)
		pub_vals[k].buf = val_pool + (size_t)k * VAL_CAP;
	for (unsigned i = 0; i <= o.subscribers; i++) {
		subs[i].vals = calloc(nkeys, sizeof(struct value));
		if (subs[i].vals == NULL)
			goto out_free;
		for (unsigned k = 0; k < nkeys; k++)
			subs[i].vals[k].buf = val_pool + ((size_t)(i + 1) * nkeys + k) * VAL_CAP;
	}

	printf("herald-fanout-check: node %s context %" PRIu32 " (queue %u of %u): %u subscribers, "
	       "%u updates over %u keys\n", o.node, o.context, o.queue, o.queues, o.subscribers,
	       o.updates, nkeys);
	t0 = now_ns();

	pub = client_open(&o, &pub_s);
	if (pub == NULL) {
		fprintf(stderr, "herald-fanout-check: publisher client: %s\n", strerror(errno));
		goto out_free;
	}
	for (unsigned i = 0; i < o.subscribers; i++) {
		int r;

		subs[i].id = i;
		subs[i].context = o.context;
		subs[i].c = client_open(&o, &subs[i]);
		if (subs[i].c == NULL) {
			fprintf(stderr, "herald-fanout-check: subscriber %u: %s\n", i, strerror(errno));
			goto out_close;
		}
		nsubs++;
		r = herald_subscribe(subs[i].c, o.context);
		if (r < 0) {
			fprintf(stderr, "herald-fanout-check: subscribe %u: %s\n", i, strerror(-r));
			goto out_close;
		}
	}
	if (wait_until(pub, 0, true, SNAPSHOT_WAIT_MS) < 0) {
		unsigned done = 0;

		for (unsigned i = 0; i < nsubs; i++)
			done += subs[i].snap_done;
		fprintf(stderr, "herald-fanout-check: only %u/%u snapshots within %d ms\n", done,
			nsubs, SNAPSHOT_WAIT_MS);
		goto out_close;
	}
	fprintf(stderr, "all %u snapshots received after %.1f ms\n", nsubs,
		(double)(now_ns() - t0) / 1e6);

	half = o.updates / 2;
	if (publish_range(pub, &o, 1, half, &slow) < 0)
		goto out_close;
	if (wait_until(pub, half, false, QUIESCE_WAIT_MS) < 0)
		fprintf(stderr, "herald-fanout-check: not quiescent %d ms after update %" PRIu64 "\n",
			QUIESCE_WAIT_MS, half);
	fprintf(stderr, "%" PRIu64 " updates published, subscribers caught up; joining a new subscriber\n",
		half);

	/* The late joiner's snapshot is the node's whole state: it must match exactly. */
	subs[nsubs].id = nsubs;
	subs[nsubs].context = o.context;
	subs[nsubs].c = client_open(&o, &subs[nsubs]);
	if (subs[nsubs].c == NULL) {
		fprintf(stderr, "herald-fanout-check: joiner: %s\n", strerror(errno));
		goto out_close;
	}
	nsubs++;
	if (herald_subscribe(subs[nsubs - 1].c, o.context) < 0 ||
	    wait_until(pub, 0, true, SNAPSHOT_WAIT_MS) < 0) {
		fprintf(stderr, "herald-fanout-check: joiner got no snapshot\n");
		goto out_close;
	}
	/* A snapshot that lost an entry is repaired by a resync; compare the repaired one. */
	for (uint64_t end = now_ns() + SNAPSHOT_WAIT_MS * 1000000ull;
	     herald_client_synced(subs[nsubs - 1].c, o.context) != 1 && now_ns() < end;)
		pump(pub, 10);
	if (herald_client_synced(subs[nsubs - 1].c, o.context) != 1)
		fprintf(stderr, "herald-fanout-check: joiner has no gap-free snapshot within %d ms\n",
			SNAPSHOT_WAIT_MS);
	joiner_bad = compare(&subs[nsubs - 1], "joiner snapshot", &budget);
	printf("joiner snapshot: %s (%u differences)\n", joiner_bad ? "MISMATCH" : "ok",
	       joiner_bad);

	if (publish_range(pub, &o, half + 1, o.updates, &slow) < 0)
		goto out_close;
	if (wait_until(pub, o.updates, false, QUIESCE_WAIT_MS) < 0)
		fprintf(stderr, "herald-fanout-check: not quiescent %d ms after the last update\n",
			QUIESCE_WAIT_MS);

	for (unsigned i = 0; i < nsubs; i++) {
		const char *who = i == nsubs - 1 ? "joiner" : "subscriber";

		ok += compare(&subs[i], who, &budget) == 0;
		herald_client_stats(subs[i].c, &st);
		gaps += st.gaps;
		deltas += st.deltas;
		resyncs += st.resyncs;
		for (unsigned r = 1; r < HERALD_DROP_MAX; r++)
			drops += st.drops[r];
	}
	printf("subscribers ok: %u/%u (joiner included)\n", ok, nsubs);
	printf("gaps: %" PRIu64 ", resyncs: %" PRIu64 ", deliveries: %" PRIu64
	       ", malformed dropped: %" PRIu64 ", slow batches: %u\n",
	       gaps, resyncs, deltas, drops, slow);
	printf("elapsed: %.3f s\n", (double)(now_ns() - t0) / 1e9);
	ret = ok == nsubs && joiner_bad == 0 ? 0 : 1;
	printf("%s\n", ret == 0 ? "PASS" : "FAIL");

out_close:
	for (unsigned i = 0; i < nsubs; i++) {
		herald_unsubscribe(subs[i].c, o.context);
		herald_client_close(subs[i].c);
	}
	herald_client_close(pub);
out_free:
	if (subs)
		for (unsigned i = 0; i <= o.subscribers; i++)
			free(subs[i].vals);
	free(subs);
	free(pub_vals);
	free(val_pool);
	return ret;
}
