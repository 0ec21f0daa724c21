/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of libherald (client/client.c) against a fake node: a UDP socket
 * on 127.0.0.1 in the test process that speaks protocol v1 through the codec.
 * Time is the injected clock, so heartbeats and timeouts are driven by the
 * test, never by sleeping.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <criterion/criterion.h>

#include <herald/client.h>
#include <herald/proto.h>

#define CTX 42
#define SESSION 7
#define HB_MS 100
#define TIMEOUT_BEATS 5
#define DGRAM_MAX 2048
#define EVENTS_MAX 64

enum ev_kind { EV_SNAPSHOT, EV_SNAPSHOT_END, EV_DELTA, EV_GAP, EV_TIMEOUT, EV_ERROR, EV_CLOSED };

struct event {
	enum ev_kind kind;
	uint32_t context;
	uint64_t seq;
	char key[HERALD_KEY_MAX + 1];
	uint8_t value[HERALD_VALUE_MAX];
	uint16_t value_len;
	uint64_t expected, next;
	uint16_t code;
	char text[HERALD_ERROR_TEXT_MAX + 1];
};

static struct event events[EVENTS_MAX];
static unsigned nevents;
static uint64_t fake_now;
static int node_fd = -1;
static unsigned node_sent;       /* datagrams the fake node sent: the client's rx_frames catches up */
static uint32_t node_session;    /* session id the fake node puts in entry messages */
static struct sockaddr_in node_addr, client_addr;
static struct herald_client *c;

static uint64_t clock_now(void *arg)
{
	(void)arg;
	return fake_now;
}

static struct event *ev_add(enum ev_kind kind, uint32_t context)
{
	cr_assert_lt(nevents, EVENTS_MAX, "too many events");
	struct event *e = &events[nevents++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->context = context;
	return e;
}

static void ev_entry(enum ev_kind kind, const struct herald_entry *en)
{
	struct event *e = ev_add(kind, en->context);

	e->seq = en->seq;
	memcpy(e->key, en->key, en->key_len);
	memcpy(e->value, en->value, en->value_len);
	e->value_len = en->value_len;
}

static void on_snapshot(void *u, const struct herald_entry *en)
{
	(void)u;
	ev_entry(EV_SNAPSHOT, en);
}

static void on_delta(void *u, const struct herald_entry *en)
{
	(void)u;
	ev_entry(EV_DELTA, en);
}

static void on_snapshot_end(void *u, uint32_t ctx, uint64_t seq)
{
	(void)u;
	ev_add(EV_SNAPSHOT_END, ctx)->seq = seq;
}

static void on_gap(void *u, uint32_t ctx, uint64_t expected, uint64_t next)
{
	struct event *e = ev_add(EV_GAP, ctx);

	(void)u;
	e->expected = expected;
	e->next = next;
}

static void on_timeout(void *u, uint32_t ctx)
{
	(void)u;
	ev_add(EV_TIMEOUT, ctx);
}

static void on_error(void *u, uint32_t ctx, uint16_t code, const char *text, size_t len)
{
	struct event *e = ev_add(EV_ERROR, ctx);

	(void)u;
	e->code = code;
	memcpy(e->text, text, len);
}

static void on_closed(void *u, uint32_t ctx)
{
	(void)u;
	ev_add(EV_CLOSED, ctx);
}

static const struct herald_callbacks callbacks = {
	.on_snapshot = on_snapshot,
	.on_snapshot_end = on_snapshot_end,
	.on_delta = on_delta,
	.on_gap = on_gap,
	.on_timeout = on_timeout,
	.on_error = on_error,
	.on_closed = on_closed,
};

/* Open the client on the fake node with @p o (node, clock and unset timings filled in). */
static void open_client_opts(struct herald_client_opts o)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(node_addr.sin_port));
	o.node = addr;
	o.now_ns = clock_now;
	if (o.heartbeat_ms == 0)
		o.heartbeat_ms = HB_MS;
	if (o.timeout_beats == 0)
		o.timeout_beats = TIMEOUT_BEATS;
	c = herald_client_open(&o, &callbacks);
	cr_assert_not_null(c, "herald_client_open: %s", strerror(errno));
}

static void open_client(int auto_resync)
{
	open_client_opts((struct herald_client_opts){.auto_resync = auto_resync});
}

/* Replace the suite's client with one opened with @p o. */
static void reopen(struct herald_client_opts o)
{
	herald_client_close(c);
	open_client_opts(o);
}

static void fake_node_up(void)
{
	struct timeval tv = {.tv_sec = 2};
	socklen_t len = sizeof(node_addr);

	nevents = 0;
	node_sent = 0;
	node_session = SESSION;
	fake_now = 1000000000ull;
	node_fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(node_fd, 0);
	memset(&node_addr, 0, sizeof(node_addr));
	node_addr.sin_family = AF_INET;
	node_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(node_fd, (struct sockaddr *)&node_addr, sizeof(node_addr)), 0);
	cr_assert_eq(getsockname(node_fd, (struct sockaddr *)&node_addr, &len), 0);
	/* A client that never sends must fail the test, not hang it. */
	setsockopt(node_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	open_client(0);
}

static void fake_node_down(void)
{
	herald_client_close(c);
	c = NULL;
	close(node_fd);
}

/* Receive one datagram from the client and decode it. */
static ssize_t node_recv(uint8_t *buf, struct herald_frame *f)
{
	socklen_t len = sizeof(client_addr);
	ssize_t n = recvfrom(node_fd, buf, DGRAM_MAX, 0, (struct sockaddr *)&client_addr, &len);

	cr_assert_gt(n, 0, "the fake node received nothing: %s", strerror(errno));
	cr_assert_eq(herald_frame_decode(buf, (size_t)n, f), HERALD_DROP_NONE,
		     "client sent a malformed frame");
	return n;
}

static void node_send_raw(const void *buf, size_t len)
{
	cr_assert_eq(sendto(node_fd, buf, len, 0, (struct sockaddr *)&client_addr,
			    sizeof(client_addr)),
		     (ssize_t)len);
	node_sent++;
}

static void node_send_small(uint8_t type, uint32_t session, uint64_t seq, const void *body,
			    uint16_t len)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = {.type = type, .context = CTX, .session = session, .seq = seq};

	herald_hdr_encode(buf, &h, 0, len, len);
	if (len)
		memcpy(buf + sizeof(struct herald_hdr), body, len);
	node_send_raw(buf, sizeof(struct herald_hdr) + len);
}

/* Send an entry message; @p reverse sends its fragments last first. */
static void node_send_entry(uint8_t type, uint16_t flags, uint64_t seq, const char *key,
			    const void *value, size_t vlen, bool reverse)
{
	struct herald_hdr_fields h = {
		.type = type, .flags = flags, .context = CTX, .session = node_session, .seq = seq,
	};
	unsigned nf = herald_frag_count(herald_entry_msg_len(strlen(key), vlen));

	for (unsigned i = 0; i < nf; i++) {
		uint8_t buf[DGRAM_MAX];
		int n = herald_entry_encode(buf, sizeof(buf), &h, key, strlen(key), value, vlen,
					    reverse ? nf - 1 - i : i);

		cr_assert_gt(n, 0);
		node_send_raw(buf, (size_t)n);
	}
}

/* Poll until @p want events were recorded; failing if they never come. */
static void pump_until(unsigned want)
{
	for (int i = 0; i < 100 && nevents < want; i++)
		cr_assert_geq(herald_client_poll(c, 20), 0);
	cr_assert_eq(nevents, want, "expected %u events, got %u", want, nevents);
}

/* Poll until the client has received every datagram the fake node sent. */
static void pump_rx(void)
{
	struct herald_client_stats st;

	for (int i = 0; i < 100; i++) {
		herald_client_stats(c, &st);
		if (st.rx_frames >= node_sent)
			break;
		cr_assert_geq(herald_client_poll(c, 20), 0);
	}
	herald_client_stats(c, &st);
	cr_assert_eq(st.rx_frames, node_sent, "the client received %lu of %u datagrams",
		     (unsigned long)st.rx_frames, node_sent);
}

/*
 * The next frame the client sent that is not a HEARTBEAT (the injected clock
 * makes those due whenever a test moves it far), without waiting: the client
 * sends on loopback synchronously. False when nothing else is queued.
 */
static bool node_poll(uint8_t *buf, struct herald_frame *f)
{
	for (;;) {
		socklen_t len = sizeof(client_addr);
		ssize_t n = recvfrom(node_fd, buf, DGRAM_MAX, MSG_DONTWAIT,
				     (struct sockaddr *)&client_addr, &len);

		if (n < 0) {
			cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "recv: %s", strerror(errno));
			return false;
		}
		cr_assert_eq(herald_frame_decode(buf, (size_t)n, f), HERALD_DROP_NONE,
			     "client sent a malformed frame");
		if (f->type != HERALD_T_HEARTBEAT)
			return true;
	}
}

/* The client sent nothing but heartbeats. */
static void expect_quiet(void)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	cr_assert_not(node_poll(buf, &f), "unexpected frame of type %u from the client", f.type);
}

/* The next non-heartbeat frame has @p type and names this session. */
static void expect_frame(uint8_t type, struct herald_frame *f, uint8_t *buf)
{
	cr_assert(node_poll(buf, f), "the client sent no frame of type %u", type);
	cr_assert_eq(f->type, type, "frame type %u, expected %u", f->type, type);
	cr_assert_eq(f->context, CTX);
}

static void expect_nak(uint64_t first, uint64_t last)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_nak_body b;

	expect_frame(HERALD_T_NAK, &f, buf);
	cr_assert_eq(f.session, node_session);
	cr_assert_eq(f.length, sizeof(b));
	memcpy(&b, f.body, sizeof(b));
	cr_assert_eq(be64toh(b.first), first, "NAK first %lu, expected %lu",
		     (unsigned long)be64toh(b.first), (unsigned long)first);
	cr_assert_eq(be64toh(b.last), last, "NAK last %lu, expected %lu",
		     (unsigned long)be64toh(b.last), (unsigned long)last);
}

/* An ACK returning @p credits, sent after message @p seq. */
static void expect_ack(uint32_t credits, uint64_t seq)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_ack_body b;

	expect_frame(HERALD_T_ACK, &f, buf);
	cr_assert_eq(f.session, node_session);
	cr_assert_eq(f.seq, seq, "ACK after seq %lu, expected %lu", (unsigned long)f.seq,
		     (unsigned long)seq);
	cr_assert_eq(f.length, sizeof(b));
	memcpy(&b, f.body, sizeof(b));
	cr_assert_eq(ntohl(b.credits), credits, "ACK of %u credits, expected %u", ntohl(b.credits),
		     credits);
	cr_assert_eq(b.reserved, 0);
}

/* A DELTA whose value names its sequence number ("v<seq>"). */
static void delta(uint64_t seq)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "v%lu", (unsigned long)seq);

	node_send_entry(HERALD_T_DELTA, 0, seq, "k", v, (size_t)n, false);
}

/* events[i] is the DELTA sent by delta(seq). */
static void assert_delta(unsigned i, uint64_t seq)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "v%lu", (unsigned long)seq);

	cr_assert_lt(i, nevents);
	cr_assert_eq(events[i].kind, EV_DELTA, "event %u is of kind %d, not a delta", i,
		     events[i].kind);
	cr_assert_eq(events[i].seq, seq, "event %u has seq %lu, expected %lu", i,
		     (unsigned long)events[i].seq, (unsigned long)seq);
	cr_assert_eq(events[i].value_len, n);
	cr_assert_eq(memcmp(events[i].value, v, (size_t)n), 0);
}

