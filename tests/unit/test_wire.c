/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the protocol v1 codec (client/wire.c): round trips of every
 * message type, fragmentation on fixed boundaries, and rejection of every
 * malformed frame with the exact drop reason the dataplane will count.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include <herald/proto.h>

#define HDR_LEN ((unsigned)sizeof(struct herald_hdr))
#define FRAG HERALD_FRAG_BODY_MAX
#define DGRAM_MAX (HDR_LEN + FRAG + 64)

/* Byte offsets of the header fields, as docs/protocol.md lists them. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 2,
	OFF_TYPE = 3,
	OFF_FLAGS = 4,
	OFF_LENGTH = 6,
	OFF_CONTEXT = 8,
	OFF_SESSION = 12,
	OFF_SEQ = 16,
	OFF_FRAG_OFF = 24,
	OFF_MSG_LEN = 26,
	OFF_RESERVED = 28,
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static const struct herald_hdr_fields base_fields = {
	.type = HERALD_T_DELTA,
	.flags = 0,
	.context = 0x01020304,
	.session = 0xa0b0c0d0,
	.seq = 0x1122334455667788ull,
};

/* Write a header of @p type with a zero body of @p length bytes; returns the datagram length. */
static size_t mk(uint8_t *buf, uint8_t type, uint16_t flags, uint16_t frag_off, uint16_t length,
		 uint16_t msg_len)
{
	struct herald_hdr_fields h = base_fields;
	h.type = type;
	h.flags = flags;
	herald_hdr_encode(buf, &h, frag_off, length, msg_len);
	memset(buf + HDR_LEN, 0, length);
	return HDR_LEN + length;
}

/* A whole entry frame with a @p key_len-byte key and @p value_len-byte value. */
static size_t mk_entry(uint8_t *buf, uint8_t type, uint16_t flags, uint16_t key_len,
		       uint16_t value_len)
{
	uint16_t msg_len = (uint16_t)(2 + key_len + value_len);
	size_t n = mk(buf, type, flags, 0, msg_len, msg_len);
	put16(buf + HDR_LEN, key_len);
	memset(buf + HDR_LEN + 2, 'k', key_len);
	memset(buf + HDR_LEN + 2 + key_len, 'v', value_len);
	return n;
}

/*
 * Decode from a heap copy of exactly @p len bytes, so that a read past the
 * end is caught by AddressSanitizer when the tests are built with it.
 */
static enum herald_drop decode(const uint8_t *buf, size_t len, struct herald_frame *f)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	enum herald_drop r = herald_frame_decode(copy, len, f);
	/* Pointers into the copy must not outlive it. */
	if (f->body != NULL)
		f->body = buf + (f->body - copy);
	if (f->key != NULL)
		f->key = buf + (f->key - copy);
	free(copy);
	return r;
}

static enum herald_drop reason(const uint8_t *buf, size_t len)
{
	struct herald_frame f;
	return decode(buf, len, &f);
}

#define assert_reason(buf, len, want)                                                      \
	do {                                                                               \
		enum herald_drop got_ = reason((buf), (len));                              \
		cr_assert_eq(got_, (want), "%s:%d: got %s, want %s", __FILE__, __LINE__,   \
			     herald_drop_name(got_), herald_drop_name(want));              \
	} while (0)

/* ---- names ---- */

Test(wire_names, drop_names_snake_case)
{
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_NONE), "none");
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_BAD_MAGIC), "bad_magic");
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_BAD_VERSION), "bad_version");
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_IP_FRAGMENT), "ip_fragment");
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_REASSEMBLY_MISMATCH), "reassembly_mismatch");
	cr_assert_str_eq(herald_drop_name(HERALD_DROP_TX_FULL), "tx_full");
	cr_assert_null(herald_drop_name(HERALD_DROP_MAX));
	cr_assert_null(herald_drop_name((enum herald_drop)(HERALD_DROP_MAX + 1)));
	cr_assert_null(herald_drop_name((enum herald_drop)-1));
}

Test(wire_names, counter_names_snake_case)
{
	cr_assert_str_eq(herald_counter_name(HERALD_CTR_RX_PACKETS), "rx_packets");
	cr_assert_str_eq(herald_counter_name(HERALD_CTR_TX_ZEROCOPY), "tx_zerocopy");
	cr_assert_str_eq(herald_counter_name(HERALD_CTR_KEYS_ACTIVE), "keys_active");
	cr_assert_null(herald_counter_name(HERALD_CTR_MAX));
	cr_assert_null(herald_counter_name((enum herald_counter)-1));
}

static void check_names(const char *(*name)(unsigned), unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const char *a = name(i);
		cr_assert_not_null(a, "name %u is NULL", i);
		cr_assert_gt(strlen(a), 0);
		for (const char *p = a; *p; p++)
			cr_assert(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_',
				  "name '%s' is not snake_case", a);
		for (unsigned j = 0; j < i; j++)
			cr_assert_str_neq(a, name(j), "names %u and %u are both '%s'", i, j, a);
	}
}

static const char *drop_name_u(unsigned i)
{
	return herald_drop_name((enum herald_drop)i);
}

static const char *counter_name_u(unsigned i)
{
	return herald_counter_name((enum herald_counter)i);
}

Test(wire_names, every_drop_reason_named_distinctly)
{
	check_names(drop_name_u, HERALD_DROP_MAX);
}

Test(wire_names, every_counter_named_distinctly)
{
	check_names(counter_name_u, HERALD_CTR_MAX);
}

static const char *port_stat_name_u(unsigned i)
{
	return herald_port_stat_name((enum herald_port_stat)i);
}

Test(wire_names, port_stats_named_distinctly)
{
	check_names(port_stat_name_u, HERALD_PORT_STAT_MAX);
	cr_assert_str_eq(herald_port_stat_name(HERALD_PORT_RX_NOMBUF), "rx_nombuf");
	cr_assert_null(herald_port_stat_name(HERALD_PORT_STAT_MAX));
}

/* ---- header layout and round trips ---- */

