/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-failover-check: clients and a publisher through a seed list while
 * one node dies (tests/integration/failover.sh, issue 5).
 *
 * N subscribers (one libherald client each, all in this thread) on M
 * contexts, and one publisher that publishes continuously to every context,
 * all of them finding the context's node by HELLO/REDIRECT through --seeds.
 * Once every subscriber is live, the node --victim (a dataplane address) is
 * killed: this process sends SIGKILL to the --kill pids itself, so the kill
 * time is exact. It then reports:
 *   - per subscriber of a context that lived on the victim, the time from
 *     the kill until it received a DELTA from another node (p50, p99, max);
 *   - HELLOs sent by the subscribers in 100 ms buckets after the kill (the
 *     reconnect rate), its mean over the buckets from the first to the last
 *     reconnect, and whether a bucket exceeds twice the mean;
 *   - which contexts changed node (only the victim's may);
 *   - the replica relay: every context's replica copy (the status files
 *     name the replica, --dataplanes its address) is watched by an observer
 *     subscribed on the replica's dataplane. Keys k2 and k3 ("cold") and the
 *     --merge-contexts (merge:add, one +1 per publish) are written only
 *     until a second before the kill, so after the failover the promoted
 *     replica is the only place their values can come from. Printed: relay
 *     lag (publish -> the replica copy fans the value out) beside the
 *     primary's own delivery lag, and that every copy holds the cold state
 *     and the merged sums before the kill;
 *   - per subscriber of a moved context, the time from the kill until it
 *     holds the cold state from its new node (p50, p99, max);
 *   - whether every subscriber ends with the publisher's final state without
 *     a republish (the stream goes on through the failover and stops; the
 *     cold keys and sums come from the relay). Only if some did not does
 *     the publisher republish its state, as a reported fallback; the check
 *     fails when a subscriber of a moved context whose replica was alive
 *     needed it.
 * Times are printed, never asserted beyond liveness bounds.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>
#include <herald/client.h>

#include "check_util.h"

#define KEYS 4
#define HOT_KEYS 2 /* k0, k1: the stream; k2, k3: cold, written until a second before the kill */
#define MERGE_MAX 16
#define MERGE_BASE 9000
#define MERGE_EVERY 8 /* one merge add per this many stream publishes */
#define PUB_RING 65536
#define LAG_MAX 200000
#define RELAY_WAIT_MS 20000
#define COLD_SETTLE_MS 1000
#define NO_REPUBLISH_MS 5000
#define VAL_MAX 32
#define BUCKET_MS 100
#define BUCKETS 600
#define LIVE_WAIT_MS 30000
#define MOVE_WAIT_MS 30000
#define CONVERGE_WAIT_MS 20000
#define REPUBLISH_MS 500

struct sub {
	struct herald_client *c;
	uint32_t context;
	int ci;              /* index into the contexts (regular first, then merge) */
	bool observer;       /* subscribed on the context's replica copy */
	bool live;           /* got a snapshot end since start */
	bool delta_seen;     /* got a delta since start */
	bool moved;          /* its context was on the victim at the kill */
	int64_t new_primary_ms; /* first DELTA from a node other than the victim after the kill; -1 */
	int64_t new_snap_ms;    /* its snapshot from that node was complete; -1 */
	int64_t cold_ms;        /* holds the cold state from a node other than the victim; -1 */
	uint64_t hellos;     /* stats.hellos at the last look */
	char val[KEYS][VAL_MAX];
	int64_t sum;         /* merge contexts: the merged value */
	bool in_snap;        /* between a snapshot's first entry and its end */
};

static struct {
	const char *seeds;
	unsigned subs, contexts, rate;
	uint32_t base;
	struct in_addr victim;
	pid_t kill[4];
	unsigned nkill;
	const char *status_in, *status_out;
	unsigned merges;
	struct in_addr dp[4];  /* --dataplanes: node id i + 1 */
	unsigned ndp;
	const char *node_status[4];
	unsigned nstatus;
} o = {.subs = 100, .contexts = 20, .rate = 1000, .base = 5000};

static struct sub *subs;  /* o.subs regular subscribers, then one per merge context */
static struct sub *obs;   /* one observer per context, on its replica copy */
static unsigned nsubs, nctx;
static uint64_t t_kill; /* monotonic ns of the kill, 0 before */
static char (*pub_val)[KEYS][VAL_MAX];
static int64_t merge_sum[MERGE_MAX];  /* adds the publisher got out */
static int64_t merge_ref[MERGE_MAX];  /* the primary's sum before the kill (a subscriber's view) */
static bool cold_stopped;
static uint64_t pub_t[PUB_RING];      /* publish time of update n, at n % PUB_RING */
static bool measuring;
static int64_t *lag_relay, *lag_primary; /* us */
static unsigned nlag_relay, nlag_primary;