static void node_heartbeat(uint64_t seq)
{
	node_send_small(HERALD_T_HEARTBEAT, node_session, seq, NULL, 0);
}

static void node_error_seq(uint16_t code, uint64_t seq)
{
	uint8_t body[4] = {(uint8_t)(code >> 8), (uint8_t)code, 0, 0};

	node_send_small(HERALD_T_ERROR, 0, seq, body, sizeof(body));
}

static void node_error(uint16_t code)
{
	node_error_seq(code, 0);
}

static struct herald_client_stats stats(void)
{
	struct herald_client_stats st;

	herald_client_stats(c, &st);
	return st;
}

/* Subscribe with @p flags, check the SUBSCRIBE frame, answer a one-entry snapshot (seq 1). */
static void subscribe_live_ex(unsigned flags)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_subscribe_body sb;

	cr_assert_eq(herald_subscribe_ex(c, CTX, flags), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	cr_assert_eq(f.context, CTX);
	cr_assert_eq(f.session, 0);
	memcpy(&sb, f.body, sizeof(sb));
	cr_assert_eq(ntohs(sb.heartbeat_ms), HB_MS);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(nevents + 2);
	/* The client names its new session at once, so the node keeps it. */
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_HEARTBEAT, "a new session must be confirmed at once");
	cr_assert_eq(f.session, SESSION);
}

static void subscribe_live(void)
{
	subscribe_live_ex(0);
}

TestSuite(client, .init = fake_node_up, .fini = fake_node_down);

Test(client, snapshot_then_deltas_in_order)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_client_stats st;

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	node_send_entry(HERALD_T_SNAPSHOT, 0, 1, "alpha", "one", 3, false);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 2, "beta", "two", 3, false);
	node_send_entry(HERALD_T_DELTA, 0, 3, "alpha", "uno", 3, false);
	node_send_entry(HERALD_T_DELTA, 0, 4, "gamma", "", 0, false);
	pump_until(5);

	cr_assert_eq(events[0].kind, EV_SNAPSHOT);
	cr_assert_str_eq(events[0].key, "alpha");
	cr_assert_eq(memcmp(events[0].value, "one", 3), 0);
	cr_assert_eq(events[0].seq, 1);
	cr_assert_eq(events[1].kind, EV_SNAPSHOT);
	cr_assert_str_eq(events[1].key, "beta");
	cr_assert_eq(events[2].kind, EV_SNAPSHOT_END);
	cr_assert_eq(events[2].context, CTX);
	cr_assert_eq(events[3].kind, EV_DELTA);
	cr_assert_eq(events[3].seq, 3);
	cr_assert_eq(memcmp(events[3].value, "uno", 3), 0);
	cr_assert_eq(events[4].kind, EV_DELTA);
	cr_assert_eq(events[4].value_len, 0);

	uint64_t seq;
	cr_assert_eq(herald_client_last_seq(c, CTX, &seq), 0);
	cr_assert_eq(seq, 4);
	herald_client_stats(c, &st);
	cr_assert_eq(st.snapshot_entries, 2);
	cr_assert_eq(st.snapshots, 1);
	cr_assert_eq(st.deltas, 2);
	cr_assert_eq(st.gaps, 0);
}

Test(client, empty_snapshot)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_hdr_fields h = {
		.type = HERALD_T_SNAPSHOT, .flags = HERALD_F_SNAP_END, .context = CTX,
		.session = SESSION, .seq = 1,
	};

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	node_recv(buf, &f);
	herald_hdr_encode(buf, &h, 0, 0, 0);
	node_send_raw(buf, sizeof(struct herald_hdr));
	pump_until(1);
	cr_assert_eq(events[0].kind, EV_SNAPSHOT_END);
	cr_assert_eq(events[0].seq, 1);
}

Test(client, fragmented_value_reassembled)
{
	uint8_t value[2000];

	for (unsigned i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t)(i * 7 + 3);
	subscribe_live();
	/* Last fragment first: reassembly places fragments by offset, not by arrival. */
	node_send_entry(HERALD_T_DELTA, 0, 2, "big", value, sizeof(value), true);
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_DELTA);
	cr_assert_str_eq(events[2].key, "big");
	cr_assert_eq(events[2].value_len, sizeof(value));
	cr_assert_eq(memcmp(events[2].value, value, sizeof(value)), 0);
}

Test(client, incomplete_message_dropped_for_newer_seq)
{
	uint8_t value[2000] = {0}, buf[DGRAM_MAX];
	struct herald_hdr_fields h = {
		.type = HERALD_T_DELTA, .context = CTX, .session = SESSION, .seq = 2,
	};
	struct herald_client_stats st;
	int n;

	subscribe_live();
	/* Only the first fragment of seq 2 arrives. */
	n = herald_entry_encode(buf, sizeof(buf), &h, "big", 3, value, sizeof(value), 0);
	node_send_raw(buf, (size_t)n);
	node_send_entry(HERALD_T_DELTA, 0, 3, "small", "x", 1, false);
	pump_until(4);
	cr_assert_eq(events[2].kind, EV_GAP);
	cr_assert_eq(events[2].expected, 2);
	cr_assert_eq(events[2].next, 3);
	cr_assert_eq(events[3].kind, EV_DELTA);
	cr_assert_str_eq(events[3].key, "small");
	herald_client_stats(c, &st);
	cr_assert_eq(st.reassembly_dropped, 1);
}

Test(client, gap_detected_and_stale_ignored)
{
	struct herald_client_stats st;

	subscribe_live();
	node_send_entry(HERALD_T_DELTA, 0, 2, "a", "2", 1, false);
	node_send_entry(HERALD_T_DELTA, 0, 4, "a", "4", 1, false);
	node_send_entry(HERALD_T_DELTA, 0, 3, "a", "3", 1, false); /* late: ignored */
	node_send_entry(HERALD_T_DELTA, 0, 5, "a", "5", 1, false);
	pump_until(6);
	cr_assert_eq(events[2].kind, EV_DELTA);
	cr_assert_eq(events[2].seq, 2);
	cr_assert_eq(events[3].kind, EV_GAP);
	cr_assert_eq(events[3].expected, 3);
	cr_assert_eq(events[3].next, 4);
	cr_assert_eq(events[4].kind, EV_DELTA);
	cr_assert_eq(events[4].seq, 4);
	cr_assert_eq(events[5].kind, EV_DELTA);
	cr_assert_eq(events[5].seq, 5);
	herald_client_stats(c, &st);
	cr_assert_eq(st.gaps, 1);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.stale, 1);
}

Test(client, heartbeat_reveals_tail_loss)
{
	subscribe_live();
	node_send_small(HERALD_T_HEARTBEAT, SESSION, 1, NULL, 0); /* in sync: nothing */
	node_send_small(HERALD_T_HEARTBEAT, SESSION, 3, NULL, 0); /* 2 and 3 were lost */
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_GAP);
	cr_assert_eq(events[2].expected, 2);
	cr_assert_eq(events[2].next, 4);
}

Test(client, auto_resync_resubscribes_after_gap)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_client_stats st;

	herald_client_close(c);
	open_client(1);
	subscribe_live();
	node_send_entry(HERALD_T_DELTA, 0, 5, "a", "5", 1, false);
	pump_until(4); /* gap + delta */
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_RESYNC, "a gap on a live session must trigger a RESYNC");
	/* The resync snapshot continues the session's numbering without a gap report. */
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 9, "a", "9", 1, false);
	pump_until(6);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT);
	cr_assert_eq(events[5].kind, EV_SNAPSHOT_END);
	herald_client_stats(c, &st);
	cr_assert_eq(st.gaps, 1);
	cr_assert_eq(st.resyncs, 1);
}

Test(client, heartbeats_sent_and_timeout_with_injected_clock)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_client_stats st;

	subscribe_live();
	fake_now += HB_MS * 1000000ull;
	cr_assert_eq(herald_client_poll(c, 0), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_HEARTBEAT);
	cr_assert_eq(f.session, SESSION);
	cr_assert_eq(f.context, CTX);
	cr_assert_eq(f.seq, 1, "a heartbeat carries the last sequence received");

	/* One nanosecond short of the timeout: silence is still tolerated. */
	fake_now += (TIMEOUT_BEATS - 1) * HB_MS * 1000000ull - 1;
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, 2);
	fake_now += 1;
	cr_assert_eq(herald_client_poll(c, 0), 1);
	cr_assert_eq(nevents, 3);
	cr_assert_eq(events[2].kind, EV_TIMEOUT);
	cr_assert_eq(events[2].context, CTX);
	/* Reported once per silence. */
	fake_now += 10 * HB_MS * 1000000ull;
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, 3);
	herald_client_stats(c, &st);
	cr_assert_eq(st.timeouts, 1);
	cr_assert_geq(st.heartbeats_tx, 1);

	/* Traffic re-arms the timeout. */
	node_send_small(HERALD_T_HEARTBEAT, SESSION, 1, NULL, 0);
	herald_client_poll(c, 1000);
	fake_now += TIMEOUT_BEATS * HB_MS * 1000000ull;
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, 4);
	cr_assert_eq(events[3].kind, EV_TIMEOUT);
}

Test(client, subscribe_retransmitted_until_snapshot)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_client_stats st;

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	node_recv(buf, &f);
	fake_now += HB_MS * 1000000ull;
	herald_client_poll(c, 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	herald_client_stats(c, &st);
	cr_assert_eq(st.subscribe_retries, 1);
}

Test(client, malformed_frames_counted_not_dispatched)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = {
		.type = HERALD_T_DELTA, .context = CTX, .session = SESSION, .seq = 2,
	};
	struct herald_client_stats st;
	int n;

	subscribe_live();
	n = herald_entry_encode(buf, sizeof(buf), &h, "k", 1, "v", 1, 0);
	cr_assert_gt(n, 0);

	node_send_raw(buf, 10); /* truncated */
	buf[0] ^= 0xff;
	node_send_raw(buf, (size_t)n); /* bad magic */
	buf[0] ^= 0xff;
	buf[2] = 9;
	node_send_raw(buf, (size_t)n); /* bad version */
	buf[2] = HERALD_VERSION;
	node_send_raw(buf, (size_t)n - 1); /* length disagrees with the datagram */
	buf[3] = HERALD_T_PUBLISH;
	node_send_raw(buf, (size_t)n); /* decodes, but a node never sends PUBLISH */
	buf[3] = HERALD_T_DELTA;
	buf[13] ^= 0x55;
	node_send_raw(buf, (size_t)n); /* another session's frame */
	buf[13] ^= 0x55;
	/* A valid frame last: once it is dispatched, every frame before it was handled. */
	node_send_raw(buf, (size_t)n);
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_DELTA);
	cr_assert_eq(events[2].seq, 2);

	herald_client_stats(c, &st);
	cr_assert_eq(st.drops[HERALD_DROP_TRUNCATED], 1);
	cr_assert_eq(st.drops[HERALD_DROP_BAD_MAGIC], 1);
	cr_assert_eq(st.drops[HERALD_DROP_BAD_VERSION], 1);
	cr_assert_eq(st.drops[HERALD_DROP_BAD_LENGTH], 1);
	cr_assert_eq(st.drops[HERALD_DROP_UNEXPECTED_TYPE], 1);
	cr_assert_eq(st.drops[HERALD_DROP_UNKNOWN_SESSION], 1);
	cr_assert_eq(st.deltas, 1);
	cr_assert_eq(st.gaps, 0);
}

