/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heraldd: the control-plane daemon of one node (docs/heraldd.md).
 *
 *   heraldd --node-id N --listen ADDR:PORT [--peer ADDR:PORT]... --dataplane-sock PATH
 *           --dataplane-addr ADDR[:PORT] [options]
 *
 * One thread, one poll loop: heartbeats to and from peers (UDP), the member
 * state machine per peer (controlplane/member.c), the director's table of
 * where each context lives, failover when a peer dies, a userspace HELLO
 * responder answering REDIRECTs like the XDP program, the XDP route map when
 * one is pinned, and the dataplane's control socket. Everything the daemon
 * knows about hosted contexts it can rebuild from the dataplane and from
 * peers' heartbeats, so it can be restarted at any time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>
#include <sodium.h>

#include "config.h"
#include "ctx_table.h"
#include "director.h"
#include "dpctl.h"
#include "epoch_file.h"
#include "keys.h"
#include "member.h"
#include "metrics.h"
#include "mgmt.h"
#include "peer_msg.h"
#include "redirect.h"
#include "relay.h"

#define MS 1000000ull
#define PEERS_MAX (HERALD_NODES_MAX - 1)
#define LOCAL_MAX 65536
#define DP_POLL_MS 100
#define DP_TIMEOUT_MS 2000
#define PENDING_MS 2000
#define EVENTS_MAX 16
#define RELAY_FDS 64
#define COPY_GRACE_MS 3000 /* a restarted heraldd learns its replicas from peers before it drops copies */
#define TELL_MAX 256        /* PLACEs telling replicas their contexts' policies, per dataplane poll */
#define TELL_AGAIN_MS 5000  /* each replica hears them again this often (PLACE is a datagram) */

_Static_assert(sizeof(((struct herald_ctx_entry *)0)->policy) == HERALD_PEER_POLICY_LEN, "PLACE carries the policy");

struct options {
	uint32_t node_id;
	struct sockaddr_in listen;
	struct sockaddr_in peers[PEERS_MAX];
	unsigned npeers;
	const char *dp_sock;
	uint32_t dp_ip;   /* network order */
	uint16_t dp_port; /* host order */
	struct sockaddr_in hello;
	bool hello_set;
	uint64_t interval_ns;
	struct herald_member_params params;
	uint8_t key[HERALD_CLUSTER_SECRET_LEN]; /* secret; the placement and token keys are derived from it */
	bool key_set;
	uint32_t ttl_s;
	const char *pin_dir;
	const char *status_file;
	uint32_t capacity; /* sessions at which the node counts as full */
	const char *ctl_sock;       /* heraldctl's socket (docs/cli.md), NULL = none */
	struct sockaddr_in metrics; /* Prometheus endpoint, port 0 = none */
	const char *state_file;     /* the highest epoch issued, kept across restarts; NULL = not kept */
};

/* What a peer told us beyond the member state. */
struct peer {
	uint32_t id;
	uint32_t dp_ip;
	uint16_t dp_port, queues;
	uint32_t *ids, nids;   /* last complete list of contexts it hosts */
	uint32_t *pend, npend; /* list being assembled from chunks */
	uint16_t next_chunk;
	bool have_list;
};

static struct {
	struct options o;
	struct herald_view view;
	struct herald_director dir;
	uint8_t token_key[HERALD_TOKEN_KEY_LEN];
	struct herald_ctx_table table;
	struct herald_dpctl dp;
	bool dp_up;
	uint16_t queues;
	uint32_t incarnation;
	uint32_t *local, nlocal; /* contexts the local dataplane holds */
	uint32_t *copies, ncopies; /* replica copies it holds (docs/heraldd.md, the relay) */
	struct herald_relay *relay;
	uint32_t *relay_ids, *relay_from;
	uint64_t sessions;
	struct peer peers[HERALD_NODES_MAX];
	unsigned npeer;
	int hb_fd, hello_fd;
	int routes_fd, secret_fd;
	bool dirty;
	uint64_t redirects, hello_drops, moved;
	uint64_t yielded; /* contexts this node gave up to a lower id after a split brain */
	struct herald_config cfg; /* --config, when given */
	bool have_cfg;
	struct herald_mgmt mgmt;
	struct herald_metrics *metrics;
	struct herald_histogram dp_latency;
	uint64_t started_ns;
	uint32_t saved_epoch; /* the epoch in the state file */
	bool settled;         /* HELLOs are answered: the view has heard its peers (hello_settling) */
	bool draining;      /* heraldctl drain: place nothing here, move every local context off */
	json_t *drain_log;  /* while a drain request runs: the moves, for its reply */
} d = {.hb_fd = -1, .hello_fd = -1, .routes_fd = -1, .secret_fd = -1, .mgmt = {.listen_fd = -1, .tcp_fd = -1}};

static volatile sig_atomic_t quit, reload_asked;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_asked = 1;
	else
		quit = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Log lines start with wall-clock milliseconds so tests can time events. */
static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("[%" PRIu64 "] heraldd %u: ", (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
	       d.o.node_id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ---- options ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: heraldd --node-id N --listen ADDR:PORT [--peer ADDR:PORT]... [options]\n"
		"  --node-id N            this node's id, stable across restarts (0 .. 2^32-2)\n"
		"  --listen ADDR:PORT     UDP address for peer heartbeats\n"
		"  --peer ADDR:PORT       a peer's --listen address (repeatable, up to %d)\n"
		"  --dataplane-sock PATH  the dataplane's --ctl-sock (optional: without it the\n"
		"                         node hosts nothing but still redirects and heartbeats)\n"
		"  --dataplane-addr A[:P] where clients reach this node's dataplane (P: queue 0's\n"
		"                         UDP port, default %d)\n"
		"  --hello ADDR:PORT      UDP address of the userspace HELLO responder\n"
		"                         (default: the --listen address, port %d)\n"
		"  --interval-ms N        heartbeat interval (default 50)\n"
		"  --suspect-after N      missed intervals before SUSPECT (default 3)\n"
		"  --dead-after N         missed intervals before DEAD (default 6)\n"
		"  --key HEX              64 hex digits of cluster secret (placement and token keys\n"
		"                         are derived from it); every node needs the same\n"
		"  --token-ttl S          REDIRECT token lifetime (default %d)\n"
		"  --xdp-pin-dir DIR      bpffs directory of the XDP maps (default %s; \"\" = none)\n"
		"  --status-file PATH     rewrite a JSON view of the node here on every change\n"
		"  --capacity N           sessions at which this node counts as full (default 16384)\n"
		"  --config FILE          read these settings from herald.conf (docs/operations.md);\n"
		"                         options given as well override the file\n"
		"  --ctl-sock PATH        serve heraldctl on this Unix socket (docs/cli.md)\n"
		"  --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"  --state-file PATH      keep the highest epoch issued here, so a restart never\n"
		"                         issues a lower one (docs/director.md)\n",
		PEERS_MAX, HERALD_UDP_PORT_BASE, HERALD_UDP_PORT_BASE, HERALD_TOKEN_TTL_DEFAULT,
		HERALD_XDP_PIN_DIR);
}

static int parse_addr(const char *opt, const char *text, uint16_t def_port, bool need_port,
		      struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	size_t hl = colon ? (size_t)(colon - text) : strlen(text);
	unsigned long port = def_port;
	char *end;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	if (colon != NULL) {
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
			goto bad;
	} else if (need_port) {
		goto bad;
	}
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		goto bad;
	out->sin_port = htons((uint16_t)port);
	return 0;
bad:
	fprintf(stderr, "heraldd: --%s expects ADDR%s, got '%s'\n", opt, need_port ? ":PORT" : "[:PORT]", text);
	return -EINVAL;
}

static int parse_uint(const char *opt, const char *text, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	errno = 0;
	*out = strtoul(text, &end, 10);
	if (errno || end == text || *end || *out < min || *out > max) {
		fprintf(stderr, "heraldd: --%s expects an integer in %lu..%lu, got '%s'\n", opt, min, max, text);
		return -EINVAL;
	}
	return 0;
}

_Static_assert(HERALD_CONFIG_KEY_LEN == HERALD_CLUSTER_SECRET_LEN, "the key file holds the cluster secret");

