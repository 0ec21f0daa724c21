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
 *   - whether every subscriber ends with the publisher's final state. The
 *     replica relay does not exist yet, so the contexts that moved start
 *     empty on their new node: after the failover the publisher republishes
 *     its full state (every key of every context) until all converged.
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

#include <herald/client.h>

#include "check_util.h"

#define KEYS 4
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
	bool live;           /* got a snapshot end since start */
	bool delta_seen;     /* got a delta since start */
	bool moved;          /* its context was on the victim at the kill */
	int64_t new_primary_ms; /* first DELTA from a node other than the victim after the kill; -1 */
	int64_t new_snap_ms;    /* its snapshot from that node was complete; -1 */
	uint64_t hellos;     /* stats.hellos at the last look */
	char val[KEYS][VAL_MAX];
};

static struct {
	const char *seeds;
	unsigned subs, contexts, rate;
	uint32_t base;
	struct in_addr victim;
	pid_t kill[4];
	unsigned nkill;
	const char *status_in, *status_out;
} o = {.subs = 100, .contexts = 20, .rate = 1000, .base = 5000};

static struct sub *subs;
static uint64_t t_kill; /* monotonic ns of the kill, 0 before */
static char (*pub_val)[KEYS][VAL_MAX];

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

static void store(struct sub *s, const struct herald_entry *e)
{
	int k = key_index(e);

	if (k < 0 || e->value_len >= VAL_MAX)
		return;
	memcpy(s->val[k], e->value, e->value_len);
	s->val[k][e->value_len] = '\0';
}

static void on_snapshot(void *u, const struct herald_entry *e)
{
	store(u, e);
}

static void on_snapshot_end(void *u, uint32_t ctx, uint64_t seq)
{
	struct sub *s = u;
	struct herald_route r;

	(void)ctx;
	(void)seq;
	s->live = true;
	if (t_kill != 0 && s->new_snap_ms < 0 && herald_client_route(s->c, s->context, &r) == 0 &&
	    r.node.sin_addr.s_addr != o.victim.s_addr)
		s->new_snap_ms = (int64_t)ms_since(t_kill);
}

static void on_delta(void *u, const struct herald_entry *e)
{
	struct sub *s = u;
	struct herald_route r;

	store(s, e);
	s->delta_seen = true;
	if (t_kill != 0 && s->new_primary_ms < 0 && herald_client_route(s->c, s->context, &r) == 0 &&
	    r.node.sin_addr.s_addr != o.victim.s_addr)
		s->new_primary_ms = (int64_t)ms_since(t_kill);
}

static const struct herald_callbacks cbs = {
	.on_snapshot = on_snapshot,
	.on_snapshot_end = on_snapshot_end,
	.on_delta = on_delta,
};

static struct herald_client **all; /* subscribers, then the publisher */
static struct herald_client *pub;
static uint64_t pub_counter, pub_next_ns;
static unsigned pub_ctx;
static uint64_t pub_eagain;

/* Publish what is due at --rate, round robin over contexts and keys. */
static void publish_due(void)
{
	uint64_t t = now_ns(), step = 1000000000ull / o.rate;
	unsigned burst = 0;

	while (pub_next_ns <= t && burst++ < 64) {
		unsigned ci = pub_ctx++ % o.contexts;
		unsigned k = (unsigned)(pub_counter % KEYS);
		char key[3] = {'k', (char)('0' + k), 0}, v[VAL_MAX];
		int n = snprintf(v, sizeof(v), "c%u-%" PRIu64, o.base + ci, pub_counter);
		int r = herald_publish(pub, o.base + ci, key, 2, v, (size_t)n);

		if (r == 0) {
			memcpy(pub_val[ci][k], v, (size_t)n + 1);
			pub_counter++;
		} else if (r == -EAGAIN) {
			pub_eagain++;
		} else {
			fprintf(stderr, "publish: %s\n", strerror(-r));
			exit(1);
		}
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
	if (clients_pump(all, o.subs + 1, 2) < 0)
		exit(1);
	if (publishing)
		publish_due();
}

static unsigned converged(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < o.subs; i++)
		n += memcmp(subs[i].val, pub_val[subs[i].context - o.base], sizeof(subs[i].val)) == 0;
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

static void usage(void)
{
	fprintf(stderr,
		"usage: herald-failover-check --seeds A:P,... --victim DATAPLANE_IP --kill PID[,PID]\n"
		"       [--subscribers N] [--contexts M] [--rate UPDATES_PER_S] [--base-context C]\n"
		"       [--status FILE --status-before FILE]  (copied just before the kill)\n");
	exit(2);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"seeds", 1, NULL, 's'},       {"victim", 1, NULL, 'v'},   {"kill", 1, NULL, 'k'},
		{"subscribers", 1, NULL, 'n'}, {"contexts", 1, NULL, 'm'}, {"rate", 1, NULL, 'r'},
		{"base-context", 1, NULL, 'b'}, {"status", 1, NULL, 'S'},
		{"status-before", 1, NULL, 'B'}, {NULL, 0, NULL, 0},
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
	if (o.seeds == NULL || o.victim.s_addr == 0 || o.nkill == 0)
		usage();
}

