/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-peer-pingpong: the round trip herald-pingpong measures through
 * Herald, measured through the pub/sub servers users pick instead (Redis,
 * NATS, MQTT). One client per peer subscribes to a topic and publishes to
 * it; a round trip is one publish and its delivery back to the same client.
 * Closed loop, one message outstanding, the payload's first 8 bytes a
 * round-trip counter so a late delivery is recognised; warm-up discarded;
 * percentiles from bench_util.h. Peers are interleaved per size, so they
 * see the same moments of a shared machine.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <jansson.h>

#define BENCH_NAME "herald-peer-pingpong"
#include "../bench_util.h"
#include "peer.h"

#define PEERS_MAX 3
#define SIZES_MAX 32
#define SIZE_MIN ((unsigned)sizeof(uint64_t))
#define SIZE_MAX_BYTES 65536


/* What herald-pingpong reports for one path, with the same JSON names. */
static const struct pct {
	double p;
	const char *json;
	const char *head;
} pcts[] = {
	{50, "p50_us", "p50"}, {90, "p90_us", "p90"}, {99, "p99_us", "p99"}, {99.9, "p999_us", "p99.9"},
};
#define NPCT (sizeof(pcts) / sizeof(pcts[0]))

struct result {
	unsigned count, lost, stale;
	double min, max, pct[NPCT]; /* microseconds */
};

struct opts {
	const char *node;
	const char *json;
	const char *topic;
	const struct peer_ops *peers[PEERS_MAX];
	uint16_t ports[PEERS_MAX];
	unsigned npeers;
	unsigned sizes[SIZES_MAX];
	unsigned nsizes;
	unsigned count, warmup;
	int timeout_ms;
	bool busy; /* --busy-poll */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-peer-pingpong --node IP [options]\n"
		"  --node IP           address of the peer servers\n"
		"  --peers LIST        comma-separated NAME[:PORT] (built in:");
	for (unsigned i = 0; peers_built_in[i]; i++)
		fprintf(out, " %s:%u", peers_built_in[i]->name, peers_built_in[i]->default_port);
	fprintf(out,
		"; default all)\n"
		"  --sizes LIST        payload sizes in bytes (default 125,256,512,1024,1500,2000)\n"
		"  --count N           measured round trips per size and peer (default 10000)\n"
		"  --warmup N          discarded round trips per size and peer (default 1000)\n"
		"  --topic NAME        channel / subject / topic (default: derived from the pid)\n"
		"  --timeout-ms MS     wait for one delivery before counting it lost (default 2000;\n"
		"                      over TCP a late delivery is a stall, not a loss)\n"
		"  --busy-poll         never sleep waiting for a delivery: poll without blocking\n"
		"                      (NATS: libnats still reads on a thread of its own)\n"
		"  --json FILE         also write the results as JSON\n");
}

static const struct peer_ops *peer_by_name(const char *name, size_t len)
{
	for (unsigned i = 0; peers_built_in[i]; i++)
		if (strlen(peers_built_in[i]->name) == len && memcmp(peers_built_in[i]->name, name, len) == 0)
			return peers_built_in[i];
	return NULL;
}

static int parse_peers(const char *arg, struct opts *o)
{
	const char *s = arg;

	o->npeers = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		const char *colon = memchr(s, ':', len);
		const struct peer_ops *ops = peer_by_name(s, colon ? (size_t)(colon - s) : len);
		unsigned long port = ops ? ops->default_port : 0;
		char num[8];

		if (ops == NULL || o->npeers == PEERS_MAX)
			return -EINVAL;
		if (colon) {
			size_t n = len - (size_t)(colon - s) - 1;

			if (n == 0 || n >= sizeof(num))
				return -EINVAL;
			memcpy(num, colon + 1, n);
			num[n] = '\0';
			if (parse_uint(num, 65535, &port) < 0 || port == 0)
				return -EINVAL;
		}
		o->peers[o->npeers] = ops;
		o->ports[o->npeers++] = (uint16_t)port;
		s += len;
		if (*s == ',' && *++s == '\0')
			return -EINVAL;
	}
	return o->npeers ? 0 : -EINVAL;
}