/* herald.conf into the options; the file is refused whole on any error. */
static int config_apply(const char *path, struct options *o)
{
	char err[512];
	struct herald_config *c = &d.cfg;

	if (herald_config_load(path, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "heraldd: %s\n", err);
		return -EINVAL;
	}
	d.have_cfg = true;
	o->node_id = c->node_id;
	o->listen = c->listen;
	memcpy(o->peers, c->peers, c->npeers * sizeof(c->peers[0]));
	o->npeers = c->npeers;
	o->dp_sock = c->dataplane_sock;
	o->dp_ip = c->ip.s_addr;
	o->dp_port = c->udp_port;
	o->hello = c->hello;
	o->hello_set = true;
	o->params.heartbeat_interval_ns = c->heartbeat_ms * MS;
	o->params.suspect_after = c->suspect_after;
	o->params.dead_after = c->dead_after;
	memcpy(o->key, c->key, sizeof(o->key));
	o->key_set = c->key_set;
	o->ttl_s = c->token_ttl_s;
	o->pin_dir = c->xdp_pin_dir;
	o->status_file = c->status_file[0] ? c->status_file : NULL;
	o->capacity = c->capacity;
	o->ctl_sock = c->control_sock;
	o->metrics = c->metrics;
	o->state_file = c->state_file[0] ? c->state_file : NULL;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"node-id", required_argument, NULL, 'n'},
		{"listen", required_argument, NULL, 'l'},
		{"peer", required_argument, NULL, 'p'},
		{"dataplane-sock", required_argument, NULL, 's'},
		{"dataplane-addr", required_argument, NULL, 'a'},
		{"hello", required_argument, NULL, 'H'},
		{"interval-ms", required_argument, NULL, 'i'},
		{"suspect-after", required_argument, NULL, 'S'},
		{"dead-after", required_argument, NULL, 'D'},
		{"key", required_argument, NULL, 'k'},
		{"token-ttl", required_argument, NULL, 't'},
		{"xdp-pin-dir", required_argument, NULL, 'x'},
		{"status-file", required_argument, NULL, 'f'},
		{"capacity", required_argument, NULL, 'c'},
		{"config", required_argument, NULL, 'C'},
		{"ctl-sock", required_argument, NULL, 'L'},
		{"metrics", required_argument, NULL, 'M'},
		{"state-file", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct sockaddr_in sa;
	unsigned long v;
	bool have_node = false, have_listen = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->params = herald_member_params_default;
	o->ttl_s = HERALD_TOKEN_TTL_DEFAULT;
	o->pin_dir = HERALD_XDP_PIN_DIR;
	o->capacity = 16384;
	o->dp_port = HERALD_UDP_PORT_BASE;
	/* The file first, so that options on the command line override it. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			if (config_apply(argv[i + 1], o) < 0)
				return -EINVAL;
			have_node = have_listen = true;
		}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_uint("node-id", optarg, 0, UINT32_MAX - 1, &v) < 0)
				return -EINVAL;
			o->node_id = (uint32_t)v;
			have_node = true;
			break;
		case 'l':
			if (parse_addr("listen", optarg, 0, true, &o->listen) < 0)
				return -EINVAL;
			have_listen = true;
			break;
		case 'p':
			if (o->npeers == PEERS_MAX) {
				fprintf(stderr, "heraldd: at most %d --peer options\n", PEERS_MAX);
				return -EINVAL;
			}
			if (parse_addr("peer", optarg, 0, true, &o->peers[o->npeers]) < 0)
				return -EINVAL;
			o->npeers++;
			break;
		case 's':
			o->dp_sock = optarg;
			break;
		case 'a':
			if (parse_addr("dataplane-addr", optarg, HERALD_UDP_PORT_BASE, false, &sa) < 0)
				return -EINVAL;
			o->dp_ip = sa.sin_addr.s_addr;
			o->dp_port = ntohs(sa.sin_port);
			break;
		case 'H':
			if (parse_addr("hello", optarg, HERALD_UDP_PORT_BASE, false, &o->hello) < 0)
				return -EINVAL;
			o->hello_set = true;
			break;
		case 'i':
			if (parse_uint("interval-ms", optarg, 1, 60000, &v) < 0)
				return -EINVAL;
			o->params.heartbeat_interval_ns = v * MS;
			break;
		case 'S':
			if (parse_uint("suspect-after", optarg, 1, 1000, &v) < 0)
				return -EINVAL;
			o->params.suspect_after = (uint32_t)v;
			break;
		case 'D':
			if (parse_uint("dead-after", optarg, 2, 1000, &v) < 0)
				return -EINVAL;
			o->params.dead_after = (uint32_t)v;
			break;
		case 'k':
			if (sodium_hex2bin(o->key, sizeof(o->key), optarg, strlen(optarg), NULL, NULL, NULL) != 0 ||
			    strlen(optarg) != 2 * sizeof(o->key)) {
				fprintf(stderr, "heraldd: --key expects %zu hex digits\n", 2 * sizeof(o->key));
				return -EINVAL;
			}
			o->key_set = true;
			break;
		case 't':
			if (parse_uint("token-ttl", optarg, 1, 86400, &v) < 0)
				return -EINVAL;
			o->ttl_s = (uint32_t)v;
			break;
		case 'x':
			o->pin_dir = optarg;
			break;
		case 'f':
			o->status_file = optarg;
			break;
		case 'c':
			if (parse_uint("capacity", optarg, 1, UINT32_MAX, &v) < 0)
				return -EINVAL;
			o->capacity = (uint32_t)v;
			break;
		case 'C':
			break; /* read above */
		case 'L':
			o->ctl_sock = optarg;
			break;
		case 'M':
			if (parse_addr("metrics", optarg, 0, true, &o->metrics) < 0)
				return -EINVAL;
			break;
		case 'E':
			o->state_file = optarg[0] ? optarg : NULL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "heraldd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!have_node || !have_listen) {
		fprintf(stderr, "heraldd: --node-id and --listen are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (herald_member_params_validate(&o->params) < 0) {
		fprintf(stderr, "heraldd: --dead-after must exceed --suspect-after\n");
		return -EINVAL;
	}
	if (!o->hello_set) {
		o->hello = o->listen;
		o->hello.sin_port = htons(HERALD_UDP_PORT_BASE);
	}
	if (o->dp_ip == 0)
		o->dp_ip = o->listen.sin_addr.s_addr;
	return 0;
}

/* ---- peers and the table ---- */

static struct peer *peer_get(uint32_t id, bool create)
{
	for (unsigned i = 0; i < d.npeer; i++)
		if (d.peers[i].id == id)
			return &d.peers[i];
	if (!create || d.npeer == HERALD_NODES_MAX)
		return NULL;
	struct peer *p = &d.peers[d.npeer++];
	*p = (struct peer){.id = id};
	p->ids = calloc(LOCAL_MAX, sizeof(uint32_t));
	p->pend = calloc(LOCAL_MAX, sizeof(uint32_t));
	if (p->ids == NULL || p->pend == NULL) {
		fprintf(stderr, "heraldd: out of memory\n");
		exit(1);
	}
	return p;
}

static bool hosting(uint32_t node)
{
	const struct herald_member *m = herald_view_find(&d.view, node);
	return m != NULL && (m->state == HERALD_MEMBER_ACTIVE || m->state == HERALD_MEMBER_SUSPECT);
}

/* Replica: the best straw among the candidates other than the primary. */
static void replicas_update(void)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	struct herald_placement pl;
	int n = herald_view_nodes(&d.view, nodes, HERALD_NODES_MAX);

	HERALD_CTX_FOREACH(&d.table, e) {
		uint32_t r = HERALD_NODE_NONE;
		if (n > 0 && herald_director_place(&d.dir, nodes, (unsigned)n, e->context, &pl) == 0) {
			if (nodes[pl.primary].id != e->primary)
				r = nodes[pl.primary].id;
			else if (pl.replica >= 0)
				r = nodes[pl.replica].id;
		}
		if (r != e->replica) {
			e->replica = r;
			d.dirty = true;
		}
	}
}

static void route_of(uint32_t node, uint32_t context, struct herald_xdp_route *r)
{
	uint32_t ip = d.o.dp_ip;
	uint16_t port = d.o.dp_port, queues = d.queues;
	struct peer *p = node == d.o.node_id ? NULL : peer_get(node, false);
	if (p != NULL) {
		ip = p->dp_ip;
		port = p->dp_port;
		queues = p->queues;
	}
	uint16_t q = herald_queue_of(context, queues);
	*r = (struct herald_xdp_route){.node_ip = ip, .port = (uint16_t)(port + q), .queue = q,
				       .epoch = d.view.epoch};
}

static void entry_del(struct herald_ctx_entry *e)
{
	if (d.routes_fd >= 0)
		bpf_map_delete_elem(d.routes_fd, &e->context);
	herald_ctx_del(&d.table, e);
	d.dirty = true;
}

static int dp_deactivate_moved(uint32_t context, json_t **reply, char *err, size_t errlen);

/*
 * Two live nodes claim @p e (their views disagreed: a partition healed, or a
 * node declared dead came back still hosting): the lower id keeps it. The
 * other one, if it is this node and the contest lasted dead_after heartbeat
 * intervals (a claim still in flight from before a drain or a failover is
 * not a contest), yields: its dataplane drops the context with ERROR MOVED
 * to each session, so those clients HELLO again and land on the keeper.
 * Their updates made on this side during the partition are lost.
 * @return true if @p e stays with its current primary.
 */
static bool contest(struct herald_ctx_entry *e, uint32_t node, uint64_t now)
{
	uint32_t keep = e->primary < node ? e->primary : node, lose = e->primary < node ? node : e->primary;
	uint64_t settle = d.o.params.dead_after * d.o.params.heartbeat_interval_ns;

	if (e->contested_by != lose || now - e->contested_last_ns > 2 * settle) {
		logf_("context %u claimed by nodes %u and %u: node %u keeps it", e->context, keep, lose, keep);
		e->contested_by = lose;
		e->contested_since_ns = now;
	}
	e->contested_last_ns = now;
	if (lose == d.o.node_id && now - e->contested_since_ns >= settle) {
		char err[256];
		json_t *r = NULL;
		if (dp_deactivate_moved(e->context, &r, err, sizeof(err)) < 0) {
			logf_("context %u: yield to node %u: %s", e->context, keep, err);
		} else {
			logf_("context %u: yielded to node %u, %" JSON_INTEGER_FORMAT " session(s) told to move",
			      e->context, keep, json_integer_value(json_object_get(r, "sessions")));
			d.yielded++;
			e->contested_by = HERALD_NODE_NONE;
		}
		json_decref(r);
	}
	return keep == e->primary;
}

/*
 * A node said which contexts it hosts (a peer in its heartbeat, this node's
 * dataplane through `contexts`): those are its, confirmed; confirmed entries
 * of that node it no longer lists are gone.
 */
