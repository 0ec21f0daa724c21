/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-peer-fanout: deliveries per second from one publisher to N
 * subscribers, through Herald and through the peers (Redis pub/sub, NATS,
 * MQTT QoS 0), in one run. Every subscriber is a client of its own (its own
 * socket), all driven from one thread. The publisher sends a batch of
 * messages, then waits until every subscriber has every message of the batch
 * (or --timeout-ms passes: what is missing is counted lost), and again, for
 * --seconds after a warm-up: a saturating closed loop that never lets a queue
 * grow without bound, on any system. Systems are interleaved per N.
 *
 * With --conflation RATE, then, for each N, Herald with and without
 * conflation side by side: the publisher sends RATE messages/s over 64 keys
 * on a fixed schedule and never waits, subscribers take what they can with a
 * credit window (--credits), on a `replace` context (the node sends each
 * subscriber the newest value of each key it owes) and on a `none` context
 * (every update in order, from a bounded history; a subscriber that falls
 * behind it is cut and resyncs). The peers have no conflation: they are not
 * run in these cases.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <jansson.h>

#define BENCH_NAME "herald-peer-fanout"
#include "../bench_util.h"
#include "peer.h"

#define SYSTEMS_MAX 4
#define NS_MAX 16
#define SUBS_MAX 1000
#define CONFLATION_SYSTEMS 2
#define SIZE_MAX_BYTES 4096
#define WARMUP_NS 500000000ull

/* Herald, then the peers built in. */
static const struct peer_ops *all_systems[SYSTEMS_MAX + 1] = {&peer_herald};

/* The conflation cases: Herald on a replace and on a none context. */
static const struct peer_ops *const conflation_systems[CONFLATION_SYSTEMS] = {
	&peer_herald_replace, &peer_herald_none,
};

static void systems_init(void)
{
	for (unsigned i = 0; peers_built_in[i] && i < SYSTEMS_MAX - 1; i++)
		all_systems[i + 1] = peers_built_in[i];
}

struct opts {
	const char *herald, *node, *json;
	const struct peer_ops *systems[SYSTEMS_MAX];
	long pids[SYSTEMS_MAX]; /* each system's server process, 0: unknown */
	unsigned nsystems;
	unsigned subs[NS_MAX], nsubs;
	unsigned size, batch, seconds;
	int timeout_ms;
	unsigned rate;	   /* --conflation: publishes/s; 0: no conflation cases */
	unsigned credits;  /* their subscribers' credit window */
	char ctx[CONFLATION_SYSTEMS][12]; /* their contexts: replace, none */
};

struct result {
	uint64_t published, delivered, lost;
	double seconds, per_s;
	double server_cpu_s; /* user + system time of the server process, < 0: unknown */
	double client_cpu_s; /* this process (publisher, subscribers, library threads) */
	struct herald_fan_stats h; /* conflation cases */
	bool failed;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-peer-fanout --herald IP --node IP [options]\n"
		"  --herald IP          Herald node (udp/%u)\n"
		"  --node IP            address of the peer servers (default ports)\n"
		"  --systems LIST       of:", peer_herald.default_port);
	for (unsigned i = 0; all_systems[i]; i++)
		fprintf(out, " %s", all_systems[i]->name);
	fprintf(out,
		" (default all)\n"
		"  --subscribers LIST   fan-out degrees (default 1,10,100; at most %d)\n"
		"  --size B             message payload bytes (default 125)\n"
		"  --batch N            messages published per batch (default 64)\n"
		"  --seconds S          measured seconds per system and degree (default 3)\n"
		"  --timeout-ms MS      wait for one batch before counting the rest lost (default 1000)\n"
		"  --server-pids LIST   NAME=PID,...: the servers' processes, for CPU per delivery\n"
		"  --conflation RATE    then Herald with and without conflation: publish RATE msgs/s\n"
		"                       open loop to subscribers of a replace and a none context\n"
		"  --credits W          their credit window, messages (default 64)\n"
		"  --contexts R,N       the replace and the none context (default 1001,1002)\n"
		"  --json FILE          also write the results as JSON\n", SUBS_MAX);
}

