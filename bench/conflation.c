/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-bench-conflation: what a slow client gets. One publisher updates K
 * keys of a context at a fixed rate; N clients subscribe with a per-client
 * budget (messages/s, declared in SUBSCRIBE) that shrinks step by step. For
 * each budget, on a `replace` context (the node sends the latest value of
 * each key it owes) and on a `none` context (every update in order, from a
 * bounded history; a client that falls beyond it is cut with ERROR), the
 * bench measures per client: messages/s and bytes/s received, the age of
 * each value when it arrives (the publisher's timestamp is in the payload),
 * the age of the client's view (every key's held value, sampled), gaps and
 * cuts. Publisher and clients share one thread and one clock.
 *
 *   herald-bench-conflation --node IP[:PORT] [options]   (--help lists them)
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

#define BENCH_NAME "herald-bench-conflation"
#include "bench_util.h"

#define BUDGETS_MAX 16
#define CLIENTS_MAX 256
#define KEYS_MAX 10000
/* The value starts with the publish time and the key's version. */
#define VALUE_MIN 16
#define SYNC_WAIT_NS 5000000000ull
#define VIEW_SAMPLE_NS 100000000ull
#define NS_PER_MS 1000000ull

enum policy { POL_REPLACE, POL_NONE, POL_MAX };
static const char *const policy_names[POL_MAX] = {"replace", "none"};

struct opts {
	const char *node;
	const char *json;
	unsigned budgets[BUDGETS_MAX];
	unsigned nbudgets;
	bool policy_on[POL_MAX];
	uint32_t context[POL_MAX];
	unsigned clients, keys, rate, size, tick_us, heartbeat_ms;
	double duration_s, warmup_s;
	int rcvbuf;
};

/* Growable sample array; the bench allocates between steps, never per message. */
struct samples {
	uint64_t *v;
	size_t n, cap;
	bool short_of_memory;
};

struct run;

struct sub_client {
	struct herald_client *c;
	struct run *run;
	uint64_t *view_ns;   /* publish time of the value held per key, 0 = none yet */
	uint64_t subscribed_ns; /* SUBSCRIBE sent: the node's session starts about now */
	uint64_t synced_ns;  /* first snapshot complete */
	uint64_t first_cut_ns;
	uint64_t rx_bytes0;
	/* counted inside the measurement window */
	uint64_t entries, snap_entries, current, gaps, cuts, errors, bytes;
};

struct publisher {
	struct herald_client *c;
	uint32_t *version;   /* per key */
	uint64_t rng;
	uint64_t start_ns, sent, skipped, errors;
	uint64_t published; /* messages actually sent, over all steps */
	uint8_t value[HERALD_VALUE_MAX];
};

struct run {
	const struct opts *o;
	enum policy pol;
	uint32_t context, budget;
	bool measuring;
	struct sub_client *cl;
	struct publisher *pub;
	struct samples age, view, behind;
	uint64_t next_view_ns;
	int ep;
};

