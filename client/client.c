/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libherald: one connected UDP socket, a fixed table of subscriptions, and
 * the sequence/heartbeat bookkeeping of protocol v1. All memory is taken in
 * herald_client_open(); the receive path only copies into it.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <herald/client.h>
#include <herald/proto.h>

/* Datagrams taken per recvmmsg() call. */
#define RX_BURST 32
/*
 * Large enough that a datagram longer than any valid frame is seen as
 * truncated (MSG_TRUNC) instead of being silently cut to a valid length.
 */
#define RX_BUF_SIZE 2048
#define TX_FRAME_MAX (sizeof(struct herald_hdr) + HERALD_FRAG_BODY_MAX)
/*
 * One poll() call drains at most this many datagrams, so a flood on the
 * socket cannot starve heartbeats and timeouts.
 */
#define RX_MAX_PER_POLL 1024

#define NS_PER_MS 1000000ull

enum sub_state {
	SUB_FREE = 0,
	SUB_PENDING,  /* SUBSCRIBE sent, no snapshot frame yet */
	SUB_SNAPSHOT, /* snapshot entries arriving */
	SUB_LIVE,     /* snapshot complete, deltas flowing */
	SUB_IDLE,     /* refused or closed by the node; waits for herald_subscribe() */
	SUB_ROUTE,    /* seeds: no subscription, only the route herald_publish() uses */
};

/* A message being rebuilt from its fragments. One per subscription bounds it. */
struct reasm {
	bool active;
	uint8_t type;
	uint16_t flags;
	uint16_t msg_len;
	uint64_t seq;
	unsigned have;  /* bitmask of fragment indices received */
	unsigned need;  /* fragment count of the message */
	uint8_t buf[HERALD_MSG_MAX];
};

_Static_assert(HERALD_FRAGS_MAX <= 32, "fragment bitmask fits an unsigned");

/* A message an ordered subscription received ahead of a hole. */
struct held {
	bool used;
	uint8_t type;
	uint16_t flags;
	uint16_t msg_len;
	uint64_t seq;
};

/* Longest wait between two NAKs for the same hole, in NAK timeouts. */
#define NAK_BACKOFF_MAX 4

struct sub {
	enum sub_state state;
	uint32_t context;
	uint32_t session;      /* 0 until the node names it */
	uint64_t expected;     /* next sequence number wanted */
	bool resync;           /* the pending snapshot replaces known state */
	bool repair;           /* a gap since the last snapshot started: resync due */
	unsigned backoff;      /* resyncs in a row that saw a gap again */
	uint64_t next_resync_ns;
	bool timed_out;
	uint64_t last_rx_ns;
	uint64_t last_hb_tx_ns;
	uint64_t last_sub_tx_ns;
	struct reasm ra;
	/*
	 * Ordered (`none`) subscriptions: messages past a hole wait in a ring
	 * indexed by seq % reorder_slots while the hole is NAKed; nak_hi is the
	 * highest sequence asked for so far.
	 */
	bool ordered;
	struct held *held;
	uint8_t *held_buf; /* reorder_slots x HERALD_MSG_MAX */
	unsigned nheld;
	uint64_t nak_hi;
	uint64_t nak_due_ns;
	unsigned nak_tries;
	/* Credit mode: sequence up to which credits went back, snapshot entries since. */
	uint64_t acked_seq;
	uint64_t snap_unpaid;
	bool topped_up;        /* an idle heartbeat gave the extra batch of the pause at topup_seq */
	uint64_t topup_seq;
	bool resubscribe;      /* the next resync must be a SUBSCRIBE: the node may have cut the session */
	/*
	 * Seeds: the context's route. While locating, HELLOs go to random seeds
	 * (the next one at hello_due_ns) and a REDIRECT is accepted; located
	 * means dst is the node to talk to. attempt counts the HELLOs and
	 * failed SUBSCRIBE rounds since the last complete snapshot (the backoff
	 * exponent). A route that failed is remembered so a REDIRECT from a
	 * director that has not noticed yet cannot send the client back.
	 */
	bool locating;
	bool located;
	struct herald_route route;
	uint64_t located_ns;
	uint64_t hello_due_ns;
	unsigned attempt;
	int last_seed;
	unsigned sub_tries;
	bool failed;
	struct sockaddr_in failed_node;
	uint32_t failed_epoch;
	/*
	 * The address token of the last REDIRECT for this context (bound to the
	 * socket's address and port and the context, not to a node): sent in
	 * every SUBSCRIBE until token_until_ns, the client's estimate of its
	 * expiry. token_wait: a node refused a SUBSCRIBE for want of a token
	 * (ERROR TOKEN_REQUIRED); a HELLO to it is out, SUBSCRIBE waits for the
	 * REDIRECT (retried at hello_due_ns).
	 */
	bool has_token;
	uint32_t token_expiry;
	uint64_t token;
	uint64_t token_until_ns;
	bool token_wait;
};

struct herald_client {
	int fd;
	/* Seeds: the socket is not connected; every send names its destination. */
	bool seeded;
	unsigned nseeds;
	struct sockaddr_in seeds[HERALD_CLIENT_SEEDS_MAX];
	uint64_t (*rand)(void *arg);
	void *rand_arg;
	uint64_t rng;
	uint64_t backoff_min_ns;
	uint64_t backoff_max_ns;
	uint64_t refresh_ns;
	struct herald_callbacks cb;
	uint64_t (*now_ns)(void *arg);
	void *clock_arg;
	uint64_t hb_ns;
	uint64_t timeout_ns;
	uint16_t heartbeat_ms;
	uint32_t budget;
	bool credits;
	bool manual_ack;
	uint32_t ack_batch;
	unsigned reorder_slots;
	uint64_t nak_timeout_ns;
	bool auto_resync;
	uint64_t pub_seq;
	bool signed_publish; /* opts.publish_key given: every PUBLISH datagram carries a MAC */
	uint8_t publish_key[HERALD_PUBLISH_KEY_LEN];
	unsigned nsubs;
	struct sub *subs;
	struct herald_client_stats st;
	uint8_t (*rx_buf)[RX_BUF_SIZE];
	struct mmsghdr rx_msgs[RX_BURST];
	struct iovec rx_iov[RX_BURST];
	struct sockaddr_in rx_addr[RX_BURST];
	uint8_t tx_buf[HERALD_FRAGS_MAX][TX_FRAME_MAX];
	struct mmsghdr tx_msgs[HERALD_FRAGS_MAX];
	struct iovec tx_iov[HERALD_FRAGS_MAX];
};