int main(int argc, char **argv)
{
	struct herald_route *before;
	uint64_t t0;
	int fail = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse(argc, argv);
	raise_nofile(o.subs + 64);
	subs = calloc(o.subs, sizeof(*subs));
	all = calloc(o.subs + 1, sizeof(*all));
	pub_val = calloc(o.contexts, sizeof(*pub_val));
	before = calloc(o.contexts, sizeof(*before));
	if (subs == NULL || all == NULL || pub_val == NULL || before == NULL)
		return 1;

	/*
	 * Clients with the library's defaults: 100 ms heartbeats, timeout after
	 * 10 silent beats, backoff base 1 heartbeat, cap 32.
	 */
	struct herald_client_opts co = {.seeds = o.seeds, .max_subscriptions = 1, .rcvbuf = 1 << 20};
	for (unsigned i = 0; i < o.subs; i++) {
		subs[i].context = o.base + i % o.contexts;
		subs[i].new_primary_ms = -1;
		subs[i].new_snap_ms = -1;
		subs[i].c = all[i] = herald_client_open(&co, &(struct herald_callbacks){
			.on_snapshot = cbs.on_snapshot, .on_snapshot_end = cbs.on_snapshot_end,
			.on_delta = cbs.on_delta, .user = &subs[i]});
		if (subs[i].c == NULL) {
			perror("herald_client_open");
			return 1;
		}
	}
	struct herald_client_opts po = {.seeds = o.seeds, .max_subscriptions = (uint16_t)o.contexts,
					.route_refresh_ms = 100, .rcvbuf = 1 << 20};
	pub = all[o.subs] = herald_client_open(&po, NULL);
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
		for (unsigned ci = 0; ci < o.contexts; ci++)
			known += herald_client_route(pub, o.base + ci, &before[ci]) == 0;
		if (known == o.contexts)
			break;
	}
	for (unsigned i = 0; i < o.subs; i++)
		if (herald_subscribe(subs[i].c, subs[i].context) < 0) {
			fprintf(stderr, "subscribe failed\n");
			return 1;
		}
	unsigned live = 0;
	while (ms_since(t0) < LIVE_WAIT_MS) {
		pump(true);
		live = 0;
		for (unsigned i = 0; i < o.subs; i++)
			live += subs[i].live && subs[i].delta_seen;
		if (live == o.subs)
			break;
	}
	printf("warm-up: %u of %u subscribers live with deltas after %" PRIu64 " ms\n", live, o.subs,
	       ms_since(t0));
	if (live != o.subs)
		return 1;
	/* Run one more second under load, then take the placement the subscribers see. */
	for (uint64_t t = now_ns(); ms_since(t) < 1000;)
		pump(true);
	unsigned on_victim = 0, moved_subs = 0;
	char victim_s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &o.victim, victim_s, sizeof(victim_s));
	for (unsigned ci = 0; ci < o.contexts; ci++) {
		if (herald_client_route(pub, o.base + ci, &before[ci]) < 0)
			return 1;
		on_victim += before[ci].node.sin_addr.s_addr == o.victim.s_addr;
	}
	for (unsigned i = 0; i < o.subs; i++) {
		struct herald_route r;
		struct herald_client_stats st;

		if (herald_client_route(subs[i].c, subs[i].context, &r) < 0)
			return 1;
		subs[i].moved = r.node.sin_addr.s_addr == o.victim.s_addr;
		moved_subs += subs[i].moved;
		herald_client_stats(subs[i].c, &st);
		subs[i].hellos = st.hellos;
	}
	printf("placement: %u of %u contexts on the victim %s, %u of %u subscribers on them\n",
	       on_victim, o.contexts, victim_s, moved_subs, o.subs);
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
		for (unsigned i = 0; i < o.subs; i++) {
			struct herald_client_stats st;

			herald_client_stats(subs[i].c, &st);
			if (st.hellos != subs[i].hellos && b < BUCKETS)
				bucket[b] += (unsigned)(st.hellos - subs[i].hellos);
			subs[i].hellos = st.hellos;
			done += !subs[i].moved || subs[i].new_primary_ms >= 0;
		}
		if (done == o.subs && t_moved_ms == 0)
			t_moved_ms = ms_since(t_kill);
		/* Let late retries show in the buckets for a second after the last client moved. */
		if (t_moved_ms && ms_since(t_kill) > t_moved_ms + 1000)
			break;
	}
	/* Time to updates from the new primary. */
	int64_t *lat = calloc(moved_subs ? moved_subs : 1, sizeof(*lat));
	unsigned nl = 0, stuck = 0;
	for (unsigned i = 0; i < o.subs; i++)
		if (subs[i].moved && subs[i].new_snap_ms >= 0)
			lat[nl++] = subs[i].new_snap_ms;
	qsort(lat, nl, sizeof(*lat), cmp_i64);
	if (nl)
		printf("snapshot from the new primary: %u of %u subscribers; ms after the kill: "
		       "p50 %" PRId64 ", p99 %" PRId64 ", max %" PRId64 "\n",
		       nl, moved_subs, lat[(nl - 1) / 2], lat[(nl * 99 + 99) / 100 - 1], lat[nl - 1]);
	nl = 0;
	for (unsigned i = 0; i < o.subs; i++) {
		if (!subs[i].moved)
			continue;
		if (subs[i].new_primary_ms < 0)
			stuck++;
		else
			lat[nl++] = subs[i].new_primary_ms;
	}
	qsort(lat, nl, sizeof(*lat), cmp_i64);
	if (nl)
		printf("updates from the new primary: %u of %u subscribers; ms after the kill: "
		       "p50 %" PRId64 ", p99 %" PRId64 ", max %" PRId64 "\n",
		       nl, moved_subs, lat[(nl - 1) / 2], lat[(nl * 99 + 99) / 100 - 1], lat[nl - 1]);
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
	for (unsigned ci = 0; ci < o.contexts; ci++) {
		struct herald_route r;
		bool was = before[ci].node.sin_addr.s_addr == o.victim.s_addr;

		/* The subscribers' routes: every subscriber of a context agrees where it is. */
		for (unsigned i = ci; i < o.subs; i += o.contexts) {
			if (herald_client_route(subs[i].c, subs[i].context, &r) < 0) {
				wrong++;
				continue;
			}
			bool changed = !(r.node.sin_addr.s_addr == before[ci].node.sin_addr.s_addr &&
					 r.node.sin_port == before[ci].node.sin_port);
			if (changed != was || r.node.sin_addr.s_addr == o.victim.s_addr)
				wrong++;
		}
		moved_ctx += was;
	}
	unsigned others_reconnected = 0;
	for (unsigned i = 0; i < o.subs; i++) {
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

	/* The final state: stop the stream, republish the whole state until everyone has it. */
	uint64_t tc = now_ns(), last_rep = 0;
	unsigned conv = 0;
	while (ms_since(tc) < CONVERGE_WAIT_MS) {
		pump(false);
		if (last_rep == 0 || ms_since(last_rep) >= REPUBLISH_MS) {
			republish();
			last_rep = now_ns();
		}
		conv = converged();
		if (conv == o.subs)
			break;
	}
	printf("final state: %u of %u subscribers hold the publisher's final state (%" PRIu64
	       " updates published, %" PRIu64 " refused while a route was unknown), %" PRIu64 " ms after "
	       "the republish started\n",
	       conv, o.subs, pub_counter, pub_eagain, ms_since(tc));
	if (conv != o.subs)
		fail = 1;
	struct herald_client_stats sum = {0};
	for (unsigned i = 0; i < o.subs; i++) {
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
	for (unsigned i = 0; i <= o.subs; i++)
		herald_client_close(all[i]);
	free(lat);
	free(before);
	free(pub_val);
	free(all);
	free(subs);
	printf("%s\n", fail ? "FAIL" : "ok");
	return fail;
}