static uint32_t ctx_id(unsigned ci)
{
	return ci < o.contexts ? o.base + ci : MERGE_BASE + (ci - o.contexts);
}

static uint64_t ms_since(uint64_t t)
{
	return (now_ns() - t) / 1000000;
}

static int key_index(const struct herald_entry *e)
{
	if (e->key_len != 2 || ((const char *)e->key)[0] != 'k')
		return -1;
	int k = ((const char *)e->key)[1] - '0';

	return k >= 0 && k < KEYS ? k : -1;
}

static int64_t be64(const void *p)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return (int64_t)v;
}

static void store(struct sub *s, const struct herald_entry *e)
{
	int k = key_index(e);

	if (e->key_len == 1 && ((const char *)e->key)[0] == 'n' && e->value_len == 8) {
		s->sum = be64(e->value);
		return;
	}
	if (k < 0 || e->value_len >= VAL_MAX)
		return;
	memcpy(s->val[k], e->value, e->value_len);
	s->val[k][e->value_len] = '\0';
}

/* A snapshot replaces the view: what the node does not hold, the view must not keep. */
static void view_clear(struct sub *s)
{
	memset(s->val, 0, sizeof(s->val));
	s->sum = 0;
}

static void on_snapshot(void *u, const struct herald_entry *e)
{
	struct sub *s = u;

	if (!s->in_snap)
		view_clear(s);
	s->in_snap = true;
	store(s, e);
}

/* The cold keys as the publisher last wrote them (merge: the primary's sum before the kill). */
static bool holds_cold(const struct sub *s)
{
	if (s->ci >= (int)o.contexts)
		return merge_ref[s->ci - o.contexts] != 0 && s->sum == merge_ref[s->ci - o.contexts];
	for (unsigned k = HOT_KEYS; k < KEYS; k++)
		if (pub_val[s->ci][k][0] == '\0' || strcmp(s->val[k], pub_val[s->ci][k]) != 0)
			return false;
	return true;
}

/* Served by a node other than the victim since the kill, holding the cold state. */
static void cold_check(struct sub *s)
{
	struct herald_route r;

	if (t_kill != 0 && s->cold_ms < 0 && !s->observer && herald_client_route(s->c, s->context, &r) == 0 &&
	    r.node.sin_addr.s_addr != o.victim.s_addr && holds_cold(s))
		s->cold_ms = (int64_t)ms_since(t_kill);
}

/* Latency of a stream value "cN-COUNTER", from its publish. */
static void lag_note(const struct sub *s, const struct herald_entry *e)
{
	char v[VAL_MAX], *dash;
	uint64_t n, t = now_ns();

	if (!measuring || e->value_len >= VAL_MAX || s->ci >= (int)o.contexts)
		return;
	memcpy(v, e->value, e->value_len);
	v[e->value_len] = '\0';
	if ((dash = strchr(v, '-')) == NULL)
		return;
	n = strtoull(dash + 1, NULL, 10);
	if (pub_t[n % PUB_RING] == 0 || t < pub_t[n % PUB_RING])
		return;
	if (s->observer && nlag_relay < LAG_MAX)
		lag_relay[nlag_relay++] = (int64_t)((t - pub_t[n % PUB_RING]) / 1000);
	else if (!s->observer && nlag_primary < LAG_MAX)
		lag_primary[nlag_primary++] = (int64_t)((t - pub_t[n % PUB_RING]) / 1000);
}

static void on_snapshot_end(void *u, uint32_t ctx, uint64_t seq)
{
	struct sub *s = u;
	struct herald_route r;

	(void)ctx;
	(void)seq;
	if (!s->in_snap)
		view_clear(s); /* an empty snapshot */
	s->in_snap = false;
	s->live = true;
	if (!s->observer && t_kill != 0 && s->new_snap_ms < 0 && herald_client_route(s->c, s->context, &r) == 0 &&
	    r.node.sin_addr.s_addr != o.victim.s_addr)
		s->new_snap_ms = (int64_t)ms_since(t_kill);
	cold_check(s);
}