static uint64_t monotonic_ns(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now(const struct herald_client *c)
{
	return c->now_ns(c->clock_arg);
}

/* splitmix64: the default generator, one state per client. */
static uint64_t default_rand(void *arg)
{
	uint64_t *x = arg, z;

	z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd(struct herald_client *c)
{
	return c->rand(c->rand_arg);
}

/* Uniform in [0, n]. */
static uint64_t rnd_upto(struct herald_client *c, uint64_t n)
{
	return n == UINT64_MAX ? rnd(c) : rnd(c) % (n + 1);
}

/* Backoff window of attempt @p k: min(cap, base * 2^k). */
static uint64_t backoff_window(const struct herald_client *c, unsigned k)
{
	if (k >= 32 || (c->backoff_min_ns << k) >> k != c->backoff_min_ns)
		return c->backoff_max_ns;
	uint64_t w = c->backoff_min_ns << k;

	return w < c->backoff_max_ns ? w : c->backoff_max_ns;
}

/* Wait after attempt @p k: between half and all of its window ("equal jitter"). */
static uint64_t backoff_wait(struct herald_client *c, unsigned k)
{
	uint64_t w = backoff_window(c, k);

	return w - w / 2 + rnd_upto(c, w / 2);
}

static bool addr_eq(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

int herald_addr_parse(const char *s, uint16_t default_port, struct sockaddr_in *out)
{
	char host[INET_ADDRSTRLEN];
	const char *colon;
	unsigned long port = default_port;
	size_t n;

	if (s == NULL)
		return -EINVAL;
	colon = strchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon) {
		char *end;

		if (colon[1] < '0' || colon[1] > '9')
			return -EINVAL;
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || port > UINT16_MAX)
			return -EINVAL;
	}
	if (port == 0 && default_port != 0)
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static struct sub *sub_find(struct herald_client *c, uint32_t context)
{
	for (unsigned i = 0; i < c->nsubs; i++)
		if (c->subs[i].state != SUB_FREE && c->subs[i].context == context)
			return &c->subs[i];
	return NULL;
}

/* Send tx_msgs[0, n); with seeds, to @p dst (NULL: the socket is connected). */
static int send_frames_to(struct herald_client *c, unsigned n, const struct sockaddr_in *dst)
{
	unsigned done = 0;

	for (unsigned i = 0; i < n; i++) {
		c->tx_msgs[i].msg_hdr.msg_name = c->seeded ? (void *)dst : NULL;
		c->tx_msgs[i].msg_hdr.msg_namelen = c->seeded ? sizeof(*dst) : 0;
	}

	while (done < n) {
		int r = sendmmsg(c->fd, c->tx_msgs + done, n - done, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				/* A stale ICMP error from an earlier datagram; this one was not sent. */
				c->st.icmp_errors++;
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < r; i++) {
			c->st.tx_frames++;
			c->st.tx_bytes += c->tx_iov[done + (unsigned)i].iov_len;
		}
		done += (unsigned)r;
	}
	return 0;
}

/* Send one message without a body or with a fixed small body to @p dst. */
static int send_small_to(struct herald_client *c, const struct sockaddr_in *dst,
			 const struct herald_hdr_fields *h, const void *body, uint16_t len)
{
	herald_hdr_encode(c->tx_buf[0], h, 0, len, len);
	if (len)
		memcpy(c->tx_buf[0] + sizeof(struct herald_hdr), body, len);
	c->tx_iov[0].iov_len = sizeof(struct herald_hdr) + len;
	return send_frames_to(c, 1, dst);
}

/*
 * Send one message of subscription @p s to its node. With seeds and no
 * route yet there is nowhere to send it: the SUBSCRIBE that follows the
 * REDIRECT covers whatever it was.
 */
static int send_small(struct herald_client *c, const struct sub *s,
		      const struct herald_hdr_fields *h, const void *body, uint16_t len)
{
	if (c->seeded && !s->located)
		return 0;
	return send_small_to(c, &s->route.node, h, body, len);
}

static int send_subscribe(struct herald_client *c, struct sub *s)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_SUBSCRIBE,
		.context = s->context,
	};
	/* Without a token only the first 8 bytes go out. */
	struct {
		struct herald_subscribe_body b;
		struct herald_subscribe_token t;
	} __attribute__((packed)) body = {
		.b = {
			.heartbeat_ms = htons(c->heartbeat_ms),
			.budget = htonl(c->budget),
		},
	};
	uint16_t flags = c->credits ? HERALD_SUB_F_CREDITS : 0;
	uint16_t len = sizeof(body.b);

	_Static_assert(sizeof(body) == HERALD_SUBSCRIBE_TOKEN_BODY_LEN, "SUBSCRIBE with a token");
	s->last_sub_tx_ns = now(c);
	if (s->has_token && s->last_sub_tx_ns < s->token_until_ns) {
		flags |= HERALD_SUB_F_TOKEN;
		body.t.expiry = htonl(s->token_expiry);
		body.t.token = htobe64(s->token);
		len = sizeof(body);
	}
	body.b.flags = htons(flags);
	/* A SUBSCRIBE refills the node's credit window: count from here. */
	s->acked_seq = s->expected - 1;
	s->snap_unpaid = 0;
	return send_small(c, s, &h, &body, len);
}

static int send_heartbeat(struct herald_client *c, struct sub *s)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_HEARTBEAT,
		.context = s->context,
		.session = s->session,
		.seq = s->expected - 1,
	};

	s->last_hb_tx_ns = now(c);
	c->st.heartbeats_tx++;
	return send_small(c, s, &h, NULL, 0);
}

static int send_resync(struct herald_client *c, struct sub *s)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_RESYNC,
		.context = s->context,
		.session = s->session,
		.seq = s->expected - 1,
	};

	/* Not a SUBSCRIBE, but the SUBSCRIBE retransmit timer covers it: if it is lost, that follows. */
	s->last_sub_tx_ns = now(c);
	return send_small(c, s, &h, NULL, 0);
}

static void held_clear(struct herald_client *c, struct sub *s)
{
	if (s->held != NULL && s->nheld != 0)
		for (unsigned i = 0; i < c->reorder_slots; i++)
			s->held[i].used = false;
	s->nheld = 0;
	s->nak_hi = 0;
	s->nak_tries = 0;
}

/*
 * Ask for a fresh snapshot of a subscription that already has state: RESYNC
 * on a live session, SUBSCRIBE when there is none or when @p subscribe (the
 * node may have cut the session).
 */
static int resync(struct herald_client *c, struct sub *s, bool subscribe)
{
	bool live = s->session != 0 && (s->state == SUB_LIVE || s->state == SUB_SNAPSHOT);

	s->state = SUB_PENDING;
	s->resync = true;
	s->repair = false;
	s->ra.active = false;
	held_clear(c, s);
	/*
	 * A snapshot that cannot get through (a receive buffer smaller than the
	 * state, a lossy link) must not turn into a resync storm: each resync
	 * that sees a gap again waits twice as long, up to 64 heartbeats.
	 */
	s->next_resync_ns = now(c) + (c->hb_ns << s->backoff);
	if (s->backoff < 6)
		s->backoff++;
	c->st.resyncs++;
	subscribe = subscribe || s->resubscribe;
	s->resubscribe = false;
	return live && !subscribe ? send_resync(c, s) : send_subscribe(c, s);
}

/* Ordered subscriptions repair themselves: a lost range always ends in a snapshot. */
static bool self_repairing(const struct herald_client *c, const struct sub *s)
{
	return c->auto_resync || s->ordered;
}

static void resync_if_due(struct herald_client *c, struct sub *s, uint64_t t)
{
	if (s->repair && s->state != SUB_PENDING && s->state != SUB_IDLE &&
	    t >= s->next_resync_ns)
		resync(c, s, false);
}

static void sub_reset(struct herald_client *c, struct sub *s, uint32_t context, uint64_t t)
{
	/* A token names its context: a slot taken for another one starts without. */
	if (s->context != context || s->state == SUB_FREE)
		s->has_token = false;
	s->token_wait = false;
	/*
	 * The reorder ring is kept by the slot: a message held for the previous
	 * session (or context) must not stay marked, or it would be taken for a
	 * duplicate of, and delivered instead of, the new session's message with
	 * the same sequence number.
	 */
	held_clear(c, s);
	s->state = SUB_PENDING;
	s->context = context;
	s->session = 0;
	/* A new session numbers its messages from 1. */
	s->expected = 1;
	s->resync = false;
	s->repair = false;
	s->backoff = 0;
	s->next_resync_ns = 0;
	s->timed_out = false;
	s->last_rx_ns = t;
	s->last_hb_tx_ns = t;
	s->last_sub_tx_ns = t;
	s->ra.active = false;
	s->acked_seq = 0;
	s->snap_unpaid = 0;
	s->topped_up = false;
	s->resubscribe = false;
}

/* A slot taken for another context starts without a route. */
static void route_clear(struct sub *s)
{
	s->locating = false;
	s->located = false;
	memset(&s->route, 0, sizeof(s->route));
	s->located_ns = 0;
	s->hello_due_ns = 0;
	s->attempt = 0;
	s->last_seed = -1;
	s->sub_tries = 0;
	s->failed = false;
}