Test(wire_hdr, layout_is_big_endian)
{
	static const uint8_t want[32] = {
		0x48, 0x52, 0x01, 0x03,                         /* magic "HR", version, DELTA */
		0x00, 0x00, 0x00, 0x10,                         /* flags, length 16 */
		0x01, 0x02, 0x03, 0x04,                         /* context */
		0xa0, 0xb0, 0xc0, 0xd0,                         /* session */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* seq */
		0x05, 0xa0, 0x10, 0x42,                         /* frag_off 1440, msg_len 4162 */
		0x00, 0x00, 0x00, 0x00,                         /* reserved */
	};
	uint8_t buf[32];

	herald_hdr_encode(buf, &base_fields, 1440, 16, 4162);
	cr_assert_arr_eq(buf, want, sizeof(want));
	cr_assert_eq(OFF_RESERVED + 4, (int)sizeof(struct herald_hdr));
}

Test(wire_rt, subscribe)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 8, 8);
	put16(buf + HDR_LEN, 250);                     /* heartbeat_ms */
	put16(buf + HDR_LEN + 2, 0);                   /* flags */
	uint32_t budget = htonl(100000);
	memcpy(buf + HDR_LEN + 4, &budget, 4);

	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_SUBSCRIBE);
	cr_assert_eq(f.flags, 0);
	cr_assert_eq(f.length, 8);
	cr_assert_eq(f.msg_len, 8);
	cr_assert_eq(f.frag_off, 0);
	cr_assert_eq(f.context, base_fields.context);
	cr_assert_eq(f.session, base_fields.session);
	cr_assert_eq(f.seq, base_fields.seq);
	cr_assert_eq(f.body, buf + HDR_LEN);
	cr_assert_null(f.key);

	struct herald_subscribe_body sb;
	memcpy(&sb, f.body, sizeof(sb));
	cr_assert_eq(ntohs(sb.heartbeat_ms), 250);
	cr_assert_eq(ntohl(sb.budget), 100000);
}

static void check_empty(uint8_t type)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	size_t n = mk(buf, type, 0, 0, 0, 0);

	cr_assert_eq(n, HDR_LEN);
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, type);
	cr_assert_eq(f.length, 0);
	cr_assert_eq(f.msg_len, 0);
	cr_assert_eq(f.seq, base_fields.seq);
	cr_assert_eq(f.session, base_fields.session);
	cr_assert_eq(f.context, base_fields.context);
	cr_assert_null(f.key);
}

Test(wire_rt, heartbeat)
{
	check_empty(HERALD_T_HEARTBEAT);
}

Test(wire_rt, bye)
{
	check_empty(HERALD_T_BYE);
}

Test(wire_rt, error)
{
	static const char text[] = "session table full";
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	uint16_t len = (uint16_t)(4 + strlen(text));
	size_t n = mk(buf, HERALD_T_ERROR, 0, 0, len, len);
	put16(buf + HDR_LEN, HERALD_ERR_NO_SESSION_SPACE);
	memcpy(buf + HDR_LEN + 4, text, strlen(text));

	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_ERROR);
	cr_assert_eq(get16(f.body), HERALD_ERR_NO_SESSION_SPACE);
	cr_assert_eq(f.length, len);
	cr_assert_arr_eq(f.body + 4, text, strlen(text));

	/* No text and the longest text are both fine. */
	n = mk(buf, HERALD_T_ERROR, 0, 0, 4, 4);
	cr_assert_eq(reason(buf, n), HERALD_DROP_NONE);
	n = mk(buf, HERALD_T_ERROR, 0, 0, 4 + HERALD_ERROR_TEXT_MAX, 4 + HERALD_ERROR_TEXT_MAX);
	cr_assert_eq(reason(buf, n), HERALD_DROP_NONE);
}

static void check_entry_rt(uint8_t type, uint16_t flags, unsigned key_len, unsigned value_len)
{
	uint8_t key[HERALD_KEY_MAX], value[HERALD_VALUE_MAX], buf[DGRAM_MAX];
	struct herald_hdr_fields h = base_fields;
	struct herald_frame f;

	h.type = type;
	h.flags = flags;
	for (unsigned i = 0; i < key_len; i++)
		key[i] = (uint8_t)('a' + i % 26);
	for (unsigned i = 0; i < value_len; i++)
		value[i] = (uint8_t)(i * 7 + 3);

	int n = herald_entry_encode(buf, sizeof(buf), &h, key, key_len, value, value_len, 0);
	cr_assert_eq(n, (int)(HDR_LEN + 2 + key_len + value_len));
	cr_assert_eq(decode(buf, (size_t)n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, type);
	cr_assert_eq(f.flags, flags);
	cr_assert_eq(f.context, h.context);
	cr_assert_eq(f.session, h.session);
	cr_assert_eq(f.seq, h.seq);
	cr_assert_eq(f.frag_off, 0);
	cr_assert_eq(f.msg_len, 2 + key_len + value_len);
	cr_assert_eq(f.length, f.msg_len);
	cr_assert_eq(f.key_len, key_len);
	cr_assert_eq(f.value_len, value_len);
	cr_assert_eq(f.key, buf + HDR_LEN + 2);
	cr_assert_arr_eq(f.key, key, key_len);
	if (value_len > 0)
		cr_assert_arr_eq(f.key + key_len, value, value_len);
}

Test(wire_rt, snapshot)
{
	check_entry_rt(HERALD_T_SNAPSHOT, 0, 5, 100);
	check_entry_rt(HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 5, 100);
}

Test(wire_rt, snapshot_empty_end)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	size_t n = mk(buf, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 0, 0, 0);

	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_SNAPSHOT);
	cr_assert_eq(f.flags, HERALD_F_SNAP_END);
	cr_assert_eq(f.msg_len, 0);
	cr_assert_null(f.key);
}

Test(wire_rt, delta)
{
	check_entry_rt(HERALD_T_DELTA, 0, 1, 0);
	check_entry_rt(HERALD_T_DELTA, 0, 12, 8);
}

