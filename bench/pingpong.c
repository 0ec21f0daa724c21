/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-pingpong: round-trip time through a Herald node. One client
 * subscribes to a context and publishes into it; a round trip is one PUBLISH
 * and the DELTA the node fans back to the same client. With --echo, UDP
 * reflectors (the kernel echo herald-echo, or dpdk-testpmd in 5tswap mode)
 * are measured in the same run, interleaved per size, as the floor.
 *
 * Closed loop (default): one round trip outstanding, timed from its send.
 * Open loop (--rate N/s): round trips are sent on a fixed schedule whatever
 * the replies do, and each is timed from its *scheduled* send time, so a
 * stall of the sender or the path counts against every round trip it delayed
 * (coordinated omission corrected). Latencies go into a log-linear histogram
 * (bench/histogram.h); warm-up round trips are sent but not recorded.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <jansson.h>

#include <herald/client.h>

#define BENCH_NAME "herald-pingpong"
#include "bench_util.h"
#include "histogram.h"

#define SIZES_MAX 32
#define ECHO_MAX 4
#define PATHS_MAX (ECHO_MAX + 1)
#define NAME_MAX_LEN 15
#define KEY "pp"
/* The value starts with the round-trip counter, so a late reply is recognised. */
#define SIZE_MIN ((int)sizeof(uint64_t))
#define SNAPSHOT_WAIT_MS 3000
#define RATE_MAX 10000000ul
/* Longest single sleep, so the Herald client's timers (heartbeats) run. */
#define WAIT_SLICE_NS 10000000ull
/* Points of the percentile distribution (for plots): p = 1 - 2^(-i/DIST_TICKS). */
#define DIST_TICKS 5
#define DIST_MAX 160

static const struct pct {
	double p;
	const char *json;
	const char *head;
} pcts[] = {
	{50, "p50_us", "p50"},	       {90, "p90_us", "p90"},	      {99, "p99_us", "p99"},
	{99.9, "p999_us", "p99.9"}, {99.99, "p9999_us", "p99.99"},
};
#define NPCT (sizeof(pcts) / sizeof(pcts[0]))

struct opts {
	const char *node;
	const char *echo_name[ECHO_MAX];
	const char *echo_addr[ECHO_MAX];
	unsigned necho;
	const char *json;
	unsigned sizes[SIZES_MAX];
	unsigned nsizes;
	unsigned count;
	unsigned warmup;
	uint32_t context;
	int timeout_ms;
	unsigned long rate; /* round trips per second; 0: closed loop */
	uint64_t spin_ns;   /* open loop: busy-poll this long before each scheduled send */
	bool busy;	    /* busy-poll for replies instead of sleeping in ppoll() */
	int cpu;	    /* -1: not pinned */
};

struct result {
	unsigned count;	      /* round trips recorded */
	unsigned lost;	      /* measured round trips with no reply in time */
	unsigned stale;	      /* replies to no outstanding round trip (late, duplicate, wrong size) */
	unsigned send_errors; /* sends the socket refused (counted lost) */
	double min, mean, max, pct[NPCT];  /* microseconds */
	double lag_p50, lag_p99, lag_max;  /* open loop: actual send after its schedule, us */
	unsigned ndist;
	double dist_p[DIST_MAX], dist_us[DIST_MAX];
};

/* The round trips of one path at one size. */
struct run {
	const struct opts *o;
	unsigned n;	 /* warm-up + measured */
	unsigned size;
	uint64_t base;	 /* counter of round trip 0 */
	uint64_t *start; /* per round trip: what its latency is timed from; 0 = not outstanding */
	uint8_t *done;
	unsigned stale;
	struct hist *lat, *lag;
};

/* The Herald client's state, shared by its callbacks. */
struct pp {
	struct herald_client *c;
	uint32_t context;
	struct run *run; /* the Herald run in progress, or NULL */
	bool snap_done;
};