Test(client, oversized_datagram_dropped)
{
	uint8_t big[DGRAM_MAX + 100];
	struct herald_client_stats st;

	subscribe_live();
	memset(big, 0, sizeof(big));
	node_send_raw(big, sizeof(big));
	node_send_entry(HERALD_T_DELTA, 0, 2, "a", "2", 1, false);
	pump_until(3);
	herald_client_stats(c, &st);
	cr_assert_eq(st.drops[HERALD_DROP_OVERSIZED], 1);
}

Test(client, error_dispatched)
{
	uint8_t buf[DGRAM_MAX], body[64];
	struct herald_frame f;
	static const char text[] = "no key space";

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	node_recv(buf, &f);
	body[0] = 0;
	body[1] = HERALD_ERR_NO_KEY_SPACE;
	body[2] = body[3] = 0;
	memcpy(body + 4, text, sizeof(text) - 1);
	node_send_small(HERALD_T_ERROR, 0, 0, body, (uint16_t)(4 + sizeof(text) - 1));
	pump_until(1);
	cr_assert_eq(events[0].kind, EV_ERROR);
	cr_assert_eq(events[0].context, CTX);
	cr_assert_eq(events[0].code, HERALD_ERR_NO_KEY_SPACE);
	cr_assert_str_eq(events[0].text, text);

	/* A refused SUBSCRIBE is not retransmitted. */
	fake_now += 10 * HB_MS * 1000000ull;
	herald_client_poll(c, 0);
	struct herald_client_stats st;
	herald_client_stats(c, &st);
	cr_assert_eq(st.subscribe_retries, 0);
	cr_assert_eq(st.errors, 1);
}

Test(client, node_bye_closes_session)
{
	subscribe_live();
	node_send_small(HERALD_T_BYE, SESSION, 1, NULL, 0);
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_CLOSED);
}

Test(client, publish_fragments_2000_bytes)
{
	uint8_t value[2000], buf[DGRAM_MAX], msg[HERALD_MSG_MAX];
	struct herald_frame f;
	unsigned got = 0;
	uint16_t msg_len = 0;

	for (unsigned i = 0; i < sizeof(value); i++)
		value[i] = (uint8_t)(i ^ 0x5a);
	cr_assert_eq(herald_publish(c, CTX, "key", 3, value, sizeof(value)), 0);
	cr_assert_eq(herald_publish(c, CTX, "key", 0, value, 1), -EINVAL);
	cr_assert_eq(herald_publish(c, CTX, "key", 3, value, HERALD_VALUE_MAX + 1), -EINVAL);
	for (unsigned i = 0; i < 2; i++) {
		node_recv(buf, &f);
		cr_assert_eq(f.type, HERALD_T_PUBLISH);
		cr_assert_eq(f.context, CTX);
		cr_assert_eq(f.session, 0);
		cr_assert_eq(f.seq, 1);
		memcpy(msg + f.frag_off, f.body, f.length);
		got += f.length;
		msg_len = f.msg_len;
	}
	cr_assert_eq(msg_len, 2 + 3 + sizeof(value));
	cr_assert_eq(got, msg_len);
	cr_assert_eq(msg[0], 0);
	cr_assert_eq(msg[1], 3);
	cr_assert_eq(memcmp(msg + 2, "key", 3), 0);
	cr_assert_eq(memcmp(msg + 5, value, sizeof(value)), 0);

	/* The publish counter moves by one per message, not per fragment. */
	cr_assert_eq(herald_publish(c, CTX, "key", 3, "v", 1), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.seq, 2);
}

Test(client, publish_key_signs_every_fragment)
{
	static const uint8_t key[HERALD_PUBLISH_KEY_LEN] = "publisher secret";
	uint8_t value[2000], buf[DGRAM_MAX], other[HERALD_PUBLISH_KEY_LEN];
	struct herald_frame f;

	memset(value, 'x', sizeof(value));
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	uint8_t *k = malloc(sizeof(key)); /* the client keeps its own copy */
	cr_assert_not_null(k);
	memcpy(k, key, sizeof(key));
	reopen((struct herald_client_opts){.publish_key = k});
	memset(k, 0, sizeof(key));
	free(k);

	/* Signed, seq is a stamp: Unix time in us, strictly increasing (proto.h). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t before_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u, seq[3];
	cr_assert_eq(herald_publish(c, CTX, "key", 3, value, sizeof(value)), 0);
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v", 1), 0);
	for (unsigned i = 0; i < 3; i++) {
		ssize_t n = node_recv(buf, &f);
		cr_assert_eq(f.type, HERALD_T_PUBLISH);
		cr_assert_eq(f.flags, HERALD_F_AUTH);
		seq[i] = f.seq;
		cr_assert_geq(f.seq, before_us);
		cr_assert_lt(f.seq, before_us + 60000000u, "a stamp within a minute of now");
		cr_assert(herald_publish_verify(buf, (size_t)n, &f, key), "datagram %u", i);
		cr_assert(!herald_publish_verify(buf, (size_t)n, &f, other), "datagram %u", i);
	}
	cr_assert_eq(seq[0], seq[1], "the fragments of one message share its seq");
	cr_assert_gt(seq[2], seq[1]);

	/* Without a key, publishes go unsigned (what a node without --publish-key takes). */
	reopen((struct herald_client_opts){0});
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v", 1), 0);
	ssize_t n = node_recv(buf, &f);
	cr_assert_eq(f.flags, 0);
	cr_assert_eq(f.session, 0);
	cr_assert(!herald_publish_verify(buf, (size_t)n, &f, key));
}

Test(client, unsubscribe_sends_bye)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	subscribe_live();
	cr_assert_eq(herald_unsubscribe(c, CTX), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_BYE);
	cr_assert_eq(f.session, SESSION);
	cr_assert_eq(herald_unsubscribe(c, CTX), -ENOENT);

	/* Frames for the forgotten context are counted, not dispatched. */
	node_send_entry(HERALD_T_DELTA, 0, 2, "a", "2", 1, false);
	for (int i = 0; i < 50; i++) {
		struct herald_client_stats st;

		herald_client_poll(c, 20);
		herald_client_stats(c, &st);
		if (st.unknown_context == 1)
			break;
	}
	struct herald_client_stats st;
	herald_client_stats(c, &st);
	cr_assert_eq(st.unknown_context, 1);
	cr_assert_eq(nevents, 2);
}

Test(client, subscription_table_bounded)
{
	struct herald_client_opts o = {.node = "127.0.0.1", .max_subscriptions = 2};
	struct herald_client *small = herald_client_open(&o, NULL);

	cr_assert_not_null(small);
	cr_assert_eq(herald_subscribe(small, 1), 0);
	cr_assert_eq(herald_subscribe(small, 2), 0);
	cr_assert_eq(herald_subscribe(small, 3), -ENOSPC);
	cr_assert_eq(herald_subscribe(small, 1), 0, "subscribing again is a resync");
	herald_client_close(small);
}

Test(client, bad_options_rejected)
{
	struct herald_client_opts o = {.node = "not-an-ip"};

	cr_assert_null(herald_client_open(&o, NULL));
	cr_assert_eq(errno, EINVAL);
	o.node = "127.0.0.1:0";
	cr_assert_null(herald_client_open(&o, NULL));
	o.node = "127.0.0.1:99999";
	cr_assert_null(herald_client_open(&o, NULL));
	cr_assert_null(herald_client_open(NULL, NULL));
	herald_client_close(NULL);
}

Test(client, resyncs_back_off_instead_of_storming)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_client_stats st;

	herald_client_close(c);
	open_client(1);
	subscribe_live();
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	node_send_entry(HERALD_T_DELTA, 0, 3, "a", "3", 1, false);
	pump_until(4);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_RESYNC);
	cr_assert_eq(herald_client_synced(c, CTX), 0);

	/* The resync snapshot itself loses an entry (seq 11): a gap again. */
	node_send_entry(HERALD_T_SNAPSHOT, 0, 10, "a", "10", 2, false);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 12, "c", "12", 2, false);
	pump_until(8); /* snapshot, gap, snapshot, end */
	cr_assert_eq(events[5].kind, EV_GAP);
	herald_client_stats(c, &st);
	cr_assert_eq(st.resyncs, 1, "a second resync must wait for its backoff");
	cr_assert_eq(herald_client_synced(c, CTX), 0, "a snapshot with a gap is not a whole view");

	/* Backoff after the first resync: one heartbeat interval. */
	fake_now += HB_MS * 1000000ull - 1;
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.resyncs, 1);
	fake_now += 1;
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.resyncs, 2);
	do
		node_recv(buf, &f);
	while (f.type == HERALD_T_HEARTBEAT);
	cr_assert_eq(f.type, HERALD_T_RESYNC);

	/* A whole snapshot makes the view complete again. */
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 13, "a", "13", 2, false);
	pump_until(10);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
}

/*
 * RESYNC on a live session, ordered (`none`) subscriptions repaired by NAK,
 * and credit mode. Times are on the injected clock; MS is one millisecond.
 */
#define MS 1000000ull
#define NAK_MS 10

/* An ordered subscription, live at seq 1, on a client with a 10 ms NAK timeout. */
static void ordered_live(struct herald_client_opts o)
{
	if (o.nak_timeout_ms == 0)
		o.nak_timeout_ms = NAK_MS;
	reopen(o);
	subscribe_live_ex(HERALD_SUB_ORDERED);
}

Test(client, ordered_hole_held_then_released_in_order)
{
	ordered_live((struct herald_client_opts){0});
	delta(2);
	delta(4);
	delta(5); /* 3 was lost */
	pump_rx();
	cr_assert_eq(nevents, 3, "messages past the hole must be held, not delivered");
	assert_delta(2, 2);
	expect_nak(3, 3);
	expect_quiet(); /* 5 names no new hole: one NAK only */
	cr_assert_eq(herald_client_next_timer_ms(c), NAK_MS, "the NAK retry timer is armed");
	uint64_t seq;
	cr_assert_eq(herald_client_last_seq(c, CTX, &seq), 0);
	cr_assert_eq(seq, 2);
	struct herald_client_stats st = stats();
	cr_assert_eq(st.held, 2);
	cr_assert_eq(st.naks, 1);
	cr_assert_eq(st.gaps, 0);

	delta(3); /* the retransmission */
	pump_until(6);
	assert_delta(3, 3);
	assert_delta(4, 4);
	assert_delta(5, 5);
	st = stats();
	cr_assert_eq(st.repaired, 1);
	cr_assert_eq(st.gaps, 0);
	cr_assert_eq(st.lost, 0);
	cr_assert_eq(herald_client_synced(c, CTX), 1);

	/* The hole is closed: no NAK is retried, however long we wait (short of a timeout). */
	fake_now += (TIMEOUT_BEATS - 1) * HB_MS * MS;
	herald_client_poll(c, 0);
	expect_quiet();
	cr_assert_eq(stats().nak_retries, 0);
	cr_assert_eq(nevents, 6);
}

Test(client, nak_ranges_skip_held_messages)
{
	ordered_live((struct herald_client_opts){0});
	delta(4);
	pump_rx();
	expect_nak(2, 3);
	delta(6);
	pump_rx();
	expect_nak(5, 5);
	delta(3); /* late, not retransmitted: already NAKed, held without a new NAK */
	pump_rx();
	expect_quiet();
	node_heartbeat(9); /* 7..9 were lost at the tail */
	pump_rx();
	expect_nak(7, 9);
	expect_quiet();

	/* The retry asks for every missing run again, around what is held (3, 4, 6). */
	fake_now += NAK_MS * MS;
	herald_client_poll(c, 0);
	expect_nak(2, 2);
	expect_nak(5, 5);
	expect_nak(7, 9);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.naks, 6);
	cr_assert_eq(st.nak_retries, 1);
	cr_assert_eq(st.held, 3);
	cr_assert_eq(nevents, 2);

	delta(2);
	pump_until(5); /* 2, then 3 and 4 held behind it; 5 is still missing */
	delta(5);
	pump_until(7);
	delta(7);
	delta(8);
	delta(9);
	pump_until(10);
	for (unsigned i = 2; i < 10; i++)
		assert_delta(i, i);
	st = stats();
	cr_assert_eq(st.repaired, 5, "2, 5, 7, 8 and 9 came after their NAK");
	cr_assert_eq(st.gaps, 0);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
}

