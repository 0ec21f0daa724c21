/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: a Unix stream socket served on a control thread (not a
 * worker lcore), one JSON request per line, one JSON reply per line
 * (docs/heraldd.md). Requests that read or change a worker's store cross to
 * the worker through its rte_ring and are run by the worker between bursts
 * (dp_ctl_drain: an empty-ring check per loop, never per packet): workers
 * never lock, never wait and make no system call for them. Counters are read directly, as telemetry.c
 * does (aligned 64-bit words written by one lcore). If nobody is connected
 * nothing here runs, so the dataplane serves on while heraldd is away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "ctl_msg.h"
#include "dataplane.h"

#define CTL_CLIENTS 8
#define CTL_RING_SIZE 64
#define CTL_WAIT_MS 2000
#define CTL_DRAIN_BURST 8

enum { OP_PENDING, OP_DONE, OP_ABANDONED };

struct dp_ctl_ctx {
	uint32_t id, keys, sessions;
	struct dp_policy policy;
	bool replica;
	bool checkpointed; /* unloaded: in the checkpoint store, loaded again on use */
};

struct dp_ctl_sess {
	uint32_t wire_id, context, ip, budget, ndirty;
	uint16_t port; /* network order */
	bool credit_mode, confirmed;
	uint64_t seq, idle_ms;
};

/* One request on its way to a worker and back. */
struct dp_ctl_op {
	struct herald_ctl_req req;
	struct dp_policy policy;
	/* Results, written by the worker before it marks the op done. */
	int rc;
	bool created, promoted;
	uint32_t stored, unknown; /* put: entries stored, entries for contexts not here */
	struct dp_policy current;
	uint32_t sessions, keys;
	struct dp_ctl_ctx *list;
	struct dp_ctl_sess *sess;
	uint32_t cap, n, total;
	_Atomic int state;
};

static struct {
	struct dp_worker *workers;
	unsigned nb_workers;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd;
	pthread_t thread;
	bool running;
	volatile bool stop;
	time_t started;
} ctl = {.listen_fd = -1};

static void op_free(struct dp_ctl_op *op)
{
	herald_ctl_req_release(&op->req);
	free(op->list);
	free(op->sess);
	free(op);
}

/* Bytes of a key's value: the body is key length (2, big-endian), key, value. */
static uint32_t key_value_len(const struct dp_key *k)
{
	const uint8_t *b = rte_pktmbuf_mtod(k->frag[0], const uint8_t *);
	return (uint32_t)(k->msg_len - 2 - ((b[0] << 8) | b[1]));
}

/*
 * A live context's new policy. Keys, values and sessions stay; the next
 * PUBLISH is applied with the new policy. `none` keeps a history ring and
 * numbers messages differently, so changes to or from it are refused, as is
 * merge:OP while a key holds a value that is not an 8-byte integer.
 */
static int policy_change(struct dp_worker *w, struct dp_context *c, const struct dp_policy *p,
			 uint32_t *bad_keys)
{
	if ((c->policy.kind == DP_POLICY_NONE) != (p->kind == DP_POLICY_NONE))
		return -EPERM;
	if (p->kind == DP_POLICY_MERGE && c->policy.kind != DP_POLICY_MERGE)
		for (uint32_t i = 0; i < c->nkeys; i++)
			*bad_keys += w->keys[c->keys[i]].nfrags != 0 &&
				     key_value_len(&w->keys[c->keys[i]]) != sizeof(int64_t);
	if (*bad_keys != 0)
		return -EINVAL;
	c->policy = *p;
	return 0;
}

static void sessions_list(struct dp_worker *w, struct dp_ctl_op *op)
{
	uint64_t hz = rte_get_tsc_hz(), now = rte_get_tsc_cycles();
	for (uint32_t i = 0; i < w->session_hwm; i++) {
		const struct dp_session *s = &w->sessions[i];
		if (!s->in_use || (op->req.has_context && w->contexts[s->ctx].id != op->req.context))
			continue;
		op->total++;
		if (op->n < op->cap)
			op->sess[op->n++] = (struct dp_ctl_sess){
				.wire_id = s->wire_id, .context = w->contexts[s->ctx].id, .ip = s->ip,
				.port = s->port, .budget = s->budget, .ndirty = s->ndirty,
				.credit_mode = s->credit_mode, .confirmed = s->confirmed, .seq = s->seq,
				.idle_ms = now > s->last_rx_tsc ? (now - s->last_rx_tsc) * 1000 / hz : 0,
			};
	}
}

