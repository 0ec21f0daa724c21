/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-conflation-check: the demonstrations of structural conflation,
 * merge policies and loss recovery, run through a node. Every client lives in
 * this one process (one socket each, served from one thread through epoll;
 * libherald takes each socket's datagrams in recvmmsg batches), so the
 * publisher's update counter is known at the instant a subscriber receives a
 * value; every value carries the counter it was published with.
 *
 *   --mode slow      `replace` context, one publisher at --rate updates/s over
 *                    --keys keys for --duration s; --slow clients with a
 *                    budget of --budget msgs/s and --subscribers fast ones.
 *                    Every value a client receives must be per-key monotonic
 *                    and fresh: staleness (publisher counter at receive minus
 *                    the value's counter) stays under --max-staleness, where a
 *                    backlog would grow without bound. At the end every client
 *                    holds exactly the publisher's final state. With --dp-pid
 *                    and --telemetry the node's memory (VmRSS, mbufs in use),
 *                    deliveries and error/drop counters are sampled every
 *                    second (node_watch.h): memory must stay flat and come
 *                    back to baseline; with --strict-counters no error or
 *                    drop counter may rise. The checker measures its own lag
 *                    too (socket overflows, publisher behind schedule, time
 *                    away from its sockets): a failure its lag explains is
 *                    INCONCLUSIVE (exit 3), not a failure of the node.
 *   --mode merge     `merge:add` context: --publishers publishers send
 *                    --updates increments between them, interleaved; every
 *                    subscriber (slow and fast) ends with the exact sums.
 *   --mode converge  `replace` context under loss: --updates updates, then
 *                    every subscriber (auto_resync) converges to the
 *                    publisher's final state within --settle-ms.
 *   --mode ordered   `none` context under loss: ordered subscriptions
 *                    (NAK repair) receive every update exactly once, in
 *                    order; a GAP notice is a failure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <endian.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <herald/client.h>

#include "check_util.h"
#include "node_watch.h"

#define KEYS_MAX 1024
#define SUBS_MAX 1000
#define PUBS_MAX 16
/* Replace/none values: counter (8 B), key index (4 B), then filler to --value-len. */
#define VALUE_LEN 32
#define VALUE_LEN_MIN 12
#define RCVBUF (4 << 20)
#define HIST_MAX 65536
#define SAMPLES_MAX 4096
#define PRINT_MAX 10
/* Updates published in one go before the clients are serviced again. */
#define PUBLISH_BURST 64
/* converge: updates/s of the last round, one update per key. */
#define LAST_ROUND_RATE 200
/*
 * Subscribers that subscribe at once; each wave waits (up to 2 s) for its
 * snapshots before the next: 1000 SUBSCRIBEs in one millisecond overflow
 * the node's receive ring, which is a flood test, not this one.
 */
#define SUBSCRIBE_WAVE 100

enum mode { MODE_SLOW, MODE_MERGE, MODE_CONVERGE, MODE_ORDERED };

struct opts {
	const char *node;
	enum mode mode;
	uint32_t context;
	unsigned keys, fast, slow, budget, publishers, heartbeat_ms, value_len;
	uint64_t updates, rate, duration_s, max_staleness, settle_ms, batch;
	pid_t dp_pid;
	const char *telemetry;
	uint64_t mem_slack_kb, mem_slack_mbufs;
	bool node_restarts; /* ERROR UNKNOWN_SESSION is expected: the node restarts mid-run */
	bool strict_counters; /* slow: any error/drop counter of the node rising fails */
	bool judge_by_node; /* converge: subscribers are judged against the node's state */
	uint64_t warmup_s;  /* slow: samples left out of the memory judgement */
};

/* Staleness histogram: exact up to HIST_MAX - 1, one overflow bucket above. */
struct hist {
	uint64_t n, max;
	uint64_t count[HIST_MAX + 1];
};

struct sub {
	struct herald_client *c;
	unsigned id;
	bool slow;
	bool snap_done;
	uint64_t *last;       /* per key: latest counter (merge: latest sum); 0 = none yet */
	uint64_t deltas, snapshot_entries;
	uint64_t decreases, repeats, corrupt, misordered, gaps, errors, timeouts;
	uint64_t unknown;     /* slow: ERROR UNKNOWN_SESSION (the node expired the session) */
	uint64_t early_gaps;  /* GAP notices before the first update was published */
	uint64_t next_n;      /* ordered: the update number due next */
};

static struct opts o;
static struct sub *subs;
static unsigned nsubs;
static unsigned nsubscribed;  /* subscribers that sent their SUBSCRIBE */
static struct herald_client *pubs[PUBS_MAX];
static struct check_loop loop;
static uint64_t pub_n;        /* updates published so far */
static uint64_t *final_val;   /* per key: what every subscriber must end with */
static struct hist stale_slow, stale_fast;
static unsigned printed;
/*
 * slow and --judge-by-node: a client subscribed after the publisher stopped; its snapshot is
 * what the node holds, so a PUBLISH lost on its way in (UDP, not
 * acknowledged) is told apart from a delivery the subscribers missed.
 */
static struct sub witness = {.id = UINT32_MAX - 1};
static unsigned lost_last;   /* witness: keys whose last PUBLISH the node never applied */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-conflation-check --node IP[:PORT] --mode slow|merge|converge|ordered [options]\n"
		"  --subscribers N     fast subscribers, no budget (default 3)\n"
		"  --slow N            slow subscribers with --budget (default 1)\n"
		"  --budget N          slow subscribers' budget, msgs/s (default 100)\n"
		"  --keys N            distinct keys (default 100, max %d)\n"
		"  --rate N            updates/s the publisher sends (default 10000)\n"
		"  --duration S        slow: seconds of publishing (default 60)\n"
		"  --updates N         merge/converge/ordered: updates to publish (default 1000)\n"
		"  --publishers N      merge: publishers, interleaved (default 4, max %d)\n"
		"  --batch N           ordered: updates per burst before subscribers drain (default 50)\n"
		"  --heartbeat-ms N    client heartbeat interval (default: the library's)\n"
		"  --value-len N       slow/converge/ordered: bytes per value, %d..%d (default %d;\n"
		"                      above %d a value travels in several fragments)\n"
		"  --max-staleness N   slow: bound on staleness in updates (default 50 x keys)\n"
		"  --settle-ms N       how long clients may take to converge at the end (default 20000)\n"
		"  --dp-pid PID        slow: sample this dataplane's VmRSS every second\n"
		"  --telemetry PATH    slow: its DPDK telemetry socket, for mbufs_in_use\n"
		"  --mem-slack-kb N    allowed VmRSS growth, median of the last third of the samples\n"
		"                      vs median of the first third after --warmup (default 4096)\n"
		"  --mem-slack-mbufs N allowed mbufs_in_use growth, likewise, and after the run vs\n"
		"                      before publishing (default 1024)\n"
		"  --warmup S          slow: seconds of samples left out (default duration/10, max 60)\n"
		"  --strict-counters   slow: any error or drop counter of the node or its port rising\n"
		"                      fails the run (with --telemetry)\n"
		"  --judge-by-node     converge: judge the subscribers against what the node holds\n"
		"                      (a new subscriber's snapshot), not the publisher's last values,\n"
		"                      for faults that drop PUBLISHes on their way in (reported)\n"
		"  --context ID        context id (default: random)\n"
		"  --node-restarts     the node is restarted during the run: ERROR UNKNOWN_SESSION\n"
		"                      and heartbeat timeouts are expected, not failures\n"
		"exit status: 0 pass, 1 the node failed a check, 2 bad usage, 3 inconclusive (slow):\n"
		"a check failed that the checker's own lag explains (its sockets overflowed, its\n"
		"publisher fell behind, or it left its sockets unread for over a second)\n",
		KEYS_MAX, PUBS_MAX, VALUE_LEN_MIN, HERALD_VALUE_MAX, VALUE_LEN,
		HERALD_FRAG_BODY_MAX - 8);
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"mode", required_argument, NULL, 'm'},
		{"subscribers", required_argument, NULL, 's'},
		{"slow", required_argument, NULL, 'S'},
		{"budget", required_argument, NULL, 'b'},
		{"keys", required_argument, NULL, 'k'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"updates", required_argument, NULL, 'u'},
		{"publishers", required_argument, NULL, 'p'},
		{"batch", required_argument, NULL, 'B'},
		{"heartbeat-ms", required_argument, NULL, 'H'},
		{"value-len", required_argument, NULL, 'V'},
		{"max-staleness", required_argument, NULL, 'M'},
		{"settle-ms", required_argument, NULL, 'T'},
		{"dp-pid", required_argument, NULL, 'P'},
		{"telemetry", required_argument, NULL, 't'},
		{"mem-slack-kb", required_argument, NULL, 'K'},
		{"mem-slack-mbufs", required_argument, NULL, 'F'},
		{"context", required_argument, NULL, 'x'},
		{"node-restarts", no_argument, NULL, 'R'},
		{"strict-counters", no_argument, NULL, 'C'},
		{"judge-by-node", no_argument, NULL, 'J'},
		{"warmup", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *mode = NULL;
	unsigned long v;
	int opt;

	o = (struct opts){
		.fast = 3, .slow = 1, .budget = 100, .keys = 100, .rate = 10000,
		.duration_s = 60, .updates = 1000, .publishers = 4, .batch = 50,
		.settle_ms = 20000, .mem_slack_kb = 4096, .mem_slack_mbufs = 1024, .value_len = VALUE_LEN,
		.context = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 16)) | 1,
		.warmup_s = UINT64_MAX,
	};
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *what = NULL;
		int r = 0;

		v = 0;
		switch (opt) {
		case 'n':
			o.node = optarg;
			continue;
		case 'm':
			mode = optarg;
			continue;
		case 't':
			o.telemetry = optarg;
			continue;
		case 'R':
			o.node_restarts = true;
			continue;
		case 'J':
			o.judge_by_node = true;
			continue;
		case 'C':
			o.strict_counters = true;
			continue;
		case 'h':
			usage(stdout);
			exit(0);
		case 's': r = parse_uint(optarg, 0, SUBS_MAX, &v); what = "0..1000 subscribers"; break;
		case 'S': r = parse_uint(optarg, 0, SUBS_MAX, &v); what = "0..1000 slow subscribers"; break;
		case 'b': r = parse_uint(optarg, 1, 1000000, &v); what = "1..1000000 msgs/s"; break;
		case 'k': r = parse_uint(optarg, 1, KEYS_MAX, &v); what = "1..1024 keys"; break;
		case 'r': r = parse_uint(optarg, 1, 1000000, &v); what = "1..1000000 updates/s"; break;
		case 'd': r = parse_uint(optarg, 1, 86400, &v); what = "1..86400 seconds"; break;
		case 'u': r = parse_uint(optarg, 1, 100000000, &v); what = "at least 1 update"; break;
		case 'p': r = parse_uint(optarg, 1, PUBS_MAX, &v); what = "1..16 publishers"; break;
		case 'B': r = parse_uint(optarg, 1, 100000, &v); what = "1..100000 updates"; break;
		case 'H': r = parse_uint(optarg, 1, 60000, &v); what = "1..60000 ms"; break;
		case 'V': r = parse_uint(optarg, VALUE_LEN_MIN, HERALD_VALUE_MAX, &v); what = "12..4096 bytes"; break;
		case 'M': r = parse_uint(optarg, 1, HIST_MAX - 1, &v); what = "1..65535 updates"; break;
		case 'T': r = parse_uint(optarg, 1, 600000, &v); what = "1..600000 ms"; break;
		case 'P': r = parse_uint(optarg, 1, 1u << 30, &v); what = "a process id"; break;
		case 'K': r = parse_uint(optarg, 0, 1u << 30, &v); what = "kilobytes"; break;
		case 'F': r = parse_uint(optarg, 0, 1u << 30, &v); what = "mbufs"; break;
		case 'x': r = parse_uint(optarg, 0, UINT32_MAX, &v); what = "a 32-bit context id"; break;
		case 'W': r = parse_uint(optarg, 0, 86400, &v); what = "0..86400 seconds"; break;
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "herald-conflation-check: bad value '%s': expected %s\n",
				optarg, what);
			return -EINVAL;
		}
		switch (opt) {
		case 's': o.fast = (unsigned)v; break;
		case 'S': o.slow = (unsigned)v; break;
		case 'b': o.budget = (unsigned)v; break;
		case 'k': o.keys = (unsigned)v; break;
		case 'r': o.rate = v; break;
		case 'd': o.duration_s = v; break;
		case 'u': o.updates = v; break;
		case 'p': o.publishers = (unsigned)v; break;
		case 'B': o.batch = v; break;
		case 'H': o.heartbeat_ms = (unsigned)v; break;
		case 'V': o.value_len = (unsigned)v; break;
		case 'M': o.max_staleness = v; break;
		case 'T': o.settle_ms = v; break;
		case 'P': o.dp_pid = (pid_t)v; break;
		case 'K': o.mem_slack_kb = v; break;
		case 'F': o.mem_slack_mbufs = v; break;
		case 'x': o.context = (uint32_t)v; break;
		case 'W': o.warmup_s = v; break;
		}
	}
	if (mode == NULL || strcmp(mode, "slow") == 0)
		o.mode = MODE_SLOW;
	else if (strcmp(mode, "merge") == 0)
		o.mode = MODE_MERGE;
	else if (strcmp(mode, "converge") == 0)
		o.mode = MODE_CONVERGE;
	else if (strcmp(mode, "ordered") == 0)
		o.mode = MODE_ORDERED;
	else {
		fprintf(stderr, "herald-conflation-check: unknown --mode '%s'\n", mode);
		return -EINVAL;
	}
	if (optind != argc || o.node == NULL || mode == NULL) {
		fprintf(stderr, "herald-conflation-check: --node and --mode are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (o.judge_by_node && o.mode != MODE_CONVERGE) {
		fprintf(stderr, "herald-conflation-check: --judge-by-node is for --mode converge "
			"(slow mode always judges against the node)\n");
		return -EINVAL;
	}
	if (o.fast + o.slow == 0 || o.fast + o.slow + PUBS_MAX > CHECK_CLIENTS_MAX) {
		fprintf(stderr, "herald-conflation-check: 1..%d subscribers in all\n", SUBS_MAX);
		return -EINVAL;
	}
	if (o.warmup_s == UINT64_MAX)
		o.warmup_s = o.duration_s / 10 < 60 ? o.duration_s / 10 : 60;
	if (o.max_staleness == 0)
		o.max_staleness = 50ull * o.keys < HIST_MAX ? 50ull * o.keys : HIST_MAX - 1;
	if (o.mode != MODE_MERGE)
		o.publishers = 1;
	/* Only the slow-consumer demonstration has slow subscribers by default. */
	if (o.mode == MODE_CONVERGE || o.mode == MODE_ORDERED)
		o.slow = 0;
	return 0;
}