Test(client, duplicate_held_message_delivered_once)
{
	ordered_live((struct herald_client_opts){0});
	delta(3);
	delta(3); /* the same message twice (a NAK answered by a late original) */
	pump_rx();
	expect_nak(2, 2);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.held, 1);
	cr_assert_eq(st.stale, 1);

	delta(2);
	delta(2); /* and a duplicate of the retransmission */
	pump_rx();
	cr_assert_eq(nevents, 4);
	assert_delta(2, 2);
	assert_delta(3, 3);
	cr_assert_eq(stats().stale, 2);
}

Test(client, ordered_tail_loss_naked_from_heartbeat)
{
	ordered_live((struct herald_client_opts){0});
	node_heartbeat(1); /* in sync */
	pump_rx();
	expect_quiet();
	node_heartbeat(3); /* 2 and 3 were lost at the tail */
	pump_rx();
	expect_nak(2, 3);
	node_heartbeat(3); /* already asked for */
	pump_rx();
	expect_quiet();
	node_heartbeat(4);
	pump_rx();
	expect_nak(4, 4);
	cr_assert_eq(nevents, 2, "tail loss on an ordered subscription is not a gap");

	delta(2);
	delta(3);
	delta(4);
	pump_until(5);
	assert_delta(2, 2);
	assert_delta(3, 3);
	assert_delta(4, 4);
	struct herald_client_stats st = stats();
	cr_assert_eq(st.gaps, 0);
	cr_assert_eq(st.repaired, 3);
	cr_assert_eq(st.heartbeats_rx, 4);
}

Test(client, nak_retries_double_up_to_a_cap_then_give_up)
{
	/* Retries at +10, +20, +40, +80, +160 and +160 ms (capped at 16 timeouts), then a gap. */
	static const uint64_t nak_at_ms[] = {10, 30, 70, 150, 310};
	const uint64_t give_up_ms = 470;
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){.timeout_beats = 100});
	uint64_t t0 = fake_now;
	delta(3);
	pump_rx();
	expect_nak(2, 2);
	for (unsigned i = 0; i < sizeof(nak_at_ms) / sizeof(nak_at_ms[0]); i++) {
		fake_now = t0 + nak_at_ms[i] * MS - 1;
		herald_client_poll(c, 0);
		expect_quiet();
		cr_assert_eq(herald_client_next_timer_ms(c), 1, "the retry is 1 ns away (rounded up)");
		fake_now++;
		herald_client_poll(c, 0);
		expect_nak(2, 2);
		cr_assert_eq(stats().nak_retries, i + 1);
	}
	fake_now = t0 + give_up_ms * MS - 1;
	herald_client_poll(c, 0);
	expect_quiet();
	cr_assert_eq(nevents, 2);

	/* HERALD_CLIENT_NAK_TRIES NAKs unanswered: the GAP notice, then a fresh snapshot. */
	fake_now++;
	cr_assert_eq(herald_client_poll(c, 0), 1);
	cr_assert_eq(nevents, 3);
	cr_assert_eq(events[2].kind, EV_GAP);
	cr_assert_eq(events[2].expected, 2);
	cr_assert_eq(events[2].next, 3);
	expect_frame(HERALD_T_RESYNC, &f, buf);
	cr_assert_eq(f.session, SESSION);
	cr_assert_eq(f.seq, 2, "the abandoned hole counts as received");
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.naks, HERALD_CLIENT_NAK_TRIES);
	cr_assert_eq(st.nak_retries, HERALD_CLIENT_NAK_TRIES - 1);
	cr_assert_eq(st.gaps, 1);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.resyncs, 1);
	cr_assert_eq(herald_client_synced(c, CTX), 0);

	/* No more NAKs for the abandoned hole; the snapshot makes the view whole. */
	fake_now += 1000 * MS;
	herald_client_poll(c, 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf); /* the RESYNC's retry */
	expect_quiet();
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 5, "a", "5", 1, false);
	pump_until(5);
	cr_assert_eq(events[3].kind, EV_SNAPSHOT);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT_END);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	for (unsigned i = 0; i < nevents; i++)
		cr_assert_neq(events[i].kind, EV_DELTA, "the held message must be discarded");
}

Test(client, history_lost_reports_gap_and_resubscribes)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){0});
	delta(4);
	pump_rx();
	expect_nak(2, 3);
	node_error(HERALD_ERR_HISTORY_LOST);
	pump_until(4);
	cr_assert_eq(events[2].kind, EV_GAP);
	cr_assert_eq(events[2].expected, 2);
	cr_assert_eq(events[2].next, 4);
	cr_assert_eq(events[3].kind, EV_ERROR);
	cr_assert_eq(events[3].code, HERALD_ERR_HISTORY_LOST);
	/* The session may have been cut: SUBSCRIBE, not RESYNC. */
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.history_lost, 1);
	cr_assert_eq(st.gaps, 1);
	cr_assert_eq(st.lost, 2);

	/* What the node still retransmits is superseded by the snapshot. */
	delta(3);
	pump_rx();
	cr_assert_eq(nevents, 4);
	/* A new session numbers from 1 again (here with the same id). */
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "new", 3, false);
	pump_until(6);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT);
	cr_assert_eq(events[5].kind, EV_SNAPSHOT_END);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	delta(2);
	delta(3);
	pump_until(8);
	assert_delta(6, 2);
	assert_delta(7, 3);
	expect_quiet();
}

Test(client, history_lost_without_nak_means_session_cut)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){0});
	delta(2);
	pump_until(3);
	/* The session lagged beyond the history and was cut; nothing was NAKed. */
	cr_assert_eq(herald_client_poll(c, 0), 0);
	node_error(HERALD_ERR_HISTORY_LOST);
	pump_until(5);
	cr_assert_eq(events[3].kind, EV_GAP);
	cr_assert_eq(events[3].expected, 3);
	cr_assert_geq(events[3].next, 3);
	cr_assert_eq(events[4].kind, EV_ERROR);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);

	/* Another HISTORY_LOST while the snapshot is on its way is no new gap. */
	node_error(HERALD_ERR_HISTORY_LOST);
	pump_until(6);
	cr_assert_eq(events[5].kind, EV_ERROR);
	cr_assert_eq(stats().gaps, 1);
	cr_assert_eq(stats().history_lost, 2);
}

/* The node names the newest message a cut session lost: the GAP's range ends there. */
Test(client, history_lost_cut_names_the_range)
{
	ordered_live((struct herald_client_opts){0});
	delta(2);
	pump_until(3);
	node_error_seq(HERALD_ERR_HISTORY_LOST, 40);
	pump_until(5);
	cr_assert_eq(events[3].kind, EV_GAP);
	cr_assert_eq(events[3].expected, 3);
	cr_assert_eq(events[3].next, 41);
	cr_assert_eq(stats().lost, 38);
}

Test(client, reorder_overflow_is_a_gap)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){.reorder_slots = 4});
	delta(3);
	delta(4);
	delta(5); /* 5 - 2 = 3: the last message the 4 slots can bridge */
	pump_rx();
	expect_nak(2, 2);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.held, 3);
	cr_assert_eq(st.reorder_overflows, 0);
	cr_assert_eq(nevents, 2);

	delta(6);
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_GAP);
	cr_assert_eq(events[2].expected, 2);
	cr_assert_eq(events[2].next, 7, "held messages are discarded with the hole");
	expect_frame(HERALD_T_RESYNC, &f, buf);
	expect_quiet();
	st = stats();
	cr_assert_eq(st.reorder_overflows, 1);
	cr_assert_eq(st.gaps, 1);
	cr_assert_eq(st.lost, 5);

	delta(2); /* the retransmission, too late */
	pump_rx();
	cr_assert_eq(nevents, 3);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 8, "a", "8", 1, false);
	delta(9);
	pump_until(6);
	cr_assert_eq(events[3].kind, EV_SNAPSHOT);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT_END);
	assert_delta(5, 9);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
}

/* Send fragment @p frag of an entry message alone. */
static void node_send_fragment(uint64_t seq, const char *key, const void *value, size_t vlen,
			       unsigned frag)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = {
		.type = HERALD_T_DELTA, .context = CTX, .session = node_session, .seq = seq,
	};
	int n = herald_entry_encode(buf, sizeof(buf), &h, key, strlen(key), value, vlen, frag);

	cr_assert_gt(n, 0);
	node_send_raw(buf, (size_t)n);
}

static void fill(uint8_t *v, size_t n, uint8_t salt)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(i * 13 + salt);
}

Test(client, fragmented_retransmission_fills_hole)
{
	uint8_t value[2000];

	fill(value, sizeof(value), 1);
	ordered_live((struct herald_client_opts){0});
	node_send_fragment(2, "big", value, sizeof(value), 0); /* fragment 1 is lost */
	delta(3);
	pump_rx();
	expect_nak(2, 2);
	cr_assert_eq(stats().reassembly_dropped, 1);
	cr_assert_eq(nevents, 2);

	node_send_entry(HERALD_T_DELTA, 0, 2, "big", value, sizeof(value), true);
	pump_until(4);
	cr_assert_eq(events[2].kind, EV_DELTA);
	cr_assert_eq(events[2].seq, 2);
	cr_assert_str_eq(events[2].key, "big");
	cr_assert_eq(events[2].value_len, sizeof(value));
	cr_assert_eq(memcmp(events[2].value, value, sizeof(value)), 0);
	assert_delta(3, 3);
	cr_assert_eq(stats().repaired, 1);
}

Test(client, fragmented_messages_held_and_retransmitted)
{
	uint8_t a[2000], b[3000], d[1500];

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	fill(d, sizeof(d), 3);
	ordered_live((struct herald_client_opts){0});
	/* A fragmented message past the hole is held whole. */
	node_send_entry(HERALD_T_DELTA, 0, 3, "held", d, sizeof(d), true);
	pump_rx();
	expect_nak(2, 2);
	/* The first fragment of 4 arrives, then the retransmission of 2 takes the reassembly. */
	node_send_fragment(4, "four", b, sizeof(b), 0);
	node_send_entry(HERALD_T_DELTA, 0, 2, "two", a, sizeof(a), false);
	pump_until(4);
	cr_assert_str_eq(events[2].key, "two");
	cr_assert_eq(events[2].value_len, sizeof(a));
	cr_assert_eq(memcmp(events[2].value, a, sizeof(a)), 0);
	cr_assert_str_eq(events[3].key, "held");
	cr_assert_eq(events[3].seq, 3);
	cr_assert_eq(events[3].value_len, sizeof(d));
	cr_assert_eq(memcmp(events[3].value, d, sizeof(d)), 0);

	/* The rest of 4 cannot complete it; 5 shows it missing and it is NAKed. */
	node_send_fragment(4, "four", b, sizeof(b), 1);
	node_send_fragment(4, "four", b, sizeof(b), 2);
	delta(5);
	pump_rx();
	expect_nak(4, 4);
	expect_quiet();
	cr_assert_eq(nevents, 4);
	node_send_entry(HERALD_T_DELTA, 0, 4, "four", b, sizeof(b), true);
	pump_until(6);
	cr_assert_str_eq(events[4].key, "four");
	cr_assert_eq(events[4].value_len, sizeof(b));
	cr_assert_eq(memcmp(events[4].value, b, sizeof(b)), 0);
	assert_delta(5, 5);
	cr_assert_eq(stats().gaps, 0);
}