static int session_kick(struct dp_worker *w, struct dp_ctl_op *op)
{
	for (uint32_t i = 0; i < w->session_hwm; i++) {
		struct dp_session *s = &w->sessions[i];
		if (s->in_use && s->wire_id == op->req.session) {
			op->current = w->contexts[s->ctx].policy;
			op->req.context = w->contexts[s->ctx].id;
			dp_bye_send(w, i);
			dp_session_close(w, i);
			return 0;
		}
	}
	return -ENOENT;
}

/* Worker side: run one request against this worker's store. */
static void op_run(struct dp_worker *w, struct dp_ctl_op *op)
{
	uint32_t ctx = dp_context_get(w, op->req.context, false);

	switch (op->req.cmd) {
	case HERALD_CTL_ACTIVATE:
		/* Checkpointed: loading it is activating it (with the policy it was saved with). */
		if (ctx == DP_NONE && (op->rc = dp_ckpt_activate(w, op->req.context)) != 0) {
			op->rc = op->rc > 0 ? 0 : op->rc;
			op->current = op->policy;
			break;
		}
		if (ctx == DP_NONE) {
			ctx = dp_context_add(w, op->req.context, &op->policy);
			op->rc = ctx == DP_NONE ? -ENOSPC : 0;
			op->created = ctx != DP_NONE;
			if (ctx != DP_NONE)
				w->contexts[ctx].replica = op->req.replica;
		} else if (op->req.policy[0] != '\0' &&
			   (w->contexts[ctx].policy.kind != op->policy.kind ||
			    w->contexts[ctx].policy.merge != op->policy.merge)) {
			op->rc = -EEXIST;
		} else if (op->req.replica && !w->contexts[ctx].replica && !w->contexts[ctx].ephemeral) {
			op->rc = -EBUSY; /* hosted here: never demoted to a copy */
		} else {
			/* A copy activated as a context is promoted; a context a SUBSCRIBE made becomes the copy. */
			op->promoted = w->contexts[ctx].replica && !op->req.replica;
			w->contexts[ctx].replica = op->req.replica;
		}
		if (ctx != DP_NONE) {
			w->contexts[ctx].ephemeral = false; /* the control plane wants it kept */
			op->current = w->contexts[ctx].policy;
			op->keys = w->contexts[ctx].nkeys;
		}
		break;
	case HERALD_CTL_PUT:
		for (uint32_t off = 0; off < op->req.data_len;) {
			const uint8_t *e = op->req.data + off;
			uint32_t id = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
			uint16_t len = (uint16_t)(e[4] << 8 | e[5]);
			uint32_t c = dp_context_get(w, id, false);
			off += HERALD_CTL_PUT_ENTRY_HDR + len;
			if (c == DP_NONE)
				op->unknown++;
			else if (dp_put(w, c, e + HERALD_CTL_PUT_ENTRY_HDR, len) == 0)
				op->stored++;
		}
		dp_tx_flush(w);
		break;
	case HERALD_CTL_DEACTIVATE: {
		/* Its checkpoint goes too: the context's state now lives elsewhere. */
		int forgotten = dp_ckpt_forget(w, op->req.context);
		if (forgotten < 0 || ctx == DP_NONE) {
			op->rc = forgotten < 0 ? forgotten : forgotten == 0 ? -ENOENT : 0;
			break;
		}
		/* Drain: each client is told to HELLO again before its session goes. */
		for (uint32_t s = w->contexts[ctx].sub_head; op->req.moved && s != DP_NONE; s = w->sessions[s].next)
			dp_error_send(w, w->sessions[s].ip, w->sessions[s].port, &w->sessions[s].mac,
				      op->req.context, HERALD_ERR_MOVED, "context moved: HELLO a seed again");
		dp_context_remove(w, ctx, &op->sessions, &op->keys);
		break;
	}
	case HERALD_CTL_SET_POLICY:
		if (ctx == DP_NONE) {
			op->rc = -ENOENT;
			break;
		}
		op->current = w->contexts[ctx].policy;
		op->rc = policy_change(w, &w->contexts[ctx], &op->policy, &op->keys);
		op->sessions = w->contexts[ctx].nsubs;
		if (op->rc == 0)
			op->keys = w->contexts[ctx].nkeys;
		break;
	case HERALD_CTL_SESSIONS:
		sessions_list(w, op);
		break;
	case HERALD_CTL_KICK:
		op->rc = session_kick(w, op);
		break;
	case HERALD_CTL_CONTEXTS:
		for (uint32_t i = 0; i < w->max_contexts + 8 && op->n < op->cap; i++) {
			const struct dp_context *c = &w->contexts[i];
			if (c->in_use)
				op->list[op->n++] = (struct dp_ctl_ctx){
					.id = c->id, .keys = c->nkeys, .sessions = c->nsubs, .policy = c->policy,
					.replica = c->replica,
				};
		}
		for (uint32_t it = 0, id; op->n < op->cap; op->n++) {
			struct dp_ctl_ctx *e = &op->list[op->n];
			if (!dp_ckpt_parked_next(w, &it, &id, &e->policy))
				break;
			e->id = id;
			e->checkpointed = true;
		}
		break;
	default:
		op->rc = -EINVAL;
	}
}