Test(wire_rt, publish)
{
	check_entry_rt(HERALD_T_PUBLISH, 0, 64, 1440 - 66); /* exactly one full datagram */
	check_entry_rt(HERALD_T_PUBLISH, 0, 3, 1);
}

/* ---- fragmentation ---- */

Test(wire_frag, frag_count)
{
	cr_assert_eq(herald_frag_count(0), 1);
	cr_assert_eq(herald_frag_count(1), 1);
	cr_assert_eq(herald_frag_count(1440), 1);
	cr_assert_eq(herald_frag_count(1441), 2);
	cr_assert_eq(herald_frag_count(2880), 2);
	cr_assert_eq(herald_frag_count(2881), 3);
	cr_assert_eq(herald_frag_count(HERALD_MSG_MAX), HERALD_FRAGS_MAX);
	cr_assert_eq(HERALD_MSG_MAX, 4162);
	cr_assert_eq(HERALD_FRAGS_MAX, 3);
}

/*
 * Encode every fragment of an entry, decode each one, check what the decoder
 * reports per fragment, and place the slices by frag_off: the reassembled
 * body must be exactly key_len | key | value.
 */
static void check_fragmented(uint8_t type, unsigned key_len, unsigned value_len)
{
	uint8_t key[HERALD_KEY_MAX], value[HERALD_VALUE_MAX];
	uint8_t want[HERALD_MSG_MAX], got[HERALD_MSG_MAX];
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = base_fields;
	unsigned msg_len = herald_entry_msg_len(key_len, value_len);
	unsigned frags = herald_frag_count(msg_len);
	unsigned covered = 0;

	h.type = type;
	for (unsigned i = 0; i < key_len; i++)
		key[i] = (uint8_t)(0x30 + i);
	for (unsigned i = 0; i < value_len; i++)
		value[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5a);
	want[0] = (uint8_t)(key_len >> 8);
	want[1] = (uint8_t)key_len;
	memcpy(want + 2, key, key_len);
	memcpy(want + 2 + key_len, value, value_len);
	memset(got, 0xee, sizeof(got));

	for (unsigned i = 0; i < frags; i++) {
		struct herald_frame f;
		unsigned expect_len = msg_len - i * FRAG < FRAG ? msg_len - i * FRAG : FRAG;
		int n = herald_entry_encode(buf, sizeof(buf), &h, key, key_len, value, value_len, i);

		cr_assert_eq(n, (int)(HDR_LEN + expect_len), "frag %u of %u: %d", i, frags, n);
		cr_assert_eq(decode(buf, (size_t)n, &f), HERALD_DROP_NONE, "frag %u", i);
		cr_assert_eq(f.frag_off, i * FRAG);
		cr_assert_eq(f.length, expect_len);
		cr_assert_eq(f.msg_len, msg_len);
		cr_assert_eq(f.seq, h.seq, "fragments share the seq");
		if (i == 0) {
			cr_assert_eq(f.key_len, key_len);
			cr_assert_eq(f.value_len, value_len);
			cr_assert_arr_eq(f.key, key, key_len);
		} else {
			cr_assert_null(f.key);
			cr_assert_eq(f.key_len, 0);
		}
		memcpy(got + f.frag_off, f.body, f.length);
		covered += f.length;
	}
	cr_assert_eq(covered, msg_len);
	cr_assert_arr_eq(got, want, msg_len);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, key_len, value, value_len, frags),
		     -EINVAL);
}

Test(wire_frag, value_2000_two_fragments)
{
	unsigned msg_len = herald_entry_msg_len(8, 2000);
	cr_assert_eq(herald_frag_count(msg_len), 2);
	check_fragmented(HERALD_T_DELTA, 8, 2000);
	check_fragmented(HERALD_T_PUBLISH, 8, 2000);
}

Test(wire_frag, max_key_max_value)
{
	unsigned msg_len = herald_entry_msg_len(HERALD_KEY_MAX, HERALD_VALUE_MAX);
	cr_assert_eq(msg_len, HERALD_MSG_MAX);
	cr_assert_eq(herald_frag_count(msg_len), 3);
	check_fragmented(HERALD_T_SNAPSHOT, HERALD_KEY_MAX, HERALD_VALUE_MAX);
}

Test(wire_frag, boundary_sizes)
{
	static const unsigned keys[] = {1, 17, HERALD_KEY_MAX};
	static const unsigned values[] = {0, 1, 1374, 1375, 1376, 1437, 1438, 1439, 1440,
					  2000, 2814, 2815, 2816, 2878, 4000, HERALD_VALUE_MAX};
	for (unsigned k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (unsigned v = 0; v < sizeof(values) / sizeof(values[0]); v++)
			check_fragmented(HERALD_T_DELTA, keys[k], values[v]);
}

Test(wire_frag, last_fragment_may_be_short)
{
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_DELTA, 0, FRAG, 1, FRAG + 1);
	assert_reason(buf, n, HERALD_DROP_NONE);
}

/* ---- rejection, each with its exact reason ---- */

Test(wire_reject, truncated_every_length)
{
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
	cr_assert_eq(n, 32);
	for (size_t len = 0; len < HDR_LEN; len++)
		assert_reason(buf, len, HERALD_DROP_TRUNCATED);
	assert_reason(buf, n, HERALD_DROP_NONE);

	struct herald_frame f;
	cr_assert_eq(herald_frame_decode(NULL, 0, &f), HERALD_DROP_TRUNCATED);
}