/* A seed drawn at random; never the one just tried when there is another. */
static unsigned pick_seed(struct herald_client *c, const struct sub *s)
{
	if (c->nseeds == 1)
		return 0;
	if (s->last_seed < 0)
		return (unsigned)(rnd(c) % c->nseeds);
	return (unsigned)(((uint64_t)s->last_seed + 1 + rnd(c) % (c->nseeds - 1)) % c->nseeds);
}

/* HELLO for @p s to a random seed; the next one is due after the backoff of this attempt. */
static int send_hello(struct herald_client *c, struct sub *s, uint64_t t)
{
	static const struct herald_hello_body zero;
	struct herald_hdr_fields h = {.type = HERALD_T_HELLO, .context = s->context};
	unsigned seed = pick_seed(c, s);

	if (s->last_seed >= 0)
		c->st.hello_retries++;
	s->last_seed = (int)seed;
	s->hello_due_ns = t + backoff_wait(c, s->attempt);
	if (s->attempt < 64)
		s->attempt++;
	c->st.hellos++;
	return send_small_to(c, &c->seeds[seed], &h, &zero, sizeof(zero));
}

/*
 * Start looking for @p s's node: the first HELLO after @p wait_ns (0 = now).
 * A route being refreshed stays usable until the answer comes.
 */
static void locate_start(struct herald_client *c, struct sub *s, uint64_t t, uint64_t wait_ns)
{
	s->locating = true;
	s->last_seed = -1;
	s->hello_due_ns = t + wait_ns;
	if (wait_ns == 0)
		send_hello(c, s, t);
}

/*
 * Seeds: the node of @p s failed it (silence, or SUBSCRIBEs unanswered).
 * Forget the session and the route, remember which node failed, and look
 * again after a random part of the current backoff window, so the clients
 * of a dead node spread their HELLOs instead of arriving together.
 */
static void reconnect(struct herald_client *c, struct sub *s, uint64_t t)
{
	c->st.reconnects++;
	s->failed = true;
	s->failed_node = s->route.node;
	s->failed_epoch = s->route.epoch;
	s->located = false;
	held_clear(c, s);
	s->state = SUB_PENDING;
	s->session = 0;
	s->expected = 1;
	s->resync = false;
	s->repair = false;
	s->ra.active = false;
	s->acked_seq = 0;
	s->snap_unpaid = 0;
	s->topped_up = false;
	s->resubscribe = false;
	s->sub_tries = 0;
	locate_start(c, s, t, 1 + rnd_upto(c, backoff_window(c, s->attempt)));
}

/* CLOCK_TAI seconds, the clock token expiries are in. */
static uint32_t tai_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)ts.tv_sec;
}

/*
 * Keep the token of a REDIRECT. Its expiry is in the issuer's CLOCK_TAI;
 * the client's may disagree (a host without the TAI offset set is 37 s
 * off), so the lifetime is estimated once, kept on the client's own clock,
 * and bounded: a token the node refuses anyway is fetched again.
 */
static void token_take(struct herald_client *c, struct sub *s, const struct herald_redirect_body *b)
{
	int64_t life = (int64_t)ntohl(b->expiry) - (int64_t)tai_s() - 1;

	if (life < 1)
		life = 1;
	if (life > 86400)
		life = 86400;
	s->has_token = true;
	s->token_expiry = ntohl(b->expiry);
	s->token = be64toh(b->token);
	s->token_until_ns = now(c) + (uint64_t)life * 1000000000ull;
	s->token_wait = false;
	c->st.tokens++;
}

/*
 * ERROR TOKEN_REQUIRED: the node wants proof of the client's address. HELLO
 * the node that refused (its responder, XDP's or the dataplane's own,
 * answers with a token; with seeds a REDIRECT elsewhere is followed), then
 * SUBSCRIBE again with the token. Retried with the HELLO backoff; with
 * seeds, the retries go to the seeds.
 */
static int token_fetch(struct herald_client *c, struct sub *s, uint64_t t)
{
	static const struct herald_hello_body zero;
	struct herald_hdr_fields h = {.type = HERALD_T_HELLO, .context = s->context};

	s->has_token = false;
	s->token_wait = true;
	s->hello_due_ns = t + backoff_wait(c, s->attempt);
	if (s->attempt < 64)
		s->attempt++;
	if (c->seeded) {
		s->locating = true; /* a REDIRECT is welcome; the next HELLO goes to a seed */
		s->last_seed = -1;
	}
	c->st.hellos++;
	return send_small(c, s, &h, &zero, sizeof(zero));
}

/*
 * A REDIRECT, from a seed or (after TOKEN_REQUIRED) from the node itself:
 * keep its token, and with seeds follow it if @p s asked and it does not
 * lead back to a failed node. A client tied to one node keeps talking to
 * that node (tokens are not bound to a node).
 */
static int on_redirect(struct herald_client *c, struct sub *s, const struct herald_frame *f)
{
	struct herald_redirect_body b;
	struct sockaddr_in node = {.sin_family = AF_INET};

	memcpy(&b, f->body, sizeof(b));
	node.sin_addr.s_addr = b.node_ip;
	node.sin_port = b.port;
	if (!c->seeded) {
		if (s == NULL || !s->token_wait) {
			c->st.redirects_ignored++;
			return 0;
		}
		token_take(c, s, &b);
		if (s->state == SUB_PENDING)
			send_subscribe(c, s);
		return 0;
	}
	if (s == NULL || !s->locating || b.node_ip == 0 || b.port == 0 ||
	    (s->failed && addr_eq(&node, &s->failed_node) && ntohl(b.epoch) <= s->failed_epoch)) {
		c->st.redirects_ignored++;
		return 0;
	}
	c->st.redirects++;
	token_take(c, s, &b);
	s->locating = false;
	s->located = true;
	s->located_ns = now(c);
	s->route = (struct herald_route){
		.node = node,
		.queue = ntohs(b.queue),
		.epoch = ntohl(b.epoch),
		.expiry = ntohl(b.expiry),
		.token = be64toh(b.token),
	};
	/* A publish route has no snapshot to end its backoff: an answer does. */
	if (s->state == SUB_ROUTE)
		s->attempt = 0;
	if (s->state == SUB_PENDING) {
		s->sub_tries = 0;
		s->last_rx_ns = s->located_ns;
		send_subscribe(c, s);
	}
	return 0;
}