/* ---- values ---- */

static int key_index(const void *key, uint16_t len)
{
	const char *k = key;
	unsigned idx = 0;

	if (len < 2 || len > 5 || k[0] != 'k')
		return -1;
	for (uint16_t i = 1; i < len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return -1;
		idx = idx * 10 + (unsigned)(k[i] - '0');
	}
	return idx < o.keys ? (int)idx : -1;
}

static void be64_put(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint64_t be64_get(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* A replace/none value: the update's number, its key, then filler. */
static void value_make(uint8_t *buf, uint64_t n, unsigned key)
{
	uint32_t k = htobe32(key);

	be64_put(buf, n);
	memcpy(buf + 8, &k, 4);
	for (unsigned i = VALUE_LEN_MIN; i < o.value_len; i++)
		buf[i] = (uint8_t)('a' + (n + i) % 26);
}

/* The counter a value carries, or 0 if the value is not one this test sends. */
static uint64_t value_parse(const uint8_t *v, uint16_t len, unsigned key)
{
	uint8_t want[HERALD_VALUE_MAX];
	uint64_t n;

	if (len != o.value_len)
		return 0;
	n = be64_get(v);
	value_make(want, n, key);
	return memcmp(want, v, o.value_len) == 0 ? n : 0;
}

/* merge: increment number i (0-based) adds this much. */
static uint64_t increment(uint64_t i)
{
	return 1 + (i * 7919) % 100;
}

/* ---- staleness ---- */

static void hist_add(struct hist *h, uint64_t v)
{
	h->count[v < HIST_MAX ? v : HIST_MAX]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

static uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t want = (uint64_t)((double)h->n * p), seen = 0;

	for (uint64_t v = 0; v <= HIST_MAX; v++) {
		seen += h->count[v];
		if (seen > want)
			return v;
	}
	return h->max;
}

static void hist_print(const char *who, const struct hist *h)
{
	printf("staleness %s (updates behind the publisher at receive): n %" PRIu64 " p50 %" PRIu64
	       " p99 %" PRIu64 " max %" PRIu64 "\n",
	       who, h->n, hist_pct(h, 0.5), hist_pct(h, 0.99), h->max);
}

/* ---- callbacks ---- */

static void complain(const struct sub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void complain(const struct sub *s, const char *fmt, ...)
{
	va_list ap;

	if (printed++ >= PRINT_MAX)
		return;
	printf("  %s subscriber %u: ", s->slow ? "slow" : "fast", s->id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void on_entry(struct sub *s, const struct herald_entry *e, bool snapshot)
{
	int k = key_index(e->key, e->key_len);
	uint64_t v;

	if (k < 0) {
		s->corrupt++;
		complain(s, "entry with a key this test never published (%u B)", e->key_len);
		return;
	}
	if (o.mode == MODE_MERGE)
		v = e->value_len == 8 ? be64_get(e->value) : 0;
	else
		v = value_parse(e->value, e->value_len, (unsigned)k);
	if (v == 0) {
		s->corrupt++;
		complain(s, "key k%d: value (%u B) is not one this test sent", k, e->value_len);
		return;
	}
	if (o.mode == MODE_ORDERED && !snapshot) {
		if (v != s->next_n) {
			s->misordered++;
			complain(s, "update %" PRIu64 " delivered where %" PRIu64 " was due", v,
				 s->next_n);
		}
		s->next_n = v + 1;
	}
	if (v < s->last[k]) {
		s->decreases++;
		complain(s, "key k%d went back from %" PRIu64 " to %" PRIu64 " (%s)", k,
			 s->last[k], v, snapshot ? "snapshot" : "delta");
	} else if (v == s->last[k] && !snapshot) {
		s->repeats++;
	}
	s->last[k] = v;
	if (o.mode != MODE_MERGE && pub_n >= v && s != &witness)
		hist_add(s->slow ? &stale_slow : &stale_fast, pub_n - v);
}

static void on_snapshot(void *user, const struct herald_entry *e)
{
	struct sub *s = user;

	s->snapshot_entries++;
	on_entry(s, e, true);
}

static void on_delta(void *user, const struct herald_entry *e)
{
	struct sub *s = user;

	s->deltas++;
	on_entry(s, e, false);
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct sub *s = user;

	(void)context;
	(void)seq;
	s->snap_done = true;
}

static void on_gap(void *user, uint32_t context, uint64_t expected, uint64_t next)
{
	struct sub *s = user;

	(void)context;
	/*
	 * Before the first update there is nothing to lose: such a notice is
	 * libherald reporting a lost initial snapshot, superseded by the one a
	 * retransmitted SUBSCRIBE brought. Counted and shown, not failed.
	 */
	if (pub_n == 0) {
		s->early_gaps++;
		complain(s, "GAP notice %" PRIu64 "..%" PRIu64 " before any update was published"
			 " (a lost initial snapshot)", expected, next - 1);
		return;
	}
	s->gaps++;
	/* On an ordered subscription this is the GAP notice: messages were really lost. */
	if (o.mode == MODE_ORDERED)
		complain(s, "GAP: messages %" PRIu64 "..%" PRIu64 " lost for good", expected,
			 next - 1);
}

static void on_timeout(void *user, uint32_t context)
{
	struct sub *s = user;

	(void)context;
	s->timeouts++;
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	struct sub *s = user;

	(void)context;
	if (o.node_restarts && code == HERALD_ERR_UNKNOWN_SESSION)
		return; /* the restarted node forgot the session; libherald resubscribes */
	if (o.mode == MODE_SLOW && code == HERALD_ERR_UNKNOWN_SESSION) {
		/* Judged in slow_verdict(): a checker that went silent has its sessions expired. */
		s->unknown++;
		complain(s, "ERROR UNKNOWN_SESSION: the node closed this session");
		return;
	}
	s->errors++;
	complain(s, "ERROR %u: %.*s", code, (int)len, text);
}

/* ---- clients ---- */

static struct herald_client *client_open(struct sub *s, uint32_t budget)
{
	struct herald_client_opts co = {
		.node = o.node,
		.max_subscriptions = 1,
		.auto_resync = 1,
		.rcvbuf = RCVBUF,
		.budget = budget,
		.heartbeat_ms = (uint16_t)o.heartbeat_ms,
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
	struct herald_client *c = herald_client_open(&co, &cb);
	int r;

	if (c != NULL && (r = check_loop_add(&loop, c)) < 0) {
		herald_client_close(c);
		errno = -r;
		return NULL;
	}
	return c;
}

static int pump(int max_wait_ms)
{
	return check_loop_pump(&loop, max_wait_ms);
}

/* Every subscriber subscribed so far has its snapshot. */
static bool all_snapshots(void)
{
	for (unsigned i = 0; i < nsubscribed; i++)
		if (!subs[i].snap_done)
			return false;
	return true;
}

/* Every subscriber holds exactly final_val (and, ordered, has seen every update). */
static bool sub_converged(const struct sub *s)
{
	if (o.mode == MODE_ORDERED && s->next_n != pub_n + 1)
		return false;
	for (unsigned k = 0; k < o.keys; k++)
		if (s->last[k] != final_val[k])
			return false;
	return true;
}

static unsigned converged_count(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nsubs; i++)
		n += sub_converged(&subs[i]);
	return n;
}

/* Pump until every subscriber satisfies @p done or @p limit_ms pass. */
static int wait_for(bool (*done)(void), uint64_t limit_ms)
{
	uint64_t deadline = now_ns() + limit_ms * 1000000ull;

	while (!done()) {
		uint64_t t = now_ns();

		if (t >= deadline)
			return -ETIMEDOUT;
		if (pump((int)((deadline - t) / 1000000ull) + 1) < 0)
			return -EIO;
	}
	return 0;
}

static bool all_converged(void)
{
	return converged_count() == nsubs;
}

/* ---- publishing ---- */

static int publish_one(void)
{
	uint64_t i = pub_n; /* 0-based number of this update */
	uint8_t buf[HERALD_VALUE_MAX];
	char kname[8];
	unsigned key;
	int kl, r;

	if (o.mode == MODE_MERGE) {
		/* Interleaved: update i comes from publisher i % P, each one covering every key. */
		key = (unsigned)((i / o.publishers) % o.keys);
		be64_put(buf, increment(i));
		kl = snprintf(kname, sizeof(kname), "k%u", key);
		r = herald_publish(pubs[i % o.publishers], o.context, kname, (size_t)kl, buf, 8);
		if (r == 0)
			final_val[key] += increment(i);
	} else {
		key = (unsigned)(i % o.keys);
		value_make(buf, i + 1, key);
		kl = snprintf(kname, sizeof(kname), "k%u", key);
		r = herald_publish(pubs[0], o.context, kname, (size_t)kl, buf, o.value_len);
		if (r == 0)
			final_val[key] = i + 1;
	}
	if (r < 0) {
		fprintf(stderr, "herald-conflation-check: publish %" PRIu64 ": %s\n", i + 1,
			strerror(-r));
		return r;
	}
	pub_n = i + 1;
	return 0;
}

static void stats_sum(struct herald_client_stats *sum);

/* ---- what the checker watches: the node, and itself ---- */

static struct watch_sample samples[SAMPLES_MAX];
static unsigned nsamples;
static bool watching;                /* slow mode: samples are taken */
static struct watch_sample w_start;  /* before the first client opened */
static struct watch_sample w_ready;  /* every snapshot in, before publishing */
static struct watch_sample w_settled; /* converged after the publisher stopped */
static uint64_t max_behind;          /* most updates the publisher was behind its schedule */
static uint64_t startup_away_ns;     /* the checker's longest time away while subscribing */
static uint64_t skipped;             /* slow: updates not published after a stall of the checker */

static long deltas_total(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < nsubs; i++)
		n += subs[i].deltas;
	return (long)n;
}

static void watch_now(struct watch_sample *w, double t, uint64_t behind)
{
	watch_read(w);
	w->t = t;
	w->client_deltas = deltas_total();
	w->published = (long)pub_n;
	w->behind = (long)behind;
}

static void sample_take(double t, uint64_t behind)
{
	if (watching && nsamples < SAMPLES_MAX)
		watch_now(&samples[nsamples++], t, behind);
}

static void progress_print(double secs)
{
	struct herald_client_stats st;
	uint64_t sd = 0, fd = 0;

	for (unsigned i = 0; i < nsubs; i++)
		*(subs[i].slow ? &sd : &fd) += subs[i].deltas;
	stats_sum(&st);
	fprintf(stderr, "  %4.0f s: published %" PRIu64 ", deltas slow %" PRIu64 " fast %" PRIu64
		", staleness max slow %" PRIu64 " fast %" PRIu64 ", gaps %" PRIu64 " resyncs %"
		PRIu64 " subscribe_retries %" PRIu64 " naks %" PRIu64 ", checker away max %.1f ms\n",
		secs, pub_n, sd, fd, stale_slow.max, stale_fast.max, st.gaps, st.resyncs,
		st.subscribe_retries, st.naks, (double)loop.max_away_ns / 1e6);
}

/*
 * Publish at o.rate updates/s until @p until_n updates or @p until_ns, while
 * serving every client; prints progress, samples the node and the checker
 * every second, and notes how far the publisher fell behind its schedule.
 */
static int publish_paced(uint64_t until_n, uint64_t until_ns)
{
	uint64_t t0 = now_ns(), t_sched = t0, base = pub_n, next_sample = t0 + 1000000000ull;
	/* Progress every second, every 10 s on long runs. */
	unsigned every = o.mode == MODE_SLOW && o.duration_s > 120 ? 10 : 1, tick = 0;

	while (pub_n < until_n && now_ns() < until_ns) {
		uint64_t t = now_ns();
		uint64_t due = base + (t - t_sched) * o.rate / 1000000000ull;

		for (unsigned b = 0; pub_n < due && pub_n < until_n && b < PUBLISH_BURST; b++)
			if (publish_one() < 0)
				return -EIO;
		if (due > pub_n && due - pub_n > max_behind)
			max_behind = due - pub_n;
		/*
		 * Slow mode is a steady load: after a stall of the checker (over
		 * a second behind) the schedule restarts from now rather than
		 * bursting the backlog out at once.
		 */
		if (o.mode == MODE_SLOW && due > pub_n + o.rate) {
			skipped += due - pub_n;
			t_sched = t;
			base = pub_n;
		}
		if (t >= next_sample) {
			sample_take((double)(t - t0) / 1e9, due > pub_n ? due - pub_n : 0);
			next_sample += 1000000000ull;
			if (next_sample <= t) /* after a stall: one sample, not a burst of them */
				next_sample = t + 1000000000ull;
			if (tick++ % every == 0)
				progress_print((double)(t - t0) / 1e9);
		}
		if (pump(pub_n < due ? 0 : 1) < 0)
			return -EIO;
	}
	return 0;
}

/* Publish in bursts of o.batch, each drained by every subscriber before the next. */
static unsigned publish_batched(void)
{
	unsigned slow_batches = 0;

	while (pub_n < o.updates) {
		for (uint64_t b = 0; b < o.batch && pub_n < o.updates; b++)
			if (publish_one() < 0)
				return UINT32_MAX;
		if (wait_for(all_converged, 2000) == -ETIMEDOUT)
			slow_batches++;
	}
	return slow_batches;
}

/* ---- report ---- */

_Static_assert(sizeof(struct herald_client_stats) % sizeof(uint64_t) == 0,
	       "client stats are uint64_t counters");

static void stats_sum(struct herald_client_stats *sum)
{
	struct herald_client_stats st;

	memset(sum, 0, sizeof(*sum));
	/* Every field is a uint64_t counter: sum them all at once. */
	for (unsigned i = 0; i < nsubs; i++) {
		const uint64_t *from = (const uint64_t *)&st;
		uint64_t *to = (uint64_t *)sum;

		herald_client_stats(subs[i].c, &st);
		for (size_t f = 0; f < sizeof(st) / sizeof(uint64_t); f++)
			to[f] += from[f];
	}
}

static void stats_report(void)
{
	struct herald_client_stats sum;

	stats_sum(&sum);
	printf("client stats (all subscribers): gaps %" PRIu64 " lost %" PRIu64 " resyncs %" PRIu64
	       " snapshots %" PRIu64 " subscribe_retries %" PRIu64 " naks %" PRIu64
	       " nak_retries %" PRIu64 " repaired %" PRIu64 " held %" PRIu64
	       " history_lost %" PRIu64 " reorder_overflows %" PRIu64 " stale %" PRIu64
	       " timeouts %" PRIu64 "\n",
	       sum.gaps, sum.lost, sum.resyncs, sum.snapshots, sum.subscribe_retries, sum.naks,
	       sum.nak_retries, sum.repaired, sum.held, sum.history_lost, sum.reorder_overflows,
	       sum.stale, sum.timeouts);
	for (int r = 1; r < HERALD_DROP_MAX; r++)
		if (sum.drops[r])
			printf("client drops %s: %" PRIu64 "\n", herald_drop_name(r), sum.drops[r]);
}

/* Per class: deliveries, rate over @p secs, and what went wrong. */
static unsigned class_report(bool slow, double secs)
{
	uint64_t deltas = 0, snaps = 0, dec = 0, rep = 0, bad = 0, mis = 0, gaps = 0, errs = 0;
	uint64_t early = 0;
	unsigned n = 0, conv = 0, failed = 0;

	for (unsigned i = 0; i < nsubs; i++) {
		const struct sub *s = &subs[i];

		if (s->slow != slow)
			continue;
		n++;
		conv += sub_converged(s);
		deltas += s->deltas;
		snaps += s->snapshot_entries;
		dec += s->decreases;
		rep += s->repeats;
		bad += s->corrupt;
		mis += s->misordered;
		gaps += s->gaps;
		early += s->early_gaps;
		errs += s->errors;
		if (!sub_converged(s) || s->decreases || s->corrupt || s->misordered || s->errors ||
		    (o.mode == MODE_ORDERED && s->gaps))
			failed++;
	}
	if (n == 0)
		return 0;
	printf("%s subscribers: %u, converged %u/%u, deltas %" PRIu64 " (%.0f/s each over %.1f s)"
	       ", snapshot entries %" PRIu64 ", decreases %" PRIu64 ", repeats %" PRIu64
	       ", corrupt %" PRIu64 ", misordered %" PRIu64 ", gaps %" PRIu64
	       " (+%" PRIu64 " before the first update), errors %" PRIu64 "\n",
	       slow ? "slow" : "fast", n, conv, n, deltas, (double)deltas / n / secs, secs,
	       snaps, dec, rep, bad, mis, gaps, early, errs);
	return failed;
}

static void divergence_print(void)
{
	/* A key every subscriber agrees on, against the publisher: the node never applied it. */
	for (unsigned k = 0; k < o.keys && nsubs > 1; k++) {
		bool same = subs[0].last[k] != final_val[k];

		for (unsigned i = 1; i < nsubs && same; i++)
			same = subs[i].last[k] == subs[0].last[k];
		if (same && printed++ < PRINT_MAX)
			printf("  every subscriber holds %" PRIu64 " for k%u, the publisher's final is %"
			       PRIu64 ": the node did not apply it (a PUBLISH lost on its way in;"
			       " compare the node's publishes counter)\n", subs[0].last[k], k,
			       final_val[k]);
	}
	for (unsigned i = 0; i < nsubs; i++) {
		const struct sub *s = &subs[i];

		for (unsigned k = 0; k < o.keys && !sub_converged(s); k++)
			if (s->last[k] != final_val[k]) {
				complain(s, "key k%u holds %" PRIu64 ", publisher's final %" PRIu64, k,
					 s->last[k], final_val[k]);
				break;
			}
		if (o.mode == MODE_ORDERED && s->next_n != pub_n + 1)
			complain(s, "saw updates up to %" PRIu64 " of %" PRIu64, s->next_n - 1, pub_n);
	}
}

/* Node counters a lagging checker can raise: sessions expired for late heartbeats. */
static bool lag_explains(const char *name)
{
	static const char *const names[] = {
		"sessions_expired",       /* its heartbeats stopped for the timeout */
		"unknown_session_errors", /* its next heartbeats named the expired session */
		"errors_sent",            /* those ERRORs */
		"drop_unknown_session",   /* and the heartbeats themselves */
		"sessions_unconfirmed",   /* its new SUBSCRIBE not confirmed while it caught up */
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static bool lag_cannot_explain(const char *name)
{
	return !lag_explains(name);
}

/*
 * What the checker saw of itself: whether IT fell behind (so a check it
 * failed may measure the checker, not the node). Prints every figure.
 */
static bool checker_lagged(double wall_s)
{
	long rcvbuf = w_settled.rcvbuf_errors - w_ready.rcvbuf_errors;
	long ifdrop = w_settled.path_drops - w_ready.path_drops;
	double away_ms = (double)loop.max_away_ns / 1e6, cpu;
	double away_limit_ms = (o.heartbeat_ms ? o.heartbeat_ms : HERALD_HEARTBEAT_MS_DEFAULT) *
			       HERALD_CLIENT_TIMEOUT_BEATS_DEFAULT / 2.0;
	struct rusage ru;
	bool lagged;

	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("checker while subscribing: longest away from its sockets %.1f ms, UDP RcvbufErrors"
	       " %ld, interface drops/errors %ld\n", (double)startup_away_ns / 1e6,
	       w_ready.rcvbuf_errors - w_start.rcvbuf_errors, w_ready.path_drops - w_start.path_drops);
	/* Away for half a session's timeout: the node may expire its sessions. */
	lagged = rcvbuf > 0 || ifdrop > 0 || max_behind > o.rate || away_ms > away_limit_ms;
	printf("checker under load: cpu %.1f s of %.1f s wall (%.0f %% of one core), %" PRIu64
	       " rounds, longest away from its sockets %.1f ms (limit %.0f), publisher at most %"
	       PRIu64 " updates behind schedule (%.2f s), datagrams dropped for its full sockets"
	       " (UDP RcvbufErrors) %ld, interface drops/errors %ld, updates skipped after"
	       " stalls %" PRIu64 ": %s\n", cpu, wall_s,
	       100 * cpu / wall_s, loop.rounds, away_ms, away_limit_ms, max_behind,
	       (double)max_behind / (double)o.rate, rcvbuf, ifdrop, skipped,
	       lagged ? "the CHECKER FELL BEHIND" : "kept up");
	return lagged;
}

/*
 * The slow mode's checks beyond every subscriber's correctness (@p failed).
 * @return 0 pass, 1 the node failed, 3 inconclusive: only checks failed
 *         that the checker's own lag explains, and it did lag.
 */
static int slow_verdict(double pub_secs, double wall_s, unsigned failed)
{
	unsigned node_bad = failed, lag_bad = 0, starved = 0;
	uint64_t budget_msgs, p99 = hist_pct(&stale_slow, 0.99), unknown = 0;
	bool lagged = checker_lagged(wall_s);

	for (unsigned i = 0; i < nsubs; i++)
		unknown += subs[i].unknown;
	if (unknown) {
		printf("check: %" PRIu64 " ERROR UNKNOWN_SESSION received: the node closed sessions"
		       " (expired: their heartbeats stopped for its timeout)\n", unknown);
		lag_bad++;
	}

	if (stale_slow.max > o.max_staleness || stale_fast.max > o.max_staleness) {
		printf("check: staleness above the bound of %" PRIu64 " updates (%u keys): a backlog\n",
		       o.max_staleness, o.keys);
		lag_bad++;
	}
	if (o.slow)
		printf("slow staleness p99 %" PRIu64 " / bound %" PRIu64 "\n", p99, o.max_staleness);
	/* The budget holds: a slow client never gets much more than it asked for. */
	budget_msgs = (uint64_t)((double)o.budget * pub_secs * 1.5) + o.keys;
	for (unsigned i = o.fast; i < nsubs; i++)
		if (subs[i].deltas > budget_msgs) {
			printf("check: slow subscriber %u got %" PRIu64 " deltas, budget allows ~%.0f\n",
			       i, subs[i].deltas, o.budget * pub_secs);
			node_bad++;
		}
	/* One slow consumer must not slow the others down. */
	for (unsigned i = 0; i < o.fast; i++)
		if (subs[i].deltas < pub_n / 2 && starved++ < PRINT_MAX)
			printf("check: fast subscriber %u got only %" PRIu64 " of %" PRIu64 " updates\n",
			       i, subs[i].deltas, pub_n);
	if (starved) {
		printf("check: %u fast subscribers got under half of the updates\n", starved);
		lag_bad++;
	}
	if (!watching)
		goto verdict;
	watch_print(samples, nsamples, 120);
	if (!watch_mem_flat(samples, nsamples, (double)o.warmup_s, (long)o.mem_slack_kb,
			    (long)o.mem_slack_mbufs))
		node_bad++;
	if (w_ready.mbufs >= 0) {
		bool back = w_settled.mbufs <= w_ready.mbufs + (long)o.mem_slack_mbufs;

		printf("node mbufs_in_use: %ld before publishing, %ld after the run settled "
		       "(tolerance +%" PRIu64 "): %s\n", w_ready.mbufs, w_settled.mbufs,
		       o.mem_slack_mbufs, back ? "back to baseline" : "NOT back to baseline");
		node_bad += !back;
	}
	/*
	 * PUBLISH is not acknowledged: with --strict-counters one lost on the
	 * way in fails the run unless a stall explains it (the node's receive
	 * ring overflows while its lcore is not scheduled; af_packet does not
	 * count those drops).
	 */
	if (w_start.publishes >= 0) {
		long lost = (long)pub_n - (w_settled.publishes - w_start.publishes);

		printf("%snode applied %ld of the %" PRIu64 " publishes (%ld lost on the way in) and"
		       " made %ld deliveries\n", lost > 0 && o.strict_counters ? "check: " : "",
		       w_settled.publishes - w_start.publishes, pub_n, lost,
		       w_settled.deliveries - w_start.deliveries);
		lag_bad += lost > 0 && o.strict_counters;
	}
	/*
	 * The node's own lcore unscheduled for a second: the machine stalled,
	 * and what a stall explains (expired sessions) is not the node's doing.
	 */
	if (w_settled.stalls > w_ready.stalls) {
		printf("node worker_stalls +%ld under load: its lcore went unscheduled for over a"
		       " second: the MACHINE STALLED\n", w_settled.stalls - w_ready.stalls);
		lagged = true;
	}
	if (w_start.node_errors >= 0) {
		const char *pre = o.strict_counters ? "check: node " : "node (not checked here): ";
		unsigned startup = watch_errors_risen(&w_start, &w_ready, "node while subscribing (not"
						      " judged): ", NULL);
		unsigned hard = watch_errors_risen(&w_ready, &w_settled, pre, lag_explains);
		unsigned soft = watch_errors_risen(&w_ready, &w_settled, pre, lag_cannot_explain);

		watch_unread_print(&w_settled);
		printf("node error and drop counters (%u watched): %u rose while subscribing, %u under"
		       " load\n", watch_error_count(), startup, hard + soft);
		if (o.strict_counters) {
			node_bad += hard;
			lag_bad += soft;
		}
	}
verdict:
	if (node_bad || (lag_bad && !lagged)) {
		printf("FAIL: %u check(s) failed, the checker %s: the node failed\n", node_bad + lag_bad,
		       lagged ? "fell behind too" : "kept up");
		return 1;
	}
	if (lag_bad) {
		printf("INCONCLUSIVE: %u check(s) failed that the checker's lag or a machine stall"
		       " explains (see 'checker' and 'worker_stalls' above); the node failed none\n",
		       lag_bad);
		return 3;
	}
	if (lagged)
		printf("note: the checker fell behind, yet every check passed\n");
	printf("PASS\n");
	return 0;
}

static bool never(void)
{
	return false;
}

static bool witness_synced(void)
{
	return witness.snap_done;
}

/*
 * slow and --judge-by-node: what the node holds once the publisher stopped, from a new
 * subscriber's snapshot (and the deltas of 0.5 s after it, for publishes
 * still in flight). A key whose last PUBLISH never reached the node is
 * reported, and the subscribers are then judged against the node's value.
 * @return 0, or -1 if the witness could not subscribe.
 */
static int node_state(void)
{
	int r;

	witness.last = calloc(o.keys, sizeof(*witness.last));
	if (witness.last == NULL || (witness.c = client_open(&witness, 0)) == NULL) {
		fprintf(stderr, "herald-conflation-check: witness subscriber: %s\n", strerror(errno));
		return -1;
	}
	if ((r = herald_subscribe(witness.c, o.context)) < 0) {
		fprintf(stderr, "herald-conflation-check: witness subscribe: %s\n", strerror(-r));
		return -1;
	}
	if (wait_for(witness_synced, 10000) < 0) {
		fprintf(stderr, "herald-conflation-check: witness got no snapshot in 10 s\n");
		return -1;
	}
	wait_for(never, 500);
	for (unsigned k = 0; k < o.keys; k++) {
		if (witness.last[k] == final_val[k])
			continue;
		if (lost_last++ < PRINT_MAX)
			printf("  k%u: the node holds %" PRIu64 ", the publisher's last was %" PRIu64
			       ": that PUBLISH was lost on its way in\n", k, witness.last[k], final_val[k]);
		final_val[k] = witness.last[k];
	}
	printf("node state after publishing: %u of %u keys hold the publisher's last value, %u"
	       " lost their last PUBLISH on the way in; subscribers are judged against the node\n",
	       o.keys - lost_last, o.keys, lost_last);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"slow", "merge", "converge", "ordered"};
	uint64_t t0, t_pub, t_end;
	unsigned failed = 0, slow_batches = 0;
	double pub_secs;
	int ret = 1;

	if (parse_args(argc, argv) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	nsubs = o.fast + o.slow;
	raise_nofile(nsubs + o.publishers + 64);
	subs = calloc(nsubs, sizeof(*subs));
	final_val = calloc(o.keys, sizeof(*final_val));
	if (subs == NULL || final_val == NULL)
		goto out_free;

	printf("herald-conflation-check --mode %s: node %s context %" PRIu32 ", %u keys, %u fast + "
	       "%u slow subscribers (budget %u msgs/s), %u publisher(s)\n",
	       names[o.mode], o.node, o.context, o.keys, o.fast, o.slow, o.budget, o.publishers);
	if (check_loop_init(&loop) < 0) {
		fprintf(stderr, "herald-conflation-check: epoll: %s\n", strerror(errno));
		goto out_free;
	}
	if (o.mode == MODE_SLOW) {
		watching = true;
		watch_open(o.dp_pid, o.telemetry);
		watch_now(&w_start, 0, 0);
	}
	t0 = now_ns();
	for (unsigned p = 0; p < o.publishers; p++) {
		static struct sub pub_user = {.id = UINT32_MAX};

		if ((pubs[p] = client_open(&pub_user, 0)) == NULL) {
			fprintf(stderr, "herald-conflation-check: publisher %u: %s\n", p, strerror(errno));
			goto out_close;
		}
	}
	for (unsigned i = 0; i < nsubs; i++) {
		struct sub *s = &subs[i];
		int r;

		s->id = i;
		s->slow = i >= o.fast;
		s->next_n = 1;
		s->last = calloc(o.keys, sizeof(*s->last));
		if (s->last == NULL || (s->c = client_open(s, s->slow ? o.budget : 0)) == NULL) {
			fprintf(stderr, "herald-conflation-check: subscriber %u: %s\n", i, strerror(errno));
			goto out_close;
		}
		r = herald_subscribe_ex(s->c, o.context, o.mode == MODE_ORDERED ? HERALD_SUB_ORDERED : 0);
		if (r < 0) {
			fprintf(stderr, "herald-conflation-check: subscribe %u: %s\n", i, strerror(-r));
			goto out_close;
		}
		nsubscribed = i + 1;
		if (nsubscribed % SUBSCRIBE_WAVE == 0 && nsubscribed < nsubs &&
		    wait_for(all_snapshots, 2000) == -EIO)
			goto out_close;
	}
	if (wait_for(all_snapshots, 10000) < 0) {
		fprintf(stderr, "herald-conflation-check: not every subscriber got a snapshot in 10 s\n");
		goto out_close;
	}
	fprintf(stderr, "all %u snapshots received after %.1f ms\n", nsubs,
		(double)(now_ns() - t0) / 1e6);
	if (watching)
		watch_now(&w_ready, 0, 0);
	/* The checker's lag is judged over the steady load, from here. */
	startup_away_ns = loop.max_away_ns;
	loop.max_away_ns = 0;

	t_pub = now_ns();
	if (o.mode == MODE_SLOW) {
		if (publish_paced(UINT64_MAX, t_pub + o.duration_s * 1000000000ull) < 0)
			goto out_close;
	} else if (o.mode == MODE_ORDERED) {
		slow_batches = publish_batched();
		if (slow_batches == UINT32_MAX)
			goto out_close;
	} else {
		/*
		 * PUBLISH is not acknowledged, and only each key's last update
		 * decides the final state: the last round goes at a gentler pace,
		 * so a node starved of CPU on a shared host does not drop it.
		 */
		uint64_t last_round = o.mode == MODE_CONVERGE && o.updates > o.keys ? o.keys : 0;

		if (publish_paced(o.updates - last_round, UINT64_MAX) < 0)
			goto out_close;
		o.rate = o.rate < LAST_ROUND_RATE ? o.rate : LAST_ROUND_RATE;
		if (publish_paced(o.updates, UINT64_MAX) < 0)
			goto out_close;
	}
	pub_secs = (double)(now_ns() - t_pub) / 1e9;
	printf("published %" PRIu64 " updates in %.2f s (%.0f/s)%s\n", pub_n, pub_secs,
	       (double)pub_n / pub_secs, o.mode == MODE_ORDERED ? "" : ", paced");
	if (slow_batches)
		printf("batches not drained within 2 s: %u\n", slow_batches);

	/* The publisher has stopped: everyone must now hold exactly its final state. */
	t_end = now_ns();
	if ((o.mode == MODE_SLOW || o.judge_by_node) && node_state() < 0)
		goto out_close;
	if (wait_for(all_converged, o.settle_ms) < 0)
		printf("not every subscriber converged within %" PRIu64 " ms\n", o.settle_ms);
	printf("converged %u/%u subscribers, %.3f s after the publisher stopped\n",
	       converged_count(), nsubs, (double)(now_ns() - t_end) / 1e9);
	printed = 0; /* the divergence gets its own lines, however many complaints came before */
	divergence_print();
	if (watching) {
		/* Heartbeats only for a moment: what the node holds once idle. */
		wait_for(never, 2000);
		watch_now(&w_settled, (double)(now_ns() - t_pub) / 1e9, 0);
	}
	if (o.mode == MODE_MERGE) {
		uint64_t total = 0;

		printf("final sums:");
		for (unsigned k = 0; k < o.keys; k++) {
			printf(" k%u=%" PRIu64, k, final_val[k]);
			total += final_val[k];
		}
		printf(" (total %" PRIu64 " from %" PRIu64 " increments)\n", total, pub_n);
	}

	failed += class_report(false, pub_secs);
	failed += class_report(true, pub_secs);
	stats_report();
	if (o.mode != MODE_MERGE) {
		hist_print("fast", &stale_fast);
		if (o.slow)
			hist_print("slow", &stale_slow);
	}
	if (o.mode == MODE_SLOW) {
		ret = slow_verdict(pub_secs, (double)(now_ns() - t0) / 1e9, failed);
	} else {
		ret = failed == 0 ? 0 : 1;
		printf("%s\n", ret == 0 ? "PASS" : "FAIL");
	}

out_close:
	for (unsigned i = 0; i < nsubs; i++)
		if (subs[i].c)
			herald_unsubscribe(subs[i].c, o.context);
	if (witness.c)
		herald_unsubscribe(witness.c, o.context);
	check_loop_close(&loop);
	watch_close();
out_free:
	if (subs)
		for (unsigned i = 0; i < nsubs; i++)
			free(subs[i].last);
	free(witness.last);
	free(subs);
	free(final_val);
	return ret;
}
