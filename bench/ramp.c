/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-bench-ramp: add subscribers to one context in steps until the node
 * refuses them, while one publisher sends at a fixed rate. Each step opens
 * --step new clients (each its own socket and session) and runs for
 * --step-seconds; then it reports how many clients are live, refused
 * (ERROR NO_SESSION_SPACE: the node's --max-sessions is reached) or still
 * waiting, how many deliveries the node made per second, and whether the
 * clients established before the step kept receiving every update (the
 * share of the step's publishes each received). It stops one step after the
 * first refusal, to show that refused clients stay refused and established
 * ones keep working. All clients are driven from one thread (epoll).
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
#include <sys/epoll.h>

#include <jansson.h>

#include <herald/client.h>

#define BENCH_NAME "herald-bench-ramp"
#include "bench_util.h"

#define CLIENTS_MAX 8000
#define STEPS_MAX 100
#define KEYS 16
#define SWEEP_NS 20000000ull /* every client's timers (heartbeats) at least this often */

struct opts {
	const char *node, *json;
	unsigned step, steps, step_seconds, rate, size;
	uint32_t context;
};

struct sub {
	struct herald_client *c;
	uint32_t context;
	unsigned joined; /* step it was opened in, from 1 */
	bool synced, refused, closed;
	uint64_t deltas, mark;
};

struct step {
	unsigned clients, live, refused, waiting, closed;
	unsigned established, behind; /* established before the step; < 99 % of its publishes */
	uint64_t published, delivered;
	double seconds, ratio_min, ratio_median;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-bench-ramp --node IP[:PORT] [options]\n"
		"  --node IP[:PORT]    Herald node\n"
		"  --step N            clients added per step (default 50)\n"
		"  --steps N           at most this many steps (default 20; it stops one step\n"
		"                      after the first refusal)\n"
		"  --step-seconds S    length of a step (default 2)\n"
		"  --rate N            publishes per second (default 1000)\n"
		"  --size N            value bytes (default 125)\n"
		"  --context ID        context id (default: derived from the pid)\n"
		"  --json FILE         also write the steps as JSON\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"step", required_argument, NULL, 's'},
		{"steps", required_argument, NULL, 'S'},
		{"step-seconds", required_argument, NULL, 't'},
		{"rate", required_argument, NULL, 'r'},
		{"size", required_argument, NULL, 'z'},
		{"context", required_argument, NULL, 'x'},
		{"json", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct {
		int opt;
		const char *name, *expected;
		unsigned long min, max;
		unsigned *out;
	} nums[] = {
		{'s', "--step", "1..1000 clients", 1, 1000, &o->step},
		{'S', "--steps", "1..100 steps", 1, STEPS_MAX, &o->steps},
		{'t', "--step-seconds", "1..600 seconds", 1, 600, &o->step_seconds},
		{'r', "--rate", "1..1000000 publishes per second", 1, 1000000, &o->rate},
		{'z', "--size", "8..4096 bytes", 8, HERALD_VALUE_MAX, &o->size},
	};
	unsigned long v;
	int opt;

	memset(o, 0, sizeof(*o));
	o->step = 50;
	o->steps = 20;
	o->step_seconds = 2;
	o->rate = 1000;
	o->size = 125;
	o->context = 0x72610000u | ((uint32_t)getpid() & 0xffff);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		bool done = false;

		for (unsigned i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			if (nums[i].opt != opt)
				continue;
			if (parse_uint(optarg, nums[i].max, &v) < 0 || v < nums[i].min)
				return bad_arg(nums[i].name, optarg, nums[i].expected);
			*nums[i].out = (unsigned)v;
			done = true;
		}
		if (done)
			continue;
		if (opt == 'n') {
			o->node = optarg;
		} else if (opt == 'x') {
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return bad_arg("--context", optarg, "a 32-bit unsigned integer");
			o->context = (uint32_t)v;
		} else if (common_opt(opt, &o->json, usage) < 0) {
			return -EINVAL;
		}
	}
	if ((unsigned long)o->step * o->steps > CLIENTS_MAX) {
		fprintf(stderr, BENCH_NAME ": --step x --steps is at most %d clients\n", CLIENTS_MAX);
		return -EINVAL;
	}
	return args_finish(argc, argv, o->node, usage);
}

static void on_delta(void *user, const struct herald_entry *e)
{
	struct sub *s = user;

	if (e->context == s->context)
		s->deltas++;
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct sub *s = user;

	(void)seq;
	if (context == s->context)
		s->synced = true;
}

static void on_closed(void *user, uint32_t context)
{
	struct sub *s = user;

	if (context == s->context)
		s->closed = true;
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	struct sub *s = user;

	if (code == HERALD_ERR_NO_SESSION_SPACE && !s->synced) {
		s->refused = true;
		return;
	}
	fprintf(stderr, BENCH_NAME ": node error %u on context %" PRIu32 ": %.*s\n", code, context,
		(int)len, text);
}

static int open_sub(struct sub *s, const struct opts *o, int ep, unsigned step)
{
	struct herald_client_opts co = {.node = o->node, .max_subscriptions = 1};
	struct herald_callbacks cb = {.on_delta = on_delta, .on_snapshot_end = on_snapshot_end,
				      .on_closed = on_closed, .on_error = on_error, .user = s};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
	int ret;

	memset(s, 0, sizeof(*s));
	s->context = o->context;
	s->joined = step;
	s->c = herald_client_open(&co, &cb);
	if (s->c == NULL) {
		fprintf(stderr, BENCH_NAME ": client %s: %s\n", o->node, strerror(errno));
		return -errno;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, herald_client_fd(s->c), &ev) < 0)
		return -errno;
	ret = herald_subscribe(s->c, o->context);
	if (ret < 0)
		fprintf(stderr, BENCH_NAME ": subscribe: %s\n", strerror(-ret));
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Publish on schedule and serve every client until @p end. */
static int run_until(uint64_t end, struct herald_client *pub, const struct opts *o, int ep,
		     struct sub *subs, unsigned nsubs, uint64_t t0, uint64_t *published)
{
	static uint8_t value[HERALD_VALUE_MAX];
	struct epoll_event evs[256];
	uint64_t period = 1000000000ull / o->rate, last_sweep = 0, t;

	while ((t = now_ns()) < end) {
		uint64_t due = t0 + *published * period, wait_ns;
		int n;

		while (due <= t) {
			char key[4];
			int ret;

			snprintf(key, sizeof(key), "%02u", (unsigned)(*published % KEYS));
			memcpy(value, published, sizeof(*published));
			ret = herald_publish(pub, o->context, key, 2, value, o->size);
			if (ret < 0 && ret != -EAGAIN && ret != -ENOBUFS) {
				fprintf(stderr, BENCH_NAME ": publish: %s\n", strerror(-ret));
				return ret;
			}
			++*published;
			due += period;
		}
		if (t - last_sweep >= SWEEP_NS) {
			for (unsigned i = 0; i < nsubs; i++)
				herald_client_poll(subs[i].c, 0);
			herald_client_poll(pub, 0);
			last_sweep = t;
		}
		wait_ns = due > t ? due - t : 0;
		n = epoll_wait(ep, evs, 256, (int)(wait_ns / 1000000));
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++)
			herald_client_poll(((struct sub *)evs[i].data.ptr)->c, 0);
	}
	return 0;
}

static void tally(struct step *st, struct sub *subs, unsigned nsubs, unsigned step,
		  uint64_t published, double *ratios)
{
	unsigned nr = 0;

	for (unsigned i = 0; i < nsubs; i++) {
		struct sub *s = &subs[i];

		st->clients++;
		st->delivered += s->deltas - s->mark;
		if (s->refused)
			st->refused++;
		else if (s->closed)
			st->closed++;
		else if (s->synced)
			st->live++;
		else
			st->waiting++;
		if (s->joined < step && s->synced && !s->refused) {
			double r = published ? (double)(s->deltas - s->mark) / (double)published : 0;

			ratios[nr++] = r;
			if (r < 0.99)
				st->behind++;
		}
		s->mark = s->deltas;
	}
	st->established = nr;
	if (nr) {
		qsort(ratios, nr, sizeof(*ratios), cmp_double);
		st->ratio_min = ratios[0];
		st->ratio_median = ratios[nr / 2];
	}
}

static int write_json(const struct opts *o, const struct step *steps, unsigned n)
{
	json_t *rows = json_array();

	for (unsigned i = 0; i < n; i++) {
		const struct step *s = &steps[i];

		json_array_append_new(rows, json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f}",
			"step", (json_int_t)i + 1, "clients", (json_int_t)s->clients, "live",
			(json_int_t)s->live, "refused", (json_int_t)s->refused, "waiting",
			(json_int_t)s->waiting, "closed", (json_int_t)s->closed, "established",
			(json_int_t)s->established, "established_behind", (json_int_t)s->behind,
			"published", (json_int_t)s->published, "publishes_per_s",
			(double)s->published / s->seconds, "deliveries_per_s",
			(double)s->delivered / s->seconds, "established_ratio_min", s->ratio_min,
			"established_ratio_median", s->ratio_median));
	}
	return json_write(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "node", o->node,
				    "step", (json_int_t)o->step, "step_seconds",
				    (json_int_t)o->step_seconds, "rate", (json_int_t)o->rate,
				    "size", (json_int_t)o->size, "context", (json_int_t)o->context,
				    "steps", rows),
			  o->json);
}