/* The reorder ring of a subscription slot is taken once and kept for its next users. */
static int held_alloc(struct herald_client *c, struct sub *s)
{
	if (s->held != NULL)
		return 0;
	s->held = calloc(c->reorder_slots, sizeof(*s->held));
	/* Pages of unused slots are never touched, so a quiet ring costs little. */
	s->held_buf = calloc(c->reorder_slots, HERALD_MSG_MAX);
	if (s->held == NULL || s->held_buf == NULL) {
		free(s->held);
		free(s->held_buf);
		s->held = NULL;
		s->held_buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

int herald_subscribe_ex(struct herald_client *c, uint32_t context, unsigned flags)
{
	struct sub *s = sub_find(c, context);
	bool ordered = (flags & HERALD_SUB_ORDERED) != 0;

	if (flags & ~(unsigned)HERALD_SUB_ORDERED)
		return -EINVAL;
	if (s != NULL) {
		if (ordered && held_alloc(c, s) < 0)
			return -ENOMEM;
		s->ordered = ordered;
		s->last_rx_ns = now(c);
		s->timed_out = false;
		if ((s->state == SUB_IDLE && s->session == 0) || s->state == SUB_ROUTE) {
			sub_reset(c, s, context, now(c));
			if (c->seeded && !s->located) {
				if (!s->locating)
					locate_start(c, s, now(c), 0);
				return 0;
			}
			return send_subscribe(c, s);
		}
		return resync(c, s, true);
	}
	for (unsigned i = 0; i < c->nsubs; i++) {
		if (c->subs[i].state == SUB_FREE) {
			s = &c->subs[i];
			break;
		}
	}
	if (s == NULL)
		return -ENOSPC;
	if (ordered && held_alloc(c, s) < 0)
		return -ENOMEM;
	sub_reset(c, s, context, now(c));
	route_clear(s);
	s->ordered = ordered;
	if (c->seeded) {
		locate_start(c, s, now(c), 0);
		return 0;
	}
	return send_subscribe(c, s);
}

int herald_subscribe(struct herald_client *c, uint32_t context)
{
	struct sub *s = sub_find(c, context);

	return herald_subscribe_ex(c, context, s != NULL && s->ordered ? HERALD_SUB_ORDERED : 0);
}

int herald_resync(struct herald_client *c, uint32_t context)
{
	struct sub *s = sub_find(c, context);

	if (s == NULL || s->state == SUB_ROUTE)
		return -ENOENT;
	s->last_rx_ns = now(c);
	s->timed_out = false;
	if (s->state == SUB_IDLE && s->session == 0) {
		sub_reset(c, s, context, now(c));
		return send_subscribe(c, s);
	}
	/* An explicit request is not throttled, but it does not reset the backoff either. */
	return resync(c, s, false);
}

static int send_ack(struct herald_client *c, struct sub *s, uint32_t credits)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_ACK,
		.context = s->context,
		.session = s->session,
		.seq = s->expected - 1,
	};
	struct herald_ack_body b = {.credits = htonl(credits), .reserved = 0};

	c->st.acks++;
	c->st.credits_returned += credits;
	return send_small(c, s, &h, &b, sizeof(b));
}

int herald_ack(struct herald_client *c, uint32_t context, uint32_t credits)
{
	struct sub *s = sub_find(c, context);

	if (s == NULL)
		return -ENOENT;
	if (credits == 0)
		return -EINVAL;
	if (s->session == 0)
		return -ENOTCONN;
	return send_ack(c, s, credits);
}

/*
 * Credit mode: every message the node numbered since the last ACK consumed
 * a credit, except snapshot entries, so the sequence says what to return
 * even for messages lost on the way.
 */
static bool auto_ack(const struct herald_client *c, const struct sub *s)
{
	return c->credits && !c->manual_ack && s->session != 0;
}

static uint64_t credits_owed(const struct sub *s)
{
	uint64_t consumed;

	if (s->expected - 1 <= s->acked_seq)
		return 0;
	consumed = s->expected - 1 - s->acked_seq;
	return consumed > s->snap_unpaid ? consumed - s->snap_unpaid : 0;
}

/* Everything consumed so far is paid for: send what is owed, if anything. */
static void credits_return(struct herald_client *c, struct sub *s)
{
	uint64_t due = credits_owed(s);

	if (s->expected - 1 > s->acked_seq)
		s->acked_seq = s->expected - 1;
	s->snap_unpaid = 0;
	if (due != 0)
		send_ack(c, s, due > UINT32_MAX ? UINT32_MAX : (uint32_t)due);
}

static void ack_if_due(struct herald_client *c, struct sub *s)
{
	if (auto_ack(c, s) && credits_owed(s) >= c->ack_batch)
		credits_return(c, s);
}

/*
 * Credit mode, a node heartbeat: the node has sent nothing for an interval.
 * It is owed the credits of a partial batch. When nothing is owed and the
 * heartbeat shows everything received, the node may be stalled on a window
 * that lost ACKs shrank to nothing: give it one extra batch, at most once per
 * pause (a pause is named by its last sequence number). Without this a lost
 * ACK, or a few, would stall the session for good.
 */
static void credits_idle(struct herald_client *c, struct sub *s, uint64_t hb_seq)
{
	if (!auto_ack(c, s))
		return;
	if (credits_owed(s) != 0) {
		credits_return(c, s);
		return;
	}
	credits_return(c, s); /* snapshot entries only: nothing to send, start counting afresh */
	if (s->state == SUB_LIVE && hb_seq + 1 == s->expected &&
	    !(s->topped_up && s->topup_seq == hb_seq)) {
		s->topped_up = true;
		s->topup_seq = hb_seq;
		send_ack(c, s, c->ack_batch);
	}
}

int herald_unsubscribe(struct herald_client *c, uint32_t context)
{
	struct sub *s = sub_find(c, context);
	int ret = 0;

	if (s == NULL)
		return -ENOENT;
	if (s->session != 0) {
		struct herald_hdr_fields h = {
			.type = HERALD_T_BYE,
			.context = context,
			.session = s->session,
			.seq = s->expected - 1,
		};

		ret = send_small(c, s, &h, NULL, 0);
	}
	s->state = SUB_FREE;
	s->ra.active = false;
	return ret;
}

int herald_publish(struct herald_client *c, uint32_t context, const void *key,
		   size_t key_len, const void *value, size_t value_len)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_PUBLISH,
		.context = context,
		.session = 0,
		.seq = c->pub_seq + 1,
	};
	const struct sockaddr_in *dst = NULL;
	struct timespec ts;
	unsigned nfrag;
	int ret;

	if (key == NULL || key_len == 0 || key_len > HERALD_KEY_MAX ||
	    value_len > HERALD_VALUE_MAX || (value_len > 0 && value == NULL))
		return -EINVAL;
	if (c->seeded) {
		/* The context's node: its subscription's route, or a publish-only one. */
		struct sub *s = sub_find(c, context);

		if (s == NULL) {
			for (unsigned i = 0; i < c->nsubs && s == NULL; i++)
				if (c->subs[i].state == SUB_FREE)
					s = &c->subs[i];
			if (s == NULL)
				return -ENOSPC;
			sub_reset(c, s, context, now(c));
			route_clear(s);
			s->state = SUB_ROUTE;
			s->ordered = false;
			locate_start(c, s, now(c), 0);
		}
		if (!s->located)
			return -EAGAIN;
		dst = &s->route.node;
	}
	/* Signed, seq is a stamp the node checks against replays (proto.h). */
	if (c->signed_publish && clock_gettime(CLOCK_REALTIME, &ts) == 0)
		h.seq = herald_publish_stamp_next(c->pub_seq, (uint64_t)ts.tv_sec * 1000000u +
							      (uint64_t)ts.tv_nsec / 1000u);
	nfrag = herald_frag_count(herald_entry_msg_len(key_len, value_len));
	for (unsigned i = 0; i < nfrag; i++) {
		int n = herald_entry_encode(c->tx_buf[i], TX_FRAME_MAX, &h, key, key_len, value,
					    value_len, i);
		if (n < 0)
			return n;
		if (c->signed_publish)
			herald_publish_sign(c->tx_buf[i], (size_t)n, c->publish_key);
		c->tx_iov[i].iov_len = (size_t)n;
	}
	ret = send_frames_to(c, nfrag, dst);
	if (ret < 0)
		return ret;
	c->pub_seq = h.seq;
	c->st.publishes++;
	return 0;
}

static void gap(struct herald_client *c, struct sub *s, uint64_t next)
{
	uint64_t expected = s->expected;

	/* Whatever an ordered subscription held past the hole cannot be delivered in order now. */
	held_clear(c, s);
	s->expected = next;
	/* A snapshot on its way supersedes whatever was lost before it. */
	if (s->state == SUB_PENDING && s->resync)
		return;
	c->st.gaps++;
	c->st.lost += next - expected;
	if (c->cb.on_gap)
		c->cb.on_gap(c->cb.user, s->context, expected, next);
	/* The callback may have unsubscribed or resynced by itself. */
	if (s->state == SUB_FREE || (s->state == SUB_PENDING && s->resync))
		return;
	s->repair = true;
	if (self_repairing(c, s))
		resync_if_due(c, s, now(c));
}