Test(wire_reject, bad_magic)
{
	static const uint16_t magics[] = {0x0000, 0x5248, 0x4853, 0x4952, 0xffff};
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
	for (unsigned i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		put16(buf + OFF_MAGIC, magics[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_MAGIC);
	}
}

Test(wire_reject, bad_version)
{
	static const uint8_t versions[] = {0, 2, 255};
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
	for (unsigned i = 0; i < sizeof(versions); i++) {
		buf[OFF_VERSION] = versions[i];
		assert_reason(buf, n, HERALD_DROP_BAD_VERSION);
	}
}

Test(wire_reject, bad_type)
{
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
	buf[OFF_TYPE] = 0;
	assert_reason(buf, n, HERALD_DROP_BAD_TYPE);
	for (unsigned t = HERALD_T_MAX; t <= 255; t++) {
		buf[OFF_TYPE] = (uint8_t)t;
		assert_reason(buf, n, HERALD_DROP_BAD_TYPE);
	}
}

Test(wire_reject, bad_length)
{
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 8, 8);

	put16(buf + OFF_LENGTH, 9); /* header claims more than the datagram */
	assert_reason(buf, n, HERALD_DROP_BAD_LENGTH);
	put16(buf + OFF_LENGTH, 7); /* header claims less: trailing bytes */
	assert_reason(buf, n, HERALD_DROP_BAD_LENGTH);
	put16(buf + OFF_LENGTH, 0xffff);
	assert_reason(buf, n, HERALD_DROP_BAD_LENGTH);

	n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
	assert_reason(buf, n + 1, HERALD_DROP_BAD_LENGTH);
	put16(buf + OFF_LENGTH, 1);
	assert_reason(buf, n, HERALD_DROP_BAD_LENGTH);
}

Test(wire_reject, unknown_flags)
{
	uint8_t buf[DGRAM_MAX];
	for (unsigned bit = 1; bit < 16; bit++) {
		size_t n = mk_entry(buf, HERALD_T_SNAPSHOT, (uint16_t)(1u << bit), 4, 4);
		assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
		n = mk_entry(buf, HERALD_T_SNAPSHOT, (uint16_t)(1u << bit | HERALD_F_SNAP_END), 4, 4);
		assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	}
}

Test(wire_reject, snap_end_on_other_types)
{
	uint8_t buf[DGRAM_MAX];
	size_t n;

	n = mk_entry(buf, HERALD_T_DELTA, HERALD_F_SNAP_END, 4, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk_entry(buf, HERALD_T_PUBLISH, HERALD_F_SNAP_END, 4, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_SUBSCRIBE, HERALD_F_SNAP_END, 0, 8, 8);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_HEARTBEAT, HERALD_F_SNAP_END, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_BYE, HERALD_F_SNAP_END, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_ERROR, HERALD_F_SNAP_END, 0, 4, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
}

Test(wire_reject, reserved_nonzero)
{
	uint8_t buf[DGRAM_MAX];
	for (unsigned i = 0; i < 4; i++) {
		size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, 0, 0);
		buf[OFF_RESERVED + i] = 0x01;
		assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	}
}

Test(wire_reject, oversized)
{
	uint8_t buf[DGRAM_MAX];
	size_t n;

	/* One datagram body past 1440. */
	n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG + 1, FRAG + 1);
	put16(buf + HDR_LEN, 4);
	assert_reason(buf, n, HERALD_DROP_OVERSIZED);
	/* A message past HERALD_MSG_MAX, even with a valid-looking first fragment. */
	n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG, HERALD_MSG_MAX + 1);
	put16(buf + HDR_LEN, 4);
	assert_reason(buf, n, HERALD_DROP_OVERSIZED);
	n = mk(buf, HERALD_T_PUBLISH, 0, 0, FRAG, 0xffff);
	put16(buf + HDR_LEN, 4);
	assert_reason(buf, n, HERALD_DROP_OVERSIZED);
	/* The largest message is fine. */
	n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG, HERALD_MSG_MAX);
	put16(buf + HDR_LEN, HERALD_KEY_MAX);
	assert_reason(buf, n, HERALD_DROP_NONE);
}

Test(wire_reject, value_too_large)
{
	uint8_t buf[DGRAM_MAX];
	/* key_len 1 and msg_len HERALD_MSG_MAX: the value is 4159 bytes. */
	size_t n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG, HERALD_MSG_MAX);
	put16(buf + HDR_LEN, 1);
	assert_reason(buf, n, HERALD_DROP_OVERSIZED);
	/* key_len 1, value exactly one byte too many. */
	n = mk(buf, HERALD_T_PUBLISH, 0, 0, FRAG, 2 + 1 + HERALD_VALUE_MAX + 1);
	put16(buf + HDR_LEN, 1);
	assert_reason(buf, n, HERALD_DROP_OVERSIZED);
	/* ... and exactly the maximum. */
	n = mk(buf, HERALD_T_PUBLISH, 0, 0, FRAG, 2 + 1 + HERALD_VALUE_MAX);
	put16(buf + HDR_LEN, 1);
	assert_reason(buf, n, HERALD_DROP_NONE);
}

Test(wire_reject, fragment_off_boundary)
{
	static const uint16_t offs[] = {1, 2, 720, 1439, 1441, 2879, 2881};
	uint8_t buf[DGRAM_MAX];
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t n = mk(buf, HERALD_T_DELTA, 0, offs[i], 10, (uint16_t)(offs[i] + 10));
		assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	}
}

Test(wire_reject, fragment_short_non_last)
{
	uint8_t buf[DGRAM_MAX];
	size_t n;

	n = mk(buf, HERALD_T_DELTA, 0, 0, 1000, 2000);
	put16(buf + HDR_LEN, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG - 1, 2000);
	put16(buf + HDR_LEN, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	n = mk(buf, HERALD_T_DELTA, 0, FRAG, 100, HERALD_MSG_MAX);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	/* A header-only slice of a non-empty message. */
	n = mk(buf, HERALD_T_DELTA, 0, 0, 0, 10);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
}

Test(wire_reject, fragment_past_message)
{
	uint8_t buf[DGRAM_MAX];
	size_t n;

	n = mk(buf, HERALD_T_DELTA, 0, FRAG, 1000, 2000);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	n = mk(buf, HERALD_T_DELTA, 0, FRAG, 1, FRAG);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	n = mk(buf, HERALD_T_DELTA, 0, 2 * FRAG, 10, 2000);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	/* Whole frame whose length exceeds msg_len. */
	n = mk_entry(buf, HERALD_T_DELTA, 0, 4, 4);
	put16(buf + OFF_MSG_LEN, 9);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
}

Test(wire_reject, non_entry_fragmented)
{
	static const uint8_t types[] = {HERALD_T_SUBSCRIBE, HERALD_T_HEARTBEAT, HERALD_T_BYE,
					HERALD_T_ERROR};
	uint8_t buf[DGRAM_MAX];
	for (unsigned i = 0; i < sizeof(types); i++) {
		/* A later fragment ... */
		size_t n = mk(buf, types[i], 0, FRAG, 8, FRAG + 8);
		assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
		/* ... and a first fragment are refused alike. */
		n = mk(buf, types[i], 0, 0, FRAG, FRAG + 8);
		assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
	}
	/* SUBSCRIBE claiming a larger message than the 8 bytes it carries. */
	size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 8, 16);
	assert_reason(buf, n, HERALD_DROP_BAD_FRAGMENT);
}