void dp_ctl_drain(struct dp_worker *w)
{
	void *objs[CTL_DRAIN_BURST];

	if (w->ctl_ring == NULL || rte_ring_empty(w->ctl_ring))
		return;
	unsigned n = rte_ring_dequeue_burst(w->ctl_ring, objs, CTL_DRAIN_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct dp_ctl_op *op = objs[i];
		int pending = OP_PENDING;
		op_run(w, op);
		/* The control thread gave up waiting: the op is ours to free (rare). */
		if (!atomic_compare_exchange_strong(&op->state, &pending, OP_DONE))
			op_free(op);
	}
}

/* Control side: hand @p op to worker @p q and wait for it. */
static int op_call(struct dp_ctl_op *op, uint16_t q)
{
	struct timespec nap = {.tv_nsec = 50 * 1000};

	atomic_store(&op->state, OP_PENDING);
	if (rte_ring_enqueue(ctl.workers[q].ctl_ring, op) != 0)
		return -EBUSY;
	for (int i = 0; i < CTL_WAIT_MS * 20; i++) {
		if (atomic_load(&op->state) == OP_DONE)
			return 0;
		nanosleep(&nap, NULL);
	}
	int pending = OP_PENDING;
	if (atomic_compare_exchange_strong(&op->state, &pending, OP_ABANDONED))
		return -ETIMEDOUT; /* the worker frees it when it gets there */
	return 0;
}

static json_t *error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error_reply(const char *fmt, ...)
{
	char text[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{sbss}", "ok", 0, "error", text);
}

static json_t *counters_reply(void)
{
	json_t *ctrs = json_object(), *drops = json_object();
	char name[64];

	for (int c = 0; c < HERALD_CTR_MAX; c++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < ctl.nb_workers; i++)
			v += *(const volatile uint64_t *)&ctl.workers[i].ctr[c];
		json_object_set_new(ctrs, herald_counter_name(c), json_integer((json_int_t)v));
	}
	for (int r = 1; r < HERALD_DROP_MAX; r++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < ctl.nb_workers; i++)
			v += *(const volatile uint64_t *)&ctl.workers[i].drop[r];
		snprintf(name, sizeof(name), "%s", herald_drop_name(r));
		json_object_set_new(drops, name, json_integer((json_int_t)v));
	}
	json_t *port = json_object();
	uint64_t ps[HERALD_PORT_STAT_MAX];
	dp_port_stats(ctl.workers[0].port_id, ps);
	for (int s = 0; s < HERALD_PORT_STAT_MAX; s++)
		json_object_set_new(port, herald_port_stat_name(s), json_integer((json_int_t)ps[s]));
	return json_pack("{sbsososo}", "ok", 1, "counters", ctrs, "drops", drops, "port", port);
}

static json_t *ping_reply(void)
{
	const struct dp_config *cfg = ctl.workers[0].cfg;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &cfg->ip, ip, sizeof(ip));
	return json_pack("{sbsbsssisisIsI}", "ok", 1, "pong", 1, "ip", ip, "udp_port",
			 (int)cfg->udp_port, "queues", (int)ctl.nb_workers, "pid", (json_int_t)getpid(),
			 "uptime_s", (json_int_t)(time(NULL) - ctl.started));
}

