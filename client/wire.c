/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protocol v1 codec, shared by the dataplane and libherald. Pure functions of
 * their input bytes: no allocation, no global state, every length checked
 * before the bytes it covers are read.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <endian.h>

#include <herald/proto.h>

static const char *const drop_names[] = {
#define HERALD_X_NAME(name, help) #name,
	HERALD_DROP_REASONS(HERALD_X_NAME)
#undef HERALD_X_NAME
};

static const char *const counter_names[] = {
#define HERALD_X_NAME(name, help) #name,
	HERALD_COUNTERS(HERALD_X_NAME)
#undef HERALD_X_NAME
};

static const char *const port_stat_names[] = {
#define HERALD_X_NAME(name, help) #name,
	HERALD_PORT_STATS(HERALD_X_NAME)
#undef HERALD_X_NAME
};

/*
 * The X-macro tables spell names upper-case (they build the enums); every
 * reader wants snake case. Both tables are lowered once, before main(), so
 * lookups from any thread only read.
 */
static char drop_lower[HERALD_DROP_MAX][40];
static char counter_lower[HERALD_CTR_MAX][40];
static char port_stat_lower[HERALD_PORT_STAT_MAX][40];

static void lower_all(const char *const *names, unsigned n, char (*out)[40])
{
	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; names[i][k] != '\0' && k < sizeof(out[i]) - 1; k++) {
			char c = names[i][k];
			out[i][k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
}

__attribute__((constructor)) static void names_init(void)
{
	lower_all(drop_names, HERALD_DROP_MAX, drop_lower);
	lower_all(counter_names, HERALD_CTR_MAX, counter_lower);
	lower_all(port_stat_names, HERALD_PORT_STAT_MAX, port_stat_lower);
}

const char *herald_drop_name(enum herald_drop reason)
{
	return (unsigned)reason < HERALD_DROP_MAX ? drop_lower[reason] : NULL;
}

const char *herald_counter_name(enum herald_counter counter)
{
	return (unsigned)counter < HERALD_CTR_MAX ? counter_lower[counter] : NULL;
}

const char *herald_port_stat_name(enum herald_port_stat stat)
{
	return (unsigned)stat < HERALD_PORT_STAT_MAX ? port_stat_lower[stat] : NULL;
}

static int is_entry_type(uint8_t type)
{
	return type == HERALD_T_SNAPSHOT || type == HERALD_T_DELTA || type == HERALD_T_PUBLISH;
}

/* Checks of the body that depend on the message type. */
static enum herald_drop decode_body(struct herald_frame *f)
{
	int whole = f->frag_off == 0 && f->length == f->msg_len;

	switch (f->type) {
	case HERALD_T_SUBSCRIBE: {
		/* 8 bytes, or 20 with HERALD_SUB_F_TOKEN: the flag says which. */
		struct herald_subscribe_body sb;
		if (!whole || (f->length != sizeof(sb) && f->length != HERALD_SUBSCRIBE_TOKEN_BODY_LEN))
			return HERALD_DROP_BAD_BODY;
		memcpy(&sb, f->body, sizeof(sb));
		uint16_t flags = ntohs(sb.flags);
		if (flags & ~HERALD_SUB_F_KNOWN)
			return HERALD_DROP_BAD_FLAGS;
		unsigned want = (flags & HERALD_SUB_F_TOKEN) ? HERALD_SUBSCRIBE_TOKEN_BODY_LEN : sizeof(sb);
		return f->length == want ? HERALD_DROP_NONE : HERALD_DROP_BAD_BODY;
	}
	case HERALD_T_HEARTBEAT:
	case HERALD_T_BYE:
	case HERALD_T_RESYNC:
		return f->msg_len == 0 ? HERALD_DROP_NONE : HERALD_DROP_BAD_BODY;
	case HERALD_T_HELLO: {
		static const struct herald_hello_body zero;
		if (f->length != sizeof(zero))
			return HERALD_DROP_BAD_BODY;
		return memcmp(f->body, &zero, sizeof(zero)) == 0 ? HERALD_DROP_NONE : HERALD_DROP_BAD_FLAGS;
	}
	case HERALD_T_REDIRECT: {
		struct herald_redirect_body rb;
		if (f->length != sizeof(rb))
			return HERALD_DROP_BAD_BODY;
		memcpy(&rb, f->body, sizeof(rb));
		return rb.reserved == 0 ? HERALD_DROP_NONE : HERALD_DROP_BAD_FLAGS;
	}
	case HERALD_T_ACK: {
		struct herald_ack_body ab;
		if (f->length != sizeof(ab))
			return HERALD_DROP_BAD_BODY;
		memcpy(&ab, f->body, sizeof(ab));
		return ab.reserved == 0 ? HERALD_DROP_NONE : HERALD_DROP_BAD_FLAGS;
	}
	case HERALD_T_NAK: {
		struct herald_nak_body nb;
		if (f->length != sizeof(nb))
			return HERALD_DROP_BAD_BODY;
		memcpy(&nb, f->body, sizeof(nb));
		return be64toh(nb.first) <= be64toh(nb.last) ? HERALD_DROP_NONE : HERALD_DROP_BAD_BODY;
	}
	case HERALD_T_ERROR: {
		struct herald_error_body eb;
		if (!whole || f->length < sizeof(eb) ||
		    f->length > sizeof(eb) + HERALD_ERROR_TEXT_MAX)
			return HERALD_DROP_BAD_BODY;
		memcpy(&eb, f->body, sizeof(eb));
		return eb.reserved == 0 ? HERALD_DROP_NONE : HERALD_DROP_BAD_FLAGS;
	}
	default:
		break;
	}

	/* Entry messages: an empty SNAPSHOT marks the end of an empty state. */
	if (f->type == HERALD_T_SNAPSHOT && f->msg_len == 0)
		return (f->flags & HERALD_F_SNAP_END) ? HERALD_DROP_NONE : HERALD_DROP_BAD_BODY;
	if (f->msg_len < 2)
		return HERALD_DROP_BAD_BODY;
	if (f->frag_off != 0)
		return HERALD_DROP_NONE;

	uint16_t key_len = (uint16_t)(f->body[0] << 8 | f->body[1]);
	if (key_len == 0 || key_len > HERALD_KEY_MAX)
		return HERALD_DROP_BAD_KEY;
	if (2u + key_len > f->length)
		return HERALD_DROP_BAD_BODY;
	f->key = f->body + 2;
	f->key_len = key_len;
	f->value_len = (uint16_t)(f->msg_len - 2 - key_len);
	return f->value_len <= HERALD_VALUE_MAX ? HERALD_DROP_NONE : HERALD_DROP_OVERSIZED;
}

enum herald_drop herald_frame_decode(const void *buf, size_t len, struct herald_frame *f)
{
	struct herald_hdr h;

	memset(f, 0, sizeof(*f));
	if (len < sizeof(h))
		return HERALD_DROP_TRUNCATED;
	memcpy(&h, buf, sizeof(h));
	if (ntohs(h.magic) != HERALD_MAGIC)
		return HERALD_DROP_BAD_MAGIC;
	if (h.version != HERALD_VERSION)
		return HERALD_DROP_BAD_VERSION;
	if (h.type == 0 || h.type >= HERALD_T_MAX)
		return HERALD_DROP_BAD_TYPE;

	f->type = h.type;
	f->flags = ntohs(h.flags);
	f->length = ntohs(h.length);
	f->context = ntohl(h.context);
	f->session = ntohl(h.session);
	f->seq = be64toh(h.seq);
	f->frag_off = ntohs(h.frag_off);
	f->msg_len = ntohs(h.msg_len);
	f->body = (const uint8_t *)buf + sizeof(h);

	if (f->length != len - sizeof(h))
		return HERALD_DROP_BAD_LENGTH;
	/* With HERALD_F_AUTH (PUBLISH only), session and reserved hold the MAC. */
	if ((f->flags & ~HERALD_F_KNOWN) != 0 || (h.reserved != 0 && !(f->flags & HERALD_F_AUTH)))
		return HERALD_DROP_BAD_FLAGS;
	if ((f->flags & HERALD_F_SNAP_END) && f->type != HERALD_T_SNAPSHOT)
		return HERALD_DROP_BAD_FLAGS;
	if (f->flags & HERALD_F_AUTH) {
		if (f->type != HERALD_T_PUBLISH)
			return HERALD_DROP_BAD_FLAGS;
		f->tag = (uint64_t)f->session << 32 | ntohl(h.reserved);
		f->session = 0;
	}
	if (f->length > HERALD_FRAG_BODY_MAX || f->msg_len > HERALD_MSG_MAX)
		return HERALD_DROP_OVERSIZED;

	/*
	 * Fragments sit on fixed boundaries: every fragment but the last carries
	 * exactly HERALD_FRAG_BODY_MAX bytes, so a receiver can place one by
	 * index without searching, and overlap is impossible by construction.
	 */
	if ((unsigned)f->frag_off + f->length > f->msg_len ||
	    f->frag_off % HERALD_FRAG_BODY_MAX != 0 ||
	    ((unsigned)f->frag_off + f->length < f->msg_len && f->length != HERALD_FRAG_BODY_MAX))
		return HERALD_DROP_BAD_FRAGMENT;
	/*
	 * Only entries are ever fragmented: a first fragment of any other type
	 * is as wrong as a later one, and both must count as the same reason.
	 */
	if ((f->frag_off != 0 || f->length != f->msg_len) && !is_entry_type(f->type))
		return HERALD_DROP_BAD_FRAGMENT;

	return decode_body(f);
}

int herald_subscribe_token_get(const struct herald_frame *f, uint32_t *expiry, uint64_t *token)
{
	struct herald_subscribe_token t;

	if (f->type != HERALD_T_SUBSCRIBE || f->length != HERALD_SUBSCRIBE_TOKEN_BODY_LEN)
		return 0;
	memcpy(&t, f->body + sizeof(struct herald_subscribe_body), sizeof(t));
	*expiry = ntohl(t.expiry);
	*token = be64toh(t.token);
	return 1;
}

void herald_hdr_encode(void *dst, const struct herald_hdr_fields *in, uint16_t frag_off,
		       uint16_t length, uint16_t msg_len)
{
	struct herald_hdr h = {
		.magic = htons(HERALD_MAGIC),
		.version = HERALD_VERSION,
		.type = in->type,
		.flags = htons(in->flags),
		.length = htons(length),
		.context = htonl(in->context),
		.session = htonl(in->session),
		.seq = htobe64(in->seq),
		.frag_off = htons(frag_off),
		.msg_len = htons(msg_len),
		.reserved = 0,
	};
	memcpy(dst, &h, sizeof(h));
}

int herald_entry_encode(void *dst, size_t cap, const struct herald_hdr_fields *h,
			const void *key, size_t key_len, const void *value, size_t value_len,
			unsigned frag)
{
	if (key == NULL || key_len == 0 || key_len > HERALD_KEY_MAX || value_len > HERALD_VALUE_MAX ||
	    (value_len > 0 && value == NULL) || !is_entry_type(h->type))
		return -EINVAL;

	unsigned msg_len = herald_entry_msg_len(key_len, value_len);
	if (frag >= herald_frag_count(msg_len))
		return -EINVAL;

	unsigned off = frag * HERALD_FRAG_BODY_MAX;
	unsigned length = msg_len - off;
	if (length > HERALD_FRAG_BODY_MAX)
		length = HERALD_FRAG_BODY_MAX;
	if (cap < sizeof(struct herald_hdr) + length)
		return -ENOSPC;

	uint8_t *out = (uint8_t *)dst + sizeof(struct herald_hdr);
	herald_hdr_encode(dst, h, (uint16_t)off, (uint16_t)length, (uint16_t)msg_len);

	/* Copy the slice [off, off + length) of the logical body key_len|key|value. */
	const uint8_t prefix[2] = {(uint8_t)(key_len >> 8), (uint8_t)key_len};
	const struct {
		const void *p;
		size_t n;
	} parts[3] = {{prefix, 2}, {key, key_len}, {value, value_len}};
	size_t pos = 0, written = 0;
	for (int i = 0; i < 3 && written < length; i++) {
		size_t start = pos, end = pos + parts[i].n;
		pos = end;
		if (end <= off + written)
			continue;
		size_t from = off + written - start;
		size_t n = end - (off + written);
		if (n > length - written)
			n = length - written;
		memcpy(out + written, (const uint8_t *)parts[i].p + from, n);
		written += n;
	}
	return (int)(sizeof(struct herald_hdr) + length);
}