Test(client, held_messages_do_not_outlive_their_session)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){0});
	node_send_entry(HERALD_T_DELTA, 0, 3, "k", "old", 3, false);
	pump_rx();
	expect_nak(2, 2);
	node_send_small(HERALD_T_BYE, SESSION, 3, NULL, 0);
	pump_until(3);
	cr_assert_eq(events[2].kind, EV_CLOSED);

	/* Subscribe again: a new session, numbered from 1 (here with the same id). */
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(5);
	node_send_entry(HERALD_T_DELTA, 0, 3, "k", "new", 3, false);
	pump_rx();
	expect_nak(2, 2); /* seq 3 of the old session is no excuse not to ask */
	delta(2);
	pump_until(7);
	assert_delta(5, 2);
	cr_assert_eq(events[6].seq, 3);
	cr_assert_eq(memcmp(events[6].value, "new", 3), 0, "a message of the old session was delivered");
	cr_assert_eq(stats().stale, 0);
}

Test(client, heartbeat_far_ahead_naks_without_walking_the_range, .timeout = 10)
{
	const uint64_t far = 1ull << 40;

	ordered_live((struct herald_client_opts){0});
	delta(3);
	pump_rx();
	expect_nak(2, 2);
	node_heartbeat(far);
	pump_rx();
	expect_nak(4, far);
	node_heartbeat(UINT64_MAX);
	pump_rx();
	expect_nak(far + 1, UINT64_MAX);
	expect_quiet();
	cr_assert_eq(nevents, 2);
}

Test(client, ordered_resync_supersedes_deltas_before_snapshot)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){0});
	cr_assert_eq(herald_resync(c, CTX), 0);
	expect_frame(HERALD_T_RESYNC, &f, buf);
	cr_assert_eq(f.session, SESSION);
	cr_assert_eq(f.seq, 1);
	cr_assert_eq(f.length, 0);
	cr_assert_eq(herald_client_synced(c, CTX), 0);
	delta(2); /* sent before the node saw the RESYNC */
	node_send_entry(HERALD_T_SNAPSHOT, 0, 3, "a", "3", 1, false);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 4, "b", "4", 1, false);
	delta(5);
	pump_until(6);
	cr_assert_eq(events[2].kind, EV_SNAPSHOT);
	cr_assert_eq(events[2].seq, 3);
	cr_assert_eq(events[3].kind, EV_SNAPSHOT);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT_END);
	cr_assert_eq(events[4].seq, 4);
	assert_delta(5, 5);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.stale, 1);
	cr_assert_eq(st.gaps, 0);
	cr_assert_eq(st.resyncs, 1);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
}

Test(client, resync_on_live_session_keeps_deltas_flowing)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	subscribe_live();
	delta(2);
	pump_until(3);
	cr_assert_eq(herald_resync(c, CTX), 0);
	expect_frame(HERALD_T_RESYNC, &f, buf);
	cr_assert_eq(f.session, SESSION);
	cr_assert_eq(f.seq, 2, "RESYNC carries the last sequence received");
	cr_assert_eq(herald_client_synced(c, CTX), 0);
	delta(3); /* a conflated subscription keeps its deltas meanwhile */
	node_send_entry(HERALD_T_SNAPSHOT, 0, 4, "a", "4", 1, false);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 5, "k", "5", 1, false);
	pump_until(7);
	assert_delta(3, 3);
	cr_assert_eq(events[4].kind, EV_SNAPSHOT);
	cr_assert_eq(events[5].kind, EV_SNAPSHOT);
	cr_assert_eq(events[6].kind, EV_SNAPSHOT_END);
	cr_assert_eq(herald_client_synced(c, CTX), 1);

	/* A conflated subscription never NAKs: a gap is reported (no auto_resync here). */
	delta(7);
	pump_until(9);
	cr_assert_eq(events[7].kind, EV_GAP);
	cr_assert_eq(events[7].expected, 6);
	cr_assert_eq(events[7].next, 7);
	assert_delta(8, 7);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.naks, 0);
	cr_assert_eq(st.resyncs, 1);
	cr_assert_eq(st.gaps, 1);
}

Test(client, resync_retried_as_subscribe_and_new_session_accepted)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	subscribe_live();
	cr_assert_eq(herald_resync(c, CTX), 0);
	expect_frame(HERALD_T_RESYNC, &f, buf);
	fake_now += HB_MS * MS - 1;
	herald_client_poll(c, 0);
	expect_quiet();
	fake_now += 1;
	herald_client_poll(c, 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf); /* works even if the node lost the session */
	cr_assert_eq(stats().subscribe_retries, 1);

	/* The node had lost it: a new session id, numbered from 1. */
	node_session = SESSION + 2;
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "x", 1, false);
	delta(2);
	pump_until(5);
	cr_assert_eq(events[2].kind, EV_SNAPSHOT);
	cr_assert_eq(events[3].kind, EV_SNAPSHOT_END);
	assert_delta(4, 2);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	/* The old session's frames are not this subscription's any more. */
	node_session = SESSION;
	delta(3);
	pump_rx();
	cr_assert_eq(nevents, 5);
	cr_assert_eq(stats().drops[HERALD_DROP_UNKNOWN_SESSION], 1);
	cr_assert_eq(stats().gaps, 0);
}

Test(client, resync_without_session_subscribes_and_unknown_context_fails)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	cr_assert_eq(herald_resync(c, CTX), -ENOENT);
	expect_quiet();
	/* No session yet: the request is a SUBSCRIBE. */
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	cr_assert_eq(herald_resync(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(2);

	/* The node closed the session: a resync is a new SUBSCRIBE, numbering from 1. */
	node_send_small(HERALD_T_BYE, SESSION, 1, NULL, 0);
	pump_until(3);
	cr_assert_eq(herald_resync(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(5);
	cr_assert_eq(events[3].kind, EV_SNAPSHOT);
	cr_assert_eq(herald_client_synced(c, CTX), 1);

	cr_assert_eq(herald_unsubscribe(c, CTX), 0);
	expect_frame(HERALD_T_BYE, &f, buf);
	cr_assert_eq(herald_resync(c, CTX), -ENOENT);
	cr_assert_eq(herald_resync(c, CTX + 1), -ENOENT);
	expect_quiet();
}

Test(client, subscribe_ex_rejects_unknown_flags)
{
	cr_assert_eq(herald_subscribe_ex(c, CTX, 0x2), -EINVAL);
	cr_assert_eq(herald_subscribe_ex(c, CTX, HERALD_SUB_ORDERED | 0x80), -EINVAL);
	cr_assert_eq(herald_subscribe_ex(c, CTX, ~0u), -EINVAL);
	expect_quiet();
	cr_assert_eq(herald_client_synced(c, CTX), -ENOENT, "a refused subscription takes no slot");

	subscribe_live();
	cr_assert_eq(herald_subscribe_ex(c, CTX, 0x4), -EINVAL);
	expect_quiet();
	cr_assert_eq(herald_client_synced(c, CTX), 1, "nor disturbs an existing one");
}

Test(client, subscribe_again_keeps_or_changes_ordering)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){0});
	/* herald_subscribe() on an ordered subscription resyncs and stays ordered. */
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 2, "a", "2", 1, false);
	pump_until(4);
	delta(4);
	pump_rx();
	expect_nak(3, 3);
	cr_assert_eq(nevents, 4);

	/* Flags 0 make it conflated: the held message goes, gaps are reported, no NAK. */
	cr_assert_eq(herald_subscribe_ex(c, CTX, 0), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 5, "a", "5", 1, false);
	pump_until(6);
	delta(7);
	pump_until(8);
	cr_assert_eq(events[6].kind, EV_GAP);
	cr_assert_eq(events[6].expected, 6);
	assert_delta(7, 7);
	expect_quiet();
	cr_assert_eq(stats().naks, 1);
}

/* A credit-mode client with @p budget and @p batch (0: the default), subscribed, live at seq 1. */
static void credit_live(uint32_t budget, uint32_t batch, int manual, unsigned flags)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_subscribe_body sb;

	reopen((struct herald_client_opts){
		.credits = 1, .budget = budget, .ack_batch = batch, .manual_ack = manual,
		.nak_timeout_ms = NAK_MS,
	});
	cr_assert_eq(herald_subscribe_ex(c, CTX, flags), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	memcpy(&sb, f.body, sizeof(sb));
	cr_assert_eq(ntohs(sb.flags), HERALD_SUB_F_CREDITS);
	cr_assert_eq(ntohl(sb.budget), budget);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(2);
}

Test(client, credit_acks_count_sequence_minus_snapshot)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	reopen((struct herald_client_opts){.credits = 1, .budget = 8, .ack_batch = 4});
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, 0, 1, "a", "1", 1, false);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 2, "b", "2", 1, false);
	pump_until(3);
	expect_quiet(); /* snapshot entries are not charged */
	delta(3);
	delta(4);
	delta(5);
	pump_until(6);
	expect_quiet(); /* 3 messages consumed, the batch is 4 */
	delta(6);
	pump_until(7);
	expect_ack(4, 6);
	expect_quiet();

	/* 8 is lost, and its credit is returned all the same. */
	delta(7);
	delta(9);
	pump_until(10); /* 7, gap, 9 */
	cr_assert_eq(events[8].kind, EV_GAP);
	expect_quiet();
	delta(10);
	pump_until(11);
	expect_ack(4, 10);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.acks, 2);
	cr_assert_eq(st.credits_returned, 8);
}

Test(client, credit_ack_batch_defaults_to_quarter_budget)
{
	credit_live(8, 0, 0, 0);
	delta(2);
	pump_until(3);
	expect_quiet();
	delta(3);
	pump_until(4);
	expect_ack(2, 3);
	expect_quiet();
}

Test(client, credit_idle_heartbeat_returns_partial_batch_then_tops_up_once)
{
	credit_live(8, 4, 0, 0);
	delta(2);
	delta(3);
	pump_until(4);
	expect_quiet();
	node_heartbeat(3);
	pump_rx();
	expect_ack(2, 3); /* the partial batch */
	/*
	 * Still idle and everything received: the node may be stalled on a
	 * window lost ACKs shrank, so one extra batch, once per pause.
	 */
	node_heartbeat(3);
	pump_rx();
	expect_ack(4, 3);
	node_heartbeat(3);
	node_heartbeat(3);
	pump_rx();
	expect_quiet();

	/* A new pause may top up again. */
	delta(4);
	pump_until(5);
	node_heartbeat(4);
	node_heartbeat(4);
	node_heartbeat(4);
	pump_rx();
	expect_ack(1, 4);
	expect_ack(4, 4);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.acks, 4);
	cr_assert_eq(st.credits_returned, 11);
}

Test(client, credit_manual_ack_sends_nothing_by_itself)
{
	credit_live(4, 1, 1, 0);
	for (uint64_t s = 2; s <= 9; s++)
		delta(s);
	pump_until(10);
	node_heartbeat(9);
	node_heartbeat(9);
	pump_rx();
	expect_quiet();
	cr_assert_eq(herald_ack(c, CTX, 3), 0);
	expect_ack(3, 9);
	cr_assert_eq(herald_ack(c, CTX, 0), -EINVAL);
	cr_assert_eq(herald_ack(c, CTX + 1, 1), -ENOENT);
	expect_quiet();
	struct herald_client_stats st = stats();
	cr_assert_eq(st.acks, 1);
	cr_assert_eq(st.credits_returned, 3);
}