/* One measured path: the Herald node or a UDP reflector. */
struct path {
	const char *name;
	const char *addr;
	int fd;
	struct pp *pp; /* the Herald client (kept alive while a reflector is measured) */
	int (*send)(struct path *, struct run *, uint64_t counter);
	int (*drain)(struct path *, struct run *);
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-pingpong [--node IP[:PORT]] [--echo [NAME=]IP:PORT]... [options]\n"
		"  --node IP[:PORT]    Herald node (default port %d)\n"
		"  --echo [NAME=]IP:PORT  also measure a UDP reflector: herald-echo (the kernel\n"
		"                      floor) or dpdk-testpmd --forward-mode=5tswap; repeatable\n"
		"                      (at most %d), NAME defaults to \"echo\". At least one of\n"
		"                      --node and --echo is required.\n"
		"  --sizes LIST        value sizes in bytes, comma-separated (default 125,256,512,1024,1500,2000)\n"
		"  --count N           measured round trips per size and path (default 10000)\n"
		"  --warmup N          round trips sent first and discarded, per size and path (default 1000)\n"
		"  --rate N[/s]        open loop: send N round trips per second on a fixed schedule,\n"
		"                      whatever the replies do, and time each from its SCHEDULED send\n"
		"                      (coordinated omission corrected: a stall delays every round\n"
		"                      trip scheduled during it, and they all count). Default: closed\n"
		"                      loop, one round trip outstanding, timed from its actual send.\n"
		"  --spin-us US        open loop: sleep until US before each scheduled send, then\n"
		"                      busy-poll, so the send is on time despite the wake-up\n"
		"                      latency of a sleep (default 200; 0: sleep only; the JSON's\n"
		"                      send_lag_* say how late sends were)\n"
		"  --busy-poll         never sleep: poll the sockets without blocking while waiting for\n"
		"                      replies (and sends), as a DPDK client would; the reply is then\n"
		"                      not timed after a wake-up. Default: sleep in ppoll().\n"
		"  --cpu N             pin the process to CPU N\n"
		"  --context ID        context id (default: derived from the pid)\n"
		"  --timeout-ms MS     a reply later than this is counted lost (closed loop: per round\n"
		"                      trip; open loop: after the last send) (default 100)\n"
		"  --json FILE         also write the results as JSON, with each path's percentile\n"
		"                      distribution (bench/pingpong_plot.py draws it)\n"
		"Percentiles come from a log-linear histogram (128 buckets per power of two: a\n"
		"reported value is at most 0.8 %% above the true one); min and max are exact.\n",
		HERALD_UDP_PORT_BASE, ECHO_MAX);
}

static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int parse_echo(const char *arg, struct opts *o)
{
	static char names[ECHO_MAX][NAME_MAX_LEN + 1];
	const char *eq = strchr(arg, '='), *addr = eq ? eq + 1 : arg;
	struct sockaddr_in sa;
	const char *name = "echo";

	if (o->necho == ECHO_MAX)
		return bad_arg("--echo", arg, "at most 4 reflectors");
	if (eq) {
		if (!name_ok(arg, (size_t)(eq - arg)))
			return bad_arg("--echo", arg, "NAME=IP:PORT, NAME of 1-15 [a-z0-9_]");
		memcpy(names[o->necho], arg, (size_t)(eq - arg));
		names[o->necho][eq - arg] = '\0';
		name = names[o->necho];
	}
	if (herald_addr_parse(addr, 0, &sa) < 0 || sa.sin_port == 0)
		return bad_arg("--echo", arg, "[NAME=]IPv4:PORT");
	if (strcmp(name, "herald") == 0 || strcmp(name, "size") == 0)
		return bad_arg("--echo", arg, "a NAME other than herald and size");
	for (unsigned i = 0; i < o->necho; i++)
		if (strcmp(o->echo_name[i], name) == 0)
			return bad_arg("--echo", arg, "a NAME not given before");
	o->echo_name[o->necho] = name;
	o->echo_addr[o->necho++] = addr;
	return 0;
}