static int send_nak(struct herald_client *c, struct sub *s, uint64_t first, uint64_t last)
{
	struct herald_hdr_fields h = {
		.type = HERALD_T_NAK,
		.context = s->context,
		.session = s->session,
		.seq = s->expected - 1,
	};
	struct herald_nak_body b = {.first = htobe64(first), .last = htobe64(last)};

	c->st.naks++;
	return send_small(c, s, &h, &b, sizeof(b));
}

static bool held_has(const struct herald_client *c, const struct sub *s, uint64_t seq)
{
	const struct held *h = &s->held[seq % c->reorder_slots];

	return h->used && h->seq == seq;
}

/*
 * Messages up to @p last are known to exist: NAK the part not asked for yet.
 * The first NAK of a hole arms the retry timer.
 */
static void nak_upto(struct herald_client *c, struct sub *s, uint64_t last)
{
	uint64_t first = s->nak_hi >= s->expected ? s->nak_hi + 1 : s->expected;

	if (first > last)
		return;
	if (s->nak_hi < s->expected) {
		s->nak_tries = 0;
		s->nak_due_ns = now(c) + c->nak_timeout_ns;
	}
	/*
	 * Skip what is already held (a heartbeat can name messages that are
	 * here). Nothing is held at or past expected + reorder_slots, so the scan
	 * stops there: a heartbeat's seq comes off the wire and may be anything
	 * up to UINT64_MAX, and walking to it one number at a time would hang the
	 * client (and q = end + 1 would wrap at UINT64_MAX).
	 */
	uint64_t limit = s->expected + c->reorder_slots;

	for (uint64_t q = first; q <= last;) {
		uint64_t end;

		while (q <= last && q < limit && held_has(c, s, q))
			q++;
		if (q > last)
			break;
		end = q;
		while (end < last && end + 1 < limit && !held_has(c, s, end + 1))
			end++;
		if (end + 1 >= limit)
			end = last;
		send_nak(c, s, q, end);
		if (end == last)
			break;
		q = end + 1;
	}
	s->nak_hi = last;
}

/* A hole is still open when its NAK times out: ask again, or give up. */
static void nak_retry(struct herald_client *c, struct sub *s, uint64_t t)
{
	uint64_t hi = s->nak_hi;

	if (++s->nak_tries >= HERALD_CLIENT_NAK_TRIES) {
		s->ra.active = false;
		gap(c, s, hi + 1);
		return;
	}
	c->st.nak_retries++;
	unsigned tries = s->nak_tries;
	s->nak_hi = s->expected - 1; /* re-ask for every missing run */
	nak_upto(c, s, hi);
	s->nak_tries = tries;
	s->nak_due_ns = t + (c->nak_timeout_ns << (s->nak_tries < NAK_BACKOFF_MAX ? s->nak_tries
									 : NAK_BACKOFF_MAX));
}

static int dispatch(struct herald_client *c, struct sub *s, uint8_t type, uint16_t flags,
		    uint64_t seq, const uint8_t *body, uint16_t msg_len);

/* An ordered subscription got a message past a hole: keep it and NAK the hole. */
static int hold(struct herald_client *c, struct sub *s, uint8_t type, uint16_t flags,
		uint64_t seq, const uint8_t *body, uint16_t msg_len)
{
	unsigned idx = (unsigned)(seq % c->reorder_slots);
	struct held *h = &s->held[idx];

	if (seq - s->expected >= c->reorder_slots) {
		/* The hole is older than the buffer can bridge: report it, take a snapshot. */
		c->st.reorder_overflows++;
		s->ra.active = false;
		gap(c, s, seq + 1);
		return 1;
	}
	if (held_has(c, s, seq)) {
		c->st.stale++;
		return 0;
	}
	*h = (struct held){.used = true, .type = type, .flags = flags, .msg_len = msg_len, .seq = seq};
	memcpy(s->held_buf + (size_t)idx * HERALD_MSG_MAX, body, msg_len);
	s->nheld++;
	c->st.held++;
	nak_upto(c, s, seq - 1);
	return 0;
}

/* Deliver what waited behind a hole that has just been filled. */
static int release_held(struct herald_client *c, struct sub *s)
{
	uint32_t context = s->context;
	int n = 0;

	while (s->nheld != 0 && s->state != SUB_FREE && s->context == context) {
		unsigned idx = (unsigned)(s->expected % c->reorder_slots);
		struct held *h = &s->held[idx];

		if (!h->used || h->seq != s->expected)
			break;
		h->used = false;
		s->nheld--;
		s->expected++;
		n += dispatch(c, s, h->type, h->flags, h->seq,
			      s->held_buf + (size_t)idx * HERALD_MSG_MAX, h->msg_len);
	}
	return n;
}

/*
 * A whole entry message (SNAPSHOT or DELTA) is here: check its sequence,
 * then dispatch. Returns the number of callbacks counted as dispatches.
 */
static int deliver(struct herald_client *c, struct sub *s, uint8_t type, uint16_t flags,
		   uint64_t seq, const uint8_t *body, uint16_t msg_len)
{
	uint32_t context = s->context;
	int n = 0;

	if (type == HERALD_T_SNAPSHOT && s->state == SUB_PENDING && s->resync) {
		/* The resync snapshot starts wherever the session's numbering is now. */
		s->expected = seq;
		s->resync = false;
		/*
		 * Numbering that went back is a new session (the SUBSCRIBE of a
		 * resync reached a node that had cut the old one, which can reuse
		 * its id): its window is fresh, so credits count from its start,
		 * not from where the old session's ACKs stopped, or no ACK would be
		 * sent until the new numbering caught up with the old.
		 */
		if (seq - 1 < s->acked_seq) {
			s->acked_seq = seq - 1;
			s->snap_unpaid = 0;
			s->topped_up = false;
		}
	}
	if (seq < s->expected ||
	    (s->ordered && type == HERALD_T_DELTA && s->state == SUB_PENDING && s->resync)) {
		/* Deltas ahead of an ordered subscription's snapshot are superseded by it. */
		c->st.stale++;
		return 0;
	}
	if (seq > s->expected) {
		/* Snapshot entries are not in the node's history: only a live view NAKs. */
		if (s->ordered && s->state == SUB_LIVE)
			return hold(c, s, type, flags, seq, body, msg_len);
		gap(c, s, seq);
		n++;
		if (s->state == SUB_FREE || s->context != context)
			return n;
	}
	s->expected = seq + 1;
	if (s->ordered && s->nak_hi >= seq)
		c->st.repaired++;
	n += dispatch(c, s, type, flags, seq, body, msg_len);
	if (s->ordered)
		n += release_held(c, s);
	return n;
}