/* Run @p op on queue @p q; NULL when it ran, else the error reply (the op is then handled). */
static json_t *op_on_queue(struct dp_ctl_op *op, uint16_t q)
{
	int rc = op_call(op, q);
	if (rc == -ETIMEDOUT)
		return error_reply("queue %u did not answer in %d ms", q, CTL_WAIT_MS); /* the worker frees it */
	if (rc == 0)
		return NULL;
	op_free(op);
	return error_reply("queue %u: %s", q, strerror(-rc));
}

static json_t *contexts_reply(void)
{
	json_t *arr = json_array(), *e;
	char pol[32];

	for (uint16_t q = 0; q < ctl.nb_workers; q++) {
		struct dp_ctl_op *op = calloc(1, sizeof(*op));
		if (op == NULL)
			goto nomem;
		op->req.cmd = HERALD_CTL_CONTEXTS;
		op->cap = ctl.workers[q].max_contexts + 8 + dp_ckpt_parked_count(&ctl.workers[q]);
		op->list = calloc(op->cap, sizeof(*op->list));
		if (op->list == NULL) {
			op_free(op);
			goto nomem;
		}
		if ((e = op_on_queue(op, q)) != NULL) {
			json_decref(arr);
			return e;
		}
		for (uint32_t i = 0; i < op->n; i++)
			json_array_append_new(arr, json_pack("{sIsssIsIsisbsb}", "id", (json_int_t)op->list[i].id,
				"policy", dp_policy_name(&op->list[i].policy, pol, sizeof(pol)),
				"keys", (json_int_t)op->list[i].keys, "sessions",
				(json_int_t)op->list[i].sessions, "queue", (int)q, "replica", op->list[i].replica,
				"checkpointed", (int)op->list[i].checkpointed));
		op_free(op);
	}
	return json_pack("{sbso}", "ok", 1, "contexts", arr);
nomem:
	json_decref(arr);
	return error_reply("out of memory");
}

/* Sessions listed at most in one reply (heraldd reads replies of up to 1 MiB). */
#define SESSIONS_LIST_MAX 4096

static json_t *sessions_reply(const struct herald_ctl_req *req)
{
	json_t *arr = json_array(), *e;
	uint64_t total = 0;
	char ip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN + 8];

	for (uint16_t q = 0; q < ctl.nb_workers; q++) {
		struct dp_ctl_op *op = calloc(1, sizeof(*op));
		if (op == NULL)
			goto nomem;
		op->req = *req;
		op->cap = SESSIONS_LIST_MAX - (uint32_t)json_array_size(arr);
		op->sess = calloc(op->cap + 1, sizeof(*op->sess));
		if (op->sess == NULL) {
			op_free(op);
			goto nomem;
		}
		if ((e = op_on_queue(op, q)) != NULL) {
			json_decref(arr);
			return e;
		}
		total += op->total;
		for (uint32_t i = 0; i < op->n; i++) {
			const struct dp_ctl_sess *x = &op->sess[i];
			inet_ntop(AF_INET, &x->ip, ip, sizeof(ip));
			snprintf(addr, sizeof(addr), "%s:%u", ip, ntohs(x->port));
			json_array_append_new(arr, json_pack("{sI sI ss sI sI sb sb sI sI si}",
				"session", (json_int_t)x->wire_id, "context", (json_int_t)x->context,
				"client", addr, "seq", (json_int_t)x->seq, "budget", (json_int_t)x->budget,
				"credit_mode", x->credit_mode, "confirmed", x->confirmed,
				"dirty_keys", (json_int_t)x->ndirty, "idle_ms", (json_int_t)x->idle_ms,
				"queue", (int)q));
		}
		op_free(op);
	}
	return json_pack("{sb so sI}", "ok", 1, "sessions", arr, "total", (json_int_t)total);
nomem:
	json_decref(arr);
	return error_reply("out of memory");
}

/* A session lives on one queue: ask each until one has it. */
static json_t *kick_reply(const struct herald_ctl_req *req)
{
	json_t *e;
	for (uint16_t q = 0; q < ctl.nb_workers; q++) {
		struct dp_ctl_op *op = calloc(1, sizeof(*op));
		if (op == NULL)
			return error_reply("out of memory");
		op->req = *req;
		if ((e = op_on_queue(op, q)) != NULL)
			return e;
		if (op->rc == 0) {
			e = json_pack("{sb sI sI si}", "ok", 1, "session", (json_int_t)req->session, "context",
				      (json_int_t)op->req.context, "queue", (int)q);
			op_free(op);
			return e;
		}
		op_free(op);
	}
	return error_reply("no session %u on this node", req->session);
}

