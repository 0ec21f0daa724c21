/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-pingpong: round-trip time through a Herald node. One client
 * subscribes to a context and publishes into it; a round trip is one PUBLISH
 * and the DELTA the node fans back to the same client. Closed loop, one
 * message outstanding. With --echo, a plain kernel UDP echo is measured in
 * the same run, interleaved per size, as the floor.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <jansson.h>

#include <herald/client.h>

#define BENCH_NAME "herald-pingpong"
#include "bench_util.h"

#define SIZES_MAX 32
#define KEY "pp"
/* The value starts with the round-trip counter, so a late reply is recognised. */
#define SIZE_MIN ((int)sizeof(uint64_t))
#define SNAPSHOT_WAIT_MS 3000

struct opts {
	const char *node;
	const char *echo;
	const char *json;
	unsigned sizes[SIZES_MAX];
	unsigned nsizes;
	unsigned count;
	unsigned warmup;
	uint32_t context;
	int timeout_ms;
};

struct result {
	unsigned count; /* samples kept */
	unsigned lost;  /* round trips that timed out */
	unsigned stale; /* late replies to earlier round trips */
	double min, p50, p90, p99, p999, max; /* microseconds */
};

struct pp {
	struct herald_client *c;
	uint32_t context;
	unsigned size;
	uint64_t want;     /* counter of the outstanding round trip */
	bool got;
	uint64_t t_rx;
	unsigned stale;
	bool snap_done;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-pingpong --node IP[:PORT] [options]\n"
		"  --node IP[:PORT]    Herald node (default port %d)\n"
		"  --echo IP:PORT      also measure a kernel UDP echo server (herald-echo)\n"
		"  --sizes LIST        value sizes in bytes, comma-separated (default 125,256,512,1024,1500,2000)\n"
		"  --count N           measured round trips per size (default 10000)\n"
		"  --warmup N          discarded round trips per size (default 1000)\n"
		"  --context ID        context id (default: derived from the pid)\n"
		"  --timeout-ms MS     wait for one reply before counting it lost (default 100)\n"
		"  --json FILE         also write the results as JSON\n",
		HERALD_UDP_PORT_BASE);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"echo", required_argument, NULL, 'e'},
		{"sizes", required_argument, NULL, 's'},
		{"count", required_argument, NULL, 'c'},
		{"warmup", required_argument, NULL, 'w'},
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
			if (herald_addr_parse(optarg, 0, &sa) < 0 || sa.sin_port == 0)
				return bad_arg("--echo", optarg, "IPv4:PORT");
			o->echo = optarg;
			break;
		case 's':
			ret = parse_uint_list(optarg, o->sizes, SIZES_MAX, SIZE_MIN, HERALD_VALUE_MAX);
			if (ret < 0)
				return bad_arg("--sizes", optarg,
					       "a comma-separated list of 8..4096 byte sizes (at most 32)");
			o->nsizes = (unsigned)ret;
			break;
		case 'c':
			if (parse_uint(optarg, UINT_MAX, &v) < 0 || v == 0)
				return bad_arg("--count", optarg, "a positive integer");
			o->count = (unsigned)v;
			break;
		case 'w':
			if (parse_uint(optarg, UINT_MAX, &v) < 0)
				return bad_arg("--warmup", optarg, "a non-negative integer");
			o->warmup = (unsigned)v;
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
	return args_finish(argc, argv, o->node, usage);
}

static double rank_us(const uint64_t *s, unsigned n, double p)
{
	return (double)rank_u64(s, n, p) / 1000.0;
}

static void summarize(uint64_t *s, unsigned n, struct result *r)
{
	r->count = n;
	if (n == 0)
		return;
	qsort(s, n, sizeof(*s), cmp_u64);
	r->min = (double)s[0] / 1000.0;
	r->p50 = rank_us(s, n, 50);
	r->p90 = rank_us(s, n, 90);
	r->p99 = rank_us(s, n, 99);
	r->p999 = rank_us(s, n, 99.9);
	r->max = (double)s[n - 1] / 1000.0;
}

static void fill_payload(uint8_t *buf, unsigned size, uint64_t counter)
{
	memcpy(buf, &counter, sizeof(counter));
	for (unsigned i = sizeof(counter); i < size; i++)
		buf[i] = (uint8_t)('a' + i % 26);
}