Test(wire_reject, bad_key)
{
	static const uint16_t lens[] = {0, HERALD_KEY_MAX + 1, 1000, 0xffff};
	uint8_t buf[DGRAM_MAX];
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = mk(buf, HERALD_T_PUBLISH, 0, 0, 100, 100);
		put16(buf + HDR_LEN, lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_KEY);
		/* Also on the first fragment of a fragmented message. */
		n = mk(buf, HERALD_T_DELTA, 0, 0, FRAG, 2000);
		put16(buf + HDR_LEN, lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_KEY);
	}
	size_t n = mk(buf, HERALD_T_PUBLISH, 0, 0, 100, 100);
	put16(buf + HDR_LEN, HERALD_KEY_MAX);
	assert_reason(buf, n, HERALD_DROP_NONE);
}

Test(wire_reject, key_past_body)
{
	uint8_t buf[DGRAM_MAX];
	/* key_len 20 in a 10-byte message. */
	size_t n = mk(buf, HERALD_T_DELTA, 0, 0, 10, 10);
	put16(buf + HDR_LEN, 20);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	/* key_len 9 in an 10-byte message: 2 + 9 > 10 by one byte. */
	put16(buf + HDR_LEN, 9);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	/* key_len 8: key fills the body, empty value. */
	put16(buf + HDR_LEN, 8);
	assert_reason(buf, n, HERALD_DROP_NONE);
}

Test(wire_reject, entry_body_too_short)
{
	uint8_t buf[DGRAM_MAX];
	size_t n;

	n = mk(buf, HERALD_T_DELTA, 0, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	n = mk(buf, HERALD_T_PUBLISH, 0, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	n = mk(buf, HERALD_T_DELTA, 0, 0, 1, 1);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	n = mk(buf, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, 0, 1, 1);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
}

Test(wire_reject, empty_snapshot_without_end)
{
	uint8_t buf[DGRAM_MAX];
	size_t n = mk(buf, HERALD_T_SNAPSHOT, 0, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
}

Test(wire_reject, subscribe_body)
{
	uint8_t buf[DGRAM_MAX];
	static const uint16_t lens[] = {0, 1, 4, 7, 9, 16, 1440};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, lens[i], lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	}
	/* Unknown SUBSCRIBE flags; HERALD_SUB_F_CREDITS and HERALD_SUB_F_TOKEN are known. */
	size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 8, 8);
	buf[HDR_LEN + 3] = HERALD_SUB_F_CREDITS;
	assert_reason(buf, n, HERALD_DROP_NONE);
	buf[HDR_LEN + 3] = 4;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	buf[HDR_LEN + 3] = 0;
	buf[HDR_LEN + 2] = 0x80;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	/* The token flag and the body length must agree: 8 without, 20 with. */
	buf[HDR_LEN + 2] = 0;
	buf[HDR_LEN + 3] = HERALD_SUB_F_TOKEN;
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 20, 20);
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	buf[HDR_LEN + 3] = 8;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	buf[HDR_LEN + 3] = HERALD_SUB_F_TOKEN | HERALD_SUB_F_CREDITS;
	assert_reason(buf, n, HERALD_DROP_NONE);
}

/* SUBSCRIBE with a token (docs/protocol.md §3.2.1): 20 bytes, read back as sent. */
Test(wire_rt, subscribe_with_token)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	uint32_t expiry;
	uint64_t token;
	size_t n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 20, 20);

	memset(buf + HDR_LEN, 0, 20);
	buf[HDR_LEN + 3] = HERALD_SUB_F_TOKEN;
	put16(buf + HDR_LEN + 8, 0x1234);
	put16(buf + HDR_LEN + 10, 0x5678);
	for (int i = 0; i < 8; i++)
		buf[HDR_LEN + 12 + i] = (uint8_t)(0xa0 + i);
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(herald_subscribe_token_get(&f, &expiry, &token), 1);
	cr_assert_eq(expiry, 0x12345678u);
	cr_assert_eq(token, 0xa0a1a2a3a4a5a6a7ull);
	/* An old 8-byte SUBSCRIBE still decodes, and carries no token. */
	n = mk(buf, HERALD_T_SUBSCRIBE, 0, 0, 8, 8);
	memset(buf + HDR_LEN, 0, 8);
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(herald_subscribe_token_get(&f, &expiry, &token), 0);
}

Test(wire_reject, heartbeat_and_bye_with_body)
{
	uint8_t buf[DGRAM_MAX];
	static const uint16_t lens[] = {1, 8, 100};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = mk(buf, HERALD_T_HEARTBEAT, 0, 0, lens[i], lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_BODY);
		n = mk(buf, HERALD_T_BYE, 0, 0, lens[i], lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	}
}

Test(wire_reject, error_body)
{
	uint8_t buf[DGRAM_MAX];
	static const uint16_t lens[] = {0, 1, 3, 4 + HERALD_ERROR_TEXT_MAX + 1, 1440};
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = mk(buf, HERALD_T_ERROR, 0, 0, lens[i], lens[i]);
		assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	}
	/* Non-zero reserved half of the ERROR body. */
	size_t n = mk(buf, HERALD_T_ERROR, 0, 0, 4, 4);
	put16(buf + HDR_LEN, HERALD_ERR_UNKNOWN_SESSION);
	buf[HDR_LEN + 3] = 1;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
}

/* ---- herald_entry_encode errors ---- */