/* Hand one in-order entry message to the application. */
static int dispatch(struct herald_client *c, struct sub *s, uint8_t type, uint16_t flags,
		    uint64_t seq, const uint8_t *body, uint16_t msg_len)
{
	struct herald_entry e = {.context = s->context, .seq = seq};
	int n = 0;

	if (msg_len > 0) {
		uint16_t key_len = (uint16_t)(body[0] << 8 | body[1]);

		/* Only the first fragment's key was checked by the codec. */
		if (key_len == 0 || key_len > HERALD_KEY_MAX || 2u + key_len > msg_len ||
		    msg_len - 2u - key_len > HERALD_VALUE_MAX) {
			c->st.drops[HERALD_DROP_BAD_KEY]++;
			return n;
		}
		e.key = body + 2;
		e.key_len = key_len;
		e.value = body + 2 + key_len;
		e.value_len = (uint16_t)(msg_len - 2 - key_len);
	}

	if (type == HERALD_T_DELTA) {
		c->st.deltas++;
		if (c->cb.on_delta)
			c->cb.on_delta(c->cb.user, &e);
		return n + 1;
	}

	/* The node does not charge snapshot entries against a credit window. */
	s->snap_unpaid++;
	/* State moves before the callbacks, which may unsubscribe or resync. */
	if (flags & HERALD_F_SNAP_END) {
		if (s->state != SUB_PENDING || !s->resync)
			s->state = SUB_LIVE;
		/* A snapshot that arrived whole ends the backoff, and the reconnect backoff too. */
		if (!s->repair)
			s->backoff = 0;
		s->attempt = 0;
		s->failed = false;
		c->st.snapshots++;
	} else if (s->state == SUB_PENDING && !s->resync) {
		s->state = SUB_SNAPSHOT;
	}
	if (msg_len > 0) {
		c->st.snapshot_entries++;
		if (c->cb.on_snapshot)
			c->cb.on_snapshot(c->cb.user, &e);
		n++;
	}
	if (flags & HERALD_F_SNAP_END) {
		if (c->cb.on_snapshot_end)
			c->cb.on_snapshot_end(c->cb.user, e.context, seq);
		n++;
	}
	return n;
}

/* Place one fragment; returns dispatches if it completed its message. */
static int reassemble(struct herald_client *c, struct sub *s, const struct herald_frame *f)
{
	struct reasm *ra = &s->ra;
	unsigned idx = f->frag_off / HERALD_FRAG_BODY_MAX;

	if (ra->active && ra->seq != f->seq) {
		/* An ordered subscription takes a retransmission over a newer partial message. */
		if (f->seq < ra->seq && !s->ordered) {
			c->st.stale++;
			return 0;
		}
		/* Fragments of the older message were lost; its sequence will show as a gap. */
		c->st.reassembly_dropped++;
		ra->active = false;
	}
	if (!ra->active) {
		ra->active = true;
		ra->type = f->type;
		ra->flags = 0;
		ra->msg_len = f->msg_len;
		ra->seq = f->seq;
		ra->have = 0;
		ra->need = herald_frag_count(f->msg_len);
	} else if (ra->type != f->type || ra->msg_len != f->msg_len) {
		c->st.drops[HERALD_DROP_REASSEMBLY_MISMATCH]++;
		return 0;
	}
	if (ra->have & (1u << idx)) {
		c->st.stale++;
		return 0;
	}
	memcpy(ra->buf + f->frag_off, f->body, f->length);
	ra->flags |= f->flags;
	ra->have |= 1u << idx;
	if (ra->have != (1u << ra->need) - 1)
		return 0;
	ra->active = false;
	return deliver(c, s, ra->type, ra->flags, ra->seq, ra->buf, ra->msg_len);
}

static uint16_t error_code(const struct herald_frame *f)
{
	return (uint16_t)(f->body[0] << 8 | f->body[1]);
}

static int dispatch_error(struct herald_client *c, const struct herald_frame *f)
{
	const char *text = (const char *)f->body + sizeof(struct herald_error_body);
	size_t len = f->length - sizeof(struct herald_error_body);

	c->st.errors++;
	if (c->cb.on_error)
		c->cb.on_error(c->cb.user, f->context, error_code(f), text, len);
	return 1;
}

static bool from_seed(const struct herald_client *c, const struct sockaddr_in *src)
{
	for (unsigned i = 0; i < c->nseeds; i++)
		if (addr_eq(src, &c->seeds[i]))
			return true;
	return false;
}

/* @p src is the datagram's source (seeds only; NULL on a connected socket). */
static int on_frame(struct herald_client *c, const struct herald_frame *f,
		    const struct sockaddr_in *src)
{
	struct sub *s = sub_find(c, f->context);

	if (c->seeded) {
		/*
		 * REDIRECTs come from the seeds (the userspace responder, or XDP
		 * answering at a node's address); everything else from the node
		 * the context's route names: a node the client left (a stale
		 * primary that came back) is not heard.
		 */
		if (f->type == HERALD_T_REDIRECT) {
			/* ... or from the node that asked for a token. */
			if (!from_seed(c, src) &&
			    !(s != NULL && s->token_wait && s->located && addr_eq(src, &s->route.node))) {
				c->st.wrong_source++;
				return 0;
			}
			return on_redirect(c, s, f);
		}
		if (s != NULL && (!s->located || !addr_eq(src, &s->route.node))) {
			c->st.wrong_source++;
			return 0;
		}
	}
	if (f->type == HERALD_T_REDIRECT)
		return on_redirect(c, s, f); /* a client tied to one node: the token it asked for */
	if (s != NULL && s->state == SUB_ROUTE) {
		/* A publish route: only refusals matter. */
		if (f->type == HERALD_T_ERROR)
			return dispatch_error(c, f);
		c->st.unknown_context++;
		return 0;
	}
	if (s == NULL) {
		/* A publisher holds no subscription but must still hear refusals. */
		if (f->type == HERALD_T_ERROR)
			return dispatch_error(c, f);
		c->st.unknown_context++;
		return 0;
	}

	switch (f->type) {
	case HERALD_T_SNAPSHOT:
	case HERALD_T_DELTA:
		break;
	case HERALD_T_HEARTBEAT:
	case HERALD_T_ERROR:
	case HERALD_T_BYE:
		break;
	default:
		c->st.drops[HERALD_DROP_UNEXPECTED_TYPE]++;
		return 0;
	}

	if (f->session != s->session) {
		/*
		 * The node names the session in its first snapshot frame; a
		 * different id later means the node replaced the session, and its
		 * numbering restarts. ERROR may come before any session exists.
		 */
		if (f->type == HERALD_T_SNAPSHOT && s->state == SUB_PENDING) {
			if (s->session != 0) {
				/* A new session: numbering and credit window start again. */
				s->expected = 1;
				s->resync = false;
				s->acked_seq = 0;
				s->snap_unpaid = 0;
				s->topped_up = false;
			}
			s->session = f->session;
			/*
			 * Name the new session at once: a node keeps a session only once
			 * its client has named it (docs/protocol.md §4.1), and sends it
			 * no heartbeat before.
			 */
			send_heartbeat(c, s);
		} else if (f->type != HERALD_T_ERROR) {
			c->st.drops[HERALD_DROP_UNKNOWN_SESSION]++;
			return 0;
		}
	}

	s->last_rx_ns = now(c);
	s->timed_out = false;

	switch (f->type) {
	case HERALD_T_HEARTBEAT:
		c->st.heartbeats_rx++;
		/* The node's heartbeat names the last message it sent: tail loss shows here. */
		if (f->seq >= s->expected && s->state == SUB_LIVE && s->ordered) {
			nak_upto(c, s, f->seq);
		} else if (f->seq >= s->expected && s->state != SUB_PENDING) {
			s->ra.active = false;
			gap(c, s, f->seq + 1);
			return 1;
		}
		credits_idle(c, s, f->seq);
		return 0;
	case HERALD_T_ERROR:
		if (error_code(f) == HERALD_ERR_HISTORY_LOST) {
			/*
			 * A NAK asked for messages the history no longer has, or the
			 * session fell beyond it and was cut: the GAP notice, then a
			 * snapshot through SUBSCRIBE, which works in both cases.
			 */
			int n = 0;

			c->st.history_lost++;
			if (s->state != SUB_IDLE && !(s->state == SUB_PENDING && s->resync)) {
				/*
				 * Lost: up to what the NAK asked for, or, for a cut
				 * session, up to the newest message the node names in
				 * seq. A node that names none (seq 0) leaves the extent
				 * unknown: the GAP notice then has next == expected.
				 */
				uint64_t next = s->nak_hi >= s->expected ? s->nak_hi + 1 : s->expected;

				if (f->seq >= next)
					next = f->seq + 1;
				s->ra.active = false;
				s->resubscribe = true;
				gap(c, s, next);
				n++; /* the GAP notice; none when a snapshot was already on its way */
			}
			return dispatch_error(c, f) + n;
		}
		if (error_code(f) == HERALD_ERR_MOVED && c->seeded) {
			/* The node was drained: look up where the context lives now. */
			reconnect(c, s, now(c));
			return dispatch_error(c, f);
		}
		if (error_code(f) == HERALD_ERR_MOVED) {
			/* Tied to one node: nothing to reconnect to; the session is gone. */
			s->state = SUB_IDLE;
			s->session = 0;
			return dispatch_error(c, f);
		}
		if (error_code(f) == HERALD_ERR_TOKEN_REQUIRED && s->state == SUB_PENDING) {
			/* Not for the application: the client proves its address and goes on. */
			c->st.token_refusals++;
			token_fetch(c, s, now(c));
			return 0;
		}
		if (error_code(f) == HERALD_ERR_UNKNOWN_SESSION && c->auto_resync) {
			sub_reset(c, s, s->context, now(c));
			send_subscribe(c, s);
			c->st.resyncs++;
		} else if (s->state == SUB_PENDING || error_code(f) == HERALD_ERR_UNKNOWN_SESSION) {
			/* Retransmitting a refused SUBSCRIBE would only be refused again. */
			s->state = SUB_IDLE;
			s->session = 0;
		}
		return dispatch_error(c, f);
	case HERALD_T_BYE:
		c->st.closed++;
		s->state = SUB_IDLE;
		s->session = 0;
		s->ra.active = false;
		if (c->cb.on_closed)
			c->cb.on_closed(c->cb.user, s->context);
		return 1;
	default:
		break;
	}

	if (f->seq < s->expected && !(f->type == HERALD_T_SNAPSHOT && s->resync)) {
		c->st.stale++;
		return 0;
	}
	int n;
	if (f->msg_len > f->length) {
		n = reassemble(c, s, f);
	} else {
		if (s->ra.active && f->seq > s->ra.seq) {
			/* A newer whole message: the partial one will not be completed. */
			c->st.reassembly_dropped++;
			s->ra.active = false;
		}
		n = deliver(c, s, f->type, f->flags, f->seq, f->body, f->msg_len);
	}
	if (s->state != SUB_FREE)
		ack_if_due(c, s);
	return n;
}