static void claims_apply(uint32_t node, const uint32_t *ids, uint32_t n, uint64_t now)
{
	bool added;
	for (uint32_t i = 0; i < n; i++) {
		struct herald_ctx_entry *e = herald_ctx_add(&d.table, ids[i], &added);
		if (e == NULL)
			break;
		if (e->primary == node && e->confirmed)
			continue;
		if (!added && e->confirmed && e->primary != node && hosting(e->primary) &&
		    contest(e, node, now))
			continue;
		e->primary = node;
		e->confirmed = true;
		e->epoch = d.view.epoch;
		e->since_ns = now;
		d.dirty = true;
	}
	HERALD_CTX_FOREACH(&d.table, e) {
		if (e->primary != node || !e->confirmed)
			continue;
		bool listed = false;
		for (uint32_t i = 0; i < n && !listed; i++)
			listed = ids[i] == e->context;
		if (!listed)
			entry_del(e);
	}
	replicas_update();
}

/* ---- the dataplane ---- */

/* One request to the local dataplane, on the context's queue. @return the reply, or NULL and @p err. */
static json_t *dp_call(struct herald_ctl_req *req, char *err, size_t errlen)
{
	if (d.o.dp_sock == NULL) {
		snprintf(err, errlen, "heraldd runs without a dataplane (no --dataplane-sock)");
		return NULL;
	}
	req->queue = herald_queue_of(req->context, d.queues ? d.queues : 1);
	return herald_dpctl_call(&d.dp, req, DP_TIMEOUT_MS, err, errlen);
}

/* Drop @p context from the local dataplane, telling each session ERROR MOVED. */
static int dp_deactivate_moved(uint32_t context, json_t **reply, char *err, size_t errlen)
{
	struct herald_ctl_req req = {.cmd = HERALD_CTL_DEACTIVATE, .context = context, .moved = true};
	*reply = dp_call(&req, err, errlen);
	return *reply == NULL ? -EIO : 0;
}

/*
 * Activate @p context, or its replica copy, with @p policy ("" = the
 * dataplane's for the id); activating a copy as the context promotes it.
 */
static int dp_activate_as(uint32_t context, bool replica, const char *policy)
{
	char err[256];
	struct herald_ctl_req req = {.cmd = HERALD_CTL_ACTIVATE, .context = context, .replica = replica};
	snprintf(req.policy, sizeof(req.policy), "%s", policy);
	if (d.o.dp_sock == NULL)
		return -ENOTCONN;
	json_t *r = dp_call(&req, err, sizeof(err));
	if (r == NULL) {
		logf_("activate context %u%s: %s", context, replica ? " (replica copy)" : "", err);
		return -EIO;
	}
	if (json_is_true(json_object_get(r, "promoted")))
		logf_("context %u: replica copy promoted (%" JSON_INTEGER_FORMAT " keys relayed)", context,
		      json_integer_value(json_object_get(r, "keys")));
	json_decref(r);
	return 0;
}

/* Host @p context here; a replica copy the relay filled is promoted with the policy it has. */
static int dp_activate(uint32_t context, const char *policy)
{
	for (uint32_t i = 0; i < d.ncopies; i++)
		if (d.copies[i] == context)
			policy = "";
	return dp_activate_as(context, false, policy);
}

/*
 * Tell the peers that @p node hosts @p context now (@p node activates it on
 * its dataplane), or with HERALD_PEER_PLACE_REPLICA that it is the
 * context's replica; either way with the context's @p policy, so the copy
 * and a new host conflate as the primary did.
 */
static void place_send(uint32_t node, uint32_t context, uint8_t flags, const char *policy)
{
	uint8_t buf[HERALD_PEER_PLACE_LEN];
	struct herald_peer_place pl = {.from = d.o.node_id, .to = node, .context = context,
				       .epoch = d.view.epoch, .flags = flags};
	snprintf(pl.policy, sizeof(pl.policy), "%s", policy);
	herald_peer_place_encode(buf, sizeof(buf), &pl);
	for (unsigned i = 0; i < d.o.npeers; i++)
		sendto(d.hb_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&d.o.peers[i],
		       sizeof(d.o.peers[i]));
}

/*
 * Drain: hand one local context to the node the director picks without this
 * one (its weight is 0), then deactivate it here with ERROR MOVED to each
 * session, so seeded clients HELLO again at once instead of timing out; the
 * table (and so HELLO answers and the XDP route map) already names the new
 * node. The keys stay behind: the new node starts the context empty, as
 * after a failover. @return 0, or -ENOENT when no other node can take it.
 */
static int drain_one(uint32_t context, uint64_t now)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	struct herald_placement pl;
	char err[256];
	bool added;
	int n = herald_view_nodes(&d.view, nodes, HERALD_NODES_MAX);

	if (n <= 0 || herald_director_place(&d.dir, nodes, (unsigned)n, context, &pl) < 0 ||
	    nodes[pl.primary].id == d.o.node_id)
		return -ENOENT;
	uint32_t to = nodes[pl.primary].id;
	struct herald_ctx_entry *e = herald_ctx_add(&d.table, context, &added);
	place_send(to, context, 0, e != NULL ? e->policy : "");
	if (e != NULL) {
		e->primary = to;
		e->confirmed = false; /* until its heartbeat lists the context */
		e->since_ns = now;
		e->epoch = d.view.epoch;
	}
	json_t *r = NULL;
	if (dp_deactivate_moved(context, &r, err, sizeof(err)) < 0)
		logf_("drain: deactivate context %u: %s", context, err);
	json_int_t sessions = json_integer_value(json_object_get(r, "sessions"));
	logf_("drain: context %u -> node %u, %lld session(s) told to move", context, to, (long long)sessions);
	if (d.drain_log != NULL)
		json_array_append_new(d.drain_log, json_pack("{sI sI sI}", "context", (json_int_t)context,
							      "to", (json_int_t)to, "sessions", sessions));
	json_decref(r);
	d.moved++;
	d.dirty = true;
	return 0;
}

static void dp_connected(json_t *pong)
{
	json_int_t uptime = json_integer_value(json_object_get(pong, "uptime_s"));
	json_int_t queues = json_integer_value(json_object_get(pong, "queues"));
	json_int_t port = json_integer_value(json_object_get(pong, "udp_port"));
	/* The incarnation is the dataplane's start: it changes when the hosted
	 * state is lost, not when heraldd restarts. */
	d.incarnation = (uint32_t)(time(NULL) - uptime);
	d.queues = queues > 0 && queues <= UINT16_MAX ? (uint16_t)queues : 1;
	if (port > 0 && port <= UINT16_MAX)
		d.o.dp_port = (uint16_t)port;
	for (unsigned i = 0; i < d.view.n; i++)
		if (d.view.members[i].local) {
			d.view.members[i].incarnation = d.incarnation;
			d.view.members[i].queues = d.queues;
		}
	d.dp_up = true;
	logf_("dataplane %s: up for %lld s, %u queue(s), incarnation %u", d.o.dp_sock,
	      (long long)uptime, d.queues, d.incarnation);
}

static void copy_drop(uint32_t context);

/*
 * The local dataplane lists @p context with @p policy. Hosted here: the
 * table keeps it, and a change is told to the replica again. A replica
 * copy whose policy is not the one its primary told (the copy was made
 * before the PLACE arrived, or the primary's policy changed): corrected
 * with set_policy, or, where that is refused (to or from `none`), dropped
 * so relay_sync makes it again with the policy and a fresh snapshot.
 */
static void policy_note(uint32_t context, const char *policy, bool copy)
{
	char err[256];
	struct herald_ctx_entry *e = herald_ctx_find(&d.table, context);
	if (e == NULL || policy == NULL || strlen(policy) >= sizeof(e->policy))
		return;
	if (!copy && e->primary == d.o.node_id && strcmp(e->policy, policy) != 0) {
		memcpy(e->policy, policy, strlen(policy) + 1);
		e->told = HERALD_NODE_NONE;
		return;
	}
	if (!copy || e->replica != d.o.node_id || e->policy[0] == '\0' || strcmp(e->policy, policy) == 0)
		return;
	struct herald_ctl_req req = {.cmd = HERALD_CTL_SET_POLICY, .context = context,
				     .queue = herald_queue_of(context, d.queues)};
	memcpy(req.policy, e->policy, sizeof(e->policy));
	json_t *r = herald_dpctl_call(&d.dp, &req, DP_TIMEOUT_MS, err, sizeof(err));
	if (r != NULL) {
		logf_("replica copy of context %u: policy %s -> %s, as its primary has it", context, policy, e->policy);
		json_decref(r);
		return;
	}
	logf_("replica copy of context %u: policy %s, primary's %s: %s; copy made again", context, policy,
	      e->policy, err);
	if (d.relay != NULL)
		herald_relay_stop(d.relay, context);
	copy_drop(context);
	d.dirty = true;
}

/*
 * Tell each local context's replica its policy (PLACE with the replica
 * flag): when the replica or the policy changes, and again every
 * TELL_AGAIN_MS since a datagram can be lost; at most TELL_MAX per call.
 */
static void replicas_tell(uint64_t now)
{
	static uint64_t again;
	unsigned sent = 0;
	bool all = now >= again;

	if (all)
		again = now + TELL_AGAIN_MS * MS;
	HERALD_CTX_FOREACH(&d.table, e) {
		if (e->primary != d.o.node_id || e->policy[0] == '\0' || e->replica == HERALD_NODE_NONE ||
		    e->replica == d.o.node_id)
			continue;
		if (all)
			e->told = HERALD_NODE_NONE;
		if (e->told == e->replica || sent == TELL_MAX)
			continue;
		place_send(e->replica, e->context, HERALD_PEER_PLACE_REPLICA, e->policy);
		e->told = e->replica;
		sent++;
	}
}