Test(wire_encode, errors)
{
	static uint8_t key[HERALD_KEY_MAX + 1], value[HERALD_VALUE_MAX + 1];
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = base_fields;

	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 0, value, 1, 0), -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, HERALD_KEY_MAX + 1, value, 1, 0),
		     -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, value, HERALD_VALUE_MAX + 1, 0),
		     -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, NULL, 1, value, 1, 0), -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, NULL, 1, 0), -EINVAL);
	/* Fragment index out of range. */
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, value, 1, 1), -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 8, value, 2000, 2), -EINVAL);
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, value, 1, ~0u), -EINVAL);
	/* Types that are not entries. */
	static const uint8_t bad_types[] = {0, HERALD_T_SUBSCRIBE, HERALD_T_HEARTBEAT, HERALD_T_BYE,
					    HERALD_T_ERROR, HERALD_T_MAX, 255};
	for (unsigned i = 0; i < sizeof(bad_types); i++) {
		h.type = bad_types[i];
		cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, value, 1, 0), -EINVAL,
			     "type %u", bad_types[i]);
	}
	h.type = HERALD_T_DELTA;
	/* A NULL value is fine when it is empty. */
	cr_assert_eq(herald_entry_encode(buf, sizeof(buf), &h, key, 1, NULL, 0, 0), (int)HDR_LEN + 3);
}

Test(wire_encode, short_buffer)
{
	static uint8_t key[8], value[2000];
	uint8_t buf[DGRAM_MAX];
	struct herald_hdr_fields h = base_fields;

	cr_assert_eq(herald_entry_encode(buf, 0, &h, key, 8, value, 10, 0), -ENOSPC);
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN - 1, &h, key, 8, value, 10, 0), -ENOSPC);
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + 19, &h, key, 8, value, 10, 0), -ENOSPC);
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + 20, &h, key, 8, value, 10, 0),
		     (int)HDR_LEN + 20);
	/* Fragments need room for their own slice only. */
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + FRAG - 1, &h, key, 8, value, 2000, 0),
		     -ENOSPC);
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + FRAG, &h, key, 8, value, 2000, 0),
		     (int)(HDR_LEN + FRAG));
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + 2010 - FRAG, &h, key, 8, value, 2000, 1),
		     (int)(HDR_LEN + 2010 - FRAG));
	cr_assert_eq(herald_entry_encode(buf, HDR_LEN + 2009 - FRAG, &h, key, 8, value, 2000, 1),
		     -ENOSPC);
}

Test(wire_encode, writes_only_its_datagram)
{
	static uint8_t key[4] = "key1", value[10] = "0123456789";
	uint8_t buf[128];
	struct herald_hdr_fields h = base_fields;

	memset(buf, 0xcc, sizeof(buf));
	int n = herald_entry_encode(buf, HDR_LEN + 16, &h, key, 4, value, 10, 0);
	cr_assert_eq(n, (int)HDR_LEN + 16);
	for (size_t i = (size_t)n; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xcc, "byte %zu written past the datagram", i);
	cr_assert_eq(get16(buf + HDR_LEN), 4);
	cr_assert_arr_eq(buf + HDR_LEN + 2, "key1" "0123456789", 14);
}

/* ---- garbage ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* What a decoder may promise about a frame it accepted. */
static void check_accepted(const uint8_t *buf, size_t len, const struct herald_frame *f)
{
	cr_assert_eq(len, HDR_LEN + f->length);
	cr_assert(f->type > 0 && f->type < HERALD_T_MAX);
	cr_assert_eq(f->body, buf + HDR_LEN);
	cr_assert_leq(f->length, FRAG);
	cr_assert_leq(f->msg_len, HERALD_MSG_MAX);
	cr_assert_leq((unsigned)f->frag_off + f->length, f->msg_len);
	cr_assert_eq(f->frag_off % FRAG, 0);
	if (f->flags & HERALD_F_AUTH)
		cr_assert(f->type == HERALD_T_PUBLISH && f->session == 0);
	else
		cr_assert_eq(f->tag, 0);
	if (f->key != NULL) {
		cr_assert_eq(f->frag_off, 0);
		cr_assert_eq(f->key, f->body + 2);
		cr_assert(f->key_len >= 1 && f->key_len <= HERALD_KEY_MAX);
		cr_assert_leq(2u + f->key_len, f->length);
		cr_assert_leq(f->value_len, HERALD_VALUE_MAX);
		cr_assert_eq(2u + f->key_len + f->value_len, f->msg_len);
	}
}

Test(wire_garbage, random_bytes_bad_magic)
{
	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned iter = 0; iter < 100000; iter++) {
		size_t len = (size_t)(rng() % (HDR_LEN + FRAG + 64));
		uint8_t *buf = malloc(len ? len : 1);
		struct herald_frame f;

		cr_assert_not_null(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng();
		if (len >= 2 && buf[0] == 0x48 && buf[1] == 0x52)
			buf[1] ^= 0xff;
		enum herald_drop r = herald_frame_decode(buf, len, &f);
		if (len < HDR_LEN)
			cr_assert_eq(r, HERALD_DROP_TRUNCATED, "len %zu: %s", len, herald_drop_name(r));
		else
			cr_assert_eq(r, HERALD_DROP_BAD_MAGIC, "len %zu: %s", len, herald_drop_name(r));
		free(buf);
	}
}

/*
 * Valid frames with random bytes overwritten: this reaches the checks past
 * the magic. The decoder must return a known reason, and anything it accepts
 * must satisfy every promise the header makes.
 */