static int timers(struct herald_client *c)
{
	uint64_t t = now(c);
	int n = 0;

	for (unsigned i = 0; i < c->nsubs; i++) {
		struct sub *s = &c->subs[i];

		if (s->state == SUB_FREE || s->state == SUB_IDLE)
			continue;
		if (!c->seeded && s->token_wait && t >= s->hello_due_ns)
			token_fetch(c, s, t); /* the node's HELLO or REDIRECT was lost: ask again */
		if (c->seeded) {
			if (s->locating && t >= s->hello_due_ns)
				send_hello(c, s, t);
			if (s->state == SUB_ROUTE) {
				/* A publisher hears nothing from its node: ask again now and then. */
				if (!s->locating && t - s->located_ns >= c->refresh_ns)
					locate_start(c, s, t, 0);
				continue;
			}
		}
		if (!s->timed_out && t - s->last_rx_ns >= c->timeout_ns) {
			s->timed_out = true;
			c->st.timeouts++;
			n++;
			if (c->cb.on_timeout)
				c->cb.on_timeout(c->cb.user, s->context);
			/* The callback may have dropped or replaced the subscription. */
			if (s->state == SUB_FREE || s->state == SUB_IDLE)
				continue;
			/* Seeds: the node fell silent; find where the context lives now. */
			if (c->seeded && s->located) {
				reconnect(c, s, t);
				continue;
			}
		}
		if (self_repairing(c, s))
			resync_if_due(c, s, t);
		if (s->ordered && s->state == SUB_LIVE && s->nak_hi >= s->expected &&
		    t >= s->nak_due_ns) {
			uint64_t before = c->st.gaps;

			nak_retry(c, s, t);
			n += (int)(c->st.gaps - before);
		}
		if (s->state == SUB_PENDING) {
			if ((c->seeded && !s->located) || s->token_wait)
				continue; /* the SUBSCRIBE follows the REDIRECT */
			if (t - s->last_sub_tx_ns >= c->hb_ns) {
				if (c->seeded && ++s->sub_tries >= HERALD_CLIENT_SUBSCRIBE_TRIES) {
					/* The redirected node does not answer: look again. */
					reconnect(c, s, t);
					continue;
				}
				c->st.subscribe_retries++;
				send_subscribe(c, s);
			}
		} else if (t - s->last_hb_tx_ns >= c->hb_ns) {
			send_heartbeat(c, s);
		}
	}
	return n;
}

int herald_client_next_timer_ms(const struct herald_client *c)
{
	uint64_t t = now(c), next = UINT64_MAX;

	for (unsigned i = 0; i < c->nsubs; i++) {
		const struct sub *s = &c->subs[i];
		uint64_t due;

		if (s->state == SUB_FREE || s->state == SUB_IDLE)
			continue;
		if (!c->seeded && s->token_wait && s->hello_due_ns < next)
			next = s->hello_due_ns;
		if (c->seeded) {
			if (s->locating && s->hello_due_ns < next)
				next = s->hello_due_ns;
			if (s->state == SUB_ROUTE) {
				if (!s->locating && s->located_ns + c->refresh_ns < next)
					next = s->located_ns + c->refresh_ns;
				continue;
			}
		}
		if (!(s->state == SUB_PENDING && ((c->seeded && !s->located) || s->token_wait))) {
			due = (s->state == SUB_PENDING ? s->last_sub_tx_ns : s->last_hb_tx_ns) + c->hb_ns;
			if (due < next)
				next = due;
		}
		if (!s->timed_out && s->last_rx_ns + c->timeout_ns < next)
			next = s->last_rx_ns + c->timeout_ns;
		if (self_repairing(c, s) && s->repair && s->state != SUB_PENDING &&
		    s->next_resync_ns < next)
			next = s->next_resync_ns;
		if (s->ordered && s->state == SUB_LIVE && s->nak_hi >= s->expected &&
		    s->nak_due_ns < next)
			next = s->nak_due_ns;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= t)
		return 0;
	/* Round up so a wake-up is never a millisecond early and spins. */
	next = (next - t + NS_PER_MS - 1) / NS_PER_MS;
	return next > INT_MAX ? INT_MAX : (int)next;
}

static int rx_burst(struct herald_client *c, int *dispatched)
{
	int r;

	for (unsigned i = 0; i < RX_BURST; i++) {
		c->rx_iov[i].iov_len = RX_BUF_SIZE;
		c->rx_msgs[i].msg_hdr.msg_flags = 0;
		c->rx_msgs[i].msg_hdr.msg_namelen = c->seeded ? sizeof(c->rx_addr[i]) : 0;
	}
	r = recvmmsg(c->fd, c->rx_msgs, RX_BURST, MSG_DONTWAIT, NULL);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		if (errno == ECONNREFUSED) {
			/* The node's port is closed; timeouts will tell the application. */
			c->st.icmp_errors++;
			return 0;
		}
		return -errno;
	}
	for (int i = 0; i < r; i++) {
		const struct mmsghdr *m = &c->rx_msgs[i];
		struct herald_frame f;
		enum herald_drop why;

		c->st.rx_frames++;
		c->st.rx_bytes += m->msg_len;
		if (m->msg_hdr.msg_flags & MSG_TRUNC) {
			c->st.drops[HERALD_DROP_OVERSIZED]++;
			continue;
		}
		why = herald_frame_decode(c->rx_buf[i], m->msg_len, &f);
		if (why != HERALD_DROP_NONE) {
			c->st.drops[why]++;
			continue;
		}
		*dispatched += on_frame(c, &f, c->seeded ? &c->rx_addr[i] : NULL);
	}
	return r;
}