/*
 * A context lives on the queue herald_queue_of() names, the one its frames
 * are handed to: the request goes there. A queue named in the request (heraldd
 * sends the one its REDIRECTs name) must agree, or the two disagree on where
 * clients are sent. A put names its queue (the relay batches entries per
 * queue). The op takes the request's put data: a worker may still read it
 * after a timeout.
 */
static json_t *change_reply(struct herald_ctl_req *req)
{
	char err[128], pol[32], cur[32];
	uint16_t q = req->cmd == HERALD_CTL_PUT ? req->queue
						: herald_queue_of(req->context, (uint16_t)ctl.nb_workers);

	if (req->queue >= ctl.nb_workers)
		return error_reply("queue %u out of range: the dataplane runs %u queue(s)", req->queue,
				   ctl.nb_workers);
	if (req->queue != 0 && req->queue != q)
		return error_reply("context %u belongs to queue %u of %u, not queue %u", req->context, q,
				   ctl.nb_workers, req->queue);
	struct dp_ctl_op *op = calloc(1, sizeof(*op));
	if (op == NULL)
		return error_reply("out of memory");
	op->req = *req;
	req->data = NULL;
	if (req->policy[0] == '\0') {
		op->policy = *dp_policy_for(ctl.workers[0].cfg, req->context);
	} else if (dp_policy_parse(req->policy, &op->policy, err, sizeof(err)) < 0) {
		op_free(op);
		return error_reply("policy: %s", err);
	}
	json_t *r = op_on_queue(op, q);
	if (r != NULL)
		return r;
	dp_policy_name(&op->current, cur, sizeof(cur));
	dp_policy_name(&op->policy, pol, sizeof(pol));
	if (op->rc == -ENOSPC)
		r = error_reply("context %u: no room (context table or `none` histories full)", req->context);
	else if (op->rc == -EEXIST)
		r = error_reply("context %u is active with policy %s", req->context, cur);
	else if (op->rc == -ENOENT)
		r = error_reply("context %u is not active", req->context);
	else if (op->rc == -EBUSY)
		r = error_reply("context %u is hosted here, not a replica copy", req->context);
	else if (op->rc == -EPERM)
		r = error_reply("context %u has policy %s: a change to or from none keeps no history or "
				"numbering across it; evict and create the context instead", req->context, cur);
	else if (op->rc == -EINVAL)
		r = error_reply("context %u: %u key(s) hold values that are not 8-byte integers, which %s "
				"cannot fold; evict the context or republish integers first", req->context,
				op->keys, pol);
	else if (req->cmd == HERALD_CTL_PUT)
		r = json_pack("{sbsIsI}", "ok", 1, "stored", (json_int_t)op->stored, "unknown",
			      (json_int_t)op->unknown);
	else if (req->cmd == HERALD_CTL_ACTIVATE)
		r = json_pack("{sbsIsssbsbsbsI}", "ok", 1, "context", (json_int_t)req->context, "policy",
			      cur, "created", op->created, "replica", req->replica, "promoted", op->promoted,
			      "keys", (json_int_t)op->keys);
	else if (req->cmd == HERALD_CTL_SET_POLICY)
		r = json_pack("{sb sI ss ss sI sI}", "ok", 1, "context", (json_int_t)req->context, "policy", pol,
			      "previous", cur, "keys", (json_int_t)op->keys, "sessions", (json_int_t)op->sessions);
	else
		r = json_pack("{sbsIsIsI}", "ok", 1, "context", (json_int_t)req->context, "sessions",
			      (json_int_t)op->sessions, "keys", (json_int_t)op->keys);
	op_free(op);
	return r;
}

static json_t *handle_line(const char *line, size_t len)
{
	struct herald_ctl_req req;
	json_t *r;
	char err[256];

	if (herald_ctl_parse(line, len, &req, err, sizeof(err)) < 0)
		return error_reply("%s", err);
	switch (req.cmd) {
	case HERALD_CTL_PING:
		return ping_reply();
	case HERALD_CTL_STATS:
		return counters_reply();
	case HERALD_CTL_CONTEXTS:
		return contexts_reply();
	case HERALD_CTL_ACTIVATE:
	case HERALD_CTL_DEACTIVATE:
	case HERALD_CTL_SET_POLICY:
	case HERALD_CTL_PUT:
		r = change_reply(&req);
		herald_ctl_req_release(&req);
		return r;
	case HERALD_CTL_SESSIONS:
		return sessions_reply(&req);
	case HERALD_CTL_KICK:
		return kick_reply(&req);
	default:
		return error_reply("unsupported command");
	}
}

