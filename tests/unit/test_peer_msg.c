/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of heraldd's pure pieces: peer datagrams (controlplane/peer_msg.c)
 * round trip and refuse every malformed variant; the userspace REDIRECT
 * (redirect.c) echoes the HELLO's header and carries a token that verifies;
 * the token check the dataplane applies to SUBSCRIBE (token.c);
 * the director's table (ctx_table.c) finds, adds and deletes.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ctx_table.h"
#include "keys.h"
#include "peer_msg.h"
#include "redirect.h"
#include "token.h"

static const struct herald_peer_hb hb0 = {
	.node = 7, .incarnation = 1700000000, .epoch = 42, .weight = 16, .contexts = 3,
	.queues = 2, .dp_port = 7400, .dp_ip = 0x0100a8c0, .chunk = 0, .chunks = 1, .n = 3,
};
static const uint32_t ids[3] = {1, 0xdeadbeef, 4000000000u};

Test(peer_msg, heartbeat_round_trip)
{
	uint8_t buf[HERALD_PEER_DGRAM_MAX];
	struct herald_peer_hb hb;
	struct herald_peer_place pl;
	int len = herald_peer_hb_encode(buf, sizeof(buf), &hb0, ids);
	cr_assert_eq(len, HERALD_PEER_HB_FIXED + 12);
	cr_assert_eq(herald_peer_decode(buf, (size_t)len, &hb, &pl), HERALD_PEER_HEARTBEAT);
	cr_assert_eq(hb.node, 7);
	cr_assert_eq(hb.incarnation, 1700000000);
	cr_assert_eq(hb.epoch, 42);
	cr_assert_eq(hb.weight, 16);
	cr_assert_eq(hb.contexts, 3);
	cr_assert_eq(hb.queues, 2);
	cr_assert_eq(hb.dp_port, 7400);
	cr_assert_eq(hb.dp_ip, 0x0100a8c0);
	cr_assert_eq(hb.n, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(herald_peer_hb_id(&hb, i), ids[i]);
	/* Big-endian on the wire: magic first. */
	cr_assert_eq(buf[0], 'H');
	cr_assert_eq(buf[3], 'D');
}

Test(peer_msg, heartbeat_full_and_chunked)
{
	static uint32_t many[HERALD_PEER_HB_CONTEXTS + 1];
	uint8_t buf[HERALD_PEER_DGRAM_MAX];
	struct herald_peer_hb hb = hb0, out;
	struct herald_peer_place pl;
	hb.contexts = 1000;
	hb.chunks = 3;
	hb.chunk = 2;
	hb.n = HERALD_PEER_HB_CONTEXTS;
	int len = herald_peer_hb_encode(buf, sizeof(buf), &hb, many);
	cr_assert_eq(len, HERALD_PEER_DGRAM_MAX, "a full heartbeat fills the datagram exactly");
	cr_assert_eq(herald_peer_decode(buf, (size_t)len, &out, &pl), HERALD_PEER_HEARTBEAT);
	cr_assert_eq(out.chunk, 2);
	cr_assert_eq(out.chunks, 3);
	hb.n++;
	cr_assert_eq(herald_peer_hb_encode(buf, sizeof(buf), &hb, many), -EINVAL, "too many ids");
	hb.n = 1;
	hb.chunk = 3;
	cr_assert_eq(herald_peer_hb_encode(buf, sizeof(buf), &hb, many), -EINVAL, "chunk >= chunks");
	hb.chunk = 0;
	hb.chunks = 0;
	cr_assert_eq(herald_peer_hb_encode(buf, sizeof(buf), &hb, many), -EINVAL, "no chunks");
	cr_assert_eq(herald_peer_hb_encode(buf, 10, &hb0, ids), -ENOSPC);
}

Test(peer_msg, malformed)
{
	uint8_t buf[HERALD_PEER_DGRAM_MAX], bad[HERALD_PEER_DGRAM_MAX];
	struct herald_peer_hb hb;
	struct herald_peer_place pl;
	int len = herald_peer_hb_encode(buf, sizeof(buf), &hb0, ids);

	for (int cut = 0; cut < len; cut++)
		cr_assert_eq(herald_peer_decode(buf, (size_t)cut, &hb, &pl), -EBADMSG, "truncated to %d", cut);
	memcpy(bad, buf, (size_t)len);
	bad[0] ^= 1;
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EBADMSG, "magic");
	memcpy(bad, buf, (size_t)len);
	bad[4] = 2;
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EBADMSG, "version");
	memcpy(bad, buf, (size_t)len);
	bad[5] = 9;
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EBADMSG, "type");
	memcpy(bad, buf, (size_t)len);
	bad[41] = 4; /* n says 4 ids, the datagram holds 3 */
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EBADMSG, "n vs length");
	memcpy(bad, buf, (size_t)len);
	bad[43] = 1;
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EBADMSG, "padding");
	memcpy(bad, buf, (size_t)len);
	bad[37] = 1; /* chunk 1 of 1 */
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EINVAL, "chunk");
	memcpy(bad, buf, (size_t)len);
	bad[27] = 2; /* 3 ids but 2 contexts in all */
	cr_assert_eq(herald_peer_decode(bad, (size_t)len, &hb, &pl), -EINVAL, "n > contexts");
	memcpy(bad, buf, (size_t)len);
	bad[len] = 0;
	bad[7]++; /* one trailing byte the length claims */
	cr_assert_eq(herald_peer_decode(bad, (size_t)len + 1, &hb, &pl), -EBADMSG, "trailing byte");
}