Test(client, ack_error_returns)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	reopen((struct herald_client_opts){.credits = 1, .budget = 4, .manual_ack = 1});
	cr_assert_eq(herald_ack(c, CTX, 1), -ENOENT);
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	cr_assert_eq(herald_ack(c, CTX, 1), -ENOTCONN, "no session before the snapshot names it");
	cr_assert_eq(herald_ack(c, CTX, 0), -EINVAL);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(2);
	cr_assert_eq(herald_ack(c, CTX, 1), 0);
	expect_ack(1, 1);
	node_send_small(HERALD_T_BYE, SESSION, 1, NULL, 0);
	pump_until(3);
	cr_assert_eq(herald_ack(c, CTX, 1), -ENOTCONN, "the node closed the session");
	expect_quiet();
}

Test(client, credit_counting_restarts_with_a_new_session)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	credit_live(4, 2, 0, HERALD_SUB_ORDERED);
	for (uint64_t s = 2; s <= 5; s++)
		delta(s);
	pump_until(6);
	expect_ack(2, 3);
	expect_ack(2, 5);

	/* Cut beyond the history; the new session (same id) numbers from 1. */
	node_error(HERALD_ERR_HISTORY_LOST);
	pump_until(8);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	delta(2);
	delta(3);
	pump_until(12);
	expect_ack(2, 3);
	expect_quiet();

	/*
	 * Cut again; this time the node gives the new session another id. Resyncs
	 * are at least a heartbeat interval apart, so the SUBSCRIBE waits for it.
	 */
	node_error(HERALD_ERR_HISTORY_LOST);
	pump_until(14);
	expect_quiet();
	fake_now += HB_MS * MS;
	herald_client_poll(c, 0);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_session = SESSION + 1;
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	delta(2);
	delta(3);
	pump_until(18);
	expect_ack(2, 3);
	expect_quiet();
}

Test(client, credit_held_messages_paid_when_released)
{
	credit_live(8, 2, 0, HERALD_SUB_ORDERED);
	delta(3);
	pump_rx();
	expect_nak(2, 2);
	expect_quiet(); /* 3 is not consumed while it waits behind the hole */
	node_heartbeat(3);
	pump_rx();
	expect_quiet(); /* nor is a heartbeat past the hole an idle, whole session */
	delta(2);
	pump_until(4);
	expect_ack(2, 3);
	expect_quiet();
}

Test(client, held_messages_cleared_on_unknown_session_and_slot_reuse)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	ordered_live((struct herald_client_opts){.auto_resync = 1, .max_subscriptions = 1});
	node_send_entry(HERALD_T_DELTA, 0, 3, "k", "old", 3, false);
	pump_rx();
	expect_nak(2, 2);
	/* The node forgot the session: auto_resync subscribes afresh, numbering from 1. */
	node_error(HERALD_ERR_UNKNOWN_SESSION);
	pump_until(3);
	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	node_send_entry(HERALD_T_DELTA, 0, 3, "k", "new", 3, false);
	pump_until(5);
	expect_nak(2, 2);
	delta(2);
	pump_until(7);
	cr_assert_eq(memcmp(events[6].value, "new", 3), 0);

	/* The only slot is given up with a message held, then taken again. */
	node_send_entry(HERALD_T_DELTA, 0, 5, "k", "old", 3, false);
	pump_rx();
	expect_nak(4, 4);
	cr_assert_eq(herald_unsubscribe(c, CTX), 0);
	expect_frame(HERALD_T_BYE, &f, buf);
	subscribe_live_ex(HERALD_SUB_ORDERED);
	for (uint64_t s = 2; s <= 4; s++)
		delta(s);
	node_send_entry(HERALD_T_DELTA, 0, 5, "k", "new", 3, false);
	pump_until(13);
	assert_delta(9, 2);
	assert_delta(11, 4);
	cr_assert_eq(events[12].seq, 5);
	cr_assert_eq(memcmp(events[12].value, "new", 3), 0);
	cr_assert_eq(stats().stale, 0);
	expect_quiet();
}

/* ---- address tokens (docs/protocol.md §3.2.1) ---- */

static uint32_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)ts.tv_sec;
}

/* The fake node answers a HELLO with a REDIRECT to itself carrying @p token. */
static void node_redirect(uint32_t expiry, uint64_t token)
{
	struct herald_redirect_body b = {
		.node_ip = node_addr.sin_addr.s_addr,
		.port = node_addr.sin_port,
		.expiry = htonl(expiry),
		.token = htobe64(token),
	};

	node_send_small(HERALD_T_REDIRECT, 0, 0, &b, sizeof(b));
}

/* The next frame is a SUBSCRIBE, with (@p expiry, @p token) or, when @p token is 0, without one. */
static void expect_subscribe_token(uint32_t expiry, uint64_t token)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	uint32_t e;
	uint64_t t;

	expect_frame(HERALD_T_SUBSCRIBE, &f, buf);
	if (token == 0) {
		cr_assert_eq(f.length, sizeof(struct herald_subscribe_body));
		cr_assert_eq(herald_subscribe_token_get(&f, &e, &t), 0);
		return;
	}
	cr_assert_eq(f.length, HERALD_SUBSCRIBE_TOKEN_BODY_LEN);
	cr_assert_eq(herald_subscribe_token_get(&f, &e, &t), 1);
	cr_assert_eq(e, expiry);
	cr_assert_eq(t, token);
}

static void expect_hello(void)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	static const uint8_t zero[32];

	expect_frame(HERALD_T_HELLO, &f, buf);
	cr_assert_eq(f.length, 32);
	cr_assert_eq(memcmp(f.body, zero, 32), 0);
}

Test(client, token_required_hello_then_subscribe_with_its_token)
{
	const uint32_t exp = tai_now() + 60;
	const uint64_t token = 0x0123456789abcdefull;

	reopen((struct herald_client_opts){.auto_resync = 1});
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_subscribe_token(0, 0);
	node_error(HERALD_ERR_TOKEN_REQUIRED);
	pump_rx();
	expect_hello();
	expect_quiet();
	cr_assert_eq(nevents, 0, "TOKEN_REQUIRED is handled, not reported");
	/* The REDIRECT was lost: HELLO again after the backoff, and no SUBSCRIBE meanwhile. */
	fake_now += HB_MS * MS + 1;
	herald_client_poll(c, 0);
	expect_hello();
	expect_quiet();
	node_redirect(exp, token);
	pump_rx();
	expect_subscribe_token(exp, token);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(2);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	cr_assert_eq(stats().token_refusals, 1);
	cr_assert_eq(stats().tokens, 1);

	/* The node forgot the session: the resubscribe carries the token, still valid. */
	node_error(HERALD_ERR_UNKNOWN_SESSION);
	pump_rx();
	expect_subscribe_token(exp, token);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_rx();
	/* Past its expiry (on the client's clock) it is not sent any more. */
	fake_now += 61 * 1000 * MS;
	herald_client_poll(c, 0);
	node_error(HERALD_ERR_UNKNOWN_SESSION);
	pump_rx();
	expect_subscribe_token(0, 0);
}

/* A REDIRECT nobody asked for gives no token. */
Test(client, unasked_redirect_ignored)
{
	subscribe_live();
	node_redirect(tai_now() + 60, 1);
	pump_rx();
	cr_assert_eq(stats().tokens, 0);
	cr_assert_eq(stats().redirects_ignored, 1);
}

/*
 * Seeds (herald_client_opts::seeds): three fake HELLO responders and two fake
 * dataplanes on loopback, the injected clock, and injected randomness where
 * a test needs to know the draw.
 */
#define NSEEDS 3
#define NDPS 2
#define MS 1000000ull

static int seed_fd[NSEEDS], dp_fd[NDPS];
static struct sockaddr_in seed_addr[NSEEDS], dp_addr[NDPS], cl_addr;
static char seeds_str[128];

static int udp_loopback(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

static void seeds_up(void)
{
	size_t off = 0;

	nevents = 0;
	fake_now = 1000000000ull;
	c = NULL;
	for (int i = 0; i < NSEEDS; i++) {
		seed_fd[i] = udp_loopback(&seed_addr[i]);
		off += (size_t)snprintf(seeds_str + off, sizeof(seeds_str) - off, "%s127.0.0.1:%u",
					i ? "," : "", ntohs(seed_addr[i].sin_port));
	}
	for (int i = 0; i < NDPS; i++)
		dp_fd[i] = udp_loopback(&dp_addr[i]);
}

static void seeds_down(void)
{
	herald_client_close(c);
	c = NULL;
	for (int i = 0; i < NSEEDS; i++)
		close(seed_fd[i]);
	for (int i = 0; i < NDPS; i++)
		close(dp_fd[i]);
}

/* Scripted randomness: the values of rand_script in turn, then rand_script's last. */
static uint64_t rand_script[16];
static unsigned rand_n, rand_i;

static uint64_t scripted_rand(void *arg)
{
	(void)arg;
	return rand_script[rand_i < rand_n ? rand_i++ : rand_n - 1];
}

/* A real generator the test seeds, so runs differ per client but are repeatable. */
static uint64_t xorshift_rand(void *arg)
{
	uint64_t *x = arg;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static struct herald_client *open_seeded_c(struct herald_client_opts o)
{
	struct herald_client *cl;

	o.seeds = seeds_str;
	o.now_ns = clock_now;
	if (o.heartbeat_ms == 0)
		o.heartbeat_ms = HB_MS;
	if (o.timeout_beats == 0)
		o.timeout_beats = TIMEOUT_BEATS;
	cl = herald_client_open(&o, &callbacks);
	cr_assert_not_null(cl, "herald_client_open: %s", strerror(errno));
	return cl;
}

static void open_seeded(struct herald_client_opts o)
{
	c = open_seeded_c(o);
}

/* Next frame queued on @p fd (heartbeats skipped), without waiting; false if none. */
static bool fd_poll(int fd, uint8_t *buf, struct herald_frame *f)
{
	for (;;) {
		socklen_t len = sizeof(cl_addr);
		ssize_t n = recvfrom(fd, buf, DGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *)&cl_addr,
				     &len);

		if (n < 0)
			return false;
		cr_assert_eq(herald_frame_decode(buf, (size_t)n, f), HERALD_DROP_NONE,
			     "client sent a malformed frame");
		if (f->type != HERALD_T_HEARTBEAT)
			return true;
	}
}

/* Which seed got a HELLO for @p ctx (checked byte by byte); -1 if none did. At most one did. */
static int hello_seed(uint32_t ctx)
{
	static const uint8_t zero[32];
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	int who = -1;

	for (int i = 0; i < NSEEDS; i++) {
		while (fd_poll(seed_fd[i], buf, &f)) {
			cr_assert_eq(f.type, HERALD_T_HELLO, "seed %d got type %u", i, f.type);
			cr_assert_eq(f.context, ctx);
			cr_assert_eq(f.session, 0);
			cr_assert_eq(f.length, 32);
			cr_assert_eq(memcmp(f.body, zero, 32), 0);
			cr_assert_eq(who, -1, "two HELLOs at once (seeds %d and %d)", who, i);
			who = i;
		}
	}
	return who;
}

static void send_to_client(int fd, const void *buf, size_t len)
{
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&cl_addr, sizeof(cl_addr)),
		     (ssize_t)len);
}