struct ctl_client {
	int fd;
	size_t len;
	char buf[HERALD_CTL_LINE_MAX];
};

/* Read what a client sent and answer each complete line; <0: close it. */
static int client_rx(struct ctl_client *c)
{
	ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (k <= 0)
		return k < 0 && errno == EINTR ? 0 : -1;
	c->len += (size_t)k;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl == NULL)
			break;
		size_t line = (size_t)(nl - c->buf);
		if (herald_ctl_reply_send(c->fd, handle_line(c->buf, line)) < 0)
			return -1;
		memmove(c->buf, nl + 1, c->len - line - 1);
		c->len -= line + 1;
	}
	if (c->len == sizeof(c->buf)) {
		herald_ctl_reply_send(c->fd, error_reply("request longer than %d bytes", HERALD_CTL_LINE_MAX - 1));
		return -1;
	}
	return 0;
}

static void *ctl_main(void *arg)
{
	static struct ctl_client clients[CTL_CLIENTS]; /* 128 KiB lines: not on the stack */
	struct pollfd pfd[CTL_CLIENTS + 1];
	(void)arg;

	for (int i = 0; i < CTL_CLIENTS; i++)
		clients[i].fd = -1;
	while (!ctl.stop && !dp_quit) {
		pfd[0] = (struct pollfd){.fd = ctl.listen_fd, .events = POLLIN};
		for (int i = 0; i < CTL_CLIENTS; i++)
			pfd[i + 1] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
		if (poll(pfd, CTL_CLIENTS + 1, 100) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(ctl.listen_fd, NULL, NULL, SOCK_CLOEXEC);
			int slot = -1;
			for (int i = 0; i < CTL_CLIENTS && fd >= 0 && slot < 0; i++)
				if (clients[i].fd < 0)
					slot = i;
			if (fd >= 0 && slot < 0) {
				herald_ctl_reply_send(fd, error_reply("too many control connections (%d)", CTL_CLIENTS));
				close(fd);
			} else if (fd >= 0) {
				clients[slot].fd = fd;
				clients[slot].len = 0;
			}
		}
		for (int i = 0; i < CTL_CLIENTS; i++) {
			if (clients[i].fd < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (client_rx(&clients[i]) < 0) {
				close(clients[i].fd);
				clients[i].fd = -1;
			}
		}
	}
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	return NULL;
}

int dp_ctl_start(const char *path, struct dp_worker *workers, unsigned nb_workers)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[RTE_RING_NAMESIZE];

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	ctl.workers = workers;
	ctl.nb_workers = nb_workers;
	ctl.started = time(NULL);
	for (unsigned q = 0; q < nb_workers; q++) {
		snprintf(name, sizeof(name), "herald_ctl_%u", q);
		workers[q].ctl_ring = rte_ring_create(name, CTL_RING_SIZE, (int)rte_socket_id(),
						      RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (workers[q].ctl_ring == NULL)
			return -rte_errno;
	}
	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ctl.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl.listen_fd < 0)
		return -errno;
	unlink(path); /* a socket left by a dataplane that did not exit cleanly */
	if (bind(ctl.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(ctl.listen_fd, CTL_CLIENTS) < 0) {
		int rc = -errno;
		close(ctl.listen_fd);
		ctl.listen_fd = -1;
		return rc;
	}
	int rc = rte_ctrl_thread_create(&ctl.thread, "herald-ctl", NULL, ctl_main, NULL);
	if (rc != 0) {
		close(ctl.listen_fd);
		ctl.listen_fd = -1;
		unlink(path);
		return -rc;
	}
	ctl.running = true;
	return 0;
}

void dp_ctl_stop(void)
{
	if (ctl.running) {
		ctl.stop = true;
		pthread_join(ctl.thread, NULL);
		ctl.running = false;
	}
	if (ctl.listen_fd >= 0) {
		close(ctl.listen_fd);
		ctl.listen_fd = -1;
		unlink(ctl.path);
	}
	for (unsigned q = 0; q < ctl.nb_workers; q++) {
		rte_ring_free(ctl.workers[q].ctl_ring);
		ctl.workers[q].ctl_ring = NULL;
	}
}