static void on_delta(void *u, const struct herald_entry *e)
{
	struct sub *s = u;
	struct herald_route r;

	store(s, e);
	lag_note(s, e);
	s->delta_seen = true;
	if (!s->observer && t_kill != 0 && s->new_primary_ms < 0 &&
	    herald_client_route(s->c, s->context, &r) == 0 && r.node.sin_addr.s_addr != o.victim.s_addr)
		s->new_primary_ms = (int64_t)ms_since(t_kill);
	cold_check(s);
}

static struct herald_client **all; /* subscribers, the publisher, then the observers */
static unsigned nall;
static struct herald_client *pub;
static uint64_t pub_counter, pub_next_ns;
static unsigned pub_ctx, pub_merge;
static uint64_t pub_eagain;

static void publish_check(int r)
{
	if (r == -EAGAIN) {
		pub_eagain++;
	} else if (r < 0) {
		fprintf(stderr, "publish: %s\n", strerror(-r));
		exit(1);
	}
}

/* +1 to the next merge context, until the cold keys stop. */
static void merge_add(void)
{
	static const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	unsigned mi = pub_merge++ % o.merges;
	int r = herald_publish(pub, MERGE_BASE + mi, "n", 1, one, sizeof(one));

	if (r == 0)
		merge_sum[mi]++;
	publish_check(r);
}

/* Publish what is due at --rate, round robin over contexts and keys. */
static void publish_due(void)
{
	uint64_t t = now_ns(), step = 1000000000ull / o.rate;
	unsigned burst = 0;

	while (pub_next_ns <= t && burst++ < 64) {
		/* Every context gets every key: the key turns once per round over the contexts. */
		unsigned ci = pub_ctx % o.contexts;
		unsigned k = (pub_ctx++ / o.contexts) % (cold_stopped ? HOT_KEYS : KEYS);
		char key[3] = {'k', (char)('0' + k), 0}, v[VAL_MAX];
		int n = snprintf(v, sizeof(v), "c%u-%" PRIu64, o.base + ci, pub_counter);
		int r = herald_publish(pub, o.base + ci, key, 2, v, (size_t)n);

		if (r == 0) {
			memcpy(pub_val[ci][k], v, (size_t)n + 1);
			pub_t[pub_counter % PUB_RING] = t;
			pub_counter++;
		}
		publish_check(r);
		if (!cold_stopped && o.merges && pub_counter % MERGE_EVERY == 0)
			merge_add();
		pub_next_ns += step;
	}
	if (pub_next_ns + 100 * step < t)
		pub_next_ns = t; /* do not catch up a stall in one burst */
}

/* The whole state, once: every key of every context. Returns publishes refused (-EAGAIN). */
static unsigned republish(void)
{
	unsigned missing = 0;

	for (unsigned ci = 0; ci < o.contexts; ci++)
		for (unsigned k = 0; k < KEYS; k++) {
			char key[3] = {'k', (char)('0' + k), 0};

			if (pub_val[ci][k][0] == '\0')
				continue;
			if (herald_publish(pub, o.base + ci, key, 2, pub_val[ci][k],
					   strlen(pub_val[ci][k])) < 0)
				missing++;
		}
	return missing;
}

static void pump(bool publishing)
{
	if (clients_pump(all, nall, 2) < 0)
		exit(1);
	if (publishing)
		publish_due();
}

static bool sub_converged(const struct sub *s)
{
	if (s->ci >= (int)o.contexts)
		return s->sum == merge_ref[s->ci - o.contexts];
	return memcmp(s->val, pub_val[s->ci], sizeof(s->val)) == 0;
}

static unsigned converged(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nsubs; i++)
		n += sub_converged(&subs[i]);
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	FILE *in = fopen(from, "r"), *out;
	size_t n;

	if (in == NULL)
		return;
	out = fopen(to, "w");
	if (out != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(out);
	}
	fclose(in);
}

/* "p50 A, p99 B, max C" of @p v (sorted here), in @p unit. */
static void pct_print(const char *what, int64_t *v, unsigned n, unsigned of, const char *unit)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	if (n == 0) {
		printf("%s: none of %u\n", what, of);
		return;
	}
	printf("%s: %u of %u; %s p50 %" PRId64 ", p99 %" PRId64 ", max %" PRId64 "\n", what, n, of, unit,
	       v[(n - 1) / 2], v[(n * 99 + 99) / 100 - 1], v[n - 1]);
}