static int parse_rate(const char *arg, unsigned long *rate)
{
	char buf[32];
	size_t len = strlen(arg);
	unsigned long v;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, arg, len + 1);
	if (len > 2 && strcmp(buf + len - 2, "/s") == 0)
		buf[len - 2] = '\0';
	if (parse_uint(buf, RATE_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*rate = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"echo", required_argument, NULL, 'e'},
		{"sizes", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'c'},
		{"warmup", required_argument, NULL, 'w'},
		{"rate", required_argument, NULL, 'r'},
		{"cpu", required_argument, NULL, 'u'},
		{"spin-us", required_argument, NULL, 'p'},
		{"busy-poll", no_argument, NULL, 'b'},
		{"context", required_argument, NULL, 'x'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"json", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const unsigned default_sizes[] = {125, 256, 512, 1024, 1500, 2000};
	struct sockaddr_in sa;
	unsigned long v;
	int opt, ret;

	memset(o, 0, sizeof(*o));
	o->count = 10000;
	o->warmup = 1000;
	o->timeout_ms = 100;
	o->cpu = -1;
	o->spin_ns = 200000;
	o->context = 0x70700000u | ((uint32_t)getpid() & 0xffff);
	o->nsizes = sizeof(default_sizes) / sizeof(default_sizes[0]);
	memcpy(o->sizes, default_sizes, sizeof(default_sizes));

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (herald_addr_parse(optarg, HERALD_UDP_PORT_BASE, &sa) < 0)
				return bad_arg("--node", optarg, "IPv4[:PORT]");
			o->node = optarg;
			break;
		case 'e':
			if (parse_echo(optarg, o) < 0)
				return -EINVAL;
			break;
		case 's':
			ret = parse_uint_list(optarg, o->sizes, SIZES_MAX, SIZE_MIN, HERALD_VALUE_MAX);
			if (ret < 0)
				return bad_arg("--sizes", optarg,
					       "a comma-separated list of 8..4096 byte sizes (at most 32)");
			o->nsizes = (unsigned)ret;
			break;
		case 'c':
			if (parse_uint(optarg, UINT_MAX / 2, &v) < 0 || v == 0)
				return bad_arg("--count", optarg, "a positive integer");
			o->count = (unsigned)v;
			break;
		case 'w':
			if (parse_uint(optarg, UINT_MAX / 2, &v) < 0)
				return bad_arg("--warmup", optarg, "a non-negative integer");
			o->warmup = (unsigned)v;
			break;
		case 'r':
			if (parse_rate(optarg, &o->rate) < 0)
				return bad_arg("--rate", optarg, "1..10000000 round trips per second (N or N/s)");
			break;
		case 'u':
			if (parse_uint(optarg, CPU_SETSIZE - 1, &v) < 0)
				return bad_arg("--cpu", optarg, "a CPU number");
			o->cpu = (int)v;
			break;
		case 'p':
			if (parse_uint(optarg, 1000000, &v) < 0)
				return bad_arg("--spin-us", optarg, "0..1000000 microseconds");
			o->spin_ns = v * 1000ull;
			break;
		case 'b':
			o->busy = true;
			break;
		case 'x':
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return bad_arg("--context", optarg, "a 32-bit unsigned integer");
			o->context = (uint32_t)v;
			break;
		case 't':
			if (parse_uint(optarg, 600000, &v) < 0 || v == 0)
				return bad_arg("--timeout-ms", optarg, "1..600000 milliseconds");
			o->timeout_ms = (int)v;
			break;
		default:
			if (common_opt(opt, &o->json, usage) < 0)
				return -EINVAL;
			break;
		}
	}
	/* Reflectors alone are a valid run (the floor without a node). */
	if (o->node == NULL && o->necho == 0) {
		fprintf(stderr, "herald-pingpong: --node IP[:PORT] or --echo IP:PORT is required\n");
		usage(stderr);
		return -EINVAL;
	}
	return args_finish(argc, argv, o->node ? o->node : "", usage);
}