int herald_client_poll(struct herald_client *c, int timeout_ms)
{
	int dispatched = 0, total = 0;

	if (timeout_ms != 0) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int next = herald_client_next_timer_ms(c);

		if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
			timeout_ms = next;
		if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
			return -errno;
	}
	while (total < RX_MAX_PER_POLL) {
		int r = rx_burst(c, &dispatched);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		total += r;
		if (r < RX_BURST)
			break;
	}
	dispatched += timers(c);
	return dispatched;
}

int herald_client_fd(const struct herald_client *c)
{
	return c->fd;
}

void herald_client_stats(const struct herald_client *c, struct herald_client_stats *out)
{
	*out = c->st;
}

int herald_client_synced(const struct herald_client *c, uint32_t context)
{
	const struct sub *s = sub_find((struct herald_client *)c, context);

	if (s == NULL)
		return -ENOENT;
	return s->state == SUB_LIVE && !s->repair && !s->timed_out;
}

int herald_client_last_seq(const struct herald_client *c, uint32_t context, uint64_t *seq)
{
	const struct sub *s = sub_find((struct herald_client *)c, context);

	if (s == NULL)
		return -ENOENT;
	*seq = s->expected - 1;
	return 0;
}

int herald_client_route(const struct herald_client *c, uint32_t context, struct herald_route *out)
{
	const struct sub *s = sub_find((struct herald_client *)c, context);

	if (s == NULL)
		return -ENOENT;
	if (c->seeded && !s->located)
		return -EAGAIN;
	*out = s->route;
	return 0;
}

/* "A[:P],A[:P],..." into c->seeds. */
static int parse_seeds(struct herald_client *c, const char *list, uint16_t port)
{
	const char *p = list;

	c->nseeds = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char one[32];

		if (n == 0 || n >= sizeof(one) || c->nseeds == HERALD_CLIENT_SEEDS_MAX)
			return -EINVAL;
		memcpy(one, p, n);
		one[n] = '\0';
		if (herald_addr_parse(one, port, &c->seeds[c->nseeds]) < 0)
			return -EINVAL;
		c->nseeds++;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

static void set_rcvbuf(int fd, int bytes)
{
	/* SO_RCVBUFFORCE passes rmem_max when privileged; otherwise take what is allowed. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

struct herald_client *herald_client_open(const struct herald_client_opts *opts,
					 const struct herald_callbacks *cb)
{
	struct sockaddr_in node, local;
	struct herald_client *c;
	unsigned nsubs;
	int err;

	if (opts == NULL || (opts->node == NULL) == (opts->seeds == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	if ((opts->node != NULL &&
	     herald_addr_parse(opts->node, opts->port ? opts->port : HERALD_UDP_PORT_BASE,
			       &node) < 0) ||
	    (opts->bind != NULL && herald_addr_parse(opts->bind, 0, &local) < 0)) {
		errno = EINVAL;
		return NULL;
	}

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (opts->seeds != NULL) {
		if (parse_seeds(c, opts->seeds, opts->port ? opts->port : HERALD_UDP_PORT_BASE) < 0) {
			free(c);
			errno = EINVAL;
			return NULL;
		}
		c->seeded = true;
	}
	nsubs = opts->max_subscriptions ? opts->max_subscriptions : HERALD_CLIENT_SUBS_DEFAULT;
	c->subs = calloc(nsubs, sizeof(*c->subs));
	if (c->subs == NULL) {
		err = ENOMEM;
		goto out_free_client;
	}
	c->rx_buf = calloc(RX_BURST, sizeof(*c->rx_buf));
	if (c->rx_buf == NULL) {
		err = ENOMEM;
		goto out_free_subs;
	}
	c->nsubs = nsubs;
	if (cb != NULL)
		c->cb = *cb;
	c->now_ns = opts->now_ns ? opts->now_ns : monotonic_ns;
	c->clock_arg = opts->clock_arg;
	c->heartbeat_ms = opts->heartbeat_ms ? opts->heartbeat_ms : HERALD_HEARTBEAT_MS_DEFAULT;
	c->hb_ns = c->heartbeat_ms * NS_PER_MS;
	c->timeout_ns = c->hb_ns * (opts->timeout_beats ? opts->timeout_beats
							: HERALD_CLIENT_TIMEOUT_BEATS_DEFAULT);
	c->budget = opts->budget;
	c->credits = opts->credits != 0;
	c->manual_ack = opts->manual_ack != 0;
	c->ack_batch = opts->ack_batch ? opts->ack_batch : (c->budget / 4 ? c->budget / 4 : 1);
	c->reorder_slots = opts->reorder_slots ? opts->reorder_slots : HERALD_CLIENT_REORDER_DEFAULT;
	c->nak_timeout_ns = (opts->nak_timeout_ms ? opts->nak_timeout_ms
						  : (c->heartbeat_ms / 4 ? c->heartbeat_ms / 4 : 1)) *
			    NS_PER_MS;
	c->auto_resync = opts->auto_resync != 0;
	if (opts->publish_key != NULL) {
		memcpy(c->publish_key, opts->publish_key, HERALD_PUBLISH_KEY_LEN);
		c->signed_publish = true;
	}
	c->backoff_min_ns = (opts->reconnect_min_ms ? opts->reconnect_min_ms : c->heartbeat_ms) *
			    NS_PER_MS;
	c->backoff_max_ns = opts->reconnect_max_ms
				    ? opts->reconnect_max_ms * NS_PER_MS
				    : c->backoff_min_ns * HERALD_CLIENT_BACKOFF_CAP_DEFAULT;
	if (c->backoff_max_ns < c->backoff_min_ns)
		c->backoff_max_ns = c->backoff_min_ns;
	c->refresh_ns = (opts->route_refresh_ms ? opts->route_refresh_ms : 1000) * NS_PER_MS;
	if (opts->rand != NULL) {
		c->rand = opts->rand;
		c->rand_arg = opts->rand_arg;
	} else {
		/* Clients started together must not draw the same seeds. */
		if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng))
			c->rng = monotonic_ns(NULL) ^ (uint64_t)(uintptr_t)c;
		c->rand = default_rand;
		c->rand_arg = &c->rng;
	}

	for (unsigned i = 0; i < RX_BURST; i++) {
		c->rx_iov[i].iov_base = c->rx_buf[i];
		c->rx_msgs[i].msg_hdr.msg_iov = &c->rx_iov[i];
		c->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		c->rx_msgs[i].msg_hdr.msg_name = c->seeded ? &c->rx_addr[i] : NULL;
	}
	for (unsigned i = 0; i < HERALD_FRAGS_MAX; i++) {
		c->tx_iov[i].iov_base = c->tx_buf[i];
		c->tx_msgs[i].msg_hdr.msg_iov = &c->tx_iov[i];
		c->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}

	c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = errno;
		goto out_free_rx;
	}
	if (opts->rcvbuf > 0)
		set_rcvbuf(c->fd, opts->rcvbuf);
	if (opts->bind != NULL && bind(c->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		err = errno;
		goto out_close_socket;
	}
	if (!c->seeded && connect(c->fd, (struct sockaddr *)&node, sizeof(node)) < 0) {
		err = errno;
		goto out_close_socket;
	}
	return c;

out_close_socket:
	close(c->fd);
out_free_rx:
	free(c->rx_buf);
out_free_subs:
	free(c->subs);
out_free_client:
	free(c);
	errno = err;
	return NULL;
}

void herald_client_close(struct herald_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->rx_buf);
	for (unsigned i = 0; i < c->nsubs; i++) {
		free(c->subs[i].held);
		free(c->subs[i].held_buf);
	}
	free(c->subs);
	explicit_bzero(c->publish_key, sizeof(c->publish_key));
	free(c);
}