/* Ask the dataplane what it holds and how loaded it is. */
static void dp_poll(uint64_t now)
{
	char err[256];
	struct herald_ctl_req req = {.cmd = HERALD_CTL_PING};
	json_t *r;

	if (d.o.dp_sock == NULL)
		return;
	if (!d.dp_up) {
		if ((r = herald_dpctl_call(&d.dp, &req, DP_TIMEOUT_MS, err, sizeof(err))) == NULL)
			return;
		dp_connected(r);
		json_decref(r);
	}
	req.cmd = HERALD_CTL_CONTEXTS;
	if ((r = herald_dpctl_call(&d.dp, &req, DP_TIMEOUT_MS, err, sizeof(err))) == NULL) {
		logf_("%s; the dataplane keeps serving, retrying", err);
		d.dp_up = false;
		return;
	}
	json_t *arr = json_object_get(r, "contexts"), *c;
	size_t i;
	uint64_t sessions = 0;
	d.nlocal = d.ncopies = 0;
	json_array_foreach(arr, i, c) {
		if (d.nlocal == LOCAL_MAX || d.ncopies == LOCAL_MAX)
			break;
		uint32_t id = (uint32_t)json_integer_value(json_object_get(c, "id"));
		if (json_is_true(json_object_get(c, "replica"))) {
			/* A copy the relay fills: not hosted here, so not claimed. */
			d.copies[d.ncopies++] = id;
			continue;
		}
		if (d.draining && drain_one(id, now) == 0)
			continue;
		d.local[d.nlocal++] = id;
		sessions += (uint64_t)json_integer_value(json_object_get(c, "sessions"));
	}
	d.sessions = sessions;
	uint64_t load = sessions * HERALD_LOAD_FULL / d.o.capacity;
	for (unsigned m = 0; m < d.view.n; m++)
		if (d.view.members[m].local) {
			/* Weight 0 draws no straw: a draining node gets no new context, here or at peers. */
			d.view.members[m].weight = d.draining ? 0 : herald_director_weight(d.queues ? d.queues : 1,
									  (uint32_t)(load > HERALD_LOAD_FULL ? HERALD_LOAD_FULL : load));
			d.view.members[m].contexts = d.nlocal;
		}
	claims_apply(d.o.node_id, d.local, d.nlocal, now);
	json_array_foreach(arr, i, c)
		policy_note((uint32_t)json_integer_value(json_object_get(c, "id")),
			    json_string_value(json_object_get(c, "policy")),
			    json_is_true(json_object_get(c, "replica")));
	json_decref(r);
}

/* ---- membership ---- */

static void failover(uint32_t dead, uint64_t now)
{
	size_t n = 0, k = 0;
	struct herald_assignment *as = calloc(d.table.n + 1, sizeof(*as));
	struct herald_move *mv = calloc(d.table.n + 1, sizeof(*mv));
	if (as == NULL || mv == NULL)
		goto out;
	if (d.relay != NULL)
		herald_relay_flush(d.relay); /* what the dead primary sent lands before a promotion */
	HERALD_CTX_FOREACH(&d.table, e)
		if (e->primary == dead || e->replica == dead)
			as[n++] = (struct herald_assignment){.context = e->context, .primary = e->primary,
							     .replica = e->replica};
	int rc = herald_view_failover(&d.view, &d.dir, dead, as, n, mv, n + 1);
	if (rc < 0) {
		logf_("failover of node %u: %s", dead, strerror(-rc));
		goto out;
	}
	for (int i = 0; i < rc; i++) {
		struct herald_ctx_entry *e = herald_ctx_find(&d.table, mv[i].context);
		if (e == NULL)
			continue;
		e->replica = mv[i].replica;
		if (mv[i].kind == HERALD_MOVE_NEW_REPLICA)
			continue;
		e->primary = mv[i].to;
		e->confirmed = false;
		e->since_ns = now;
		e->epoch = d.view.epoch;
		k++;
		logf_("move context %u: node %u -> %u (%s)", e->context, mv[i].from, mv[i].to,
		      mv[i].kind == HERALD_MOVE_PROMOTE ? "replica promoted" : "placed afresh");
		if (mv[i].to == d.o.node_id)
			dp_activate(e->context, e->policy);
	}
	d.moved += k;
	logf_("failover of node %u: %zu context(s) moved, epoch %u", dead, k, d.view.epoch);
out:
	free(as);
	free(mv);
	d.dirty = true;
}

static void events_handle(const struct herald_member_event *ev, int n, uint64_t now)
{
	for (int i = 0; i < n && i < EVENTS_MAX; i++) {
		const struct herald_member *m = herald_view_find(&d.view, ev[i].node);
		uint64_t silent = m ? (uint64_t)((now - m->last_heard_ns) / MS) : 0;
		logf_("node %u: %s -> %s, epoch %u", ev[i].node,
		      ev[i].from == HERALD_MEMBER_STATE_MAX ? "unknown" : herald_member_state_name(ev[i].from),
		      herald_member_state_name(ev[i].to), ev[i].epoch);
		if (ev[i].to == HERALD_MEMBER_DEAD) {
			logf_("node %u dead: silent for %" PRIu64 " ms", ev[i].node, silent);
			if (ev[i].from == HERALD_MEMBER_ACTIVE || ev[i].from == HERALD_MEMBER_SUSPECT)
				failover(ev[i].node, now);
		}
		if (ev[i].to == HERALD_MEMBER_ACTIVE) {
			struct peer *p = peer_get(ev[i].node, false);
			if (p != NULL && p->have_list)
				claims_apply(p->id, p->ids, p->nids, now);
		}
		d.dirty = true;
	}
	if (n > 0)
		replicas_update();
}

static void heartbeat_rx(const struct herald_peer_hb *hb, uint64_t now)
{
	struct herald_member_event ev[EVENTS_MAX];
	struct herald_heartbeat h = {.node = hb->node, .incarnation = hb->incarnation,
				     .weight = hb->weight, .contexts = hb->contexts, .queues = hb->queues,
				     .epoch = hb->epoch};

	if (hb->node == d.o.node_id)
		return;
	int n = herald_view_heartbeat(&d.view, &h, now, ev, EVENTS_MAX);
	if (n < 0)
		return; /* -ESTALE: a delayed datagram of an older incarnation */
	struct peer *p = peer_get(hb->node, true);
	if (p == NULL)
		return;
	p->dp_ip = hb->dp_ip;
	p->dp_port = hb->dp_port;
	p->queues = hb->queues;
	if (hb->chunk == 0)
		p->npend = p->next_chunk = 0;
	if (hb->chunk == p->next_chunk && p->npend + hb->n <= LOCAL_MAX) {
		for (unsigned i = 0; i < hb->n; i++)
			p->pend[p->npend++] = herald_peer_hb_id(hb, i);
		p->next_chunk++;
		if (p->next_chunk == hb->chunks) {
			bool changed = !p->have_list || p->nids != p->npend ||
				       memcmp(p->ids, p->pend, p->npend * sizeof(uint32_t)) != 0;
			uint32_t *t = p->ids;
			p->ids = p->pend;
			p->pend = t;
			p->nids = p->npend;
			p->npend = p->next_chunk = 0;
			p->have_list = true;
			if (changed && hosting(p->id))
				claims_apply(p->id, p->ids, p->nids, now);
		}
	}
	events_handle(ev, n, now);
}

/*
 * The primary says this node is the replica of a context and what its
 * policy is. The copy is activated (relay_sync) or corrected (dp_poll)
 * with it; until the primary's heartbeat lists the context, the entry is
 * a pending one, as after a PLACE.
 */
static void replica_place_rx(const struct herald_peer_place *pl, uint64_t now)
{
	bool added;
	struct herald_ctx_entry *e = herald_ctx_add(&d.table, pl->context, &added);
	if (e == NULL)
		return;
	if (added) {
		e->primary = pl->from;
		e->since_ns = now;
		e->epoch = d.view.epoch;
	}
	if (pl->policy[0] != '\0' && strcmp(e->policy, pl->policy) != 0) {
		memcpy(e->policy, pl->policy, sizeof(e->policy));
		d.dirty = true;
	}
}

static void place_rx(const struct herald_peer_place *pl, uint64_t now)
{
	bool added;
	if (pl->to != d.o.node_id)
		return;
	if (pl->flags & HERALD_PEER_PLACE_REPLICA) {
		replica_place_rx(pl, now);
		return;
	}
	struct herald_ctx_entry *e = herald_ctx_add(&d.table, pl->context, &added);
	if (e == NULL || (e->primary == d.o.node_id && e->confirmed))
		return;
	e->primary = d.o.node_id;
	e->since_ns = now;
	e->epoch = d.view.epoch;
	if (pl->policy[0] != '\0')
		memcpy(e->policy, pl->policy, sizeof(e->policy));
	d.dirty = true;
	dp_activate(pl->context, e->policy);
}

static void peers_rx(uint64_t now)
{
	uint8_t buf[HERALD_PEER_DGRAM_MAX + 1];
	struct herald_peer_hb hb;
	struct herald_peer_place pl;

	for (;;) {
		ssize_t k = recv(d.hb_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k < 0)
			return;
		switch (herald_peer_decode(buf, (size_t)k, &hb, &pl)) {
		case HERALD_PEER_HEARTBEAT:
			heartbeat_rx(&hb, now);
			break;
		case HERALD_PEER_PLACE:
			place_rx(&pl, now);
			break;
		default:
			break; /* not ours */
		}
	}
}