/* optarg as a whole number in @p min..@p max, or a message naming @p opt. */
static int num_arg(const char *opt, unsigned long min, unsigned long max, unsigned long *v)
{
	char want[64];

	if (parse_uint(optarg, max, v) == 0 && *v >= min)
		return 0;
	snprintf(want, sizeof(want), "a whole number in %lu..%lu", min, max);
	return bad_arg(opt, optarg, want);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'}, {"peers", required_argument, NULL, 'p'},
		{"sizes", required_argument, NULL, 's'}, {"count", required_argument, NULL, 'c'},
		{"warmup", required_argument, NULL, 'w'}, {"topic", required_argument, NULL, 'T'},
		{"timeout-ms", required_argument, NULL, 't'}, {"json", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {"busy-poll", no_argument, NULL, 'b'},
		{NULL, 0, NULL, 0},
	};
	static char topic[32];
	struct in_addr ia;
	unsigned long v;
	int opt, ret;

	*o = (struct opts){.count = 10000, .warmup = 1000, .timeout_ms = 2000, .topic = topic,
			   .sizes = {125, 256, 512, 1024, 1500, 2000}, .nsizes = 6};
	snprintf(topic, sizeof(topic), "herald-pp-%ld", (long)getpid());
	for (unsigned i = 0; peers_built_in[i] && i < PEERS_MAX; i++) {
		o->peers[i] = peers_built_in[i];
		o->ports[i] = peers_built_in[i]->default_port;
		o->npeers++;
	}

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (inet_pton(AF_INET, optarg, &ia) != 1)
				return bad_arg("--node", optarg, "an IPv4 address");
			o->node = optarg;
			break;
		case 'p':
			if (parse_peers(optarg, o) < 0)
				return bad_arg("--peers", optarg, "a list of built-in peers, NAME[:PORT]");
			break;
		case 's':
			ret = parse_uint_list(optarg, o->sizes, SIZES_MAX, SIZE_MIN, SIZE_MAX_BYTES);
			if (ret < 0)
				return bad_arg("--sizes", optarg, "a list of 8..65536 byte sizes (at most 32)");
			o->nsizes = (unsigned)ret;
			break;
		case 'c':
		case 'w':
			if (num_arg(opt == 'c' ? "--count" : "--warmup", opt == 'c', UINT_MAX, &v) < 0)
				return -EINVAL;
			*(opt == 'c' ? &o->count : &o->warmup) = (unsigned)v;
			break;
		case 'T':
			if (*optarg == '\0' || strlen(optarg) > 60 || strpbrk(optarg, " #+*>"))
				return bad_arg("--topic", optarg, "1..60 characters, no blanks or wildcards");
			o->topic = optarg;
			break;
		case 'b':
			o->busy = true;
			break;
		case 't':
			if (num_arg("--timeout-ms", 1, 600000, &v) < 0)
				return -EINVAL;
			o->timeout_ms = (int)v;
			break;
		default:
			if (common_opt(opt, &o->json, usage) < 0)
				return -EINVAL;
			break;
		}
	}
	if (o->npeers == 0) {
		fprintf(stderr, BENCH_NAME ": built without any peer client library\n");
		return -ENOENT;
	}
	return args_finish(argc, argv, o->node, usage);
}

/* Sort @p n samples (ns) and reduce them to @p r (µs). */
static void summarize(uint64_t *s, unsigned n, struct result *r)
{
	r->count = n;
	if (n == 0)
		return;
	qsort(s, n, sizeof(*s), cmp_u64);
	r->min = (double)s[0] / 1e3;
	r->max = (double)s[n - 1] / 1e3;
	for (unsigned i = 0; i < NPCT; i++)
		r->pct[i] = (double)rank_u64(s, n, pcts[i].p) / 1e3;
}

/* warm-up + count closed-loop round trips of @p size bytes through one peer. */
static int run(const struct peer_ops *ops, struct peer *p, const struct opts *o, unsigned size,
	       uint64_t *samples, uint64_t *counter, struct result *r)
{
	static uint8_t out[SIZE_MAX_BYTES], in[SIZE_MAX_BYTES];
	unsigned kept = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned i = size - 1; i >= sizeof(*counter); i--)
		out[i] = (uint8_t)('a' + i % 26);
	for (unsigned i = 0; i < o->warmup + o->count; i++) {
		uint64_t want = ++*counter, t0, t1 = 0, deadline;
		bool got = false;

		memcpy(out, &want, sizeof(want));
		t0 = now_ns();
		if (ops->publish(p, out, size) < 0)
			return -EIO;
		deadline = t0 + (uint64_t)o->timeout_ms * 1000000ull;
		while (!got) {
			uint64_t t = now_ns(), c;
			int n;

			if (t >= deadline)
				break;
			if (o->busy && ops->try_receive) {
				n = ops->try_receive(p, in, sizeof(in));
				if (n < 0)
					return n;
				if (n == 0)
					continue;
			} else {
				n = ops->receive(p, in, sizeof(in),
						 (int)((deadline - t + 999999) / 1000000));
				if (n < 0)
					return n;
				if (n == 0)
					break;
			}
			memcpy(&c, in, sizeof(c));
			if (c == want && (unsigned)n == size) {
				t1 = now_ns();
				got = true;
			} else {
				r->stale++;
			}
		}
		if (ops->settle && ops->settle(p) < 0)
			return -EIO;
		if (i < o->warmup)
			continue;
		if (got)
			samples[kept++] = t1 - t0;
		else
			r->lost++;
	}
	summarize(samples, kept, r);
	return 0;
}