/* Seed @p seed (or any socket @p fd) answers: @p ctx lives on dataplane @p dp at @p epoch. */
static void redirect_from(int fd, uint32_t ctx, int dp, uint32_t epoch)
{
	uint8_t buf[sizeof(struct herald_hdr) + sizeof(struct herald_redirect_body)];
	struct herald_hdr_fields h = {.type = HERALD_T_REDIRECT, .context = ctx};
	struct herald_redirect_body b = {
		.node_ip = dp_addr[dp].sin_addr.s_addr,
		.port = dp_addr[dp].sin_port,
		.queue = htons(3),
		.epoch = htonl(epoch),
		.expiry = htonl(12345),
		.token = htobe64(0x1122334455667788ull),
	};

	herald_hdr_encode(buf, &h, 0, sizeof(b), sizeof(b));
	memcpy(buf + sizeof(struct herald_hdr), &b, sizeof(b));
	send_to_client(fd, buf, sizeof(buf));
}

static void dp_entry(int dp, uint8_t type, uint16_t flags, uint32_t session, uint64_t seq,
		     const char *key, const char *value)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = {
		.type = type, .flags = flags, .context = CTX, .session = session, .seq = seq,
	};
	int n = herald_entry_encode(buf, sizeof(buf), &h, key, strlen(key), value, strlen(value), 0);

	cr_assert_gt(n, 0);
	send_to_client(dp_fd[dp], buf, (size_t)n);
}

/* Dataplane @p dp's next frame is a SUBSCRIBE for CTX. */
static void expect_subscribe_at(int dp)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;

	cr_assert(fd_poll(dp_fd[dp], buf, &f), "dataplane %d got no SUBSCRIBE", dp);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE, "dataplane %d got type %u", dp, f.type);
	cr_assert_eq(f.context, CTX);
}

/* Move the clock in 1 ms steps until some seed gets a HELLO for @p ctx; the time it took. */
static uint64_t step_until_hello(uint32_t ctx, int *seed, uint64_t limit_ns)
{
	uint64_t start = fake_now;

	for (;;) {
		herald_client_poll(c, 0);
		*seed = hello_seed(ctx);
		if (*seed >= 0)
			return fake_now - start;
		cr_assert_lt(fake_now - start, limit_ns, "no HELLO within %lu ms",
			     (unsigned long)(limit_ns / MS));
		fake_now += MS;
	}
}

/* Subscribe through seed 0 to dataplane @p dp: HELLO, REDIRECT, SUBSCRIBE, snapshot a=1. */
static void seeded_live(int dp, uint32_t session)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	int seed;

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	seed = hello_seed(CTX);
	cr_assert_geq(seed, 0, "subscribe sent no HELLO at once");
	redirect_from(seed_fd[seed], CTX, dp, 1);
	herald_client_poll(c, 0);
	expect_subscribe_at(dp);
	dp_entry(dp, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, session, 1, "a", "1");
	herald_client_poll(c, 0);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	/* The new session is named at once, to the node that holds it. */
	socklen_t len = sizeof(cl_addr);
	ssize_t n = recvfrom(dp_fd[dp], buf, DGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *)&cl_addr,
			     &len);
	cr_assert_gt(n, 0);
	cr_assert_eq(herald_frame_decode(buf, (size_t)n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_HEARTBEAT);
	cr_assert_eq(f.session, session);
}

TestSuite(seeds, .init = seeds_up, .fini = seeds_down);

Test(seeds, options_checked)
{
	struct herald_client_opts o = {.seeds = "127.0.0.1:1", .node = "127.0.0.1"};

	cr_assert_null(herald_client_open(&o, NULL), "node and seeds together");
	cr_assert_eq(errno, EINVAL);
	o.node = NULL;
	static const char *const bads[] = {"", ",", "127.0.0.1,", "1.2.3", "1.2.3.4:x",
					   "1.2.3.4:70000"};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const char *bad = bads[i];

		o.seeds = bad;
		cr_assert_null(herald_client_open(&o, NULL), "seeds \"%s\" accepted", bad);
	}
	char many[400] = "";
	for (int i = 0; i <= HERALD_CLIENT_SEEDS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d", i ? "," : "",
			 i + 1);
	o.seeds = many;
	cr_assert_null(herald_client_open(&o, NULL), "more than HERALD_CLIENT_SEEDS_MAX seeds");
	o.seeds = "10.0.0.1,10.0.0.2:7401";
	struct herald_client *cl = herald_client_open(&o, NULL);
	cr_assert_not_null(cl);
	herald_client_close(cl);
}

Test(seeds, first_hello_goes_to_the_drawn_seed)
{
	for (unsigned pick = 0; pick < NSEEDS; pick++) {
		rand_script[0] = 3 * 1000 + pick; /* % 3 == pick */
		rand_n = 1;
		rand_i = 0;
		open_seeded((struct herald_client_opts){.rand = scripted_rand});
		cr_assert_eq(herald_subscribe(c, CTX), 0);
		cr_assert_eq(hello_seed(CTX), (int)pick);
		herald_client_close(c);
		c = NULL;
	}
}

Test(seeds, first_seed_uniform_over_clients)
{
	unsigned count[NSEEDS] = {0};

	/* The default generator: every client draws its own, seeded from getrandom(). */
	for (int i = 0; i < 300; i++) {
		open_seeded((struct herald_client_opts){0});
		cr_assert_eq(herald_subscribe(c, CTX), 0);
		int s = hello_seed(CTX);
		cr_assert_geq(s, 0);
		count[s]++;
		herald_client_close(c);
		c = NULL;
	}
	/* 100 expected each; a fixed order would put all 300 on one seed. */
	for (int i = 0; i < NSEEDS; i++)
		cr_assert(count[i] >= 50 && count[i] <= 150, "seed %d drawn %u times of 300", i,
			  count[i]);
}

Test(seeds, redirect_followed_token_kept)
{
	struct herald_route r;
	struct herald_client_stats st;

	open_seeded((struct herald_client_opts){0});
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	int seed = hello_seed(CTX);
	cr_assert_geq(seed, 0);
	cr_assert_eq(herald_client_route(c, CTX, &r), -EAGAIN);
	/* A REDIRECT from anywhere but a seed is not followed. */
	redirect_from(dp_fd[1], CTX, 1, 9);
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.wrong_source, 1);
	cr_assert_eq(st.redirects, 0);
	redirect_from(seed_fd[seed], CTX, 0, 4);
	herald_client_poll(c, 0);
	expect_subscribe_at(0);
	cr_assert_eq(herald_client_route(c, CTX, &r), 0);
	cr_assert_eq(r.node.sin_port, dp_addr[0].sin_port);
	cr_assert_eq(r.node.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_assert_eq(r.queue, 3);
	cr_assert_eq(r.epoch, 4);
	cr_assert_eq(r.expiry, 12345);
	cr_assert_eq(r.token, 0x1122334455667788ull);
	/* A second answer (to a retransmitted HELLO) changes nothing. */
	redirect_from(seed_fd[seed], CTX, 1, 5);
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.redirects, 1);
	cr_assert_eq(st.redirects_ignored, 1);
	dp_entry(0, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, SESSION, 1, "a", "1");
	/* The other dataplane is not this context's node: not heard. */
	dp_entry(1, HERALD_T_DELTA, 0, SESSION, 2, "a", "2");
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, 2);
	cr_assert_eq(events[0].kind, EV_SNAPSHOT);
	cr_assert_eq(events[1].kind, EV_SNAPSHOT_END);
	herald_client_stats(c, &st);
	cr_assert_eq(st.wrong_source, 2);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	/* Heartbeats and the like go to the node, never to a seed. */
	fake_now += HB_MS * MS;
	herald_client_poll(c, 0);
	cr_assert_eq(hello_seed(CTX), -1);
}

Test(seeds, hello_retransmitted_to_another_seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int prev, seed;
	struct herald_client_stats st;

	open_seeded((struct herald_client_opts){.rand = xorshift_rand, .rand_arg = &x});
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	prev = hello_seed(CTX);
	cr_assert_geq(prev, 0);
	for (int i = 0; i < 5; i++) {
		uint64_t waited = step_until_hello(CTX, &seed, 10000 * MS);

		cr_assert_neq(seed, prev, "HELLO %d went to the seed that just did not answer", i + 2);
		/* Attempt k waits between half and all of min(cap, base 2^k). */
		uint64_t w = (uint64_t)HB_MS * MS << i;
		cr_assert(waited >= w / 2 && waited <= w, "retransmit %d after %lu ms, window %lu ms", i,
			  (unsigned long)(waited / MS), (unsigned long)(w / MS));
		prev = seed;
	}
	herald_client_stats(c, &st);
	cr_assert_eq(st.hellos, 6);
	cr_assert_eq(st.hello_retries, 5);
	/* The answer to a retransmitted HELLO is followed like the first. */
	redirect_from(seed_fd[prev], CTX, 0, 1);
	herald_client_poll(c, 0);
	expect_subscribe_at(0);
}

/* The waits between HELLOs of one client that never gets an answer, in ms. */
static void hello_waits(struct herald_client_opts o, uint64_t *waits, int n)
{
	int seed;

	open_seeded(o);
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	cr_assert_geq(hello_seed(CTX), 0);
	for (int i = 0; i < n; i++)
		waits[i] = step_until_hello(CTX, &seed, 100000 * MS) / MS;
	herald_client_close(c);
	c = NULL;
}

Test(seeds, backoff_grows_is_jittered_and_capped)
{
	uint64_t lo[8], hi[8], j1[8], j2[8], x1 = 1, x2 = 2;
	const uint64_t base = 50, cap = 600;
	struct herald_client_opts o = {.reconnect_min_ms = base, .reconnect_max_ms = cap};

	/* Draw 0: every wait is the bottom of its window, half of it. */
	rand_script[0] = 0;
	rand_n = 1;
	rand_i = 0;
	o.rand = scripted_rand;
	hello_waits(o, lo, 8);
	/* Draw w/2 (mod w/2 + 1): the top of the window. */
	o.rand = NULL;
	for (int i = 0; i < 8; i++) {
		uint64_t w = (base << i) < cap ? (base << i) : cap;

		cr_assert_eq(lo[i], w / 2, "attempt %d: %lu ms, expected %lu", i, (unsigned long)lo[i],
			     (unsigned long)(w / 2));
	}
	rand_script[0] = UINT64_MAX; /* UINT64_MAX % (w/2 * MS + 1): somewhere in the window */
	o.rand = scripted_rand;
	rand_i = 0;
	hello_waits(o, hi, 8);
	for (int i = 0; i < 8; i++) {
		uint64_t w = (base << i) < cap ? (base << i) : cap;

		cr_assert(hi[i] >= w / 2 && hi[i] <= w, "attempt %d: %lu ms, window %lu", i,
			  (unsigned long)hi[i], (unsigned long)w);
	}
	/* Grows to the cap, then stays there. */
	cr_assert_eq(lo[4], cap / 2);
	cr_assert_eq(lo[7], cap / 2);
	/* Two clients with their own draws wait differently. */
	o.rand = xorshift_rand;
	o.rand_arg = &x1;
	hello_waits(o, j1, 8);
	o.rand_arg = &x2;
	hello_waits(o, j2, 8);
	unsigned same = 0;
	for (int i = 0; i < 8; i++) {
		uint64_t w = (base << i) < cap ? (base << i) : cap;

		cr_assert(j1[i] >= w / 2 && j1[i] <= w);
		cr_assert(j2[i] >= w / 2 && j2[i] <= w);
		same += j1[i] == j2[i];
	}
	cr_assert_lt(same, 4, "jitter: two clients waited the same %u times of 8", same);
}