static void heartbeats_send(void)
{
	uint8_t buf[HERALD_PEER_DGRAM_MAX];
	const struct herald_member *self = herald_view_find(&d.view, d.o.node_id);
	uint32_t chunks = d.nlocal == 0 ? 1 : (d.nlocal + HERALD_PEER_HB_CONTEXTS - 1) / HERALD_PEER_HB_CONTEXTS;

	for (uint32_t c = 0; c < chunks; c++) {
		uint32_t first = c * HERALD_PEER_HB_CONTEXTS;
		uint32_t n = d.nlocal - first < HERALD_PEER_HB_CONTEXTS ? d.nlocal - first : HERALD_PEER_HB_CONTEXTS;
		struct herald_peer_hb hb = {
			.node = d.o.node_id, .incarnation = d.incarnation, .epoch = d.view.epoch,
			.weight = self->weight, .contexts = d.nlocal, .queues = d.queues ? d.queues : 1,
			.dp_port = d.o.dp_port, .dp_ip = d.o.dp_ip, .chunk = (uint16_t)c,
			.chunks = (uint16_t)chunks, .n = (uint16_t)n,
		};
		int len = herald_peer_hb_encode(buf, sizeof(buf), &hb, d.local + first);
		for (unsigned i = 0; i < d.o.npeers && len > 0; i++)
			sendto(d.hb_fd, buf, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&d.o.peers[i],
			       sizeof(d.o.peers[i]));
	}
}

/* ---- epochs across restarts ---- */

/*
 * Persist the view epoch before any datagram carries it (a REDIRECT, a
 * heartbeat, the XDP route map): the loop calls this after everything that
 * can raise it. A failed write is logged and retried at the next change;
 * the epoch in use is still the highest the cluster knows.
 */
static void epoch_save(void)
{
	char err[512];
	if (d.o.state_file == NULL || d.view.epoch <= d.saved_epoch)
		return;
	if (herald_epoch_file_save(d.o.state_file, d.view.epoch, err, sizeof(err)) < 0) {
		logf_("%s", err);
		return;
	}
	d.saved_epoch = d.view.epoch;
}

/* A restart is a change of view: start above the epoch saved by the last run. */
static int epoch_restore(void)
{
	char err[512];
	uint32_t saved;
	if (d.o.state_file == NULL)
		return 0;
	int rc = herald_epoch_file_load(d.o.state_file, &saved, err, sizeof(err));
	if (rc == -ENOENT) {
		logf_("no epoch file %s: first start, epoch %u", d.o.state_file, d.view.epoch);
	} else if (rc < 0) {
		fprintf(stderr, "heraldd: %s\n", err);
		return rc;
	} else {
		herald_view_epoch_raise(&d.view, saved + 1);
		d.view.members[0].epoch = d.view.epoch;
		logf_("epoch %u (the last run saved %u in %s)", d.view.epoch, saved, d.o.state_file);
	}
	epoch_save();
	if (d.saved_epoch != d.view.epoch) {
		fprintf(stderr, "heraldd: cannot keep the epoch in %s: refusing to start\n", d.o.state_file);
		return -EIO;
	}
	return 0;
}

/*
 * HELLOs wait (in their socket) until the view has heard the peers: every
 * configured peer ACTIVE, or dead_after intervals since the start. Until
 * then a restarted daemon knows neither where its peers' contexts live nor,
 * without a state file, the cluster's epoch, and an answer could send a
 * client to a stale primary. A lone node settles at once.
 */
static bool hello_settling(uint64_t now)
{
	unsigned active = 0;
	if (d.settled)
		return false;
	for (unsigned i = 0; i < d.view.n; i++)
		active += !d.view.members[i].local && d.view.members[i].state == HERALD_MEMBER_ACTIVE;
	if (active < d.o.npeers &&
	    now - d.started_ns < d.o.params.dead_after * d.o.params.heartbeat_interval_ns)
		return true;
	d.settled = true;
	logf_("view settled (%u of %u peers active, epoch %u): answering HELLOs", active, d.o.npeers,
	      d.view.epoch);
	return false;
}

/* ---- redirect ---- */

static uint32_t tai_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)ts.tv_sec;
}

/* Where a HELLO for @p context goes: the table, or a fresh placement. */
static int redirect_target(uint32_t context, uint64_t now, uint32_t *node)
{
	struct herald_ctx_entry *e = herald_ctx_find(&d.table, context);
	if (e != NULL && hosting(e->primary)) {
		*node = e->primary;
		return 0;
	}
	struct herald_node nodes[HERALD_NODES_MAX];
	struct herald_target t;
	int n = herald_view_nodes(&d.view, nodes, HERALD_NODES_MAX);
	if (n <= 0 || herald_director_redirect(&d.dir, nodes, (unsigned)n, context, &t) < 0)
		return -ENOENT;
	*node = nodes[t.node].id;
	bool added;
	if ((e = herald_ctx_add(&d.table, context, &added)) == NULL)
		return 0; /* table full: answer, do not remember */
	e->primary = *node;
	e->confirmed = false;
	e->since_ns = now;
	e->epoch = d.view.epoch;
	d.dirty = true;
	if (*node == d.o.node_id)
		dp_activate(context, e->policy);
	else
		place_send(*node, context, 0, e->policy);
	replicas_update();
	return 0;
}

static void hellos_rx(uint64_t now)
{
	uint8_t buf[2048], out[HERALD_REDIRECT_LEN];
	struct sockaddr_in src;

	for (;;) {
		socklen_t sl = sizeof(src);
		ssize_t k = recvfrom(d.hello_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&src, &sl);
		if (k < 0)
			return;
		uint32_t context, node;
		struct herald_xdp_route r;
		if (herald_hello_check(buf, (size_t)k, &context) != HERALD_DROP_NONE ||
		    redirect_target(context, now, &node) < 0) {
			d.hello_drops++;
			continue;
		}
		route_of(node, context, &r);
		herald_redirect_write(out, buf, &r, d.token_key, src.sin_addr.s_addr, src.sin_port,
				      tai_s() + d.o.ttl_s);
		sendto(d.hello_fd, out, sizeof(out), MSG_DONTWAIT, (struct sockaddr *)&src, sl);
		d.redirects++;
	}
}

/* ---- XDP maps, status ---- */

static void xdp_secret_write(void)
{
	struct herald_xdp_secret s = {.ttl_s = d.o.ttl_s, .valid = 1};
	uint32_t zero = 0;
	if (d.secret_fd < 0)
		return;
	memcpy(s.key, d.token_key, sizeof(s.key));
	if (bpf_map_update_elem(d.secret_fd, &zero, &s, BPF_ANY) < 0)
		logf_("XDP secret map: %s", strerror(errno));
}