static void on_delta(void *user, const struct herald_entry *e)
{
	struct pp *p = user;
	uint64_t counter;

	if (e->context != p->context || e->key_len != sizeof(KEY) - 1 ||
	    memcmp(e->key, KEY, sizeof(KEY) - 1) != 0 || e->value_len != p->size)
		return;
	memcpy(&counter, e->value, sizeof(counter));
	if (counter != p->want || p->got) {
		p->stale++;
		return;
	}
	p->t_rx = now_ns();
	p->got = true;
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

static int herald_run(struct pp *p, const struct opts *o, unsigned size, uint64_t *samples,
		      struct result *r, uint64_t *counter)
{
	static uint8_t value[HERALD_VALUE_MAX];
	unsigned kept = 0;

	memset(r, 0, sizeof(*r));
	if (ensure_live(p) < 0)
		return -ETIMEDOUT;
	p->size = size;
	p->stale = 0;
	for (unsigned i = 0; i < o->warmup + o->count; i++) {
		uint64_t t0, deadline;
		int ret;

		p->want = ++*counter;
		p->got = false;
		fill_payload(value, size, p->want);
		t0 = now_ns();
		ret = herald_publish(p->c, p->context, KEY, sizeof(KEY) - 1, value, size);
		if (ret < 0) {
			fprintf(stderr, "herald-pingpong: publish: %s\n", strerror(-ret));
			return ret;
		}
		deadline = t0 + (uint64_t)o->timeout_ms * 1000000ull;
		while (!p->got) {
			int left = ms_left(deadline);

			ret = herald_client_poll(p->c, left);
			if (ret < 0) {
				fprintf(stderr, "herald-pingpong: poll: %s\n", strerror(-ret));
				return ret;
			}
			if (left == 0)
				break;
		}
		if (i < o->warmup)
			continue;
		if (!p->got)
			r->lost++;
		else
			samples[kept++] = p->t_rx - t0;
	}
	r->stale = p->stale;
	summarize(samples, kept, r);
	return 0;
}

static int echo_run(int fd, struct pp *p, const struct opts *o, unsigned size,
		    uint64_t *samples, struct result *r, uint64_t *counter)
{
	static uint8_t out[HERALD_VALUE_MAX], in[65536];
	unsigned kept = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < o->warmup + o->count; i++) {
		uint64_t t0, t1 = 0, deadline, want = ++*counter;
		bool got = false;

		fill_payload(out, size, want);
		t0 = now_ns();
		if (send(fd, out, size, 0) < 0 && errno != ECONNREFUSED) {
			fprintf(stderr, "herald-pingpong: echo send: %s\n", strerror(errno));
			return -errno;
		}
		deadline = t0 + (uint64_t)o->timeout_ms * 1000000ull;
		while (!got) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			int left = ms_left(deadline);
			ssize_t n;
			uint64_t c;

			if (poll(&pfd, 1, left) < 0 && errno != EINTR)
				return -errno;
			n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (n >= (ssize_t)sizeof(c)) {
				memcpy(&c, in, sizeof(c));
				if (c == want && (size_t)n == size) {
					t1 = now_ns();
					got = true;
				} else {
					r->stale++;
				}
				continue;
			}
			if (left == 0)
				break;
		}
		/*
		 * Keep the Herald session alive between round trips: the node closes
		 * a session that sends no heartbeat for a few seconds, and an echo
		 * phase with losses lasts longer than that.
		 */
		herald_client_poll(p->c, 0);
		if (i < o->warmup)
			continue;
		if (!got)
			r->lost++;
		else
			samples[kept++] = t1 - t0;
	}
	summarize(samples, kept, r);
	return 0;
}

static void print_row(unsigned size, const char *path, const struct result *r, double ratio)
{
	printf("%6u  %-6s %8u %6u %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f", size, path, r->count,
	       r->lost, r->min, r->p50, r->p90, r->p99, r->p999, r->max);
	if (ratio > 0)
		printf(" %7.2f", ratio);
	printf("\n");
}

static json_t *result_json(const struct result *r)
{
	return json_pack("{s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "count",
			 (json_int_t)r->count, "lost", (json_int_t)r->lost, "stale",
			 (json_int_t)r->stale, "min_us", r->min, "p50_us", r->p50, "p90_us",
			 r->p90, "p99_us", r->p99, "p999_us", r->p999, "max_us", r->max);
}