Test(seeds, silent_node_reconnect_resubscribes_and_converges)
{
	uint64_t x = 77;
	struct herald_client_stats st;
	struct herald_route r;
	int seed;

	open_seeded((struct herald_client_opts){.rand = xorshift_rand, .rand_arg = &x,
						.auto_resync = 1});
	seeded_live(0, SESSION);
	dp_entry(0, HERALD_T_DELTA, 0, SESSION, 2, "b", "2");
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, 3);
	/* Node 0 falls silent: timeout, then a HELLO within the first window, [0, base]. */
	fake_now += TIMEOUT_BEATS * HB_MS * MS;
	herald_client_poll(c, 0);
	cr_assert_eq(events[nevents - 1].kind, EV_TIMEOUT);
	herald_client_stats(c, &st);
	cr_assert_eq(st.reconnects, 1);
	cr_assert_eq(herald_client_route(c, CTX, &r), -EAGAIN);
	cr_assert_eq(herald_client_synced(c, CTX), 0);
	uint64_t waited = step_until_hello(CTX, &seed, 10000 * MS);
	cr_assert_leq(waited, (uint64_t)HB_MS * MS, "first reconnect HELLO after %lu ms",
		      (unsigned long)(waited / MS));
	/* A director that has not noticed yet sends the client back: ignored. */
	redirect_from(seed_fd[seed], CTX, 0, 1);
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.redirects_ignored, 1);
	cr_assert(!fd_poll(dp_fd[0], (uint8_t[DGRAM_MAX]){0}, &(struct herald_frame){0}),
		  "the client went back to the failed node");
	/* The next HELLO gets the new primary (a newer epoch). */
	step_until_hello(CTX, &seed, 10000 * MS);
	redirect_from(seed_fd[seed], CTX, 1, 2);
	herald_client_poll(c, 0);
	expect_subscribe_at(1);
	/* The old node's late frames are not heard; the new node's snapshot is the view. */
	dp_entry(0, HERALD_T_DELTA, 0, SESSION, 3, "b", "stale");
	dp_entry(1, HERALD_T_SNAPSHOT, 0, SESSION + 1, 1, "a", "10");
	dp_entry(1, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, SESSION + 1, 2, "b", "20");
	dp_entry(1, HERALD_T_DELTA, 0, SESSION + 1, 3, "b", "21");
	unsigned before = nevents;
	herald_client_poll(c, 0);
	cr_assert_eq(nevents, before + 4);
	cr_assert_eq(events[before].kind, EV_SNAPSHOT);
	cr_assert_str_eq(events[before].key, "a");
	cr_assert_eq(memcmp(events[before].value, "10", 2), 0);
	cr_assert_eq(events[before + 1].kind, EV_SNAPSHOT);
	cr_assert_eq(events[before + 2].kind, EV_SNAPSHOT_END);
	cr_assert_eq(events[before + 3].kind, EV_DELTA);
	cr_assert_eq(memcmp(events[before + 3].value, "21", 2), 0);
	cr_assert_eq(herald_client_synced(c, CTX), 1);
	cr_assert_eq(herald_client_route(c, CTX, &r), 0);
	cr_assert_eq(r.node.sin_port, dp_addr[1].sin_port);
	cr_assert_eq(r.epoch, 2);
	herald_client_stats(c, &st);
	cr_assert_eq(st.wrong_source, 1);
	cr_assert_eq(st.gaps, 0, "the new session numbers from 1: no gap");
	/* The session is confirmed and kept alive at the new node only. */
	uint8_t buf[DGRAM_MAX];
	socklen_t len = sizeof(cl_addr);
	cr_assert_gt(recvfrom(dp_fd[1], buf, DGRAM_MAX, MSG_DONTWAIT, (struct sockaddr *)&cl_addr,
			      &len),
		     0);
	/* The backoff starts afresh: the next silence reconnects within [0, base] again. */
	fake_now += TIMEOUT_BEATS * HB_MS * MS;
	herald_client_poll(c, 0);
	waited = step_until_hello(CTX, &seed, 10000 * MS);
	cr_assert_leq(waited, (uint64_t)HB_MS * MS);
	herald_client_stats(c, &st);
	cr_assert_eq(st.reconnects, 2);
}

Test(seeds, unanswered_subscribe_looks_again)
{
	struct herald_client_stats st;
	int seed;

	open_seeded((struct herald_client_opts){0});
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	seed = hello_seed(CTX);
	redirect_from(seed_fd[seed], CTX, 0, 1);
	herald_client_poll(c, 0);
	expect_subscribe_at(0);
	for (int i = 1; i < HERALD_CLIENT_SUBSCRIBE_TRIES; i++) {
		fake_now += HB_MS * MS;
		herald_client_poll(c, 0);
		expect_subscribe_at(0);
		cr_assert_eq(hello_seed(CTX), -1);
	}
	fake_now += HB_MS * MS;
	herald_client_poll(c, 0);
	herald_client_stats(c, &st);
	cr_assert_eq(st.reconnects, 1);
	step_until_hello(CTX, &seed, 10000 * MS);
	/* The node that did not answer is not taken again at the same epoch. */
	redirect_from(seed_fd[seed], CTX, 0, 1);
	redirect_from(seed_fd[seed], CTX, 1, 1);
	herald_client_poll(c, 0);
	expect_subscribe_at(1);
	herald_client_stats(c, &st);
	cr_assert_eq(st.redirects_ignored, 1);
}

Test(seeds, never_a_fixed_failover_order)
{
	/*
	 * 200 clients on the default generator, each losing its node: the seed
	 * sequence of their first three HELLOs after the silence. A fixed
	 * order would give one sequence for all.
	 */
	unsigned first[NSEEDS] = {0}, seqs[NSEEDS * NSEEDS * NSEEDS] = {0}, distinct = 0;

	for (int i = 0; i < 200; i++) {
		int s[3];

		open_seeded((struct herald_client_opts){0});
		seeded_live(0, SESSION);
		fake_now += TIMEOUT_BEATS * HB_MS * MS;
		herald_client_poll(c, 0);
		for (int k = 0; k < 3; k++)
			step_until_hello(CTX, &s[k], 100000 * MS);
		cr_assert(s[0] != s[1] && s[1] != s[2], "a seed tried twice in a row");
		first[s[0]]++;
		seqs[s[0] * 9 + s[1] * 3 + s[2]]++;
		herald_client_close(c);
		c = NULL;
		/* Whatever the client sent its dataplane is not this test's business. */
		uint8_t buf[DGRAM_MAX];
		struct herald_frame f;
		while (fd_poll(dp_fd[0], buf, &f))
			;
		nevents = 0;
	}
	for (unsigned i = 0; i < NSEEDS * NSEEDS * NSEEDS; i++)
		distinct += seqs[i] != 0;
	/* 3 first choices x 2 x 2 = 12 possible sequences. */
	cr_assert_geq(distinct, 10, "only %u different failover orders in 200 clients", distinct);
	for (int i = 0; i < NSEEDS; i++)
		cr_assert(first[i] >= 30, "seed %d was the first try of %u clients of 200", i,
			  first[i]);
}

Test(seeds, publish_finds_the_node_and_refreshes_the_route)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	int seed;

	open_seeded((struct herald_client_opts){.route_refresh_ms = 500});
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v", 1), -EAGAIN);
	seed = hello_seed(CTX);
	cr_assert_geq(seed, 0);
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v", 1), -EAGAIN);
	cr_assert_eq(hello_seed(CTX), -1, "one HELLO, not one per publish");
	redirect_from(seed_fd[seed], CTX, 0, 1);
	herald_client_poll(c, 0);
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v1", 2), 0);
	cr_assert(fd_poll(dp_fd[0], buf, &f));
	cr_assert_eq(f.type, HERALD_T_PUBLISH);
	cr_assert_eq(f.context, CTX);
	/* A publish route sends no heartbeats and does not time out. */
	fake_now += 499 * MS;
	herald_client_poll(c, 0);
	cr_assert(!fd_poll(dp_fd[0], buf, &f));
	cr_assert_eq(nevents, 0);
	/* It is asked for again; publishing goes on to the old node until the answer. */
	fake_now += MS;
	herald_client_poll(c, 0);
	seed = hello_seed(CTX);
	cr_assert_geq(seed, 0);
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v2", 2), 0);
	cr_assert(fd_poll(dp_fd[0], buf, &f));
	redirect_from(seed_fd[seed], CTX, 1, 2);
	herald_client_poll(c, 0);
	cr_assert_eq(herald_publish(c, CTX, "k", 1, "v3", 2), 0);
	cr_assert(fd_poll(dp_fd[1], buf, &f));
	cr_assert_eq(f.type, HERALD_T_PUBLISH);
	cr_assert_eq(f.seq, 3, "one publish counter across nodes");
	/* Answered refreshes do not build up backoff: a lost one is retried within the first window. */
	for (int i = 0; i < 20; i++) {
		fake_now += 500 * MS;
		herald_client_poll(c, 0);
		seed = hello_seed(CTX);
		cr_assert_geq(seed, 0);
		redirect_from(seed_fd[seed], CTX, 1, 2);
		herald_client_poll(c, 0);
	}
	fake_now += 500 * MS;
	herald_client_poll(c, 0);
	cr_assert_geq(hello_seed(CTX), 0); /* this one is lost */
	uint64_t waited = step_until_hello(CTX, &seed, 100000 * MS);
	cr_assert_leq(waited, (uint64_t)HB_MS * MS, "refresh retried after %lu ms",
		      (unsigned long)(waited / MS));
	/* Subscribing to a published context takes over its route. */
	cr_assert_eq(herald_subscribe(c, CTX), 0);
	expect_subscribe_at(1);
}

/*
 * A node that requires tokens refuses a resubscribe whose token expired: the
 * client HELLOs that node, follows its REDIRECT to where the context is now
 * and subscribes there with the new token.
 */
Test(seeds, token_required_hello_to_the_node_and_redirect_followed)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	uint32_t e;
	uint64_t t;

	open_seeded((struct herald_client_opts){.auto_resync = 1});
	seeded_live(0, SESSION);
	uint8_t err[4] = {0, HERALD_ERR_UNKNOWN_SESSION, 0, 0};
	struct herald_hdr_fields h = {.type = HERALD_T_ERROR, .context = CTX};
	herald_hdr_encode(buf, &h, 0, sizeof(err), sizeof(err));
	memcpy(buf + sizeof(struct herald_hdr), err, sizeof(err));
	send_to_client(dp_fd[0], buf, sizeof(struct herald_hdr) + sizeof(err));
	herald_client_poll(c, 0);
	cr_assert(fd_poll(dp_fd[0], buf, &f));
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	/* The seed's token, which the node finds expired (12345 is long past). */
	cr_assert_eq(herald_subscribe_token_get(&f, &e, &t), 1);
	err[1] = HERALD_ERR_TOKEN_REQUIRED;
	herald_hdr_encode(buf, &h, 0, sizeof(err), sizeof(err));
	memcpy(buf + sizeof(struct herald_hdr), err, sizeof(err));
	send_to_client(dp_fd[0], buf, sizeof(struct herald_hdr) + sizeof(err));
	herald_client_poll(c, 0);
	/* The HELLO goes to the node that refused, not to a seed. */
	cr_assert(fd_poll(dp_fd[0], buf, &f), "no HELLO to the node");
	cr_assert_eq(f.type, HERALD_T_HELLO);
	cr_assert_eq(hello_seed(CTX), -1);
	redirect_from(dp_fd[0], CTX, 1, 2);
	herald_client_poll(c, 0);
	cr_assert(fd_poll(dp_fd[1], buf, &f), "the REDIRECT to dataplane 1 was not followed");
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	cr_assert_eq(herald_subscribe_token_get(&f, &e, &t), 1);
	cr_assert_eq(e, 12345);
	cr_assert_eq(t, 0x1122334455667788ull);
	struct herald_client_stats st;
	herald_client_stats(c, &st);
	cr_assert_eq(st.token_refusals, 1);
}