Test(wire_garbage, mutated_frames)
{
	static uint8_t key[HERALD_KEY_MAX], value[HERALD_VALUE_MAX];
	unsigned accepted = 0;

	rng_state = 0x243f6a8885a308d3ull;
	for (unsigned iter = 0; iter < 100000; iter++) {
		uint8_t tmpl[DGRAM_MAX];
		struct herald_hdr_fields h = base_fields;
		size_t len;

		switch (rng() % 4) {
		case 0: {
			static const uint8_t t[] = {HERALD_T_SNAPSHOT, HERALD_T_DELTA, HERALD_T_PUBLISH};
			unsigned kl = 1 + (unsigned)(rng() % HERALD_KEY_MAX);
			unsigned vl = (unsigned)(rng() % (HERALD_VALUE_MAX + 1));
			unsigned fr = (unsigned)(rng() % herald_frag_count(herald_entry_msg_len(kl, vl)));
			h.type = t[rng() % 3];
			int n = herald_entry_encode(tmpl, sizeof(tmpl), &h, key, kl, value, vl, fr);
			cr_assert_gt(n, 0);
			len = (size_t)n;
			if (h.type == HERALD_T_PUBLISH && rng() % 2) /* the MAC in session and reserved */
				herald_publish_sign(tmpl, len, key);
			break;
		}
		case 1:
			len = mk(tmpl, HERALD_T_SUBSCRIBE, 0, 0, 8, 8);
			break;
		case 2:
			len = mk(tmpl, (uint8_t)(HERALD_T_HEARTBEAT + rng() % 2), 0, 0, 0, 0);
			break;
		default:
			len = mk(tmpl, HERALD_T_ERROR, 0, 0, 20, 20);
			break;
		}

		unsigned flips = 1 + (unsigned)(rng() % 4);
		for (unsigned i = 0; i < flips; i++) {
			/* Mostly the header, where the checks are. */
			size_t at = rng() % 4 ? rng() % HDR_LEN : rng() % len;
			tmpl[at] = (uint8_t)rng();
		}
		if (rng() % 8 == 0)
			len = rng() % (len + 1);

		uint8_t *buf = malloc(len ? len : 1);
		struct herald_frame f;
		cr_assert_not_null(buf);
		memcpy(buf, tmpl, len);
		enum herald_drop r = herald_frame_decode(buf, len, &f);
		cr_assert_lt((unsigned)r, HERALD_DROP_MAX);
		cr_assert_neq(r, HERALD_DROP_NOT_IPV4); /* the codec only reports herald reasons */
		if (r == HERALD_DROP_NONE) {
			check_accepted(buf, len, &f);
			accepted++;
		}
		free(buf);
	}
	/* The mutations must not be so heavy that nothing gets through. */
	cr_assert_gt(accepted, 1000, "only %u accepted", accepted);
}

/* The control messages of budgets, recovery and redirects: exact body sizes. */
Test(wire_reject, ack_nak_resync_hello_redirect_bodies)
{
	uint8_t buf[DGRAM_MAX];
	static const struct {
		uint8_t type;
		uint16_t len;
	} ok[] = {
		{HERALD_T_ACK, 8}, {HERALD_T_NAK, 16}, {HERALD_T_RESYNC, 0},
		{HERALD_T_HELLO, 32}, {HERALD_T_REDIRECT, 32},
	};
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t n = mk(buf, ok[i].type, 0, 0, ok[i].len, ok[i].len);
		assert_reason(buf, n, HERALD_DROP_NONE);
		n = mk(buf, ok[i].type, 0, 0, (uint16_t)(ok[i].len + 1), (uint16_t)(ok[i].len + 1));
		assert_reason(buf, n, HERALD_DROP_BAD_BODY);
		if (ok[i].len > 0) {
			n = mk(buf, ok[i].type, 0, 0, (uint16_t)(ok[i].len - 1), (uint16_t)(ok[i].len - 1));
			assert_reason(buf, n, HERALD_DROP_BAD_BODY);
		}
	}
	/* ACK reserved, HELLO padding and REDIRECT reserved must be zero. */
	size_t n = mk(buf, HERALD_T_ACK, 0, 0, 8, 8);
	buf[HDR_LEN + 7] = 1;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_HELLO, 0, 0, 32, 32);
	buf[HDR_LEN + 31] = 1;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_REDIRECT, 0, 0, 32, 32);
	buf[HDR_LEN + 24] = 1;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	/* A NAK range must not run backwards. */
	n = mk(buf, HERALD_T_NAK, 0, 0, 16, 16);
	buf[HDR_LEN + 7] = 5; /* first = 5, last = 0 */
	assert_reason(buf, n, HERALD_DROP_BAD_BODY);
	buf[HDR_LEN + 15] = 5; /* last = 5 */
	assert_reason(buf, n, HERALD_DROP_NONE);
}

/* ---- publish authentication (docs/protocol.md §3.5.1) ---- */

static const uint8_t test_key[HERALD_PUBLISH_KEY_LEN] = {0, 1, 2, 3, 4, 5, 6, 7,
							  8, 9, 10, 11, 12, 13, 14, 15};

/* The example of the protocol document: context 7, seq 1, key "k", value "v". */
static size_t mk_signed_example(uint8_t *buf)
{
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = 7, .seq = 1};
	int n = herald_entry_encode(buf, DGRAM_MAX, &h, "k", 1, "v", 1, 0);
	cr_assert_eq(n, (int)HDR_LEN + 4);
	herald_publish_sign(buf, (size_t)n, test_key);
	return (size_t)n;
}

Test(wire_auth, sign_layout_and_known_answer)
{
	uint8_t buf[DGRAM_MAX], zeroed[DGRAM_MAX];
	unsigned char out[crypto_shorthash_siphash24_BYTES];
	struct herald_frame f;
	size_t n = mk_signed_example(buf);

	cr_assert_eq(get16(buf + OFF_FLAGS), HERALD_F_AUTH);
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.session, 0, "the session field holds the MAC, not a session");
	/* SipHash-2-4 over the datagram with session and reserved zeroed, little-endian out. */
	memcpy(zeroed, buf, n);
	memset(zeroed + OFF_SESSION, 0, 4);
	memset(zeroed + OFF_RESERVED, 0, 4);
	crypto_shorthash_siphash24(out, zeroed, n, test_key);
	uint64_t want = 0;
	for (int i = 7; i >= 0; i--)
		want = want << 8 | out[i];
	cr_assert_eq(f.tag, want);
	/* Carried big-endian: high half in session, low half in reserved. */
	cr_assert_eq(((uint64_t)ntohl(*(const uint32_t *)(const void *)(buf + OFF_SESSION)) << 32 |
		      ntohl(*(const uint32_t *)(const void *)(buf + OFF_RESERVED))),
		     want);
	/* The value docs/protocol.md gives implementers to check against. */
	cr_assert_eq(f.tag, 0xa9c839c19d984753ull, "tag %016llx", (unsigned long long)f.tag);
	cr_assert(herald_publish_verify(buf, n, &f, test_key));
}