struct step_result {
	enum policy pol;
	uint32_t budget;
	double window_s, pub_rate;
	double msgs_mean, msgs_min, msgs_max, bytes_mean;
	double snap_share;             /* fraction of entries that were snapshot entries */
	double current_share;          /* fraction of entries that were their key's latest value */
	uint64_t behind_p99;           /* newer versions of the key already published, p99 */
	uint64_t age_n, view_n;
	double age_p50_us, age_p99_us, age_max_us;
	double view_p50_us, view_p99_us;
	uint64_t gaps, cuts, errors, unsynced, pub_skipped, pub_errors;
	double first_cut_ms;           /* median over cut clients; < 0: nobody was cut */
	bool short_of_memory;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-bench-conflation --node IP[:PORT] [options]\n"
		"  --node IP[:PORT]      Herald node (default port %d)\n"
		"  --clients N           subscribers per step, 1..%d (default 8)\n"
		"  --keys K              keys the publisher updates, 1..%d (default 100)\n"
		"  --rate R              publisher messages/s over all keys (default 20000)\n"
		"  --size BYTES          value bytes, %d..%d (default 125)\n"
		"  --budgets LIST        per-client budgets in messages/s, 0 = unlimited\n"
		"                        (default 0,10000,1000,100,10)\n"
		"  --policies LIST       replace,none or one of them (default replace,none)\n"
		"  --replace-context ID  context the node runs with policy replace (default 1001)\n"
		"  --none-context ID     context the node runs with policy none (default 1002)\n"
		"  --duration S          measured seconds per step (default 5)\n"
		"  --warmup S            seconds after the snapshot before measuring (default 1)\n"
		"  --tick-us US          publisher pacing tick: each tick sends what is due (default 1000)\n"
		"  --heartbeat-ms MS     session heartbeat interval (default 100)\n"
		"  --rcvbuf BYTES        client socket receive buffer (default 4194304)\n"
		"  --json FILE           also write the results as JSON\n"
		"The node must run --context <replace-context>=replace --context <none-context>=none\n"
		"(replace is the dataplane's default policy).\n",
		HERALD_UDP_PORT_BASE, CLIENTS_MAX, KEYS_MAX, VALUE_MIN, HERALD_VALUE_MAX);
}

static int parse_policies(const char *arg, struct opts *o)
{
	char buf[64], *save = NULL, *tok;
	bool any = false;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	memset(o->policy_on, 0, sizeof(o->policy_on));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int p;

		for (p = 0; p < POL_MAX && strcmp(tok, policy_names[p]) != 0; p++)
			;
		if (p == POL_MAX)
			return -EINVAL;
		o->policy_on[p] = any = true;
	}
	return any ? 0 : -EINVAL;
}

static int parse_seconds(const char *arg, double min, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(arg, &end);
	return errno || end == arg || *end != '\0' || !(*out >= min) || *out > 3600 ? -EINVAL : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"node", required_argument, NULL, 'n'},
		{"clients", required_argument, NULL, 'c'},
		{"keys", required_argument, NULL, 'k'},
		{"rate", required_argument, NULL, 'r'},
		{"size", required_argument, NULL, 's'},
		{"budgets", required_argument, NULL, 'b'},
		{"policies", required_argument, NULL, 'p'},
		{"replace-context", required_argument, NULL, 'R'},
		{"none-context", required_argument, NULL, 'N'},
		{"duration", required_argument, NULL, 'd'},
		{"warmup", required_argument, NULL, 'w'},
		{"tick-us", required_argument, NULL, 't'},
		{"heartbeat-ms", required_argument, NULL, 'H'},
		{"rcvbuf", required_argument, NULL, 'B'},
		{"json", required_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sockaddr_in sa;
	unsigned long v;
	int opt, ret;

	*o = (struct opts){
		.budgets = {0, 10000, 1000, 100, 10}, .nbudgets = 5,
		.policy_on = {true, true}, .context = {1001, 1002},
		.clients = 8, .keys = 100, .rate = 20000, .size = 125, .tick_us = 1000,
		.heartbeat_ms = 100, .duration_s = 5, .warmup_s = 1, .rcvbuf = 4 << 20,
	};
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (herald_addr_parse(optarg, HERALD_UDP_PORT_BASE, &sa) < 0)
				return bad_arg("--node", optarg, "IPv4[:PORT]");
			o->node = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, CLIENTS_MAX, &v) < 0 || v == 0)
				return bad_arg("--clients", optarg, "1..256");
			o->clients = (unsigned)v;
			break;
		case 'k':
			if (parse_uint(optarg, KEYS_MAX, &v) < 0 || v == 0)
				return bad_arg("--keys", optarg, "1..10000");
			o->keys = (unsigned)v;
			break;
		case 'r':
			if (parse_uint(optarg, 10000000, &v) < 0 || v == 0)
				return bad_arg("--rate", optarg, "1..10000000 messages/s");
			o->rate = (unsigned)v;
			break;
		case 's':
			if (parse_uint(optarg, HERALD_VALUE_MAX, &v) < 0 || v < VALUE_MIN)
				return bad_arg("--size", optarg, "16..4096 bytes");
			o->size = (unsigned)v;
			break;
		case 'b':
			ret = parse_uint_list(optarg, o->budgets, BUDGETS_MAX, 0, UINT32_MAX);
			if (ret < 0)
				return bad_arg("--budgets", optarg,
					       "a comma-separated list of messages/s (0 = unlimited), at most 16");
			o->nbudgets = (unsigned)ret;
			break;
		case 'p':
			if (parse_policies(optarg, o) < 0)
				return bad_arg("--policies", optarg, "replace, none or replace,none");
			break;
		case 'R':
		case 'N':
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return bad_arg(opt == 'R' ? "--replace-context" : "--none-context", optarg,
					       "a 32-bit context id");
			o->context[opt == 'R' ? POL_REPLACE : POL_NONE] = (uint32_t)v;
			break;
		case 'd':
			if (parse_seconds(optarg, 0.1, &o->duration_s) < 0)
				return bad_arg("--duration", optarg, "0.1..3600 seconds");
			break;
		case 'w':
			if (parse_seconds(optarg, 0, &o->warmup_s) < 0)
				return bad_arg("--warmup", optarg, "0..3600 seconds");
			break;
		case 't':
			if (parse_uint(optarg, 1000000, &v) < 0 || v < 10)
				return bad_arg("--tick-us", optarg, "10..1000000 microseconds");
			o->tick_us = (unsigned)v;
			break;
		case 'H':
			if (parse_uint(optarg, 60000, &v) < 0 || v < 10)
				return bad_arg("--heartbeat-ms", optarg, "10..60000 ms");
			o->heartbeat_ms = (unsigned)v;
			break;
		case 'B':
			if (parse_uint(optarg, INT_MAX, &v) < 0)
				return bad_arg("--rcvbuf", optarg, "bytes");
			o->rcvbuf = (int)v;
			break;
		default:
			if (common_opt(opt, &o->json, usage) < 0)
				return -EINVAL;
			break;
		}
	}
	if (args_finish(argc, argv, o->node, usage) < 0)
		return -EINVAL;
	if (o->context[POL_REPLACE] == o->context[POL_NONE])
		return bad_arg("--none-context", "", "a context other than --replace-context");
	return 0;
}