/* heraldd's status file (--status-file): the context's replica node, -1 if none or unknown. */
static int replica_of(json_t *st, uint32_t context)
{
	char key[16];
	snprintf(key, sizeof(key), "%u", context);
	json_t *r = json_object_get(json_object_get(json_object_get(st, "contexts"), key), "replica");

	return json_is_integer(r) ? (int)json_integer_value(r) : -1;
}

/* Contexts every node's relay holds a complete snapshot of. */
static unsigned relays_synced(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < o.nstatus; i++) {
		json_t *st = json_load_file(o.node_status[i], 0, NULL);

		n += (unsigned)json_integer_value(json_object_get(json_object_get(st, "relay"), "synced"));
		json_decref(st);
	}
	return n;
}

static int node_of(struct in_addr a)
{
	for (unsigned i = 0; i < o.ndp; i++)
		if (o.dp[i].s_addr == a.s_addr)
			return (int)i + 1;
	return -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: herald-failover-check --seeds A:P,... --victim DATAPLANE_IP --kill PID[,PID]\n"
		"       --dataplanes IP1,IP2,IP3 (node 1's first) --node-status F1,F2,F3 (heraldd status files)\n"
		"       [--subscribers N] [--contexts M] [--merge-contexts K] [--rate UPDATES_PER_S]\n"
		"       [--base-context C] [--status FILE --status-before FILE]  (copied just before the kill)\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seeds", 1, NULL, 's'},       {"victim", 1, NULL, 'v'},   {"kill", 1, NULL, 'k'},
		{"subscribers", 1, NULL, 'n'}, {"contexts", 1, NULL, 'm'}, {"rate", 1, NULL, 'r'},
		{"base-context", 1, NULL, 'b'}, {"status", 1, NULL, 'S'},
		{"status-before", 1, NULL, 'B'}, {"merge-contexts", 1, NULL, 'g'},
		{"dataplanes", 1, NULL, 'd'},  {"node-status", 1, NULL, 'N'}, {NULL, 0, NULL, 0},
	};
	unsigned long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o.seeds = optarg; break;
		case 'v':
			if (inet_pton(AF_INET, optarg, &o.victim) != 1)
				usage();
			break;
		case 'k':
			for (char *p = strtok(optarg, ","); p != NULL; p = strtok(NULL, ",")) {
				if (o.nkill == 4 || parse_uint(p, 1, 1u << 30, &v) < 0)
					usage();
				o.kill[o.nkill++] = (pid_t)v;
			}
			break;
		case 'd':
			for (char *p = strtok(optarg, ","); p != NULL; p = strtok(NULL, ","))
				if (o.ndp == 4 || inet_pton(AF_INET, p, &o.dp[o.ndp++]) != 1)
					usage();
			break;
		case 'N':
			for (char *p = strtok(optarg, ","); p != NULL; p = strtok(NULL, ","))
				if (o.nstatus == 4 || (o.node_status[o.nstatus++] = p) == NULL)
					usage();
			break;
		case 'n':
			if (parse_uint(optarg, 1, CHECK_CLIENTS_MAX - 1, &v) < 0)
				usage();
			o.subs = (unsigned)v;
			break;
		case 'm':
			if (parse_uint(optarg, 1, 1000, &v) < 0)
				usage();
			o.contexts = (unsigned)v;
			break;
		case 'g':
			if (parse_uint(optarg, 0, MERGE_MAX, &v) < 0)
				usage();
			o.merges = (unsigned)v;
			break;
		case 'r':
			if (parse_uint(optarg, 1, 1000000, &v) < 0)
				usage();
			o.rate = (unsigned)v;
			break;
		case 'b':
			if (parse_uint(optarg, 1, 1u << 30, &v) < 0)
				usage();
			o.base = (uint32_t)v;
			break;
		case 'S': o.status_in = optarg; break;
		case 'B': o.status_out = optarg; break;
		default: usage();
		}
	}
	if (o.seeds == NULL || o.victim.s_addr == 0 || o.nkill == 0 || o.ndp == 0 || o.nstatus == 0 ||
	    o.status_in == NULL || node_of(o.victim) < 0 ||
	    o.subs + 2 * o.merges + o.contexts + 1 > CHECK_CLIENTS_MAX || o.base + o.contexts > MERGE_BASE)
		usage();
}

static struct herald_client *client_for(struct sub *s, const struct herald_client_opts *co)
{
	s->new_primary_ms = s->new_snap_ms = s->cold_ms = -1;
	s->c = herald_client_open(co, &(struct herald_callbacks){
		.on_snapshot = on_snapshot, .on_snapshot_end = on_snapshot_end,
		.on_delta = on_delta, .user = s});
	if (s->c == NULL) {
		perror("herald_client_open");
		exit(1);
	}
	return s->c;
}