Test(peer_msg, place)
{
	uint8_t buf[64];
	struct herald_peer_hb hb;
	struct herald_peer_place in = {.from = 1, .to = 3, .context = 99, .epoch = 5}, out;
	cr_assert_eq(herald_peer_place_encode(buf, sizeof(buf), &in), HERALD_PEER_PLACE_LEN);
	cr_assert_eq(herald_peer_decode(buf, HERALD_PEER_PLACE_LEN, &hb, &out), HERALD_PEER_PLACE);
	cr_assert(out.from == 1 && out.to == 3 && out.context == 99 && out.epoch == 5 && out.flags == 0);
	cr_assert_str_eq(out.policy, "");
	cr_assert_eq(herald_peer_decode(buf, HERALD_PEER_PLACE_LEN - 1, &hb, &out), -EBADMSG);
	cr_assert_eq(herald_peer_place_encode(buf, 4, &in), -ENOSPC);
}

/* The replica learns the context's policy from PLACE (issue 5: a promoted copy conflates like its primary). */
Test(peer_msg, place_carries_policy_and_replica_flag)
{
	uint8_t buf[64], bad[64];
	struct herald_peer_hb hb;
	struct herald_peer_place in = {.from = 2, .to = 1, .context = 7, .epoch = 9,
				       .flags = HERALD_PEER_PLACE_REPLICA, .policy = "merge:max"}, out;
	cr_assert_eq(herald_peer_place_encode(buf, sizeof(buf), &in), HERALD_PEER_PLACE_LEN);
	cr_assert_eq(herald_peer_decode(buf, HERALD_PEER_PLACE_LEN, &hb, &out), HERALD_PEER_PLACE);
	cr_assert_eq(out.flags, HERALD_PEER_PLACE_REPLICA);
	cr_assert_str_eq(out.policy, "merge:max");
	cr_assert_eq(out.context, 7);

	/* the first version's 24-byte PLACE: no flags, no policy (the receiver's default) */
	memcpy(bad, buf, HERALD_PEER_PLACE_V0_LEN);
	bad[6] = 0;
	bad[7] = HERALD_PEER_PLACE_V0_LEN;
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_V0_LEN, &hb, &out), HERALD_PEER_PLACE);
	cr_assert(out.flags == 0 && out.policy[0] == '\0' && out.context == 7);

	memcpy(bad, buf, sizeof(buf));
	bad[24] = 0x80; /* unknown flag */
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_LEN, &hb, &out), -EINVAL);
	memcpy(bad, buf, sizeof(buf));
	memset(bad + 28, 'a', HERALD_PEER_POLICY_LEN); /* no terminating NUL */
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_LEN, &hb, &out), -EINVAL);
	memcpy(bad, buf, sizeof(buf));
	bad[28] = 'M'; /* not a policy's text */
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_LEN, &hb, &out), -EINVAL);
	memcpy(bad, buf, sizeof(buf));
	bad[26] = 1; /* reserved bytes are zero */
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_LEN, &hb, &out), -EINVAL);
	memcpy(bad, buf, sizeof(buf));
	bad[28 + 10] = 'x'; /* a byte after the policy's NUL: padding is zero (one encoding) */
	cr_assert_eq(herald_peer_decode(bad, HERALD_PEER_PLACE_LEN, &hb, &out), -EINVAL);
}