static int write_json(const struct opts *o, const struct result *hr, const struct result *er)
{
	json_t *root, *rows;

	rows = json_array();
	for (unsigned i = 0; i < o->nsizes; i++) {
		json_t *row = json_pack("{s:I, s:o}", "size", (json_int_t)o->sizes[i], "herald",
					result_json(&hr[i]));

		if (o->echo) {
			json_object_set_new(row, "echo", result_json(&er[i]));
			if (er[i].count && hr[i].count)
				json_object_set_new(row, "p50_ratio",
						    json_real(hr[i].p50 / er[i].p50));
		}
		json_array_append_new(rows, row);
	}
	root = json_pack("{s:s, s:s?, s:I, s:I, s:I, s:I, s:s, s:o}", "node", o->node, "echo",
			 o->echo, "context", (json_int_t)o->context, "count",
			 (json_int_t)o->count, "warmup", (json_int_t)o->warmup, "timeout_ms",
			 (json_int_t)o->timeout_ms, "value_size_meaning",
			 "herald: value bytes of one PUBLISH/DELTA; echo: UDP payload bytes",
			 "results", rows);
	return json_write(root, o->json);
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

int main(int argc, char **argv)
{
	struct herald_client_opts copts = {0};
	struct herald_callbacks cb = {0};
	struct result hr[SIZES_MAX], er[SIZES_MAX];
	struct pp p = {0};
	struct opts o;
	uint64_t *samples, counter = 0;
	int echo_fd = -1, ret = 1;
	bool empty = false;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	/* Progress goes to stderr; keep stdout in order with it when both are logged. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	samples = calloc(o.count, sizeof(*samples));
	if (samples == NULL) {
		fprintf(stderr, "herald-pingpong: cannot allocate %u samples\n", o.count);
		return 1;
	}
	memset(hr, 0, sizeof(hr));
	memset(er, 0, sizeof(er));

	if (o.echo) {
		echo_fd = echo_open(o.echo);
		if (echo_fd < 0) {
			fprintf(stderr, "herald-pingpong: echo socket %s: %s\n", o.echo,
				strerror(-echo_fd));
			goto out_free;
		}
	}

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
		goto out_close_echo;
	}
	if (ensure_live(&p) < 0)
		goto out_unsubscribe;

	for (unsigned i = 0; i < o.nsizes; i++) {
		unsigned size = o.sizes[i];

		if (o.echo) {
			if (echo_run(echo_fd, &p, &o, size, samples, &er[i], &counter) < 0)
				goto out_unsubscribe;
			fprintf(stderr, "size %u echo: %u samples, %u lost, p50 %.1f us\n", size,
				er[i].count, er[i].lost, er[i].p50);
			if (er[i].count == 0)
				empty = true;
		}
		if (herald_run(&p, &o, size, samples, &hr[i], &counter) < 0)
			goto out_unsubscribe;
		fprintf(stderr, "size %u herald: %u samples, %u lost, p50 %.1f us\n", size,
			hr[i].count, hr[i].lost, hr[i].p50);
		if (hr[i].count == 0)
			empty = true;
	}

	printf("herald-pingpong: node %s context %" PRIu32 ", %u round trips per size after %u warm-up\n",
	       o.node, o.context, o.count, o.warmup);
	printf("%6s  %-6s %8s %6s %9s %9s %9s %9s %9s %9s%s\n", "size", "path", "count", "lost",
	       "min", "p50", "p90", "p99", "p99.9", "max", o.echo ? "  p50/echo" : "");
	for (unsigned i = 0; i < o.nsizes; i++) {
		if (o.echo)
			print_row(o.sizes[i], "echo", &er[i], 0);
		print_row(o.sizes[i], "herald", &hr[i],
			  o.echo && er[i].count && hr[i].count ? hr[i].p50 / er[i].p50 : 0);
	}
	printf("(latencies in microseconds; size = herald value bytes, echo UDP payload bytes)\n");

	if (o.json && write_json(&o, hr, er) < 0)
		goto out_unsubscribe;
	ret = empty ? 1 : 0;

out_unsubscribe:
	herald_unsubscribe(p.c, o.context);
	herald_client_close(p.c);
out_close_echo:
	if (echo_fd >= 0)
		close(echo_fd);
out_free:
	free(samples);
	return ret;
}