static void fill_payload(uint8_t *buf, unsigned size, uint64_t counter)
{
	memcpy(buf, &counter, sizeof(counter));
	for (unsigned i = sizeof(counter); i < size; i++)
		buf[i] = (uint8_t)('a' + i % 26);
}

/* A reply carrying @p counter arrived at @p t. */
static void receipt(struct run *r, uint64_t counter, uint64_t t)
{
	uint64_t k = counter - r->base;

	if (counter < r->base || k >= r->n || r->start[k] == 0 || r->done[k]) {
		r->stale++;
		return;
	}
	r->done[k] = 1;
	if (k >= r->o->warmup)
		hist_record(r->lat, t - r->start[k]);
}

/* --- the Herald path ---------------------------------------------------- */

static void on_delta(void *user, const struct herald_entry *e)
{
	struct pp *p = user;
	uint64_t counter;

	if (p->run == NULL || e->context != p->context || e->key_len != sizeof(KEY) - 1 ||
	    memcmp(e->key, KEY, sizeof(KEY) - 1) != 0)
		return;
	if (e->value_len != p->run->size) {
		p->run->stale++;
		return;
	}
	memcpy(&counter, e->value, sizeof(counter));
	receipt(p->run, counter, now_ns());
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct pp *p = user;

	(void)seq;
	if (context == p->context)
		p->snap_done = true;
}

static void on_lost(void *user, uint32_t context)
{
	struct pp *p = user;

	if (context == p->context)
		p->snap_done = false;
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	fprintf(stderr, "herald-pingpong: node error %u on context %" PRIu32 ": %.*s\n", code,
		context, (int)len, text);
	on_lost(user, context);
}

static int ms_left(uint64_t deadline)
{
	uint64_t t = now_ns();

	if (t >= deadline)
		return 0;
	return (int)((deadline - t + 999999) / 1000000);
}

/* (Re)subscribe until the snapshot is complete, so deltas can flow. */
static int ensure_live(struct pp *p)
{
	uint64_t deadline;
	int ret;

	if (p->snap_done)
		return 0;
	ret = herald_subscribe(p->c, p->context);
	if (ret < 0) {
		fprintf(stderr, "herald-pingpong: subscribe: %s\n", strerror(-ret));
		return ret;
	}
	deadline = now_ns() + SNAPSHOT_WAIT_MS * 1000000ull;
	while (!p->snap_done && ms_left(deadline) > 0)
		herald_client_poll(p->c, ms_left(deadline));
	if (!p->snap_done) {
		fprintf(stderr, "herald-pingpong: no snapshot for context %" PRIu32
			" within %d ms\n", p->context, SNAPSHOT_WAIT_MS);
		return -ETIMEDOUT;
	}
	return 0;
}

static int herald_send(struct path *pa, struct run *r, uint64_t counter)
{
	static uint8_t value[HERALD_VALUE_MAX];

	fill_payload(value, r->size, counter);
	return herald_publish(pa->pp->c, pa->pp->context, KEY, sizeof(KEY) - 1, value, r->size);
}

static int herald_drain(struct path *pa, struct run *r)
{
	int ret;

	pa->pp->run = r;
	ret = herald_client_poll(pa->pp->c, 0);
	pa->pp->run = NULL;
	return ret < 0 ? ret : 0;
}

/* --- a UDP reflector ----------------------------------------------------- */

static int echo_send(struct path *pa, struct run *r, uint64_t counter)
{
	static uint8_t out[HERALD_VALUE_MAX];

	fill_payload(out, r->size, counter);
	if (send(pa->fd, out, r->size, 0) < 0 && errno != ECONNREFUSED)
		return -errno;
	return 0;
}