static void xdp_open(void)
{
	char path[512];
	if (d.o.pin_dir == NULL || d.o.pin_dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/herald_routes", d.o.pin_dir);
	d.routes_fd = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/herald_secret", d.o.pin_dir);
	d.secret_fd = bpf_obj_get(path);
	if (d.routes_fd < 0) {
		logf_("no XDP route map pinned in %s: redirects from userspace only", d.o.pin_dir);
		return;
	}
	xdp_secret_write();
	logf_("XDP maps in %s: placements go to the redirect map", d.o.pin_dir);
}

static void routes_sync(void)
{
	struct herald_xdp_route r;
	if (d.routes_fd < 0)
		return;
	HERALD_CTX_FOREACH(&d.table, e) {
		if (!hosting(e->primary))
			continue;
		route_of(e->primary, e->context, &r);
		bpf_map_update_elem(d.routes_fd, &e->context, &r, BPF_ANY);
	}
}

static json_t *relay_json(void)
{
	struct herald_relay_stats st = {0};
	if (d.relay != NULL)
		herald_relay_stats(d.relay, &st);
	return json_pack("{sIsIsIsIsIsIsIsIsIsI}", "contexts", (json_int_t)st.active, "synced",
			 (json_int_t)st.synced, "copies", (json_int_t)d.ncopies, "entries", (json_int_t)st.entries,
			 "puts", (json_int_t)st.puts, "put_errors", (json_int_t)st.put_errors, "gaps",
			 (json_int_t)st.gaps, "snapshots", (json_int_t)st.snapshots, "timeouts",
			 (json_int_t)st.timeouts, "put_ms_max", (json_int_t)(st.put_ns_max / MS));
}

static void status_write(void)
{
	char tmp[600];
	if (d.o.status_file == NULL)
		return;
	json_t *members = json_array(), *ctxs = json_object();
	for (unsigned i = 0; i < d.view.n; i++) {
		const struct herald_member *m = &d.view.members[i];
		json_array_append_new(members, json_pack("{sIsssIsIsIsI}", "id", (json_int_t)m->id,
			"state", herald_member_state_name(m->state), "epoch", (json_int_t)m->epoch,
			"incarnation", (json_int_t)m->incarnation, "weight", (json_int_t)m->weight,
			"contexts", (json_int_t)m->contexts));
	}
	HERALD_CTX_FOREACH(&d.table, e) {
		char key[16];
		snprintf(key, sizeof(key), "%u", e->context);
		json_object_set_new(ctxs, key, json_pack("{sIsIsb}", "primary", (json_int_t)e->primary,
			"replica", e->replica == HERALD_NODE_NONE ? (json_int_t)-1 : (json_int_t)e->replica,
			"confirmed", e->confirmed));
	}
	json_t *s = json_pack("{sIsIsbsIsIsIsIsososo}", "node", (json_int_t)d.o.node_id, "epoch",
			      (json_int_t)d.view.epoch, "dataplane", d.dp_up, "redirects",
			      (json_int_t)d.redirects, "hello_drops", (json_int_t)d.hello_drops, "moved",
			      (json_int_t)d.moved, "yielded", (json_int_t)d.yielded, "members", members,
			      "contexts", ctxs, "relay", relay_json());
	snprintf(tmp, sizeof(tmp), "%s.tmp", d.o.status_file);
	if (json_dump_file(s, tmp, JSON_COMPACT) == 0)
		rename(tmp, d.o.status_file);
	json_decref(s);
}

/* Placements heard of (PLACE, failover to a peer) that the node never confirmed. */
static void pending_expire(uint64_t now)
{
	HERALD_CTX_FOREACH(&d.table, e)
		if (!e->confirmed && now - e->since_ns > PENDING_MS * MS)
			entry_del(e);
}

/*
 * A daemon that was not scheduled (an overloaded host, a stopped process)
 * heard nothing while it was away, through no fault of its peers: silence
 * it could not observe is not counted against them. Peers that really died
 * meanwhile are declared dead dead_after intervals after the daemon runs
 * again. Beats queued in the socket while it was away still count.
 */
static void stall_forgive(uint64_t now, uint64_t *last_loop)
{
	uint64_t gap = now - *last_loop, iv = d.o.params.heartbeat_interval_ns;
	*last_loop = now;
	if (gap <= 2 * iv)
		return;
	for (unsigned i = 0; i < d.view.n; i++) {
		struct herald_member *m = &d.view.members[i];
		if (!m->local)
			m->last_heard_ns = m->last_heard_ns + gap - iv > now ? now : m->last_heard_ns + gap - iv;
	}
	logf_("not scheduled for %" PRIu64 " ms: peers' silence during it is not counted",
	      (uint64_t)(gap / MS));
}

/* ---- heraldctl (controlplane/mgmt.c) and metrics ---- */

static json_t *dp_request(enum herald_ctl_cmd cmd, uint32_t context, const char *policy, char *err,
			  size_t errlen)
{
	struct herald_ctl_req req = {.cmd = cmd, .context = context};
	snprintf(req.policy, sizeof(req.policy), "%s", policy ? policy : "");
	return dp_call(&req, err, errlen);
}

static json_t *addr_str(uint32_t ip, uint16_t port)
{
	char a[INET_ADDRSTRLEN], t[INET_ADDRSTRLEN + 8];
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	snprintf(t, sizeof(t), "%s:%u", a, port);
	return json_string(t);
}

static json_t *mgmt_status(void)
{
	unsigned active = 0;
	for (unsigned i = 0; i < d.view.n; i++)
		active += !d.view.members[i].local && hosting(d.view.members[i].id);
	return json_pack("{sb sI ss sI sI sb s{sb ss* so sI sI} s{sI sI} sI sI sI sI s{sI sI}}", "ok", 1,
		"node", (json_int_t)d.o.node_id, "name", d.have_cfg ? d.cfg.name : "",
		"epoch", (json_int_t)d.view.epoch, "uptime_s", (json_int_t)((mono_ns() - d.started_ns) / (1000 * MS)),
		"draining", d.draining, "dataplane", "connected", d.dp_up, "socket", d.o.dp_sock, "addr", addr_str(d.o.dp_ip, d.o.dp_port),
		"queues", (json_int_t)d.queues, "incarnation", (json_int_t)d.incarnation,
		"contexts", "local", (json_int_t)d.nlocal, "table", (json_int_t)d.table.n,
		"sessions", (json_int_t)d.sessions, "redirects", (json_int_t)d.redirects,
		"hello_drops", (json_int_t)d.hello_drops, "moved", (json_int_t)d.moved,
		"peers", "configured", (json_int_t)d.o.npeers, "active", (json_int_t)active);
}

static json_t *mgmt_nodes(uint64_t now)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < d.view.n; i++) {
		const struct herald_member *m = &d.view.members[i];
		struct peer *p = m->local ? NULL : peer_get(m->id, false);
		json_array_append_new(arr, json_pack("{sI ss sb sI sI sI sI sI so sI}", "id", (json_int_t)m->id,
			"state", herald_member_state_name(m->state), "local", m->local, "epoch", (json_int_t)m->epoch,
			"incarnation", (json_int_t)m->incarnation, "weight", (json_int_t)m->weight,
			"contexts", (json_int_t)m->contexts, "queues", (json_int_t)m->queues,
			"dataplane", p ? addr_str(p->dp_ip, p->dp_port) : m->local ? addr_str(d.o.dp_ip, d.o.dp_port) : json_null(),
			"last_heard_ms", m->local ? (json_int_t)0 : (json_int_t)((now - m->last_heard_ns) / MS)));
	}
	return json_pack("{sb sI so}", "ok", 1, "epoch", (json_int_t)d.view.epoch, "nodes", arr);
}

/* One context as heraldctl shows it: the table's view, and the dataplane's when it is local. */
static json_t *context_json(uint32_t id, const struct herald_ctx_entry *e, json_t *local)
{
	json_t *o = json_pack("{sI}", "id", (json_int_t)id);
	if (e != NULL) {
		json_object_set_new(o, "primary", json_integer(e->primary));
		json_object_set_new(o, "replica", e->replica == HERALD_NODE_NONE ? json_null() : json_integer(e->replica));
		json_object_set_new(o, "confirmed", json_boolean(e->confirmed));
		json_object_set_new(o, "epoch", json_integer(e->epoch));
	} else {
		/* A replica copy (the relay's) is not hosted here. */
		json_object_set_new(o, "primary", json_is_true(json_object_get(local, "replica")) ? json_null()
						  : json_integer(d.o.node_id));
	}
	json_object_set_new(o, "local", json_boolean(local != NULL));
	if (local != NULL)
		json_object_update(o, local); /* policy, keys, sessions, queue */
	return o;
}

static json_t *mgmt_contexts(const struct herald_mgmt_req *req)
{
	char err[256];
	json_t *dp = d.o.dp_sock ? dp_request(HERALD_CTL_CONTEXTS, 0, NULL, err, sizeof(err)) : NULL;
	json_t *arr = json_array(), *c, *byid = json_object();
	char key[16];
	size_t i;

	json_array_foreach(json_object_get(dp, "contexts"), i, c) {
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(c, "id")));
		json_object_set(byid, key, c);
	}
	if (req->cmd == HERALD_MGMT_CONTEXT) {
		snprintf(key, sizeof(key), "%u", req->context);
		const struct herald_ctx_entry *e = herald_ctx_find(&d.table, req->context);
		json_t *l = json_object_get(byid, key), *r;
		if (e == NULL && l == NULL)
			r = herald_mgmt_error("context %u is not active on any node this node knows of", req->context);
		else
			r = json_pack("{sb so}", "ok", 1, "context", context_json(req->context, e, l));
		json_decref(byid);
		json_decref(arr);
		json_decref(dp);
		return r;
	}
	HERALD_CTX_FOREACH(&d.table, e) {
		snprintf(key, sizeof(key), "%u", e->context);
		json_array_append_new(arr, context_json(e->context, e, json_object_get(byid, key)));
		json_object_del(byid, key);
	}
	const char *k;
	json_object_foreach(byid, k, c) /* on the dataplane, not in the table yet */
		json_array_append_new(arr, context_json((uint32_t)json_integer_value(json_object_get(c, "id")), NULL, c));
	json_decref(byid);
	json_decref(dp);
	return json_pack("{sb sb so}", "ok", 1, "dataplane", dp != NULL, "contexts", arr);
}

static json_t *mgmt_change(const struct herald_mgmt_req *req, uint64_t now)
{
	char err[256];
	bool create = req->cmd == HERALD_MGMT_CREATE, added;
	json_t *r = dp_request(create ? HERALD_CTL_ACTIVATE : HERALD_CTL_DEACTIVATE, req->context,
			       req->policy, err, sizeof(err));
	if (r == NULL)
		return herald_mgmt_error("%s", err);
	struct herald_ctx_entry *e = create ? herald_ctx_add(&d.table, req->context, &added)
					    : herald_ctx_find(&d.table, req->context);
	if (create && e != NULL && !(e->primary == d.o.node_id && e->confirmed)) {
		/* confirmed by the next poll of the dataplane */
		e->primary = d.o.node_id;
		e->confirmed = false;
		e->since_ns = now;
		e->epoch = d.view.epoch;
		replicas_update();
	}
	if (create && e != NULL && e->primary == d.o.node_id) {
		/* The replica hears the policy before the heartbeat that lists the context. */
		const char *pol = json_string_value(json_object_get(r, "policy"));
		snprintf(e->policy, sizeof(e->policy), "%s", pol != NULL ? pol : "");
		e->told = HERALD_NODE_NONE;
		replicas_tell(now);
	} else if (!create && e != NULL && e->primary == d.o.node_id) {
		entry_del(e);
	}
	d.dirty = true;
	json_object_set_new(r, "node", json_integer(d.o.node_id));
	return r;
}

static json_t *mgmt_stats(void)
{
	char err[256];
	json_t *dp = d.o.dp_sock ? dp_request(HERALD_CTL_STATS, 0, NULL, err, sizeof(err)) : NULL;
	json_t *r = json_pack("{sb sb s{sI sI sI sI sI}}", "ok", 1, "dataplane", dp != NULL, "daemon",
		"redirects", (json_int_t)d.redirects, "hello_drops", (json_int_t)d.hello_drops,
		"moved", (json_int_t)d.moved, "contexts", (json_int_t)d.table.n, "epoch", (json_int_t)d.view.epoch);
	if (dp != NULL) {
		json_object_set(r, "counters", json_object_get(dp, "counters"));
		json_object_set(r, "drops", json_object_get(dp, "drops"));
		if (json_object_get(dp, "port") != NULL)
			json_object_set(r, "port", json_object_get(dp, "port"));
		json_decref(dp);
	} else {
		json_object_set_new(r, "dataplane_error", json_string(d.o.dp_sock ? err : "no dataplane configured"));
	}
	return r;
}

