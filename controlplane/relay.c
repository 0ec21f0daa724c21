/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The replica relay (relay.h, docs/heraldd.md). One libherald client per
 * primary queue (node mode: one socket, up to HERALD_RELAY_SUBS_PER_CLIENT
 * subscriptions), pumped from heraldd's poll loop without blocking. Entries
 * are gathered as they are dispatched and written with one `put` per poll
 * round (or when the batch is full): the control socket is a reliable,
 * ordered stream, so the copy gets every value in the order the primary
 * sent it, and `put` stores a value as it is, so a merge:OP context's
 * merged value replaces the copy's instead of being folded in again.
 *
 * Loss is repaired, never ignored: a gap on a subscription is resynced by
 * libherald (auto_resync: a fresh snapshot rewrites every key), and a `put`
 * that did not land (dataplane gone, copy missing) stops every relay, so
 * heraldd's next reconciliation activates the copies again and starts over
 * from snapshots.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <herald/client.h>

#include "ctx_table.h"
#include "relay.h"

#define PUT_TIMEOUT_MS 2000
#define RELAY_RCVBUF (4 << 20)

struct link {
	struct herald_relay *r;
	uint32_t node;
	struct sockaddr_in addr;
	struct herald_client *c;
	unsigned nsubs;
};

/*
 * Relayed contexts reuse the director's table type: primary = the source
 * node, replica = the index of its link, epoch = the local queue,
 * confirmed = its snapshot is complete.
 */