int main(int argc, char **argv)
{
	static struct sub subs[CLIENTS_MAX];
	static struct step steps[STEPS_MAX];
	static double ratios[CLIENTS_MAX];
	struct herald_client_opts po = {0};
	struct herald_callbacks pcb = {0};
	struct herald_client *pub;
	struct opts o;
	uint64_t published = 0, t0;
	unsigned nsubs = 0, nsteps = 0, stop_after = 0;
	int ep, ret = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	po.node = o.node;
	pub = herald_client_open(&po, &pcb);
	if (ep < 0 || pub == NULL) {
		fprintf(stderr, BENCH_NAME ": cannot open the publisher: %s\n", strerror(errno));
		return 1;
	}
	printf("herald-bench-ramp: node %s context %" PRIu32 ", %u publishes/s of %u B, +%u clients every %u s\n",
	       o.node, o.context, o.rate, o.size, o.step, o.step_seconds);
	printf("%4s %7s %6s %7s %7s %6s %11s %8s %10s %12s %12s\n", "step", "clients", "live",
	       "refused", "waiting", "closed", "established", "behind", "pub/s", "deliveries/s",
	       "min/median");
	t0 = now_ns();
	for (unsigned step = 1; step <= o.steps; step++) {
		struct step *st = &steps[nsteps++];
		uint64_t start = now_ns(), pub0 = published;

		for (unsigned k = 0; k < o.step; k++)
			if (open_sub(&subs[nsubs++], &o, ep, step) < 0)
				goto out;
		if (run_until(start + o.step_seconds * 1000000000ull, pub, &o, ep, subs, nsubs, t0,
			      &published) < 0)
			goto out;
		st->published = published - pub0;
		st->seconds = (double)(now_ns() - start) / 1e9;
		tally(st, subs, nsubs, step, st->published, ratios);
		printf("%4u %7u %6u %7u %7u %6u %11u %8u %10.0f %12.0f %5.3f/%5.3f\n", step,
		       st->clients, st->live, st->refused, st->waiting, st->closed, st->established,
		       st->behind, (double)st->published / st->seconds,
		       (double)st->delivered / st->seconds, st->ratio_min, st->ratio_median);
		if (st->refused && stop_after == 0)
			stop_after = step + 1;
		if (stop_after && step >= stop_after)
			break;
	}
	printf("(behind: established clients that received < 99 %% of the step's publishes; "
	       "min/median: share of the step's publishes they received)\n");
	ret = o.json && write_json(&o, steps, nsteps) < 0 ? 1 : 0;
out:
	for (unsigned i = 0; i < nsubs; i++) {
		if (subs[i].c && subs[i].synced)
			herald_unsubscribe(subs[i].c, o.context);
		herald_client_close(subs[i].c);
	}
	herald_client_close(pub);
	close(ep);
	return ret;
}