/*
 * One observer per context on its replica's dataplane, once every relay
 * holds its snapshot. @return the replica of each context (-1 none) in @p rep.
 */
static int observers_open(int *rep)
{
	uint64_t t0 = now_ns();
	unsigned synced = 0, live = 0;
	json_t *st;

	while (ms_since(t0) < RELAY_WAIT_MS && (synced = relays_synced()) < nctx)
		for (uint64_t t = now_ns(); ms_since(t) < 100;)
			pump(true);
	printf("relay: %u of %u contexts relayed to their replica with a complete snapshot after %" PRIu64 " ms\n",
	       synced, nctx, ms_since(t0));
	if ((st = json_load_file(o.status_in, 0, NULL)) == NULL)
		return -1;
	for (unsigned ci = 0; ci < nctx; ci++) {
		char node[INET_ADDRSTRLEN];
		struct sub *s = &obs[ci];

		rep[ci] = replica_of(st, ctx_id(ci));
		*s = (struct sub){.context = ctx_id(ci), .ci = (int)ci, .observer = true};
		if (rep[ci] < 1 || rep[ci] > (int)o.ndp) {
			fprintf(stderr, "context %u has no replica in %s\n", ctx_id(ci), o.status_in);
			json_decref(st);
			return -1;
		}
		inet_ntop(AF_INET, &o.dp[rep[ci] - 1], node, sizeof(node));
		all[nall++] = client_for(s, &(struct herald_client_opts){.node = node, .rcvbuf = 1 << 20});
		if (herald_subscribe(s->c, s->context) < 0)
			return -1;
	}
	json_decref(st);
	while (ms_since(t0) < RELAY_WAIT_MS + LIVE_WAIT_MS && live < nctx) {
		pump(true);
		live = 0;
		for (unsigned ci = 0; ci < nctx; ci++)
			live += obs[ci].live;
	}
	printf("observers: %u of %u replica copies subscribed\n", live, nctx);
	return live == nctx && synced >= nctx ? 0 : -1;
}

/*
 * The cold keys and merge adds stop; a second of hot-only stream; then every
 * replica copy must hold the cold state, and the merge copies the primary's
 * sum (not a sum of sums: `put` replaces). Prints the relay lag.
 */
static int relay_check(void)
{
	unsigned cold_ok = 0, merge_ok = 0;
	int fail = 0;

	cold_stopped = true;
	measuring = true;
	for (uint64_t t = now_ns(); ms_since(t) < COLD_SETTLE_MS;)
		pump(true);
	measuring = false;
	for (unsigned mi = 0; mi < o.merges; mi++)
		merge_ref[mi] = subs[o.subs + mi].sum;
	for (unsigned ci = 0; ci < nctx; ci++) {
		bool ok = holds_cold(&obs[ci]);

		if (ci < o.contexts)
			cold_ok += ok;
		else
			merge_ok += ok;
		if (!ok && ci >= o.contexts)
			printf("merge context %u: replica copy %" PRId64 ", primary %" PRId64 "\n", ctx_id(ci),
			       obs[ci].sum, merge_ref[ci - o.contexts]);
	}
	printf("relay: replica copies holding the cold keys: %u of %u; merge:add copies equal to the "
	       "primary's sum: %u of %u\n", cold_ok, o.contexts, merge_ok, o.merges);
	for (unsigned mi = 0; mi < o.merges; mi++)
		if (merge_ref[mi] != merge_sum[mi])
			printf("merge context %u: the primary summed %" PRId64 " of %" PRId64 " adds sent (UDP loss)\n",
			       MERGE_BASE + mi, merge_ref[mi], merge_sum[mi]);
	pct_print("relay lag (publish -> the replica copy delivers it)", lag_relay, nlag_relay, nlag_relay, "us:");
	pct_print("primary lag (publish -> the primary delivers it), same second", lag_primary, nlag_primary,
		  nlag_primary, "us:");
	if (cold_ok != o.contexts || merge_ok != o.merges) {
		printf("FAIL: a replica copy does not hold its primary's state\n");
		fail = 1;
	}
	return fail;
}