static void samples_push(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL) {
			s->short_of_memory = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

/* Key "kNNNN" -> index, or -1 for a key this bench did not publish. */
static int key_index(const struct herald_entry *e, unsigned keys)
{
	const char *k = e->key;
	unsigned idx = 0;

	if (e->key_len < 2 || e->key_len > 6 || k[0] != 'k')
		return -1;
	for (unsigned i = 1; i < e->key_len; i++) {
		if (k[i] < '0' || k[i] > '9')
			return -1;
		idx = idx * 10 + (unsigned)(k[i] - '0');
	}
	return idx < keys ? (int)idx : -1;
}

static void on_entry(struct sub_client *k, const struct herald_entry *e, bool snapshot)
{
	struct run *r = k->run;
	uint64_t pub_ns, version, newest, behind, t;
	int idx;

	if (e->context != r->context || e->value_len < VALUE_MIN)
		return;
	idx = key_index(e, r->o->keys);
	if (idx < 0)
		return;
	memcpy(&pub_ns, e->value, sizeof(pub_ns));
	memcpy(&version, (const uint8_t *)e->value + sizeof(pub_ns), sizeof(version));
	t = now_ns();
	k->view_ns[idx] = pub_ns;
	if (!r->measuring)
		return;
	k->entries++;
	k->snap_entries += snapshot;
	/* Publisher and clients share the process: how many newer values exist already. */
	newest = r->pub->version[idx];
	behind = newest > version ? newest - version : 0;
	k->current += behind == 0;
	samples_push(&r->behind, behind);
	samples_push(&r->age, t > pub_ns ? t - pub_ns : 0);
}

static void on_snapshot(void *user, const struct herald_entry *e)
{
	on_entry(user, e, true);
}

static void on_delta(void *user, const struct herald_entry *e)
{
	on_entry(user, e, false);
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct sub_client *k = user;

	(void)context;
	(void)seq;
	if (k->synced_ns == 0)
		k->synced_ns = now_ns();
}

static void on_gap(void *user, uint32_t context, uint64_t expected, uint64_t next)
{
	struct sub_client *k = user;

	(void)context;
	(void)expected;
	(void)next;
	if (k->run->measuring)
		k->gaps++;
}

static void on_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	struct sub_client *k = user;

	if (code == HERALD_ERR_HISTORY_LOST) {
		/* The node cut a session that fell beyond the history: a result, not a failure. */
		if (k->first_cut_ns == 0)
			k->first_cut_ns = now_ns();
		if (k->run->measuring)
			k->cuts++;
		return;
	}
	if (k->errors++ == 0)
		fprintf(stderr, "herald-bench-conflation: node error %u on context %" PRIu32 ": %.*s\n",
			code, context, (int)len, text);
}

