/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of libherald (client/client.c) against a fake node: a UDP socket
 * on 127.0.0.1 in the test process that speaks protocol v1 through the codec.
 * Time is the injected clock, so heartbeats and timeouts are driven by the
 * test, never by sleeping.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void open_client(int auto_resync)
{
	char addr[32];
	struct herald_client_opts o = {
		.node = addr,
		.heartbeat_ms = HB_MS,
		.timeout_beats = TIMEOUT_BEATS,
		.auto_resync = auto_resync,
		.now_ns = clock_now,
	};

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(node_addr.sin_port));
	c = herald_client_open(&o, &callbacks);
	cr_assert_not_null(c, "herald_client_open: %s", strerror(errno));
}

static void fake_node_up(void)
{
	struct timeval tv = {.tv_sec = 2};
	socklen_t len = sizeof(node_addr);

	nevents = 0;
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
		.type = type, .flags = flags, .context = CTX, .session = SESSION, .seq = seq,
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

/* Subscribe, check the SUBSCRIBE frame, answer a one-entry snapshot (seq 1). */
static void subscribe_live(void)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	struct herald_subscribe_body sb;

	cr_assert_eq(herald_subscribe(c, CTX), 0);
	node_recv(buf, &f);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	cr_assert_eq(f.context, CTX);
	cr_assert_eq(f.session, 0);
	memcpy(&sb, f.body, sizeof(sb));
	cr_assert_eq(ntohs(sb.heartbeat_ms), HB_MS);
	node_send_entry(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 1, "a", "1", 1, false);
	pump_until(nevents + 2);
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