int main(int argc, char **argv)
{
	struct herald_route *before;
	uint64_t t0;
	int fail = 0, *rep;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv);
	nctx = o.contexts + o.merges;
	nsubs = o.subs + o.merges;
	raise_nofile(nsubs + nctx + 64);
	subs = calloc(nsubs, sizeof(*subs));
	obs = calloc(nctx, sizeof(*obs));
	all = calloc(nsubs + 1 + nctx, sizeof(*all));
	pub_val = calloc(o.contexts, sizeof(*pub_val));
	before = calloc(nctx, sizeof(*before));
	rep = calloc(nctx, sizeof(*rep));
	lag_relay = calloc(LAG_MAX, sizeof(*lag_relay));
	lag_primary = calloc(LAG_MAX, sizeof(*lag_primary));
	if (subs == NULL || obs == NULL || all == NULL || pub_val == NULL || before == NULL || rep == NULL ||
	    lag_relay == NULL || lag_primary == NULL)
		return 1;

	/*
	 * Clients with the library's defaults: 100 ms heartbeats, timeout after
	 * 10 silent beats, backoff base 1 heartbeat, cap 32.
	 */
	struct herald_client_opts co = {.seeds = o.seeds, .max_subscriptions = 1, .rcvbuf = 1 << 20};
	for (unsigned i = 0; i < nsubs; i++) {
		subs[i].ci = (int)(i < o.subs ? i % o.contexts : o.contexts + (i - o.subs));
		subs[i].context = ctx_id((unsigned)subs[i].ci);
		all[nall++] = client_for(&subs[i], &co);
	}
	struct herald_client_opts po = {.seeds = o.seeds, .max_subscriptions = (uint16_t)nctx,
					.route_refresh_ms = 100, .rcvbuf = 1 << 20};
	pub = all[nall++] = herald_client_open(&po, NULL);
	if (pub == NULL) {
		perror("herald_client_open (publisher)");
		return 1;
	}
	/* The publisher places the contexts (HELLO for a new context), then the subscribers come. */
	pub_next_ns = now_ns();
	t0 = now_ns();
	while (ms_since(t0) < LIVE_WAIT_MS) {
		pump(true);
		unsigned known = 0;
		for (unsigned ci = 0; ci < nctx; ci++)
			known += herald_client_route(pub, ctx_id(ci), &before[ci]) == 0;
		if (known == nctx)
			break;
	}
	for (unsigned i = 0; i < nsubs; i++)
		if (herald_subscribe(subs[i].c, subs[i].context) < 0) {
			fprintf(stderr, "subscribe failed\n");
			return 1;
		}
	unsigned live = 0;
	while (ms_since(t0) < LIVE_WAIT_MS) {
		pump(true);
		live = 0;
		for (unsigned i = 0; i < nsubs; i++)
			live += subs[i].live && subs[i].delta_seen;
		if (live == nsubs)
			break;
	}
	printf("warm-up: %u of %u subscribers live with deltas after %" PRIu64 " ms (%u contexts, %u of "
	       "them merge:add)\n", live, nsubs, ms_since(t0), nctx, o.merges);
	if (live != nsubs)
		return 1;
	if (observers_open(rep) < 0) {
		printf("FAIL: the replica copies are not all relayed\n");
		return 1;
	}
	fail |= relay_check();
	unsigned on_victim = 0, moved_subs = 0;
	int victim_node = node_of(o.victim);
	char victim_s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &o.victim, victim_s, sizeof(victim_s));
	for (unsigned ci = 0; ci < nctx; ci++) {
		if (herald_client_route(pub, ctx_id(ci), &before[ci]) < 0)
			return 1;
		on_victim += before[ci].node.sin_addr.s_addr == o.victim.s_addr;
	}
	for (unsigned i = 0; i < nsubs; i++) {
		struct herald_route r;
		struct herald_client_stats st;

		if (herald_client_route(subs[i].c, subs[i].context, &r) < 0)
			return 1;
		subs[i].moved = r.node.sin_addr.s_addr == o.victim.s_addr;
		moved_subs += subs[i].moved;
		herald_client_stats(subs[i].c, &st);
		subs[i].hellos = st.hellos;
	}
	printf("placement: %u of %u contexts on the victim %s (node %d), %u of %u subscribers on them\n",
	       on_victim, nctx, victim_s, victim_node, moved_subs, nsubs);
	if (on_victim == 0) {
		fprintf(stderr, "the victim hosts no context: nothing would move\n");
		return 1;
	}

	/* The kill, timed here. */
	if (o.status_in && o.status_out)
		copy_file(o.status_in, o.status_out);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	t_kill = now_ns();
	for (unsigned i = 0; i < o.nkill; i++)
		if (kill(o.kill[i], SIGKILL) < 0)
			perror("kill");
	printf("kill_wall_ms: %" PRIu64 "\n", (uint64_t)wall.tv_sec * 1000 + (uint64_t)wall.tv_nsec / 1000000);

	static unsigned bucket[BUCKETS];
	unsigned done = 0;
	uint64_t t_moved_ms = 0;
	while (ms_since(t_kill) < MOVE_WAIT_MS) {
		pump(true);
		unsigned b = (unsigned)(ms_since(t_kill) / BUCKET_MS);
		done = 0;
		for (unsigned i = 0; i < nsubs; i++) {
			struct herald_client_stats st;

			herald_client_stats(subs[i].c, &st);
			if (st.hellos != subs[i].hellos && b < BUCKETS)
				bucket[b] += (unsigned)(st.hellos - subs[i].hellos);
			subs[i].hellos = st.hellos;
			done += !subs[i].moved || subs[i].new_primary_ms >= 0 ||
				(subs[i].ci >= (int)o.contexts && subs[i].new_snap_ms >= 0);
		}
		if (done == nsubs && t_moved_ms == 0)
			t_moved_ms = ms_since(t_kill);
		/* Let late retries show in the buckets for a second after the last client moved. */
		if (t_moved_ms && ms_since(t_kill) > t_moved_ms + 1000)
			break;
	}
	/* Time to updates from the new primary. */
	int64_t *lat = calloc(moved_subs ? moved_subs : 1, sizeof(*lat));
	unsigned nl = 0, stuck = 0;
	for (unsigned i = 0; i < nsubs; i++)
		if (subs[i].moved && subs[i].new_snap_ms >= 0)
			lat[nl++] = subs[i].new_snap_ms;
	pct_print("snapshot from the new primary", lat, nl, moved_subs, "ms after the kill:");
	nl = 0;
	for (unsigned i = 0; i < nsubs; i++)
		if (subs[i].moved && subs[i].cold_ms >= 0)
			lat[nl++] = subs[i].cold_ms;
	pct_print("failover convergence without republish (the cold state, relayed, from the new node)", lat, nl,
		  moved_subs, "ms after the kill:");
	nl = 0;
	for (unsigned i = 0; i < o.subs; i++) {
		if (!subs[i].moved)
			continue;
		if (subs[i].new_primary_ms < 0)
			stuck++;
		else
			lat[nl++] = subs[i].new_primary_ms;
	}
	pct_print("updates from the new primary", lat, nl, nl + stuck, "ms after the kill:");
	if (stuck) {
		printf("FAIL: %u subscribers of moved contexts got no update from a new primary in %u ms\n",
		       stuck, MOVE_WAIT_MS);
		fail = 1;
	}
	/* Reconnect rate: HELLOs of the subscribers per 100 ms bucket. */
	int first = -1, last = -1;
	unsigned total = 0, peak = 0;
	for (int b = 0; b < BUCKETS; b++)
		if (bucket[b]) {
			if (first < 0)
				first = b;
			last = b;
			total += bucket[b];
			peak = bucket[b] > peak ? bucket[b] : peak;
		}
	if (first >= 0) {
		double mean = (double)total / (last - first + 1);

		printf("reconnect HELLOs per %d ms after the kill:", BUCKET_MS);
		for (int b = 0; b <= last; b++)
			printf(" %u", bucket[b]);
		printf("\nreconnect rate: %u HELLOs in buckets %d..%d (%d-%d ms), mean %.1f per bucket, "
		       "peak %u: %s 2x the mean\n",
		       total, first, last, first * BUCKET_MS, (last + 1) * BUCKET_MS, mean, peak,
		       peak > 2 * mean ? "ABOVE" : "within");
	}
	/* Only the victim's contexts moved. */
	unsigned moved_ctx = 0, wrong = 0;
	for (unsigned ci = 0; ci < nctx; ci++) {
		struct herald_route r;
		bool was = before[ci].node.sin_addr.s_addr == o.victim.s_addr;

		/* The subscribers' routes: every subscriber of a context agrees where it is. */
		for (unsigned i = 0; i < nsubs; i++) {
			if (subs[i].ci != (int)ci)
				continue;
			if (herald_client_route(subs[i].c, subs[i].context, &r) < 0) {
				wrong++;
				continue;
			}
			bool changed = !(r.node.sin_addr.s_addr == before[ci].node.sin_addr.s_addr &&
					 r.node.sin_port == before[ci].node.sin_port);
			if (changed != was || r.node.sin_addr.s_addr == o.victim.s_addr)
				wrong++;
			else if (was && node_of(r.node.sin_addr) != rep[ci])
				printf("context %u moved to node %d, its replica was node %d\n", ctx_id(ci),
				       node_of(r.node.sin_addr), rep[ci]);
		}
		moved_ctx += was;
	}
	unsigned others_reconnected = 0;
	for (unsigned i = 0; i < nsubs; i++) {
		struct herald_client_stats st;

		herald_client_stats(subs[i].c, &st);
		others_reconnected += !subs[i].moved && st.reconnects != 0;
	}
	printf("moved: %u contexts, all from the victim: %s; subscribers of other contexts that "
	       "reconnected: %u\n",
	       moved_ctx, wrong ? "NO" : "yes", others_reconnected);
	if (wrong) {
		printf("FAIL: %u subscriber routes disagree with 'only the victim's contexts moved'\n",
		       wrong);
		fail = 1;
	}

	/* The final state: the stream stops; no republish first. */
	uint64_t tc = now_ns();
	unsigned conv = 0;
	while (ms_since(tc) < NO_REPUBLISH_MS && (conv = converged()) < nsubs)
		pump(false);
	printf("final state without republish: %u of %u subscribers hold the publisher's final state "
	       "(%" PRIu64 " updates published, %" PRIu64 " refused while a route was unknown), %" PRIu64
	       " ms after the stream stopped\n", conv, nsubs, pub_counter, pub_eagain, ms_since(tc));
	unsigned need_rep = 0, need_rep_live_replica = 0;
	for (unsigned i = 0; i < nsubs; i++) {
		if (sub_converged(&subs[i]))
			continue;
		need_rep++;
		/* A stream key behind is a publish lost on the way; the cold state only the relay had. */
		need_rep_live_replica += subs[i].moved && rep[subs[i].ci] != victim_node && !holds_cold(&subs[i]);
		printf("  subscriber %u (context %u%s, replica node %d): %s\n", i, subs[i].context,
		       subs[i].moved ? ", moved" : "", rep[subs[i].ci],
		       holds_cold(&subs[i]) ? "cold state held, a stream key behind" : "cold state missing");
	}
	if (need_rep) {
		/* Fallback: republish the whole state (merge contexts cannot be) until everyone has it. */
		uint64_t last_rep = 0;
		tc = now_ns();
		while (ms_since(tc) < CONVERGE_WAIT_MS && (conv = converged()) < nsubs) {
			pump(false);
			if (last_rep == 0 || ms_since(last_rep) >= REPUBLISH_MS) {
				republish();
				last_rep = now_ns();
			}
		}
		printf("fallback republish: %u of %u subscribers hold the final state %" PRIu64 " ms after it "
		       "started\n", conv, nsubs, ms_since(tc));
		if (conv != nsubs)
			fail = 1;
	}
	if (need_rep_live_replica) {
		printf("FAIL: %u subscribers of moved contexts whose replica was alive lacked the relayed state\n",
		       need_rep_live_replica);
		fail = 1;
	}
	struct herald_client_stats sum = {0};
	for (unsigned i = 0; i < nsubs; i++) {
		struct herald_client_stats st;

		herald_client_stats(subs[i].c, &st);
		sum.reconnects += st.reconnects;
		sum.hellos += st.hellos;
		sum.hello_retries += st.hello_retries;
		sum.redirects += st.redirects;
		sum.redirects_ignored += st.redirects_ignored;
		sum.timeouts += st.timeouts;
		sum.wrong_source += st.wrong_source;
	}
	printf("subscribers: reconnects %" PRIu64 ", timeouts %" PRIu64 ", hellos %" PRIu64
	       " (retries %" PRIu64 "), redirects %" PRIu64 " (ignored %" PRIu64 "), wrong_source %" PRIu64
	       "\n",
	       sum.reconnects, sum.timeouts, sum.hellos, sum.hello_retries, sum.redirects,
	       sum.redirects_ignored, sum.wrong_source);
	for (unsigned i = 0; i < nall; i++)
		herald_client_close(all[i]);
	free(lat);
	free(rep);
	free(lag_relay);
	free(lag_primary);
	free(before);
	free(pub_val);
	free(all);
	free(obs);
	free(subs);
	printf("%s\n", fail ? "FAIL" : "ok");
	return fail;
}