struct herald_relay {
	struct herald_dpctl *dp;
	struct herald_ctx_table ctxs;
	struct link **links;
	unsigned nlinks;
	uint8_t *buf;
	uint32_t len;
	uint16_t queue;
	bool failed; /* a put did not land: restart every relay */
	struct herald_relay_stats st;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void herald_relay_flush(struct herald_relay *r)
{
	char err[256];
	struct herald_ctl_req req = {.cmd = HERALD_CTL_PUT, .queue = r->queue, .data = r->buf,
				     .data_len = r->len};
	if (r->len == 0)
		return;
	uint64_t t0 = mono_ns();
	json_t *rep = herald_dpctl_call(r->dp, &req, PUT_TIMEOUT_MS, err, sizeof(err));
	uint64_t dt = mono_ns() - t0;
	r->st.puts++;
	r->len = 0;
	if (dt > r->st.put_ns_max)
		r->st.put_ns_max = dt;
	if (rep == NULL) {
		fprintf(stderr, "heraldd: relay put: %s; restarting the relays\n", err);
		r->st.put_errors++;
		r->failed = true;
		return;
	}
	json_int_t unknown = json_integer_value(json_object_get(rep, "unknown"));
	json_decref(rep);
	if (unknown > 0) {
		r->st.unknown += (uint64_t)unknown;
		r->failed = true; /* a copy vanished (a restarted dataplane): activate them again */
	}
}

static void entry_add(struct link *l, const struct herald_entry *e)
{
	struct herald_relay *r = l->r;
	struct herald_ctx_entry *x = herald_ctx_find(&r->ctxs, e->context);
	uint32_t body = 2u + e->key_len + e->value_len, need = HERALD_CTL_PUT_ENTRY_HDR + body;

	if (x == NULL || x->primary != l->node)
		return; /* stopped meanwhile */
	if (r->len != 0 && (r->queue != x->epoch || r->len + need > HERALD_CTL_PUT_MAX))
		herald_relay_flush(r);
	uint8_t *p = r->buf + r->len;
	p[0] = (uint8_t)(e->context >> 24);
	p[1] = (uint8_t)(e->context >> 16);
	p[2] = (uint8_t)(e->context >> 8);
	p[3] = (uint8_t)e->context;
	p[4] = (uint8_t)(body >> 8);
	p[5] = (uint8_t)body;
	p[6] = (uint8_t)(e->key_len >> 8);
	p[7] = (uint8_t)e->key_len;
	memcpy(p + 8, e->key, e->key_len);
	memcpy(p + 8 + e->key_len, e->value, e->value_len);
	r->len += need;
	r->queue = (uint16_t)x->epoch;
	r->st.entries++;
}

static void on_entry(void *user, const struct herald_entry *e)
{
	entry_add(user, e);
}

static void on_snapshot_end(void *user, uint32_t context, uint64_t seq)
{
	struct link *l = user;
	struct herald_ctx_entry *x = herald_ctx_find(&l->r->ctxs, context);
	(void)seq;
	if (x != NULL) {
		x->confirmed = true;
		l->r->st.snapshots++;
	}
}

static void on_gap(void *user, uint32_t context, uint64_t expected, uint64_t next)
{
	struct link *l = user;
	struct herald_ctx_entry *x = herald_ctx_find(&l->r->ctxs, context);
	(void)expected;
	(void)next;
	if (x != NULL)
		x->confirmed = false; /* auto_resync sends the fresh snapshot */
	l->r->st.gaps++;
}

/* The primary fell silent, or ended the session: ask again (a SUBSCRIBE until it answers). */
static void on_lost(void *user, uint32_t context)
{
	struct link *l = user;
	struct herald_ctx_entry *x = herald_ctx_find(&l->r->ctxs, context);
	if (x != NULL)
		x->confirmed = false;
	l->r->st.timeouts++;
	herald_resync(l->c, context);
}

static struct link *link_get(struct herald_relay *r, uint32_t node, const struct sockaddr_in *from,
			     unsigned *index)
{
	unsigned free_slot = r->nlinks;
	for (unsigned i = 0; i < r->nlinks; i++) {
		struct link *l = r->links[i];
		if (l == NULL) {
			free_slot = i < free_slot ? i : free_slot;
			continue;
		}
		if (l->node == node && l->addr.sin_addr.s_addr == from->sin_addr.s_addr &&
		    l->addr.sin_port == from->sin_port && l->nsubs < HERALD_RELAY_SUBS_PER_CLIENT) {
			*index = i;
			return l;
		}
	}
	if (free_slot == r->nlinks) {
		struct link **nl = realloc(r->links, (r->nlinks + 1) * sizeof(*nl));
		if (nl == NULL)
			return NULL;
		r->links = nl;
		r->links[r->nlinks++] = NULL;
	}
	char a[INET_ADDRSTRLEN], node_s[INET_ADDRSTRLEN + 8];
	inet_ntop(AF_INET, &from->sin_addr, a, sizeof(a));
	snprintf(node_s, sizeof(node_s), "%s:%u", a, ntohs(from->sin_port));
	struct link *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	*l = (struct link){.r = r, .node = node, .addr = *from};
	struct herald_client_opts o = {.node = node_s, .max_subscriptions = HERALD_RELAY_SUBS_PER_CLIENT,
				       .auto_resync = 1, .rcvbuf = RELAY_RCVBUF};
	struct herald_callbacks cb = {.on_snapshot = on_entry, .on_snapshot_end = on_snapshot_end,
				      .on_delta = on_entry, .on_gap = on_gap, .on_timeout = on_lost,
				      .on_closed = on_lost, .user = l};
	if ((l->c = herald_client_open(&o, &cb)) == NULL) {
		free(l);
		return NULL;
	}
	r->links[free_slot] = l;
	*index = free_slot;
	return l;
}

struct herald_relay *herald_relay_new(struct herald_dpctl *dp, uint32_t max_contexts)
{
	struct herald_relay *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->dp = dp;
	if (herald_ctx_table_init(&r->ctxs, max_contexts) < 0 || (r->buf = malloc(HERALD_CTL_PUT_MAX)) == NULL) {
		herald_relay_free(r);
		return NULL;
	}
	return r;
}

void herald_relay_free(struct herald_relay *r)
{
	if (r == NULL)
		return;
	for (unsigned i = 0; i < r->nlinks; i++)
		if (r->links[i] != NULL) {
			herald_client_close(r->links[i]->c);
			free(r->links[i]);
		}
	free(r->links);
	free(r->buf);
	herald_ctx_table_free(&r->ctxs);
	free(r);
}

bool herald_relay_has(const struct herald_relay *r, uint32_t context, uint32_t *from)
{
	struct herald_ctx_entry *x = herald_ctx_find((struct herald_ctx_table *)&r->ctxs, context);
	if (x != NULL && from != NULL)
		*from = x->primary;
	return x != NULL;
}

int herald_relay_start(struct herald_relay *r, uint32_t context, uint32_t node,
		       const struct sockaddr_in *from, uint16_t local_queue)
{
	bool added;
	unsigned li;
	if (herald_ctx_find(&r->ctxs, context) != NULL)
		return -EEXIST;
	struct link *l = link_get(r, node, from, &li);
	if (l == NULL)
		return errno ? -errno : -ENOMEM;
	struct herald_ctx_entry *x = herald_ctx_add(&r->ctxs, context, &added);
	if (x == NULL)
		return -ENOSPC;
	int rc = herald_subscribe(l->c, context);
	if (rc < 0 && rc != -EAGAIN) {
		herald_ctx_del(&r->ctxs, x);
		return rc;
	}
	*x = (struct herald_ctx_entry){.context = context, .primary = node, .replica = li,
				       .epoch = local_queue, .slot = x->slot};
	l->nsubs++;
	r->st.started++;
	return 0;
}

void herald_relay_stop(struct herald_relay *r, uint32_t context)
{
	struct herald_ctx_entry *x = herald_ctx_find(&r->ctxs, context);
	if (x == NULL)
		return;
	herald_relay_flush(r);
	struct link *l = r->links[x->replica];
	herald_unsubscribe(l->c, context);
	herald_ctx_del(&r->ctxs, x);
	r->st.stopped++;
	if (--l->nsubs == 0) {
		herald_client_close(l->c);
		r->links[x->replica] = NULL;
		free(l);
	}
}

uint32_t herald_relay_list(const struct herald_relay *r, uint32_t *out, uint32_t *nodes, uint32_t max)
{
	uint32_t n = 0;
	HERALD_CTX_FOREACH(&r->ctxs, x) {
		if (n == max)
			break;
		nodes[n] = x->primary;
		out[n++] = x->context;
	}
	return n;
}

unsigned herald_relay_pollfds(const struct herald_relay *r, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->nlinks && n < max; i++)
		if (r->links[i] != NULL)
			p[n++] = (struct pollfd){.fd = herald_client_fd(r->links[i]->c), .events = POLLIN};
	return n;
}

void herald_relay_service(struct herald_relay *r)
{
	for (unsigned i = 0; i < r->nlinks; i++)
		if (r->links[i] != NULL)
			herald_client_poll(r->links[i]->c, 0);
	herald_relay_flush(r);
	if (!r->failed)
		return;
	r->failed = false;
	uint32_t n = 0, *ids = calloc(r->ctxs.n + 1, sizeof(*ids));
	if (ids == NULL)
		return;
	HERALD_CTX_FOREACH(&r->ctxs, x)
		ids[n++] = x->context;
	for (uint32_t i = 0; i < n; i++)
		herald_relay_stop(r, ids[i]);
	free(ids);
}

void herald_relay_stats(const struct herald_relay *r, struct herald_relay_stats *out)
{
	*out = r->st;
	out->active = r->ctxs.n;
	out->synced = 0;
	HERALD_CTX_FOREACH(&r->ctxs, x)
		out->synced += x->confirmed;
}