static void on_pub_error(void *user, uint32_t context, uint16_t code, const char *text, size_t len)
{
	struct publisher *p = user;

	if (p->errors++ == 0)
		fprintf(stderr, "herald-bench-conflation: publisher refused (%u) on context %" PRIu32
			": %.*s\n", code, context, (int)len, text);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Send what the rate says is due; a publisher more than 100 ms late skips ahead. */
static void publish_due(struct run *r, uint64_t t)
{
	const struct opts *o = r->o;
	struct publisher *p = r->pub;
	uint64_t due = (t - p->start_ns) * o->rate / 1000000000ull;
	uint64_t slack = o->rate / 10 + 1;

	if (due > p->sent + slack) {
		p->skipped += due - slack - p->sent;
		p->sent = due - slack;
	}
	for (; p->sent < due; p->sent++) {
		unsigned key = (unsigned)(xorshift(&p->rng) % o->keys);
		uint64_t pub_ns = now_ns();
		uint64_t version = ++p->version[key];
		char name[8];
		int len = snprintf(name, sizeof(name), "k%u", key);

		memcpy(p->value, &pub_ns, sizeof(pub_ns));
		memcpy(p->value + sizeof(pub_ns), &version, sizeof(version));
		if (herald_publish(p->c, r->context, name, (size_t)len, p->value, o->size) < 0)
			p->errors++;
		else
			p->published++;
	}
}

static void sample_views(struct run *r, uint64_t t)
{
	for (unsigned i = 0; i < r->o->clients; i++)
		for (unsigned k = 0; k < r->o->keys; k++) {
			uint64_t v = r->cl[i].view_ns[k];

			if (v != 0)
				samples_push(&r->view, t > v ? t - v : 0);
		}
}

static bool all_synced(const struct run *r)
{
	for (unsigned i = 0; i < r->o->clients; i++)
		if (r->cl[i].synced_ns == 0)
			return false;
	return true;
}

/*
 * Publish on time and serve every socket and client timer until @p until
 * (or until everyone is synced, when @p sync).
 */
static int run_until(struct run *r, uint64_t until, bool sync)
{
	const uint64_t tick = (uint64_t)r->o->tick_us * 1000;
	struct epoll_event ev[64];

	for (;;) {
		uint64_t t = now_ns(), next = until;
		struct timespec ts;
		int n;

		if (t >= until || (sync && all_synced(r)))
			return 0;
		publish_due(r, t);
		if (r->measuring && t >= r->next_view_ns) {
			sample_views(r, t);
			r->next_view_ns += VIEW_SAMPLE_NS;
		}
		/* The next tick is when the next message falls due, at tick granularity. */
		if (t + tick < next)
			next = t + tick;
		if (r->measuring && r->next_view_ns < next)
			next = r->next_view_ns;
		for (unsigned i = 0; i < r->o->clients; i++) {
			int ms = herald_client_next_timer_ms(r->cl[i].c);

			if (ms >= 0 && t + (uint64_t)ms * NS_PER_MS < next)
				next = t + (uint64_t)ms * NS_PER_MS;
		}
		ts.tv_sec = (time_t)((next - t) / 1000000000ull);
		ts.tv_nsec = (long)((next - t) % 1000000000ull);
		n = epoll_pwait2(r->ep, ev, 64, &ts, NULL);
		if (n < 0 && errno != EINTR) {
			perror("herald-bench-conflation: epoll_pwait2");
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			int ret = herald_client_poll(ev[i].data.ptr, 0);

			if (ret < 0 && ret != -ECONNREFUSED) {
				fprintf(stderr, "herald-bench-conflation: poll: %s\n", strerror(-ret));
				return ret;
			}
		}
		/* Timers (heartbeats, NAKs, resyncs) of clients whose socket was quiet. */
		for (unsigned i = 0; i < r->o->clients; i++)
			if (herald_client_next_timer_ms(r->cl[i].c) == 0)
				herald_client_poll(r->cl[i].c, 0);
	}
}

static int epoll_watch(int ep, struct herald_client *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	return epoll_ctl(ep, EPOLL_CTL_ADD, herald_client_fd(c), &ev);
}

static void clients_close(struct run *r)
{
	for (unsigned i = 0; i < r->o->clients; i++) {
		struct sub_client *k = &r->cl[i];

		if (k->c == NULL)
			continue;
		herald_unsubscribe(k->c, r->context);
		herald_client_close(k->c);
		k->c = NULL;
	}
}

static int clients_open(struct run *r)
{
	const struct opts *o = r->o;
	struct herald_client_opts copts = {
		.node = o->node, .heartbeat_ms = (uint16_t)o->heartbeat_ms, .budget = r->budget,
		.max_subscriptions = 1, .auto_resync = 1, .rcvbuf = o->rcvbuf,
	};
	struct herald_callbacks cb = {
		.on_snapshot = on_snapshot, .on_snapshot_end = on_snapshot_end,
		.on_delta = on_delta, .on_gap = on_gap, .on_error = on_error,
	};

	for (unsigned i = 0; i < o->clients; i++) {
		struct sub_client *k = &r->cl[i];
		uint64_t *view = k->view_ns;
		int ret;

		memset(view, 0, sizeof(*view) * o->keys);
		*k = (struct sub_client){.run = r, .view_ns = view};
		cb.user = k;
		k->c = herald_client_open(&copts, &cb);
		if (k->c == NULL) {
			fprintf(stderr, "herald-bench-conflation: client to %s: %s\n", o->node,
				strerror(errno));
			return -errno;
		}
		if (epoll_watch(r->ep, k->c) < 0)
			return -errno;
		k->subscribed_ns = now_ns();
		ret = herald_subscribe_ex(k->c, r->context, r->pol == POL_NONE ? HERALD_SUB_ORDERED : 0);
		if (ret < 0) {
			fprintf(stderr, "herald-bench-conflation: subscribe: %s\n", strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static double median_double(double *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	return n == 0 ? -1 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarize(struct run *r, uint64_t t0, uint64_t t1, uint64_t sent0,
		      uint64_t skipped0, uint64_t errors0, struct step_result *s)
{
	const struct opts *o = r->o;
	double win = (double)(t1 - t0) / 1e9, cut_ms[CLIENTS_MAX];
	uint64_t entries = 0, snaps = 0, current = 0;
	unsigned ncut = 0;

	*s = (struct step_result){.pol = r->pol, .budget = r->budget, .window_s = win,
				  .msgs_min = 1e300, .first_cut_ms = -1};
	s->pub_rate = (double)(r->pub->published - sent0) / win;
	s->pub_skipped = r->pub->skipped - skipped0;
	s->pub_errors = r->pub->errors - errors0;
	for (unsigned i = 0; i < o->clients; i++) {
		struct sub_client *k = &r->cl[i];
		double m = (double)k->entries / win;

		entries += k->entries;
		snaps += k->snap_entries;
		current += k->current;
		s->msgs_mean += m / o->clients;
		s->msgs_min = m < s->msgs_min ? m : s->msgs_min;
		s->msgs_max = m > s->msgs_max ? m : s->msgs_max;
		s->bytes_mean += (double)k->bytes / win / o->clients;
		s->gaps += k->gaps;
		s->cuts += k->cuts;
		s->errors += k->errors;
		s->unsynced += k->synced_ns == 0;
		if (k->first_cut_ns != 0)
			cut_ms[ncut++] = (double)(k->first_cut_ns - k->subscribed_ns) / 1e6;
	}
	s->first_cut_ms = median_double(cut_ms, ncut);
	s->snap_share = entries ? (double)snaps / (double)entries : 0;
	s->current_share = entries ? (double)current / (double)entries : 0;
	qsort(r->behind.v, r->behind.n, sizeof(uint64_t), cmp_u64);
	s->behind_p99 = rank_u64(r->behind.v, r->behind.n, 99);
	qsort(r->age.v, r->age.n, sizeof(uint64_t), cmp_u64);
	qsort(r->view.v, r->view.n, sizeof(uint64_t), cmp_u64);
	s->age_n = r->age.n;
	s->view_n = r->view.n;
	s->age_p50_us = (double)rank_u64(r->age.v, r->age.n, 50) / 1e3;
	s->age_p99_us = (double)rank_u64(r->age.v, r->age.n, 99) / 1e3;
	s->age_max_us = r->age.n ? (double)r->age.v[r->age.n - 1] / 1e3 : 0;
	s->view_p50_us = (double)rank_u64(r->view.v, r->view.n, 50) / 1e3;
	s->view_p99_us = (double)rank_u64(r->view.v, r->view.n, 99) / 1e3;
	s->short_of_memory = r->age.short_of_memory || r->view.short_of_memory ||
			     r->behind.short_of_memory;
}

static int run_step(struct run *r, struct step_result *s)
{
	const struct opts *o = r->o;
	uint64_t t0, t1, sent0, skipped0, errors0;
	struct herald_client_stats st;
	int ret;

	r->age.n = r->view.n = r->behind.n = 0;
	r->age.short_of_memory = r->view.short_of_memory = r->behind.short_of_memory = false;
	r->measuring = false;
	ret = clients_open(r);
	if (ret < 0)
		goto out;
	ret = run_until(r, now_ns() + SYNC_WAIT_NS, true);
	if (ret < 0)
		goto out;
	ret = run_until(r, now_ns() + (uint64_t)(o->warmup_s * 1e9), false);
	if (ret < 0)
		goto out;
	for (unsigned i = 0; i < o->clients; i++) {
		herald_client_stats(r->cl[i].c, &st);
		r->cl[i].rx_bytes0 = st.rx_bytes;
	}
	sent0 = r->pub->published;
	skipped0 = r->pub->skipped;
	errors0 = r->pub->errors;
	t0 = now_ns();
	r->next_view_ns = t0;
	r->measuring = true;
	ret = run_until(r, t0 + (uint64_t)(o->duration_s * 1e9), false);
	t1 = now_ns();
	r->measuring = false;
	if (ret < 0)
		goto out;
	for (unsigned i = 0; i < o->clients; i++) {
		herald_client_stats(r->cl[i].c, &st);
		r->cl[i].bytes = st.rx_bytes - r->cl[i].rx_bytes0;
	}
	summarize(r, t0, t1, sent0, skipped0, errors0, s);
out:
	clients_close(r);
	return ret;
}

static void fmt_dur(char *buf, size_t len, double us)
{
	if (us < 1000)
		snprintf(buf, len, "%.0fus", us);
	else if (us < 1e6)
		snprintf(buf, len, "%.1fms", us / 1e3);
	else
		snprintf(buf, len, "%.2fs", us / 1e6);
}

static void fmt_budget(char *buf, size_t len, uint32_t b)
{
	if (b == 0)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%" PRIu32, b);
}

static void print_header(const struct opts *o)
{
	printf("herald-bench-conflation: node %s, %u clients, %u keys, publisher %u msg/s of %u B values, "
	       "%.1f s per step after %.1f s warm-up\n",
	       o->node, o->clients, o->keys, o->rate, o->size, o->duration_s, o->warmup_s);
	printf("%-7s %9s %6s %9s %8s %8s %6s %7s %7s %8s %8s %8s %8s %5s %5s %9s\n", "policy",
	       "budget", "pub/s", "msgs/s/cl", "min/cl", "KB/s/cl", "snap%", "latest%", "behind99",
	       "age p50", "age p99", "view50", "view99", "gaps", "cuts", "cut after");
}

static void print_row(const struct step_result *s)
{
	char b[16], a50[16], a99[16], v50[16], v99[16], cut[16];

	fmt_budget(b, sizeof(b), s->budget);
	fmt_dur(a50, sizeof(a50), s->age_p50_us);
	fmt_dur(a99, sizeof(a99), s->age_p99_us);
	fmt_dur(v50, sizeof(v50), s->view_p50_us);
	fmt_dur(v99, sizeof(v99), s->view_p99_us);
	if (s->first_cut_ms < 0)
		snprintf(cut, sizeof(cut), "-");
	else
		fmt_dur(cut, sizeof(cut), s->first_cut_ms * 1e3);
	printf("%-7s %9s %6.0f %9.1f %8.1f %8.1f %5.1f%% %6.1f%% %8" PRIu64 " %8s %8s %8s %8s %5" PRIu64
	       " %5" PRIu64 " %9s\n", policy_names[s->pol], b, s->pub_rate, s->msgs_mean, s->msgs_min,
	       s->bytes_mean / 1e3, s->snap_share * 100, s->current_share * 100, s->behind_p99, a50,
	       a99, v50, v99, s->gaps, s->cuts, cut);
	if (s->unsynced || s->errors || s->pub_skipped || s->pub_errors || s->short_of_memory)
		printf("        ^ %" PRIu64 " clients never synced, %" PRIu64 " node errors, publisher "
		       "%" PRIu64 " late-skipped / %" PRIu64 " failed sends%s\n", s->unsynced, s->errors,
		       s->pub_skipped, s->pub_errors,
		       s->short_of_memory ? ", samples truncated (out of memory)" : "");
}

static int write_json(const struct opts *o, const struct step_result *res, unsigned n)
{
	json_t *rows = json_array(), *root;

	for (unsigned i = 0; i < n; i++) {
		const struct step_result *s = &res[i];
		json_t *row = json_pack(
			"{s:s, s:I, s:f, s:f, s:{s:f, s:f, s:f}, s:f, s:f, s:f, s:I, s:{s:I, s:f, s:f, s:f},"
			" s:{s:I, s:f, s:f}, s:I, s:I, s:I, s:I, s:o?, s:I, s:I}",
			"policy", policy_names[s->pol], "budget", (json_int_t)s->budget,
			"window_s", s->window_s, "published_per_s", s->pub_rate,
			"msgs_per_s_per_client", "mean", s->msgs_mean, "min", s->msgs_min, "max",
			s->msgs_max, "bytes_per_s_per_client", s->bytes_mean, "snapshot_share",
			s->snap_share, "latest_share", s->current_share, "versions_behind_p99",
			(json_int_t)s->behind_p99, "age_us", "samples", (json_int_t)s->age_n, "p50", s->age_p50_us,
			"p99", s->age_p99_us, "max", s->age_max_us, "view_age_us", "samples",
			(json_int_t)s->view_n, "p50", s->view_p50_us, "p99", s->view_p99_us, "gaps",
			(json_int_t)s->gaps, "cuts", (json_int_t)s->cuts, "errors", (json_int_t)s->errors,
			"unsynced_clients", (json_int_t)s->unsynced, "first_cut_ms",
			s->first_cut_ms < 0 ? NULL : json_real(s->first_cut_ms),
			"publisher_skipped", (json_int_t)s->pub_skipped, "publisher_errors",
			(json_int_t)s->pub_errors);

		if (row == NULL || json_array_append_new(rows, row) < 0) {
			json_decref(rows);
			return json_write(NULL, o->json);
		}
	}
	root = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:{s:s, s:s, s:s, s:s, s:s}, s:o}",
			 "bench", "conflation", "node", o->node, "clients", (json_int_t)o->clients,
			 "keys", (json_int_t)o->keys, "rate", (json_int_t)o->rate, "size",
			 (json_int_t)o->size, "duration_s", o->duration_s, "warmup_s", o->warmup_s,
			 "replace_context", (json_int_t)o->context[POL_REPLACE], "none_context",
			 (json_int_t)o->context[POL_NONE], "heartbeat_ms", (json_int_t)o->heartbeat_ms,
			 "meaning", "msgs", "snapshot entries + deltas received per client per second",
			 "bytes", "UDP payload bytes received per client per second (all frames)",
			 "age", "receive time minus the publish time carried in the value",
			 "view_age", "age of each key's held value, sampled every 100 ms over all clients",
			 "latest", "share of received values that were their key's newest at receipt",
			 "results", rows);
	return json_write(root, o->json);
}

int main(int argc, char **argv)
{
	struct step_result res[POL_MAX * BUDGETS_MAX];
	struct herald_callbacks pcb = {.on_error = on_pub_error};
	struct herald_client_opts popts = {0};
	struct publisher pub = {.rng = 0x9e3779b97f4a7c15ull};
	struct run r = {0};
	struct opts o;
	unsigned nres = 0;
	int ret = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(pub.value, 'v', sizeof(pub.value));
	r.o = &o;
	r.pub = &pub;
	r.cl = calloc(o.clients, sizeof(*r.cl));
	pub.version = calloc(o.keys, sizeof(*pub.version));
	r.ep = epoll_create1(EPOLL_CLOEXEC);
	if (r.cl == NULL || pub.version == NULL || r.ep < 0)
		goto out;
	for (unsigned i = 0; i < o.clients; i++)
		if ((r.cl[i].view_ns = calloc(o.keys, sizeof(uint64_t))) == NULL)
			goto out;
	pcb.user = &pub;
	popts.node = o.node;
	popts.max_subscriptions = 1;
	pub.c = herald_client_open(&popts, &pcb);
	if (pub.c == NULL) {
		fprintf(stderr, "herald-bench-conflation: publisher to %s: %s\n", o.node, strerror(errno));
		goto out;
	}
	if (epoll_watch(r.ep, pub.c) < 0)
		goto out;

	print_header(&o);
	ret = 0;
	for (int p = 0; p < POL_MAX; p++) {
		if (!o.policy_on[p])
			continue;
		r.pol = (enum policy)p;
		r.context = o.context[p];
		for (unsigned b = 0; b < o.nbudgets; b++) {
			char bud[16];

			r.budget = o.budgets[b];
			fmt_budget(bud, sizeof(bud), r.budget);
			fprintf(stderr, "step: %s context %" PRIu32 ", budget %s ...\n", policy_names[p],
				r.context, bud);
			/* The pacing restarts per step, so a slow set-up is not made up in a burst. */
			pub.start_ns = now_ns();
			pub.sent = 0;
			if (run_step(&r, &res[nres]) < 0) {
				ret = 1;
				goto out_json;
			}
			print_row(&res[nres]);
			if (res[nres].unsynced == o.clients)
				ret = 1;
			nres++;
		}
	}
	printf("(per client: msgs/s = snapshot entries + deltas, min/cl = slowest client; KB/s = UDP "
	       "payload incl. headers and heartbeats; snap%% = share of snapshot entries; latest%% = "
	       "share of values that were still their key's newest when received, behind99 = p99 of "
	       "newer versions already published; age = receive time - publish time; view = age of "
	       "every key's held value, sampled each 100 ms; cut after = median time from SUBSCRIBE "
	       "to the first ERROR cut)\n");
out_json:
	if (o.json && nres && write_json(&o, res, nres) < 0)
		ret = 1;
out:
	if (r.cl)
		for (unsigned i = 0; i < o.clients; i++)
			free(r.cl[i].view_ns);
	herald_client_close(pub.c);
	if (r.ep >= 0)
		close(r.ep);
	free(r.cl);
	free(pub.version);
	free(r.age.v);
	free(r.view.v);
	free(r.behind.v);
	return ret;
}