static int parse_systems(const char *arg, struct opts *o)
{
	char buf[128], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	o->nsystems = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i = 0;

		while (all_systems[i] && strcmp(all_systems[i]->name, tok) != 0)
			i++;
		if (all_systems[i] == NULL || o->nsystems == SYSTEMS_MAX)
			return -EINVAL;
		o->systems[o->nsystems++] = all_systems[i];
	}
	return o->nsystems ? 0 : -EINVAL;
}

static int parse_pids(const char *arg, struct opts *o)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		unsigned long pid;
		unsigned k = 0;

		if (eq == NULL || parse_uint(eq + 1, INT_MAX, &pid) < 0 || pid == 0)
			return -EINVAL;
		*eq = '\0';
		while (k < o->nsystems && strcmp(o->systems[k]->name, tok) != 0)
			k++;
		if (k == o->nsystems)
			return -EINVAL;
		o->pids[k] = (long)pid;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"herald", required_argument, NULL, 'H'}, {"node", required_argument, NULL, 'n'},
		{"systems", required_argument, NULL, 'S'}, {"subscribers", required_argument, NULL, 'N'},
		{"size", required_argument, NULL, 's'}, {"batch", required_argument, NULL, 'b'},
		{"seconds", required_argument, NULL, 'd'}, {"timeout-ms", required_argument, NULL, 't'},
		{"json", required_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
		{"server-pids", required_argument, NULL, 'P'},
		{"conflation", required_argument, NULL, 'c'}, {"credits", required_argument, NULL, 'w'},
		{"contexts", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0},
	};
	unsigned ctx[CONFLATION_SYSTEMS];
	struct in_addr ia;
	unsigned long v;
	int opt, ret;

	*o = (struct opts){.subs = {1, 10, 100}, .nsubs = 3, .size = 125, .batch = 64,
			   .seconds = 3, .timeout_ms = 1000, .credits = 64,
			   .ctx = {"1001", "1002"}};
	for (unsigned i = 0; all_systems[i] && i < SYSTEMS_MAX; i++)
		o->systems[o->nsystems++] = all_systems[i];
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H':
		case 'n':
			if (inet_pton(AF_INET, optarg, &ia) != 1)
				return bad_arg(opt == 'H' ? "--herald" : "--node", optarg, "an IPv4 address");
			*(opt == 'H' ? &o->herald : &o->node) = optarg;
			break;
		case 'S':
			if (parse_systems(optarg, o) < 0)
				return bad_arg("--systems", optarg, "a list of built-in systems");
			memset(o->pids, 0, sizeof(o->pids));
			break;
		case 'P':
			if (parse_pids(optarg, o) < 0)
				return bad_arg("--server-pids", optarg,
					       "NAME=PID,... for systems given (after --systems)");
			break;
		case 'N':
			ret = parse_uint_list(optarg, o->subs, NS_MAX, 1, SUBS_MAX);
			if (ret < 0)
				return bad_arg("--subscribers", optarg, "a list of 1..1000");
			o->nsubs = (unsigned)ret;
			break;
		case 'c':
		case 'w':
			if (parse_uint(optarg, opt == 'c' ? 10000000 : 1000000, &v) < 0 ||
			    (opt == 'w' && v == 0))
				return bad_arg(opt == 'c' ? "--conflation" : "--credits", optarg,
					       opt == 'c' ? "messages/s, 0..10000000"
							  : "a window of 1..1000000 messages");
			*(opt == 'c' ? &o->rate : &o->credits) = (unsigned)v;
			break;
		case 'x':
			if (parse_uint_list(optarg, ctx, CONFLATION_SYSTEMS, 1, 999999999) !=
			    CONFLATION_SYSTEMS)
				return bad_arg("--contexts", optarg, "two context numbers R,N");
			for (unsigned i = 0; i < CONFLATION_SYSTEMS; i++)
				snprintf(o->ctx[i], sizeof(o->ctx[i]), "%u", ctx[i]);
			break;
		case 's':
		case 'b':
		case 'd':
		case 't':
			if (parse_uint(optarg, opt == 's' ? SIZE_MAX_BYTES : 100000, &v) < 0 ||
			    v < (opt == 's' ? sizeof(uint64_t) : 1))
				return bad_arg(argv[optind - 2], optarg, "a number in range");
			if (opt == 't')
				o->timeout_ms = (int)v;
			else
				*(opt == 's' ? &o->size : opt == 'b' ? &o->batch : &o->seconds) = (unsigned)v;
			break;
		default:
			if (common_opt(opt, &o->json, usage) < 0)
				return -EINVAL;
			break;
		}
	}
	if (o->herald == NULL && (o->systems[0] == &peer_herald || o->rate)) {
		fprintf(stderr, BENCH_NAME ": --herald IP is required with system herald and "
				"--conflation\n");
		return -EINVAL;
	}
	return args_finish(argc, argv, o->node, usage);
}