Test(redirect, answers_like_xdp)
{
	uint8_t key[HERALD_TOKEN_KEY_LEN], hello[HERALD_REDIRECT_LEN] = {0}, out[HERALD_REDIRECT_LEN];
	struct herald_hdr_fields h = {.type = HERALD_T_HELLO, .context = 77, .seq = 12345};
	struct herald_xdp_route r = {.node_ip = htonl(0xc6120001), .port = 7401, .queue = 1, .epoch = 9};
	uint32_t context;
	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	herald_hdr_encode(hello, &h, 0, 32, 32);
	cr_assert_eq(herald_hello_check(hello, sizeof(hello), &context), HERALD_DROP_NONE);
	cr_assert_eq(context, 77);
	herald_redirect_write(out, hello, &r, key, htonl(0xc6120002), htons(40000), 1000);

	struct herald_frame f;
	cr_assert_eq(herald_frame_decode(out, sizeof(out), &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_REDIRECT);
	cr_assert_eq(f.context, 77);
	cr_assert_eq(f.seq, 12345);
	cr_assert_eq(f.session, 0);
	cr_assert_eq(memcmp(out + 4, hello + 4, 28), 0, "header echoed but for the type");
	struct herald_redirect_body rb;
	memcpy(&rb, f.body, sizeof(rb));
	cr_assert_eq(rb.node_ip, r.node_ip);
	cr_assert_eq(ntohs(rb.port), 7401);
	cr_assert_eq(ntohs(rb.queue), 1);
	cr_assert_eq(ntohl(rb.epoch), 9);
	cr_assert_eq(ntohl(rb.expiry), 1000);
	cr_assert_eq(rb.reserved, 0);
	cr_assert_eq(be64toh(rb.token), herald_token_for(key, htonl(0xc6120002), htons(40000), 77, 1000));
	cr_assert_neq(be64toh(rb.token), herald_token_for(key, htonl(0xc6120003), htons(40000), 77, 1000),
		      "another client address gets another token");

	/* Not a HELLO: refused with the codec's reasons. */
	cr_assert_eq(herald_hello_check(out, sizeof(out), &context), HERALD_DROP_UNEXPECTED_TYPE);
	cr_assert_eq(herald_hello_check(hello, 10, &context), HERALD_DROP_TRUNCATED);
	hello[40] = 1;
	cr_assert_eq(herald_hello_check(hello, sizeof(hello), &context), HERALD_DROP_BAD_FLAGS);
}

/*
 * The dataplane's check of a SUBSCRIBE's token (docs/protocol.md §3.2.1):
 * valid only for the source address, port and context it was issued to,
 * with its expiry unchanged, until that second has passed.
 */
Test(token, check_valid_wrong_port_context_expired_forged)
{
	uint8_t key[HERALD_TOKEN_KEY_LEN], other[HERALD_TOKEN_KEY_LEN];
	const uint32_t ip = htonl(0xc6120002), ctx = 77, exp = 5000;
	const uint16_t port = htons(40000);
	for (unsigned i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
	}
	uint64_t t = herald_token_for(key, ip, port, ctx, exp);

	cr_assert_eq(herald_token_check(key, ip, port, ctx, exp, t, 4999), HERALD_DROP_NONE);
	cr_assert_eq(herald_token_check(key, ip, port, ctx, exp, t, exp), HERALD_DROP_NONE, "valid through its second");
	cr_assert_eq(herald_token_check(key, ip, port, ctx, exp, t, exp + 1), HERALD_DROP_TOKEN_EXPIRED);
	cr_assert_eq(herald_token_check(key, ip, htons(40001), ctx, exp, t, 4999), HERALD_DROP_BAD_TOKEN, "wrong port");
	cr_assert_eq(herald_token_check(key, htonl(0xc6120003), port, ctx, exp, t, 4999), HERALD_DROP_BAD_TOKEN,
		     "wrong address");
	cr_assert_eq(herald_token_check(key, ip, port, ctx + 1, exp, t, 4999), HERALD_DROP_BAD_TOKEN, "wrong context");
	cr_assert_eq(herald_token_check(key, ip, port, ctx, exp + 60, t, 4999), HERALD_DROP_BAD_TOKEN,
		     "expiry moved forward");
	for (int bit = 0; bit < 64; bit++)
		cr_assert_eq(herald_token_check(key, ip, port, ctx, exp, t ^ (1ull << bit), 4999),
			     HERALD_DROP_BAD_TOKEN, "forged: bit %d flipped", bit);
	cr_assert_eq(herald_token_check(other, ip, port, ctx, exp, t, 4999), HERALD_DROP_BAD_TOKEN, "another key");
	/* A forgery is forged whatever expiry it names, past or not. */
	cr_assert_eq(herald_token_check(key, ip, port, ctx, 10, t, 4999), HERALD_DROP_BAD_TOKEN);
	cr_assert_eq(herald_token_check(key, ip, port, ctx, 10, herald_token_for(key, ip, port, ctx, 10), 4999),
		     HERALD_DROP_TOKEN_EXPIRED);
}

/* --token-key FILE: the token key itself, or the cluster secret it is derived from as heraldd does. */
Test(token, key_file_token_key_or_cluster_secret)
{
	char dir[] = "/tmp/herald-tok.XXXXXX", path[128], err[256];
	uint8_t key[HERALD_TOKEN_KEY_LEN], want[HERALD_TOKEN_KEY_LEN], placement[HERALD_DIRECTOR_KEY_LEN];
	uint8_t secret[HERALD_CLUSTER_SECRET_LEN];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);

	FILE *f = fopen(path, "w");
	fprintf(f, "000102030405060708090a0b0c0d0e0f\n");
	fclose(f);
	cr_assert_eq(herald_token_key_load(path, key, err, sizeof(err)), 0, "%s", err);
	for (unsigned i = 0; i < sizeof(key); i++)
		cr_assert_eq(key[i], i);

	for (unsigned i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(0xa0 + i);
	f = fopen(path, "w");
	for (unsigned i = 0; i < sizeof(secret); i++)
		fprintf(f, "%02x", secret[i]);
	fclose(f);
	cr_assert_eq(herald_token_key_load(path, key, err, sizeof(err)), 0, "%s", err);
	herald_keys_derive(secret, placement, want);
	cr_assert_eq(memcmp(key, want, sizeof(key)), 0, "the dataplane derives heraldd's token key");

	f = fopen(path, "w");
	fprintf(f, "0011\n");
	fclose(f);
	cr_assert_eq(herald_token_key_load(path, key, err, sizeof(err)), -1);
	cr_assert(strstr(err, "32 hex digits") != NULL && strstr(err, "64") != NULL, "%s", err);
	unlink(path);
	cr_assert_eq(herald_token_key_load(path, key, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cannot read") != NULL, "%s", err);
	rmdir(dir);
}

Test(ctx_table, add_find_delete)
{
	struct herald_ctx_table t;
	bool added;
	cr_assert_eq(herald_ctx_table_init(&t, 0), -EINVAL);
	cr_assert_eq(herald_ctx_table_init(&t, 1000), 0);
	for (uint32_t c = 0; c < 1000; c++) {
		struct herald_ctx_entry *e = herald_ctx_add(&t, c * 7919u, &added);
		cr_assert(e != NULL && added);
		e->primary = c % 3;
	}
	cr_assert_null(herald_ctx_add(&t, 123456789u, &added), "full at its size");
	cr_assert_eq(herald_ctx_add(&t, 7919u, &added)->primary, 1);
	cr_assert(!added);
	/* Delete and re-add many times: tombstones never lose an entry. */
	for (int round = 0; round < 20; round++)
		for (uint32_t c = 0; c < 500; c++) {
			herald_ctx_del(&t, herald_ctx_find(&t, c * 7919u));
			cr_assert_null(herald_ctx_find(&t, c * 7919u));
			cr_assert_not_null(herald_ctx_add(&t, c * 7919u, &added));
		}
	unsigned n = 0;
	HERALD_CTX_FOREACH(&t, e)
		n++;
	cr_assert_eq(n, 1000);
	cr_assert_eq(t.n, 1000);
	for (uint32_t c = 500; c < 1000; c++)
		cr_assert_eq(herald_ctx_find(&t, c * 7919u)->primary, c % 3);
	herald_ctx_table_free(&t);
}