Test(wire_auth, every_byte_is_covered)
{
	uint8_t buf[DGRAM_MAX];
	struct herald_frame f;
	size_t n = mk_signed_example(buf);

	for (size_t at = 0; at < n; at++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			buf[at] ^= (uint8_t)(1u << bit);
			/* Either the codec refuses it, or the MAC does. */
			if (decode(buf, n, &f) == HERALD_DROP_NONE)
				cr_assert(!herald_publish_verify(buf, n, &f, test_key), "byte %zu bit %u", at, bit);
			buf[at] ^= (uint8_t)(1u << bit);
		}
	}
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert(herald_publish_verify(buf, n, &f, test_key), "the buffer is left as it was");
}

Test(wire_auth, wrong_key_unsigned_and_fragments)
{
	static uint8_t value[2000];
	uint8_t buf[DGRAM_MAX], other[HERALD_PUBLISH_KEY_LEN];
	struct herald_frame f;
	size_t n = mk_signed_example(buf);

	memcpy(other, test_key, sizeof(other));
	other[15] ^= 1;
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert(!herald_publish_verify(buf, n, &f, other));

	/* Unsigned: no HERALD_F_AUTH, no MAC to check, never valid. */
	n = mk_entry(buf, HERALD_T_PUBLISH, 0, 4, 4);
	cr_assert_eq(decode(buf, n, &f), HERALD_DROP_NONE);
	cr_assert(!herald_publish_verify(buf, n, &f, test_key));

	/* Each fragment is signed on its own; a fragment moved to another message fails. */
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = 9, .seq = 5};
	uint8_t frag[2][DGRAM_MAX];
	size_t len[2];
	for (unsigned i = 0; i < 2; i++) {
		int r = herald_entry_encode(frag[i], DGRAM_MAX, &h, "key", 3, value, sizeof(value), i);
		cr_assert_gt(r, 0);
		len[i] = (size_t)r;
		herald_publish_sign(frag[i], len[i], test_key);
		cr_assert_eq(decode(frag[i], len[i], &f), HERALD_DROP_NONE);
		cr_assert(herald_publish_verify(frag[i], len[i], &f, test_key));
	}
	frag[1][OFF_SEQ + 7] = 6; /* the second fragment claimed for message seq 6 */
	cr_assert_eq(decode(frag[1], len[1], &f), HERALD_DROP_NONE);
	cr_assert(!herald_publish_verify(frag[1], len[1], &f, test_key));
}

Test(wire_auth, flag_only_on_publish)
{
	uint8_t buf[DGRAM_MAX];
	static const uint8_t others[] = {HERALD_T_SNAPSHOT, HERALD_T_DELTA};
	size_t n;

	for (unsigned i = 0; i < sizeof(others); i++) {
		n = mk_entry(buf, others[i], HERALD_F_AUTH, 4, 4);
		assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	}
	n = mk(buf, HERALD_T_SUBSCRIBE, HERALD_F_AUTH, 0, 8, 8);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk(buf, HERALD_T_HEARTBEAT, HERALD_F_AUTH, 0, 0, 0);
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	/* reserved is the MAC's only with the flag: a plain PUBLISH keeps the v1 rule. */
	n = mk_entry(buf, HERALD_T_PUBLISH, 0, 4, 4);
	buf[OFF_RESERVED + 3] = 1;
	assert_reason(buf, n, HERALD_DROP_BAD_FLAGS);
	n = mk_entry(buf, HERALD_T_PUBLISH, HERALD_F_AUTH, 4, 4);
	buf[OFF_RESERVED + 3] = 1;
	assert_reason(buf, n, HERALD_DROP_NONE);
	/* Other codec checks still apply to a signed PUBLISH. */
	n = mk_entry(buf, HERALD_T_PUBLISH, HERALD_F_AUTH, 0, 4);
	assert_reason(buf, n, HERALD_DROP_BAD_KEY);
}

static void key_file(const char *text, char *path)
{
	strcpy(path, "/tmp/herald-test-key.XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

Test(wire_auth, key_file)
{
	static const struct {
		const char *text;
		int ok;
	} cases[] = {
		{"000102030405060708090a0b0c0d0e0f\n", 1},
		{"  000102030405060708090A0B0C0D0E0F  \n\n", 1},
		{"000102030405060708090a0b0c0d0e0f", 1},
		{"000102030405060708090a0b0c0d0e0", 0},     /* 31 digits */
		{"000102030405060708090a0b0c0d0e0f0", 0},   /* 33 */
		{"000102030405060708090a0b0c0d0e0g\n", 0},  /* not hex */
		{"000102030405060708090a0b0c0d0e0f x\n", 0}, /* trailing junk */
		{"", 0},
	};
	char path[64], err[256];
	uint8_t key[HERALD_PUBLISH_KEY_LEN];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key_file(cases[i].text, path);
		memset(key, 0xee, sizeof(key));
		int rc = herald_key_file_load(path, key, sizeof(key), err, sizeof(err));
		unlink(path);
		cr_assert_eq(rc == 0, cases[i].ok, "case %u: rc %d (%s)", i, rc, rc ? err : "");
		if (cases[i].ok)
			cr_assert_arr_eq(key, test_key, sizeof(key), "case %u", i);
		else
			cr_assert(strstr(err, "must hold exactly 32 hex digits") != NULL, "case %u: %s", i, err);
	}
	cr_assert_eq(herald_key_file_load("/nonexistent/herald.key", key, sizeof(key), err, sizeof(err)), -1);
	cr_assert(strstr(err, "cannot read /nonexistent/herald.key: No such file") != NULL, "%s", err);
}