static json_t *mgmt_locate(const struct herald_mgmt_req *req, uint64_t now)
{
	struct herald_xdp_route rt;
	uint32_t node;
	if (redirect_target(req->context, now, &node) < 0)
		return herald_mgmt_error("no node can host context %u now", req->context);
	route_of(node, req->context, &rt);
	return json_pack("{sb sI sI so sI}", "ok", 1, "context", (json_int_t)req->context, "node",
			 (json_int_t)node, "addr", addr_str(rt.node_ip, rt.port), "queue", (json_int_t)rt.queue);
}

static json_t *mgmt_set_policy(const struct herald_mgmt_req *req)
{
	char err[256];
	json_t *r = dp_request(HERALD_CTL_SET_POLICY, req->context, req->policy, err, sizeof(err));
	if (r == NULL)
		return herald_mgmt_error("%s", err);
	logf_("context %u: policy %s -> %s", req->context, json_string_value(json_object_get(r, "previous")),
	      json_string_value(json_object_get(r, "policy")));
	json_object_set_new(r, "node", json_integer(d.o.node_id));
	return r;
}

/* clients list / show / kick: the dataplane's sessions. */
static json_t *mgmt_sessions(const struct herald_mgmt_req *req)
{
	char err[256];
	struct herald_ctl_req q = {.cmd = HERALD_CTL_SESSIONS, .context = req->context,
				   .has_context = req->has_context};
	json_t *s;
	size_t i;

	if (req->cmd == HERALD_MGMT_KICK)
		q = (struct herald_ctl_req){.cmd = HERALD_CTL_KICK, .session = req->session};
	json_t *r = dp_call(&q, err, sizeof(err));
	if (r == NULL)
		return herald_mgmt_error("%s", err);
	if (req->cmd == HERALD_MGMT_KICK)
		logf_("session %u of context %lld kicked", req->session,
		      (long long)json_integer_value(json_object_get(r, "context")));
	if (req->cmd == HERALD_MGMT_SESSION) {
		json_t *found = NULL;
		json_array_foreach(json_object_get(r, "sessions"), i, s)
			if (json_integer_value(json_object_get(s, "session")) == (json_int_t)req->session)
				found = json_incref(s);
		json_decref(r);
		if (found == NULL)
			return herald_mgmt_error("no session %u on this node", req->session);
		r = json_pack("{sb so}", "ok", 1, "client", found);
	}
	json_object_set_new(r, "node", json_integer(d.o.node_id));
	return r;
}

static json_t *mgmt_drain(const struct herald_mgmt_req *req, uint64_t now)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	int others = 0;

	if (req->node != d.o.node_id)
		return herald_mgmt_error("node %u %s: drain runs on the drained node's own heraldd (this is node %u)",
					 req->node, herald_view_find(&d.view, req->node) ? "is a peer" : "is not in this node's view",
					 d.o.node_id);
	if (req->undo) {
		d.draining = false;
		dp_poll(now); /* the weight comes back */
		logf_("drain ended: new contexts may be placed here again");
		return json_pack("{sb sI sb}", "ok", 1, "node", (json_int_t)d.o.node_id, "draining", 0);
	}
	int n = herald_view_nodes(&d.view, nodes, HERALD_NODES_MAX);
	for (int i = 0; i < n; i++)
		others += nodes[i].id != d.o.node_id && nodes[i].weight > 0;
	if (others == 0)
		return herald_mgmt_error("no other active node can take node %u's contexts", d.o.node_id);
	if (!d.draining)
		logf_("draining: no new context is placed here, every local context moves off");
	d.draining = true;
	for (unsigned m = 0; m < d.view.n; m++)
		if (d.view.members[m].local)
			d.view.members[m].weight = 0;
	d.drain_log = json_array();
	dp_poll(now);
	json_t *moves = d.drain_log;
	d.drain_log = NULL;
	heartbeats_send(); /* peers learn the weight 0 now */
	return json_pack("{sb sI sb so sI}", "ok", 1, "node", (json_int_t)d.o.node_id, "draining", 1, "moved",
			 moves, "remaining", (json_int_t)d.nlocal);
}

/*
 * Re-read the file heraldd was started with: validated whole first, refused
 * whole (FILE:LINE: reason) if it is invalid or changes a key that only a
 * restart applies; otherwise the live keys take effect now.
 */
static json_t *mgmt_reload(void)
{
	char err[600];
	struct herald_config next;
	json_t *changed;

	if (!d.have_cfg)
		return herald_mgmt_error("heraldd was started without --config: there is no file to reload");
	if (herald_config_load(d.cfg.path, &next, err, sizeof(err)) < 0 ||
	    herald_config_reload_check(&d.cfg, &next, &changed, err, sizeof(err)) < 0) {
		logf_("reload refused, configuration unchanged: %s", err);
		return herald_mgmt_error("%s", err);
	}
	d.cfg = next;
	memcpy(d.o.peers, next.peers, next.npeers * sizeof(next.peers[0]));
	d.o.npeers = next.npeers;
	d.o.params.heartbeat_interval_ns = next.heartbeat_ms * MS;
	d.o.params.suspect_after = next.suspect_after;
	d.o.params.dead_after = next.dead_after;
	d.view.params = d.o.params;
	d.o.ttl_s = next.token_ttl_s;
	d.o.capacity = next.capacity;
	d.o.status_file = d.cfg.status_file[0] ? d.cfg.status_file : NULL;
	xdp_secret_write();
	char *list = json_dumps(changed, JSON_COMPACT);
	logf_("reloaded %s: changed %s", d.cfg.path, list ? list : "?");
	free(list);
	d.dirty = true;
	return json_pack("{sb ss so}", "ok", 1, "file", d.cfg.path, "changed", changed);
}

static json_t *mgmt_handle(const struct herald_mgmt_req *req, void *arg)
{
	uint64_t now = mono_ns();
	(void)arg;
	switch (req->cmd) {
	case HERALD_MGMT_STATUS:
		return mgmt_status();
	case HERALD_MGMT_NODES:
		return mgmt_nodes(now);
	case HERALD_MGMT_CONTEXTS:
	case HERALD_MGMT_CONTEXT:
		return mgmt_contexts(req);
	case HERALD_MGMT_CREATE:
	case HERALD_MGMT_EVICT:
		return mgmt_change(req, now);
	case HERALD_MGMT_STATS:
		return mgmt_stats();
	case HERALD_MGMT_CONFIG:
		if (!d.have_cfg)
			return herald_mgmt_error("heraldd was started without --config");
		return json_pack("{sb so}", "ok", 1, "config", herald_config_to_json(&d.cfg));
	case HERALD_MGMT_LOCATE:
		return mgmt_locate(req, now);
	case HERALD_MGMT_SET_POLICY:
		return mgmt_set_policy(req);
	case HERALD_MGMT_SESSIONS:
	case HERALD_MGMT_SESSION:
	case HERALD_MGMT_KICK:
		return mgmt_sessions(req);
	case HERALD_MGMT_DRAIN:
		return mgmt_drain(req, now);
	case HERALD_MGMT_RELOAD:
		return mgmt_reload();
	default:
		return herald_mgmt_error("unsupported command");
	}
}

static char *metrics_render(void *arg)
{
	char err[256];
	struct herald_daemon_metrics dm = {
		.node_id = d.o.node_id, .epoch = d.view.epoch, .dataplane_up = d.dp_up,
		.redirects = d.redirects, .hello_drops = d.hello_drops, .moved = d.moved,
		.yielded = d.yielded, .table_contexts = d.table.n, .local_contexts = d.nlocal, .sessions = d.sessions,
		.dp_latency = &d.dp_latency,
	};
	(void)arg;
	for (unsigned i = 0; i < d.view.n; i++)
		dm.members[d.view.members[i].state]++;
	json_t *dp = d.o.dp_sock ? dp_request(HERALD_CTL_STATS, 0, NULL, err, sizeof(err)) : NULL;
	char *text = herald_metrics_render(dp, &dm);
	json_decref(dp);
	return text;
}