static json_t *result_json(const struct result *r)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:f, s:f}", "count", (json_int_t)r->count, "lost",
			      (json_int_t)r->lost, "stale", (json_int_t)r->stale, "min_us", r->min,
			      "max_us", r->max);

	for (unsigned i = 0; j && i < NPCT; i++)
		json_object_set_new(j, pcts[i].json, json_real(r->pct[i]));
	return j;
}

static int write_json(const struct opts *o, struct result (*res)[PEERS_MAX])
{
	json_t *rows = json_array();

	for (unsigned s = 0; rows && s < o->nsizes; s++) {
		json_t *row = json_pack("{s:I}", "size", (json_int_t)o->sizes[s]);

		for (unsigned k = 0; row && k < o->npeers; k++)
			json_object_set_new(row, o->peers[k]->name, result_json(&res[s][k]));
		json_array_append_new(rows, row);
	}
	return json_write(json_pack("{s:s, s:s, s:I, s:I, s:I, s:b, s:s, s:o}", "node", o->node,
				    "topic", o->topic, "count", (json_int_t)o->count, "warmup",
				    (json_int_t)o->warmup, "timeout_ms", (json_int_t)o->timeout_ms,
				    "busy_poll", o->busy, "value_size_meaning",
				    "message payload bytes", "results", rows),
			  o->json);
}

int main(int argc, char **argv)
{
	static struct result res[SIZES_MAX][PEERS_MAX];
	struct peer *conns[PEERS_MAX] = {0};
	uint64_t *samples, counter = 0;
	struct opts o;
	int ret = 1;
	bool empty = false;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	samples = calloc(o.count, sizeof(*samples));
	if (samples == NULL)
		return 1;
	for (unsigned k = 0; k < o.npeers; k++) {
		conns[k] = o.peers[k]->open(o.node, o.ports[k], o.topic, o.timeout_ms);
		if (conns[k] == NULL) {
			fprintf(stderr, BENCH_NAME ": cannot reach %s at %s:%u\n", o.peers[k]->name,
				o.node, o.ports[k]);
			goto out;
		}
	}
	for (unsigned s = 0; s < o.nsizes; s++)
		for (unsigned k = 0; k < o.npeers; k++) {
			struct result *r = &res[s][k];

			if (run(o.peers[k], conns[k], &o, o.sizes[s], samples, &counter, r) < 0) {
				fprintf(stderr, BENCH_NAME ": %s failed at size %u\n",
					o.peers[k]->name, o.sizes[s]);
				goto out;
			}
			fprintf(stderr, "size %u %s: %u samples, %u lost, p50 %.1f us\n", o.sizes[s],
				o.peers[k]->name, r->count, r->lost, r->pct[0]);
			empty |= r->count == 0;
		}

	printf(BENCH_NAME ": servers at %s topic %s, %u round trips per size after %u warm-up, "
	       "client %s\n", o.node, o.topic, o.count, o.warmup,
	       o.busy ? "busy-polls" : "sleeps while waiting");
	printf("%6s  %-6s %8s %6s %9s", "size", "path", "count", "lost", "min");
	for (unsigned i = 0; i < NPCT; i++)
		printf(" %9s", pcts[i].head);
	printf(" %9s\n", "max");
	for (unsigned s = 0; s < o.nsizes; s++)
		for (unsigned k = 0; k < o.npeers; k++) {
			const struct result *r = &res[s][k];

			printf("%6u  %-6s %8u %6u %9.1f", o.sizes[s], o.peers[k]->name, r->count,
			       r->lost, r->min);
			for (unsigned i = 0; i < NPCT; i++)
				printf(" %9.1f", r->pct[i]);
			printf(" %9.1f\n", r->max);
		}
	printf("(latencies in microseconds; size = message payload bytes)\n");
	if (o.json && write_json(&o, res) < 0)
		goto out;
	ret = empty ? 1 : 0;
out:
	for (unsigned k = 0; k < o.npeers; k++)
		if (conns[k])
			o.peers[k]->close(conns[k]);
	free(samples);
	return ret;
}