struct fan {
	const struct peer_ops *ops;
	struct peer *pub, *subs[SUBS_MAX];
	uint64_t counts[SUBS_MAX];
	unsigned n;
	int ep;
};

static uint64_t delivered(const struct fan *f)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < f->n; i++)
		sum += __atomic_load_n(&f->counts[i], __ATOMIC_RELAXED);
	return sum;
}

/* Let deliveries arrive for up to @p timeout_ms. */
static int pump(struct fan *f, int timeout_ms)
{
	struct epoll_event ev[64];
	int n;

	if (f->ep < 0) { /* the library reads on threads of its own */
		struct timespec ts = {.tv_nsec = 100000};

		nanosleep(&ts, NULL);
		return 0;
	}
	n = epoll_wait(f->ep, ev, 64, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		if (f->ops->drain(f->subs[ev[i].data.u32]) < 0)
			return -EIO;
	return 0;
}

static void fan_close(struct fan *f)
{
	for (unsigned i = 0; i < f->n; i++)
		f->ops->close(f->subs[i]);
	if (f->pub)
		f->ops->close(f->pub);
	if (f->ep >= 0)
		close(f->ep);
	free(f);
}

static struct fan *fan_open(const struct peer_ops *ops, const struct opts *o, unsigned n,
			    const char *topic)
{
	const char *ip = ops->default_port == peer_herald.default_port ? o->herald : o->node;
	struct fan *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->ops = ops;
	f->ep = -1;
	f->pub = ops->open_pub(ip, ops->default_port, topic, o->timeout_ms);
	if (f->pub == NULL)
		goto fail;
	for (; f->n < n; f->n++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = f->n};
		int fd;

		f->subs[f->n] = ops->open_sub(ip, ops->default_port, topic, o->timeout_ms,
					      &f->counts[f->n]);
		if (f->subs[f->n] == NULL)
			goto fail;
		fd = ops->fd(f->subs[f->n]);
		if (fd < 0)
			continue;
		if (f->ep < 0 && (f->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
			goto fail;
		if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			goto fail;
	}
	return f;
fail:
	fprintf(stderr, BENCH_NAME ": %s: cannot open subscriber %u of %u\n", ops->name, f->n, n);
	fan_close(f);
	return NULL;
}

/* User + system seconds of process @p pid (all its threads); < 0 if unknown. */
static double cpu_seconds(long pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *rp;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after "(comm)": state is the 3rd, utime and stime the 14th and 15th. */
	rp = strrchr(buf, ')');
	if (rp == NULL || sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				 &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Batches for @p ns nanoseconds; adds to @p r. */
static int phase(struct fan *f, const struct opts *o, uint64_t ns, uint64_t *counter,
		 struct result *r)
{
	static uint8_t buf[SIZE_MAX_BYTES];
	uint64_t t0 = now_ns(), expected = delivered(f), base = expected;

	memset(buf, 'f', o->size);
	while (now_ns() - t0 < ns) {
		uint64_t deadline, got;

		for (unsigned b = 0; b < o->batch; b++) {
			++*counter;
			memcpy(buf, counter, sizeof(*counter));
			if (f->ops->publish(f->pub, buf, o->size) < 0)
				return -EIO;
		}
		if (f->ops->settle && f->ops->settle(f->pub) < 0)
			return -EIO;
		r->published += o->batch;
		expected += (uint64_t)o->batch * f->n;
		deadline = now_ns() + (uint64_t)o->timeout_ms * 1000000ull;
		while ((got = delivered(f)) < expected && now_ns() < deadline)
			if (pump(f, 10) < 0)
				return -EIO;
		if (got < expected) { /* lost (UDP) or stuck: go on from what arrived */
			r->lost += expected - got;
			expected = got;
		}
	}
	r->seconds += (double)(now_ns() - t0) / 1e9;
	r->delivered += delivered(f) - base;
	return 0;
}

/*
 * Open loop for @p ns: the publisher sends o->rate messages/s on a fixed
 * schedule (at most a batch at a time when it is late, never waiting for
 * the subscribers), the subscribers are drained in between.
 */
static int outrun(struct fan *f, const struct opts *o, uint64_t ns, uint64_t *counter,
		  struct result *r)
{
	static uint8_t buf[SIZE_MAX_BYTES];
	uint64_t t0 = now_ns(), t, next = t0, period = 1000000000ull / o->rate, base = delivered(f);

	memset(buf, 'f', o->size);
	while ((t = now_ns()) - t0 < ns) {
		for (unsigned b = 0; next <= t && b < o->batch; b++, next += period) {
			++*counter;
			memcpy(buf, counter, sizeof(*counter));
			if (f->ops->publish(f->pub, buf, o->size) < 0)
				return -EIO;
			r->published++;
		}
		if (f->ops->settle && f->ops->settle(f->pub) < 0)
			return -EIO;
		if (pump(f, next > t + 1000000 ? 1 : 0) < 0)
			return -EIO;
	}
	r->seconds += (double)(now_ns() - t0) / 1e9;
	r->delivered += delivered(f) - base;
	return 0;
}

typedef int phase_fn(struct fan *f, const struct opts *o, uint64_t ns, uint64_t *counter,
		     struct result *r);

/* One case: open @p n subscribers of @p topic, warm up, measure, close. */
static int measure_case(const struct peer_ops *ops, long pid, const struct opts *o, unsigned n,
			const char *topic, phase_fn *fn, uint64_t *counter, struct result *r)
{
	double cpu0, self0;
	struct result warm = {0};
	struct fan *f;
	int ret;

	memset(r, 0, sizeof(*r));
	f = fan_open(ops, o, n, topic);
	if (f == NULL)
		return -EIO;
	ret = fn(f, o, WARMUP_NS, counter, &warm);
	herald_fan_stats_take(&warm.h);
	cpu0 = cpu_seconds(pid);
	self0 = self_cpu_seconds();
	if (ret == 0)
		ret = fn(f, o, (uint64_t)o->seconds * 1000000000ull, counter, r);
	r->server_cpu_s = cpu0 < 0 ? -1 : cpu_seconds(pid) - cpu0;
	r->client_cpu_s = self_cpu_seconds() - self0;
	r->per_s = r->seconds > 0 ? (double)r->delivered / r->seconds : 0;
	herald_fan_stats_take(&r->h);
	fan_close(f);
	return ret;
}

static int measure(const struct peer_ops *ops, long pid, const struct opts *o, unsigned n,
		   uint64_t *counter, struct result *r)
{
	char topic[48];

	snprintf(topic, sizeof(topic), "herald-fan-%ld-%u", (long)getpid(), n);
	return measure_case(ops, pid, o, n, topic, phase, counter, r);
}

/* Server CPU nanoseconds per delivery, < 0 if unknown. */
static double cpu_ns(const struct result *r)
{
	return r->server_cpu_s < 0 || r->delivered == 0 ? -1 : r->server_cpu_s * 1e9 / (double)r->delivered;
}

static json_t *nullable(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

/* Client CPU ns per delivery and the share of a CPU the client used, < 0 if unknown. */
static double client_ns(const struct result *r)
{
	return r->delivered ? r->client_cpu_s * 1e9 / (double)r->delivered : -1;
}

static double client_pct(const struct result *r)
{
	return r->seconds > 0 ? 100 * r->client_cpu_s / r->seconds : -1;
}

static json_t *result_json(unsigned n, const char *system, const struct result *r)
{
	return json_pack("{s:I, s:s, s:b, s:I, s:I, s:I, s:f, s:f, s:o, s:o, s:o}", "subscribers",
			 (json_int_t)n, "system", system, "failed", r->failed, "published",
			 (json_int_t)r->published, "delivered", (json_int_t)r->delivered, "lost",
			 (json_int_t)r->lost, "seconds", r->seconds, "deliveries_per_s", r->per_s,
			 "server_cpu_ns_per_delivery", nullable(cpu_ns(r)),
			 "client_cpu_ns_per_delivery", nullable(client_ns(r)), "client_cpu_pct",
			 nullable(client_pct(r)));
}

static int write_json(const struct opts *o, struct result (*res)[SYSTEMS_MAX],
		      struct result (*cres)[CONFLATION_SYSTEMS])
{
	json_t *rows = json_array(), *crows = json_array();

	for (unsigned i = 0; rows && i < o->nsubs; i++)
		for (unsigned k = 0; k < o->nsystems; k++)
			json_array_append_new(rows, result_json(o->subs[i], o->systems[k]->name,
								&res[i][k]));
	for (unsigned i = 0; crows && o->rate && i < o->nsubs; i++)
		for (unsigned k = 0; k < CONFLATION_SYSTEMS; k++) {
			const struct result *r = &cres[i][k];
			json_t *j = result_json(o->subs[i], conflation_systems[k]->name, r);

			json_object_set_new(j, "current", json_integer((json_int_t)r->h.current));
			json_object_set_new(j, "resync_snapshot_entries",
					    json_integer((json_int_t)r->h.snapshot));
			json_object_set_new(j, "gaps", json_integer((json_int_t)r->h.gaps));
			json_object_set_new(j, "cuts", json_integer((json_int_t)r->h.cuts));
			json_array_append_new(crows, j);
		}
	return json_write(json_pack("{s:s?, s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:o}", "herald",
				    o->herald, "node", o->node, "size", (json_int_t)o->size,
				    "batch", (json_int_t)o->batch, "seconds",
				    (json_int_t)o->seconds, "results", rows, "conflation_rate",
				    (json_int_t)o->rate, "conflation_credits",
				    (json_int_t)o->credits, "conflation", crows),
			  o->json);
}

static void print_cpu(const struct result *r)
{
	if (cpu_ns(r) >= 0)
		printf(" %15.0f", cpu_ns(r));
	else
		printf(" %15s", "-");
	if (r->delivered)
		printf(" %15.0f %6.0f%%\n", client_ns(r), client_pct(r));
	else
		printf(" %15s %7s\n", "-", "-");
}

static void print_peers(const struct opts *o, struct result (*res)[SYSTEMS_MAX])
{
	printf(BENCH_NAME ": 1 publisher, %u B messages in batches of %u, %u s per case\n", o->size,
	       o->batch, o->seconds);
	printf("%11s  %-7s %10s %11s %8s %13s %12s %15s %15s %7s\n", "subscribers", "system",
	       "published", "delivered", "lost", "deliveries/s", "vs best peer", "server CPU ns/d",
	       "client CPU ns/d", "client");
	for (unsigned i = 0; i < o->nsubs; i++) {
		double best = 0;

		for (unsigned k = 0; k < o->nsystems; k++)
			if (o->systems[k] != &peer_herald && res[i][k].per_s > best)
				best = res[i][k].per_s;
		for (unsigned k = 0; k < o->nsystems; k++) {
			const struct result *r = &res[i][k];

			printf("%11u  %-7s %10" PRIu64 " %11" PRIu64 " %8" PRIu64 " %13.0f", o->subs[i],
			       o->systems[k]->name, r->published, r->delivered, r->lost, r->per_s);
			if (r->failed) {
				printf("  FAILED\n");
				continue;
			}
			if (best > 0)
				printf(" %12.2f", r->per_s / best);
			else
				printf(" %12s", "-");
			print_cpu(r);
		}
	}
}

static void print_conflation(const struct opts *o, struct result (*cres)[CONFLATION_SYSTEMS])
{
	printf(BENCH_NAME ": conflation: 1 publisher at %u msgs/s open loop over 64 keys, %u B; "
	       "subscribers with a window of %u credits; contexts %s (replace), %s (none); "
	       "%u s per case\n", o->rate, o->size, o->credits, o->ctx[0], o->ctx[1], o->seconds);
	printf("%11s  %-14s %8s %11s %13s %9s %8s %10s %6s %6s %15s %15s %7s\n", "subscribers",
	       "system", "pub/s", "delivered", "deliveries/s", "of pub/s", "current", "resync-snap",
	       "gaps", "cuts", "server CPU ns/d", "client CPU ns/d", "client");
	for (unsigned i = 0; i < o->nsubs; i++)
		for (unsigned k = 0; k < CONFLATION_SYSTEMS; k++) {
			const struct result *r = &cres[i][k];
			double pub = r->seconds > 0 ? (double)r->published / r->seconds : 0;

			printf("%11u  %-14s %8.0f %11" PRIu64 " %13.0f", o->subs[i],
			       conflation_systems[k]->name, pub, r->delivered, r->per_s);
			if (r->failed) {
				printf("  FAILED\n");
				continue;
			}
			printf(" %8.1f%% %7.1f%% %10" PRIu64 " %6" PRIu64 " %6" PRIu64,
			       pub > 0 ? 100 * r->per_s / (pub * o->subs[i]) : 0,
			       r->delivered ? 100.0 * (double)r->h.current / (double)r->delivered : 0,
			       r->h.snapshot, r->h.gaps, r->h.cuts);
			print_cpu(r);
		}
	printf("(of pub/s: deliveries per subscriber over updates published; current: deliveries "
	       "that were their key's newest version on arrival; resync-snap: snapshot entries "
	       "received after a gap or cut)\n");
}

/* Descriptors for a publisher and SUBS_MAX subscribers (and the libraries' own). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * SUBS_MAX + 64)
		fprintf(stderr, BENCH_NAME ": only %lu file descriptors (ulimit -n): %u subscribers "
			"may not open\n", (unsigned long)rl.rlim_cur, SUBS_MAX);
}

int main(int argc, char **argv)
{
	static struct result res[NS_MAX][SYSTEMS_MAX], cres[NS_MAX][CONFLATION_SYSTEMS];
	uint64_t counter = 0;
	long herald_pid = 0;
	struct opts o;
	bool failed = false;

	systems_init();
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_fd_limit();
	for (unsigned k = 0; k < o.nsystems; k++)
		if (o.systems[k] == &peer_herald)
			herald_pid = o.pids[k];
	herald_fan_setup((int)o.credits);
	/* Per N: every system, then the conflation cases, all at the same moment. */
	for (unsigned i = 0; i < o.nsubs; i++) {
		for (unsigned k = 0; k < o.nsystems; k++) {
			struct result *r = &res[i][k];

			if (measure(o.systems[k], o.pids[k], &o, o.subs[i], &counter, r) < 0)
				r->failed = failed = true;
			fprintf(stderr, "%u subscribers %s: %.0f deliveries/s, %" PRIu64 " lost%s\n",
				o.subs[i], o.systems[k]->name, r->per_s, r->lost,
				r->failed ? " (FAILED)" : "");
		}
		for (unsigned k = 0; o.rate && k < CONFLATION_SYSTEMS; k++) {
			struct result *r = &cres[i][k];

			if (measure_case(conflation_systems[k], herald_pid, &o, o.subs[i], o.ctx[k],
					 outrun, &counter, r) < 0)
				r->failed = failed = true;
			fprintf(stderr, "%u subscribers %s: %.0f deliveries/s, %" PRIu64 " cuts%s\n",
				o.subs[i], conflation_systems[k]->name, r->per_s, r->h.cuts,
				r->failed ? " (FAILED)" : "");
		}
	}
	if (o.nsystems)
		print_peers(&o, res);
	if (o.rate)
		print_conflation(&o, cres);
	if (o.json && write_json(&o, res, cres) < 0)
		return 1;
	return failed ? 1 : 0;
}