static int udp_bind(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* ---- the replica relay (controlplane/relay.c) ---- */

/* This node is the replica of @p e and its primary is a live peer: relay it. */
static bool relay_wanted(const struct herald_ctx_entry *e)
{
	return d.dp_up && e->replica == d.o.node_id && e->primary != d.o.node_id && e->confirmed &&
	       hosting(e->primary) && peer_get(e->primary, false) != NULL;
}

static void copy_drop(uint32_t context)
{
	char err[256];
	struct herald_ctl_req req = {.cmd = HERALD_CTL_DEACTIVATE, .context = context,
				     .queue = herald_queue_of(context, d.queues)};
	json_t *r = herald_dpctl_call(&d.dp, &req, DP_TIMEOUT_MS, err, sizeof(err));
	if (r == NULL)
		logf_("drop replica copy of context %u: %s", context, err);
	json_decref(r);
}

/*
 * Relays follow the table: a relay whose context moved (new primary, this
 * node no longer its replica, gone) stops; its copy is dropped unless this
 * node now hosts the context (promoted) or still replicates it (it restarts
 * from the new primary's snapshot). Then every context this node is the
 * replica of gets its copy activated and a relay started. Copies nobody
 * relays are dropped once a restarted heraldd had time to hear its peers.
 */
static void relay_sync(uint64_t now)
{
	unsigned started = 0, stopped = 0, dropped = 0;
	uint32_t from;

	if (d.relay == NULL)
		return;
	uint32_t n = herald_relay_list(d.relay, d.relay_ids, d.relay_from, LOCAL_MAX);
	for (uint32_t i = 0; i < n; i++) {
		struct herald_ctx_entry *e = herald_ctx_find(&d.table, d.relay_ids[i]);
		if (e != NULL && relay_wanted(e) && e->primary == d.relay_from[i])
			continue;
		herald_relay_stop(d.relay, d.relay_ids[i]);
		stopped++;
		if (e == NULL || (e->primary != d.o.node_id && e->replica != d.o.node_id)) {
			copy_drop(d.relay_ids[i]);
			dropped++;
		}
	}
	HERALD_CTX_FOREACH(&d.table, e) {
		struct herald_xdp_route rt;
		if (!relay_wanted(e) || herald_relay_has(d.relay, e->context, NULL))
			continue;
		if (dp_activate_as(e->context, true, e->policy) < 0)
			continue;
		route_of(e->primary, e->context, &rt);
		struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(rt.port),
					  .sin_addr.s_addr = rt.node_ip};
		int rc = herald_relay_start(d.relay, e->context, e->primary, &src,
					    herald_queue_of(e->context, d.queues));
		if (rc < 0)
			logf_("relay of context %u from node %u: %s", e->context, e->primary, strerror(-rc));
		else
			started++;
	}
	for (uint32_t i = 0; i < d.ncopies && now - d.started_ns > COPY_GRACE_MS * MS; i++) {
		struct herald_ctx_entry *e = herald_ctx_find(&d.table, d.copies[i]);
		if (herald_relay_has(d.relay, d.copies[i], &from) ||
		    (e != NULL && (e->replica == d.o.node_id || e->primary == d.o.node_id)))
			continue; /* relayed, to be relayed, or promoted since the last poll */
		copy_drop(d.copies[i]);
		d.copies[i--] = d.copies[--d.ncopies];
		dropped++;
	}
	if (started || stopped || dropped) {
		struct herald_relay_stats st;
		herald_relay_stats(d.relay, &st);
		logf_("relay: %u started, %u stopped, %u copies dropped; relaying %u context(s)", started,
		      stopped, dropped, st.active);
	}
}

static void keys_derive(void)
{
	uint8_t placement[HERALD_DIRECTOR_KEY_LEN];
	if (!d.o.key_set)
		fprintf(stderr, "heraldd: no --key: using the built-in development key (every node of a "
			"cluster must share one; set it in production)\n");
	herald_keys_derive(d.o.key, placement, d.token_key);
	herald_director_init(&d.dir, placement);
}

int main(int argc, char **argv)
{
	struct herald_member_event ev[EVENTS_MAX];
	char ip[INET_ADDRSTRLEN];

	if (parse_args(argc, argv, &d.o) < 0)
		return 2;
	if (sodium_init() < 0 || herald_ctx_table_init(&d.table, LOCAL_MAX) < 0 ||
	    (d.local = calloc(LOCAL_MAX, sizeof(uint32_t))) == NULL ||
	    (d.copies = calloc(LOCAL_MAX, sizeof(uint32_t))) == NULL ||
	    (d.relay_ids = calloc(LOCAL_MAX, sizeof(uint32_t))) == NULL ||
	    (d.relay_from = calloc(LOCAL_MAX, sizeof(uint32_t))) == NULL) {
		fprintf(stderr, "heraldd: cannot initialise\n");
		return 1;
	}
	keys_derive();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal); /* reload the config file, as heraldctl config reload does */
	setvbuf(stdout, NULL, _IOLBF, 0);

	d.hb_fd = udp_bind(&d.o.listen);
	d.hello_fd = udp_bind(&d.o.hello);
	if (d.hb_fd < 0 || d.hello_fd < 0) {
		fprintf(stderr, "heraldd: cannot bind %s: %s\n", d.hb_fd < 0 ? "--listen" : "--hello",
			strerror(-(d.hb_fd < 0 ? d.hb_fd : d.hello_fd)));
		return 1;
	}
	uint64_t now = mono_ns();
	d.incarnation = (uint32_t)time(NULL);
	d.queues = 1;
	if (d.o.dp_sock != NULL) {
		herald_dpctl_init(&d.dp, d.o.dp_sock);
		d.dp.latency = &d.dp_latency;
		if ((d.relay = herald_relay_new(&d.dp, LOCAL_MAX)) == NULL) {
			fprintf(stderr, "heraldd: cannot initialise the relay\n");
			return 1;
		}
	}
	d.started_ns = now;
	int rc = d.o.ctl_sock ? herald_mgmt_open(&d.mgmt, d.o.ctl_sock) : 0;
	if (rc < 0) {
		fprintf(stderr, "heraldd: control socket %s: %s\n", d.o.ctl_sock, strerror(-rc));
		return 1;
	}
	if (d.have_cfg && d.cfg.remote.sin_port != 0 &&
	    (rc = herald_mgmt_open_remote(&d.mgmt, &d.cfg.remote, d.cfg.remote_key)) < 0) {
		fprintf(stderr, "heraldd: [control] remote port %u: %s\n", ntohs(d.cfg.remote.sin_port), strerror(-rc));
		herald_mgmt_close(&d.mgmt);
		return 1;
	}
	if (d.o.metrics.sin_port != 0 &&
	    (d.metrics = herald_metrics_start(&d.o.metrics, metrics_render, NULL)) == NULL) {
		fprintf(stderr, "heraldd: metrics on port %u: %s\n", ntohs(d.o.metrics.sin_port), strerror(errno));
		herald_mgmt_close(&d.mgmt);
		return 1;
	}
	herald_view_init(&d.view, &d.o.params, d.o.node_id, 1, herald_director_weight(1, 0), now);
	d.view.members[0].incarnation = d.incarnation;
	if (epoch_restore() < 0) {
		herald_metrics_stop(d.metrics);
		herald_mgmt_close(&d.mgmt);
		return 1;
	}
	dp_poll(now); /* a restarted heraldd rebuilds the local part of its view here */
	xdp_open();
	inet_ntop(AF_INET, &d.o.dp_ip, ip, sizeof(ip));
	logf_("listening on udp/%u for peers (%u configured), HELLO on udp/%u, dataplane %s:%u, "
	      "heartbeat %" PRIu64 " ms, dead after %u, %u context(s) on the local dataplane",
	      ntohs(d.o.listen.sin_port), d.o.npeers, ntohs(d.o.hello.sin_port), ip, d.o.dp_port,
	      (uint64_t)(d.o.params.heartbeat_interval_ns / MS), d.o.params.dead_after, d.nlocal);

	uint64_t next_hb = now, next_dp = now + DP_POLL_MS * MS, next_status = now, last_loop = now;
	while (!quit) {
		uint64_t tick_ns = d.o.params.heartbeat_interval_ns / 5; /* a reload may change it */
		struct pollfd p[3 + HERALD_MGMT_POLLFDS + RELAY_FDS] = {{.fd = d.hb_fd, .events = POLLIN},
								{.fd = d.hello_fd, .events = POLLIN},
								{.fd = d.metrics ? herald_metrics_fd(d.metrics) : -1, .events = POLLIN}};
		unsigned nm = herald_mgmt_pollfds(&d.mgmt, p + 3);
		unsigned nr = d.relay ? herald_relay_pollfds(d.relay, p + 3 + nm, RELAY_FDS) : 0;
		now = mono_ns();
		if (hello_settling(now))
			p[1].fd = -1; /* HELLOs wait in the socket */
		uint64_t wake = next_hb < now + tick_ns ? next_hb : now + tick_ns;
		poll(p, 3 + nm + nr, wake > now ? (int)((wake - now + MS - 1) / MS) : 0);
		now = mono_ns();
		stall_forgive(now, &last_loop);
		if (p[0].revents & POLLIN)
			peers_rx(now);
		epoch_save(); /* before a REDIRECT carries it */
		if (p[1].revents & POLLIN)
			hellos_rx(now);
		if (d.metrics != NULL && ((p[2].revents & POLLIN) || now >= next_status))
			herald_metrics_run(d.metrics); /* also expires idle scrapers, once a second */
		herald_mgmt_service(&d.mgmt, p + 3, nm, mgmt_handle, NULL);
		if (d.relay != NULL)
			herald_relay_service(d.relay); /* the relay clients' sockets and timers; the writes */
		if (reload_asked) {
			reload_asked = 0;
			json_decref(mgmt_reload()); /* logs what it did */
		}
		int n = herald_view_tick(&d.view, now, ev, EVENTS_MAX);
		if (n > 0)
			events_handle(ev, n, now);
		epoch_save(); /* before a heartbeat or the route map carries it */
		if (now >= next_hb) {
			heartbeats_send();
			next_hb += d.o.params.heartbeat_interval_ns;
			if (next_hb < now)
				next_hb = now + d.o.params.heartbeat_interval_ns;
		}
		if (now >= next_dp) {
			dp_poll(now);
			replicas_tell(now);
			pending_expire(now);
			next_dp = now + DP_POLL_MS * MS;
		}
		if (d.dirty || now >= next_status) {
			relay_sync(now);
			routes_sync();
			status_write();
			d.dirty = false;
			next_status = now + 1000 * MS;
		}
	}
	logf_("stopping; the dataplane keeps serving");
	herald_relay_free(d.relay);
	herald_metrics_stop(d.metrics);
	herald_mgmt_close(&d.mgmt);
	herald_dpctl_close(&d.dp);
	return 0;
}