static int echo_drain(struct path *pa, struct run *r)
{
	static uint8_t in[65536];

	for (;;) {
		ssize_t n = recv(pa->fd, in, sizeof(in), MSG_DONTWAIT);
		uint64_t c;

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED ||
			    errno == EINTR)
				break;
			return -errno;
		}
		if ((size_t)n != r->size || n < (ssize_t)sizeof(c)) {
			r->stale++;
			continue;
		}
		memcpy(&c, in, sizeof(c));
		receipt(r, c, now_ns());
	}
	/*
	 * Keep the Herald session alive while a reflector is measured: the node
	 * closes a session that sends no heartbeat for a few seconds.
	 */
	if (pa->pp && pa->pp->c)
		herald_client_poll(pa->pp->c, 0);
	return 0;
}

static int echo_open(const char *addr)
{
	struct sockaddr_in sa;
	int fd;

	if (herald_addr_parse(addr, 0, &sa) < 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* --- the two loops ------------------------------------------------------- */

/*
 * Receive until @p deadline, or (with @p until >= 0) until round trip
 * @p until is answered, or (@p until == -2) until every round trip sent is.
 * The last @p spin ns before the deadline are busy-polled, not slept.
 */
static int wait_until(struct path *pa, struct run *r, uint64_t deadline, long until,
		      uint64_t spin)
{
	for (;;) {
		struct pollfd pfd = {.fd = pa->fd, .events = POLLIN};
		struct timespec ts;
		uint64_t t, left;
		int ret = pa->drain(pa, r);

		if (ret < 0)
			return ret;
		if (until >= 0 && r->done[until])
			return 0;
		if (until == -2) {
			unsigned k = 0;

			while (k < r->n && (r->done[k] || r->start[k] == 0))
				k++;
			if (k == r->n)
				return 0;
		}
		t = now_ns();
		if (t >= deadline)
			return 0;
		if (deadline - t <= spin)
			continue;
		left = deadline - t - spin;
		if (left > WAIT_SLICE_NS)
			left = WAIT_SLICE_NS;
		ts.tv_sec = (time_t)(left / 1000000000ull);
		ts.tv_nsec = (long)(left % 1000000000ull);
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return -errno;
	}
}

/* A send the socket refused is a lost round trip, not the end of the run. */
static int send_one(struct path *pa, struct run *r, unsigned k, struct result *res)
{
	int ret = pa->send(pa, r, r->base + k);

	if (ret == -EAGAIN || ret == -ENOBUFS) {
		r->start[k] = 0;
		res->send_errors++;
		return 0;
	}
	if (ret < 0)
		fprintf(stderr, "herald-pingpong: %s send: %s\n", pa->name, strerror(-ret));
	return ret;
}

static int closed_loop(struct path *pa, struct run *r, struct result *res)
{
	uint64_t timeout = (uint64_t)r->o->timeout_ms * 1000000ull;

	for (unsigned k = 0; k < r->n; k++) {
		int ret;

		r->start[k] = now_ns();
		ret = send_one(pa, r, k, res);
		if (ret < 0)
			return ret;
		if (r->start[k] == 0)
			continue;
		ret = wait_until(pa, r, r->start[k] + timeout, (long)k, r->o->busy ? UINT64_MAX : 0);
		if (ret < 0)
			return ret;
		if (!r->done[k])
			r->start[k] = 0; /* timed out: a late reply is stale */
	}
	return 0;
}

static int open_loop(struct path *pa, struct run *r, struct result *res)
{
	double period = 1e9 / (double)r->o->rate;
	uint64_t t0 = now_ns() + 1000000ull, sched = t0;

	for (unsigned k = 0; k < r->n; k++) {
		uint64_t t;
		int ret;

		sched = t0 + (uint64_t)((double)k * period);
		ret = wait_until(pa, r, sched, -1, r->o->busy ? UINT64_MAX : r->o->spin_ns);
		if (ret < 0)
			return ret;
		r->start[k] = sched;
		t = now_ns();
		ret = send_one(pa, r, k, res);
		if (ret < 0)
			return ret;
		if (k >= r->o->warmup)
			hist_record(r->lag, t - sched);
	}
	return wait_until(pa, r, sched + (uint64_t)r->o->timeout_ms * 1000000ull, -2,
			  r->o->busy ? UINT64_MAX : 0);
}

static void summarize(const struct run *r, struct result *res)
{
	const struct hist *h = r->lat;

	res->count = (unsigned)h->total;
	res->stale = r->stale;
	for (unsigned k = r->o->warmup; k < r->n; k++)
		if (!r->done[k])
			res->lost++;
	if (r->lag->total) {
		res->lag_p50 = (double)hist_percentile(r->lag, 50) / 1000.0;
		res->lag_p99 = (double)hist_percentile(r->lag, 99) / 1000.0;
		res->lag_max = (double)r->lag->max / 1000.0;
	}
	if (h->total == 0)
		return;
	res->min = (double)h->min / 1000.0;
	res->max = (double)h->max / 1000.0;
	res->mean = hist_mean(h) / 1000.0;
	for (unsigned i = 0; i < NPCT; i++)
		res->pct[i] = (double)hist_percentile(h, pcts[i].p) / 1000.0;
	/* The distribution HdrHistogram plots: ticks halve the distance to 100 %. */
	for (unsigned i = 0; res->ndist < DIST_MAX - 1; i++) {
		double tail = exp2(-(double)i / DIST_TICKS), p = 100.0 * (1.0 - tail);

		res->dist_p[res->ndist] = p;
		res->dist_us[res->ndist++] = (double)hist_percentile(h, p) / 1000.0;
		if (tail * (double)h->total < 1.0)
			break;
	}
	res->dist_p[res->ndist] = 100.0;
	res->dist_us[res->ndist++] = res->max;
}

static int measure(struct path *pa, const struct opts *o, unsigned size, uint64_t *counter,
		   uint64_t *start, uint8_t *done, struct result *res)
{
	static struct hist lat, lag;
	struct run r = {
		.o = o, .n = o->warmup + o->count, .size = size, .base = *counter + 1,
		.start = start, .done = done, .lat = &lat, .lag = &lag,
	};
	int ret;

	memset(res, 0, sizeof(*res));
	memset(start, 0, r.n * sizeof(*start));
	memset(done, 0, r.n);
	hist_reset(&lat);
	hist_reset(&lag);
	*counter += r.n;
	if (pa->send == herald_send && ensure_live(pa->pp) < 0)
		return -ETIMEDOUT;
	ret = o->rate ? open_loop(pa, &r, res) : closed_loop(pa, &r, res);
	if (ret < 0)
		return ret;
	summarize(&r, res);
	fprintf(stderr, "size %u %s: %u samples, %u lost, p50 %.1f us\n", size, pa->name,
		res->count, res->lost, res->pct[0]);
	return 0;
}

/* --- output -------------------------------------------------------------- */

static void print_row(unsigned size, const char *path, const struct result *r, double ratio)
{
	printf("%6u  %-8s %8u %6u %9.1f", size, path, r->count, r->lost, r->min);
	for (unsigned i = 0; i < NPCT; i++)
		printf(" %9.1f", r->pct[i]);
	printf(" %9.1f", r->max);
	if (ratio > 0)
		printf(" %7.2f", ratio);
	printf("\n");
}

static json_t *result_json(const struct opts *o, const struct result *r)
{
	json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "count", (json_int_t)r->count,
			      "lost", (json_int_t)r->lost, "stale", (json_int_t)r->stale,
			      "send_errors", (json_int_t)r->send_errors, "min_us", r->min,
			      "mean_us", r->mean, "max_us", r->max);
	json_t *dist = json_array();

	if (j == NULL || dist == NULL) {
		json_decref(j);
		json_decref(dist);
		return NULL;
	}
	for (unsigned i = 0; i < NPCT; i++)
		json_object_set_new(j, pcts[i].json, json_real(r->pct[i]));
	if (o->rate) {
		json_object_set_new(j, "send_lag_p50_us", json_real(r->lag_p50));
		json_object_set_new(j, "send_lag_p99_us", json_real(r->lag_p99));
		json_object_set_new(j, "send_lag_max_us", json_real(r->lag_max));
	}
	for (unsigned i = 0; i < r->ndist; i++)
		json_array_append_new(dist, json_pack("[f, f]", r->dist_p[i], r->dist_us[i]));
	json_object_set_new(j, "distribution", dist);
	return j;
}

static double ratio(const struct result *a, const struct result *b)
{
	return a->count && b->count && b->pct[0] > 0 ? a->pct[0] / b->pct[0] : 0;
}

static int write_json(const struct opts *o, const struct path *paths, unsigned npaths,
		      struct result (*res)[PATHS_MAX])
{
	json_t *root, *rows = json_array(), *jpaths = json_array();
	char key[64];

	for (unsigned p = 0; p < npaths; p++)
		json_array_append_new(jpaths, json_pack("{s:s, s:s}", "name", paths[p].name,
							"addr", paths[p].addr));
	for (unsigned i = 0; i < o->nsizes; i++) {
		json_t *row = json_pack("{s:I}", "size", (json_int_t)o->sizes[i]);

		for (unsigned p = 0; p < npaths; p++)
			json_object_set_new(row, paths[p].name, result_json(o, &res[i][p]));
		/* Every path's p50 over each reflector's: p50_ratio_NAME (p50_ratio: herald/echo). */
		for (unsigned p = 0; p < npaths; p++)
			for (unsigned e = 0; e < o->necho; e++) {
				double q = ratio(&res[i][p], &res[i][e]);

				if (p == e || q == 0)
					continue;
				if (o->node && p == npaths - 1 && e == 0)
					json_object_set_new(row, "p50_ratio", json_real(q));
				snprintf(key, sizeof(key), "p50_ratio_%s_%s", paths[p].name,
					 paths[e].name);
				json_object_set_new(row, key, json_real(q));
			}
		json_array_append_new(rows, row);
	}
	root = json_pack("{s:s?, s:s?, s:o, s:s, s:I, s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:s, s:s, s:o}",
			 "node", o->node, "echo", o->necho ? o->echo_addr[0] : NULL, "paths", jpaths,
			 "mode", o->rate ? "open-loop" : "closed-loop", "rate_per_s",
			 (json_int_t)o->rate, "latency_from",
			 o->rate ? "scheduled send (coordinated omission corrected)" : "actual send",
			 "cpu", o->cpu, "busy_poll", o->busy, "context", (json_int_t)o->context, "count",
			 (json_int_t)o->count, "warmup", (json_int_t)o->warmup, "timeout_ms",
			 (json_int_t)o->timeout_ms, "histogram",
			 "log-linear, 128 buckets per power of two; percentiles nearest-rank, at most 0.8 % above",
			 "value_size_meaning",
			 "herald: value bytes of one PUBLISH/DELTA; reflectors: UDP payload bytes",
			 "results", rows);
	return json_write(root, o->json);
}

static void print_table(const struct opts *o, const struct path *paths, unsigned npaths,
			struct result (*res)[PATHS_MAX])
{
	if (o->rate)
		printf("herald-pingpong: open loop, %lu round trips/s per path, latency from the "
		       "scheduled send (coordinated omission corrected)\n", o->rate);
	else
		printf("herald-pingpong: closed loop, one round trip outstanding, latency from the send\n");
	if (o->busy)
		printf("busy-polling the sockets (no sleep while waiting for a reply)\n");
	if (o->node)
		printf("node %s context %" PRIu32 "; ", o->node, o->context);
	printf("%u round trips per size and path after %u warm-up\n", o->count, o->warmup);
	printf("%6s  %-8s %8s %6s %9s", "size", "path", "count", "lost", "min");
	for (unsigned i = 0; i < NPCT; i++)
		printf(" %9s", pcts[i].head);
	printf(" %9s%s%s\n", "max", o->necho ? "  p50/" : "", o->necho ? paths[0].name : "");
	for (unsigned i = 0; i < o->nsizes; i++)
		for (unsigned p = 0; p < npaths; p++)
			print_row(o->sizes[i], paths[p].name, &res[i][p],
				  p > 0 ? ratio(&res[i][p], &res[i][0]) : 0);
	printf("(latencies in microseconds; size = herald value bytes, reflector UDP payload bytes)\n");
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		fprintf(stderr, "herald-pingpong: --cpu %d: %s\n", cpu, strerror(errno));
		return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct result res[SIZES_MAX][PATHS_MAX];
	struct herald_client_opts copts = {0};
	struct herald_callbacks cb = {0};
	struct path paths[PATHS_MAX];
	struct pp p = {0};
	struct opts o;
	uint64_t *start = NULL, counter = 0;
	uint8_t *done = NULL;
	unsigned npaths = 0;
	int ret = 1;
	bool empty = false;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (o.cpu >= 0 && pin_cpu(o.cpu) < 0)
		return 1;
	/* Open loop sleeps to each scheduled send: wake on time, not 50 us late. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* Progress goes to stderr; keep stdout in order with it when both are logged. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	start = calloc((size_t)o.warmup + o.count, sizeof(*start));
	done = calloc((size_t)o.warmup + o.count, 1);
	if (start == NULL || done == NULL) {
		fprintf(stderr, "herald-pingpong: cannot allocate %u round trips\n",
			o.warmup + o.count);
		goto out;
	}

	memset(paths, 0, sizeof(paths));
	for (unsigned e = 0; e < o.necho; e++, npaths++) {
		struct path *pa = &paths[npaths];

		pa->name = o.echo_name[e];
		pa->addr = o.echo_addr[e];
		pa->pp = &p;
		pa->send = echo_send;
		pa->drain = echo_drain;
		pa->fd = echo_open(pa->addr);
		if (pa->fd < 0) {
			fprintf(stderr, "herald-pingpong: %s socket %s: %s\n", pa->name, pa->addr,
				strerror(-pa->fd));
			goto out;
		}
	}
	if (o.node) {
		struct path *pa = &paths[npaths++];

		cb.on_delta = on_delta;
		cb.on_snapshot_end = on_snapshot_end;
		cb.on_timeout = on_lost;
		cb.on_closed = on_lost;
		cb.on_error = on_error;
		cb.user = &p;
		copts.node = o.node;
		copts.max_subscriptions = 1;
		p.context = o.context;
		p.c = herald_client_open(&copts, &cb);
		if (p.c == NULL) {
			fprintf(stderr, "herald-pingpong: cannot open a client to %s: %s\n", o.node,
				strerror(errno));
			goto out;
		}
		pa->name = "herald";
		pa->addr = o.node;
		pa->pp = &p;
		pa->fd = herald_client_fd(p.c);
		pa->send = herald_send;
		pa->drain = herald_drain;
		if (ensure_live(&p) < 0)
			goto out;
	}

	/* One size at a time, every path back to back: they see the same moments. */
	for (unsigned i = 0; i < o.nsizes; i++)
		for (unsigned k = 0; k < npaths; k++) {
			if (measure(&paths[k], &o, o.sizes[i], &counter, start, done, &res[i][k]) < 0)
				goto out;
			if (res[i][k].count == 0)
				empty = true;
		}

	print_table(&o, paths, npaths, res);
	if (o.json && write_json(&o, paths, npaths, res) < 0)
		goto out;
	ret = empty ? 1 : 0;

out:
	if (p.c) {
		herald_unsubscribe(p.c, o.context);
		herald_client_close(p.c);
	}
	for (unsigned k = 0; k < npaths; k++)
		if (paths[k].send == echo_send && paths[k].fd >= 0)
			close(paths[k].fd);
	free(start);
	free(done);
	return ret;
}
