/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Golden-packet tests of the steer XDP program (xdp/steer.bpf.c): input
 * bytes, expected verdict, expected output bytes and the exact counter that
 * moved, run through BPF_PROG_TEST_RUN. Needs root to load BPF.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sodium.h>
#include <xdp/xsk.h>

#include <criterion/criterion.h>

#include <herald/proto.h>
#include "loader.h"
#include "token.h"

#define PORT_BASE 7400
#define NQUEUES 2
#define CTX_KNOWN 0x01020304u
#define CTX_UNKNOWN 0x0badc0deu
#define SEQ 0x1122334455667788ull
#define CLIENT_IP 0xc0a80a02u /* 192.168.10.2 */
#define NODE_IP 0xc0a80a01u   /* 192.168.10.1 */
#define HOST_IP 0x0a000007u   /* 10.0.0.7: where CTX_KNOWN lives */
#define CLIENT_PORT 40123
#define TTL_S 30
#define HDR ((size_t)sizeof(struct herald_hdr))
#define L2L4 ((size_t)(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr)))

static const uint8_t node_mac[ETH_ALEN] = {0x02, 0x48, 0x52, 0x00, 0x00, 0x01};
static const uint8_t client_mac[ETH_ALEN] = {0x02, 0x48, 0x52, 0x00, 0x00, 0x02};
static const uint8_t bcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t key[HERALD_TOKEN_KEY_LEN] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
						  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const struct herald_xdp_route route = {
	.node_ip = 0, /* set in setup: htonl() is not a constant expression everywhere */
	.port = PORT_BASE + 1,
	.queue = 1,
	.epoch = 0xe90c,
};

static struct herald_xdp *x;

/* One side of a datagram: who sends it to whom. */
struct ends {
	const uint8_t *smac, *dmac;
	uint32_t sip, dip; /* host order */
	uint16_t sport, dport;
	uint8_t ttl;
};

static const struct ends client_to_node = {client_mac, node_mac, CLIENT_IP, NODE_IP, CLIENT_PORT, PORT_BASE, 61};

static uint16_t ip_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/*
 * Frames in these tests live in plain byte arrays, where the IPv4 header at
 * offset 14 has no alignment; headers are built and edited in aligned
 * locals and copied in and out, never accessed through a cast pointer.
 */
#define IP_OFF sizeof(struct ethhdr)
#define UDP_OFF (IP_OFF + sizeof(struct iphdr))

static void eth_put(uint8_t *pkt, const uint8_t *dmac, const uint8_t *smac, uint16_t proto)
{
	struct ethhdr eth = {.h_proto = htons(proto)};

	memcpy(eth.h_dest, dmac, ETH_ALEN);
	memcpy(eth.h_source, smac, ETH_ALEN);
	memcpy(pkt, &eth, sizeof(eth));
}

static struct iphdr ip_get(const uint8_t *pkt)
{
	struct iphdr ip;

	memcpy(&ip, pkt + IP_OFF, sizeof(ip));
	return ip;
}

/* Store @p ip (no options) with a fresh checksum. */
static void ip_put(uint8_t *pkt, struct iphdr ip)
{
	ip.check = 0;
	ip.check = ip_csum(&ip, sizeof(ip));
	memcpy(pkt + IP_OFF, &ip, sizeof(ip));
}

/* Ethernet + IPv4 (DF, no options) + UDP (checksum 0) around @p payload. */
static size_t udp_frame(uint8_t *buf, const struct ends *e, const void *payload, size_t plen)
{
	struct iphdr ip = {.version = 4, .ihl = 5, .ttl = e->ttl, .protocol = IPPROTO_UDP,
			   .tot_len = htons((uint16_t)(sizeof(ip) + sizeof(struct udphdr) + plen)),
			   .id = htons(0x4242), .frag_off = htons(0x4000), .saddr = htonl(e->sip),
			   .daddr = htonl(e->dip)};
	struct udphdr udp = {.source = htons(e->sport), .dest = htons(e->dport),
			     .len = htons((uint16_t)(sizeof(udp) + plen))};

	eth_put(buf, e->dmac, e->smac, ETH_P_IP);
	ip_put(buf, ip);
	memcpy(buf + UDP_OFF, &udp, sizeof(udp));
	memcpy(buf + L2L4, payload, plen);
	return L2L4 + plen;
}

/* A herald frame: header + @p body_len zero bytes of body. */
static size_t herald_payload(uint8_t *p, uint8_t type, uint32_t context, size_t body_len)
{
	struct herald_hdr_fields h = {.type = type, .context = context, .seq = SEQ};

	herald_hdr_encode(p, &h, 0, (uint16_t)body_len, (uint16_t)body_len);
	memset(p + HDR, 0, body_len);
	return HDR + body_len;
}

static size_t hello_frame(uint8_t *buf, const struct ends *e, uint32_t context)
{
	uint8_t p[HDR + sizeof(struct herald_hello_body)];

	return udp_frame(buf, e, p, herald_payload(p, HERALD_T_HELLO, context, sizeof(struct herald_hello_body)));
}

struct run {
	int err;
	uint32_t verdict;
	uint8_t out[512];
	uint32_t out_len;
};

static struct run run_prog(const void *pkt, size_t len)
{
	struct run r = {0};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = r.out,
		    .data_size_out = sizeof(r.out), .repeat = 1);

	r.err = bpf_prog_test_run_opts(herald_xdp_prog_fd(x), &o);
	r.verdict = o.retval;
	r.out_len = o.data_size_out;
	return r;
}

static void hexdump(const char *what, const uint8_t *b, size_t n)
{
	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", b[i]);
	fprintf(stderr, "\n");
}

static const char *verdict_name(uint32_t v)
{
	static const char *const names[] = {"XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT"};
	return v < 5 ? names[v] : "?";
}

/*
 * Run @p pkt and check the verdict, that exactly one drop counter moved by
 * one (@p drop, or none if HERALD_DROP_NONE) and exactly one XDP counter
 * (@p stat, or none if negative).
 */
static struct run expect(const void *pkt, size_t len, uint32_t verdict, enum herald_drop drop, int stat)
{
	uint64_t d0[HERALD_DROP_MAX], d1[HERALD_DROP_MAX], s0[HERALD_XDP_CTR_MAX], s1[HERALD_XDP_CTR_MAX];
	struct run r;

	cr_assert_eq(herald_xdp_drops_read(x, d0), 0);
	cr_assert_eq(herald_xdp_stats_read(x, s0), 0);
	r = run_prog(pkt, len);
	cr_assert_eq(r.err, 0, "BPF_PROG_TEST_RUN: %s", strerror(-r.err));
	cr_assert_eq(r.verdict, verdict, "verdict %s, expected %s", verdict_name(r.verdict), verdict_name(verdict));
	cr_assert_eq(herald_xdp_drops_read(x, d1), 0);
	cr_assert_eq(herald_xdp_stats_read(x, s1), 0);
	for (int i = 1; i < HERALD_DROP_MAX; i++)
		cr_expect_eq(d1[i] - d0[i], (uint64_t)(i == (int)drop), "drop counter %s moved by %llu",
			     herald_drop_name(i), (unsigned long long)(d1[i] - d0[i]));
	for (int i = 0; i < HERALD_XDP_CTR_MAX; i++)
		cr_expect_eq(s1[i] - s0[i], (uint64_t)(i == stat), "xdp counter %s moved by %llu",
			     herald_xdp_counter_name(i), (unsigned long long)(s1[i] - s0[i]));
	return r;
}

/* A herald drop, and the codec (client/wire.c) must name the same reason. */
static void expect_drop(const uint8_t *pkt, size_t len, enum herald_drop reason, int codec_agrees)
{
	struct herald_frame f;

	expect(pkt, len, XDP_DROP, reason, -1);
	if (codec_agrees)
		cr_expect_eq(herald_frame_decode(pkt + L2L4, len - L2L4, &f), reason, "codec says %s, XDP %s",
			     herald_drop_name(herald_frame_decode(pkt + L2L4, len - L2L4, &f)),
			     herald_drop_name(reason));
}

/* The next load() sets hello_to_xsk (a dataplane with --token-key answers the HELLOs XDP does not). */
static int hello_to_xsk;

static void load(const char *pin_dir, int with_secret)
{
	struct herald_xdp_opts o = {.pin_dir = pin_dir, .port_base = PORT_BASE, .nqueues = NQUEUES,
				    .node_ip = htonl(NODE_IP), .hello_to_xsk = hello_to_xsk};
	struct herald_xdp_route r = route;

	if (geteuid() != 0) {
		fprintf(stderr, "\n*** tests/xdp SKIPPED: loading BPF needs root (CI runs as root) ***\n\n");
		cr_skip_test("loading BPF needs root");
	}
	x = herald_xdp_open(&o);
	cr_assert_not_null(x, "herald_xdp_open: %s (the verifier log is above)", strerror(errno));
	r.node_ip = htonl(HOST_IP);
	cr_assert_eq(herald_xdp_route_set(x, CTX_KNOWN, &r), 0);
	if (with_secret)
		cr_assert_eq(herald_xdp_secret_set(x, key, TTL_S), 0);
}

static void setup(void)
{
	load("", 1);
}

static void teardown(void)
{
	herald_xdp_destroy(x);
	x = NULL;
}

TestSuite(steer, .init = setup, .fini = teardown);

static uint32_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)ts.tv_sec;
}

/* The REDIRECT the node must send for a HELLO from @p c to port @p dport. */
static size_t expected_redirect(uint8_t *buf, const struct ends *c, uint32_t context, uint32_t expiry)
{
	struct ends back = {c->dmac, c->smac, c->dip, c->sip, c->dport, c->sport, 64};
	uint8_t p[HDR + sizeof(struct herald_redirect_body)];
	struct herald_hdr_fields h = {.type = HERALD_T_REDIRECT, .context = context, .session = 0, .seq = SEQ};
	struct herald_redirect_body rb = {
		.node_ip = htonl(HOST_IP),
		.port = htons(route.port),
		.queue = htons(route.queue),
		.epoch = htonl(route.epoch),
		.expiry = htonl(expiry),
		.token = htobe64(herald_token_for(key, htonl(c->sip), htons(c->sport), context, expiry)),
		.reserved = 0,
	};

	herald_hdr_encode(p, &h, 0, sizeof(rb), sizeof(rb));
	memcpy(p + HDR, &rb, sizeof(rb));
	return udp_frame(buf, &back, p, sizeof(p));
}

/* Answer a HELLO and compare every byte of the REDIRECT. */
static void check_hello_answered(const struct ends *c, uint32_t context)
{
	uint8_t in[128], want[128];
	struct herald_redirect_body rb;
	struct herald_frame f;
	size_t len = hello_frame(in, c, context);
	uint32_t before = tai_now();
	struct run r = expect(in, len, XDP_TX, HERALD_DROP_NONE, HERALD_XDP_CTR_REDIRECTS_SENT);
	uint32_t after = tai_now();

	cr_assert_eq(r.out_len, len, "a REDIRECT is exactly as long as its HELLO (%u vs %zu)", r.out_len, len);
	memcpy(&rb, r.out + L2L4 + HDR, sizeof(rb));
	uint32_t expiry = ntohl(rb.expiry);
	cr_assert(expiry >= before + TTL_S && expiry <= after + TTL_S, "expiry %u not in [%u, %u]", expiry,
		  before + TTL_S, after + TTL_S);

	cr_assert_eq(expected_redirect(want, c, context, expiry), len);
	if (memcmp(r.out, want, len) != 0) {
		hexdump("got", r.out, len);
		hexdump("want", want, len);
		cr_assert_fail("REDIRECT bytes differ");
	}
	cr_assert_eq(herald_frame_decode(r.out + L2L4, len - L2L4, &f), HERALD_DROP_NONE);
	cr_assert_eq(f.type, HERALD_T_REDIRECT);
	cr_assert_eq(ip_csum(r.out + sizeof(struct ethhdr), sizeof(struct iphdr)), 0, "IPv4 checksum verifies");
}

Test(steer, hello_answered_with_exact_redirect)
{
	check_hello_answered(&client_to_node, CTX_KNOWN);
}

Test(steer, hello_on_second_queue_port_replies_from_it)
{
	struct ends c = client_to_node;

	c.dport = PORT_BASE + 1;
	check_hello_answered(&c, CTX_KNOWN);
}

Test(steer, tokens_match_libsodium_for_many_clients)
{
	struct herald_xdp_route r = route;

	r.node_ip = htonl(HOST_IP);
	for (uint32_t i = 0; i < 64; i++) {
		struct ends c = client_to_node;
		uint32_t context = 0x9e3779b9u * (i + 1);

		c.sip = CLIENT_IP + i * 7919;
		c.sport = (uint16_t)(1024 + i * 911);
		cr_assert_eq(herald_xdp_route_set(x, context, &r), 0);
		check_hello_answered(&c, context);
	}
}

Test(steer, new_key_changes_the_token)
{
	uint8_t in[128];
	size_t len = hello_frame(in, &client_to_node, CTX_KNOWN);
	struct herald_redirect_body a, b;
	uint8_t key2[HERALD_TOKEN_KEY_LEN];
	struct run r;

	r = run_prog(in, len);
	memcpy(&a, r.out + L2L4 + HDR, sizeof(a));
	memcpy(key2, key, sizeof(key2));
	key2[15] ^= 1;
	cr_assert_eq(herald_xdp_secret_set(x, key2, TTL_S), 0);
	r = run_prog(in, len);
	memcpy(&b, r.out + L2L4 + HDR, sizeof(b));
	cr_assert_eq(r.verdict, XDP_TX);
	cr_assert_neq(a.token, b.token);
	cr_assert_eq(be64toh(b.token), herald_token_for(key2, htonl(CLIENT_IP), htons(CLIENT_PORT), CTX_KNOWN,
							ntohl(b.expiry)));
}

/* The reference vector of the SipHash paper (Aumasson, Bernstein), appendix A. */
Test(token, libsodium_is_siphash24)
{
	uint8_t k[16], m[15], out[8];
	static const uint8_t want[8] = {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1};

	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		m[i] = (uint8_t)i;
	crypto_shorthash_siphash24(out, m, sizeof(m), k);
	cr_assert_arr_eq(out, want, sizeof(want));
}

Test(steer, hello_unknown_context_passes_to_userspace)
{
	uint8_t in[128];
	size_t len = hello_frame(in, &client_to_node, CTX_UNKNOWN);
	struct run r = expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_HELLO_UNKNOWN_CONTEXT);

	cr_assert_eq(r.out_len, len);
	cr_assert_arr_eq(r.out, in, len, "a passed frame is not modified");
}

Test(steer, hello_after_route_deleted_passes)
{
	uint8_t in[128];
	size_t len = hello_frame(in, &client_to_node, CTX_KNOWN);

	cr_assert_eq(herald_xdp_route_del(x, CTX_KNOWN), 0);
	cr_assert_eq(herald_xdp_route_del(x, CTX_KNOWN), -ENOENT);
	expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_HELLO_UNKNOWN_CONTEXT);
}

/* Its own suite: the steer suite's .init would load (and leak) a keyed instance first. */
Test(nokey, hello_without_key_passes, .fini = teardown)
{
	uint8_t in[128];
	size_t len;

	load("", 0);
	len = hello_frame(in, &client_to_node, CTX_KNOWN);
	expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_HELLO_NO_KEY);
}

/*
 * With hello_to_xsk the HELLOs XDP cannot answer (no key, no route) go to the
 * queue's AF_XDP socket, where the dataplane answers them; none is bound
 * here, so the frame passes, counted as xsk_missing. One it can answer it
 * still answers itself.
 */
Test(nokey, hello_to_xsk_sends_unanswerable_hellos_to_the_dataplane, .fini = teardown)
{
	uint8_t in[128];
	size_t len;

	hello_to_xsk = 1;
	load("", 0);
	len = hello_frame(in, &client_to_node, CTX_KNOWN);
	expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
	cr_assert_eq(herald_xdp_secret_set(x, key, TTL_S), 0);
	len = hello_frame(in, &client_to_node, CTX_UNKNOWN);
	expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
	len = hello_frame(in, &client_to_node, CTX_KNOWN);
	expect(in, len, XDP_TX, HERALD_DROP_NONE, HERALD_XDP_CTR_REDIRECTS_SENT);
}

Test(steer, hello_with_ip_options_passes)
{
	uint8_t in[128], out[132], opts[24];
	size_t len = hello_frame(in, &client_to_node, CTX_KNOWN);
	struct iphdr ip = ip_get(in);

	/* Insert 4 bytes of options (NOP NOP NOP EOL) after the IPv4 header. */
	ip.ihl = 6;
	ip.tot_len = htons((uint16_t)(ntohs(ip.tot_len) + 4));
	ip.check = 0;
	memcpy(opts, &ip, sizeof(ip));
	memcpy(opts + sizeof(ip), "\x01\x01\x01\x00", 4);
	ip.check = ip_csum(opts, sizeof(opts));
	memcpy(opts, &ip, sizeof(ip));
	memcpy(out, in, IP_OFF);
	memcpy(out + IP_OFF, opts, sizeof(opts));
	memcpy(out + IP_OFF + sizeof(opts), in + UDP_OFF, len - UDP_OFF);
	expect(out, len + 4, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_HELLO_PUNTED);
}

Test(steer, hello_to_broadcast_mac_passes)
{
	struct ends c = client_to_node;
	uint8_t in[128];
	size_t len;

	c.dmac = bcast;
	len = hello_frame(in, &c, CTX_KNOWN);
	expect(in, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_HELLO_PUNTED);
}

/* Malformed herald frames: dropped, counted under the codec's reason. */

static size_t hello_payload(uint8_t *p)
{
	return herald_payload(p, HERALD_T_HELLO, CTX_KNOWN, sizeof(struct herald_hello_body));
}

Test(steer, truncated_header_dropped)
{
	uint8_t p[64], pkt[128];

	hello_payload(p);
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, 20), HERALD_DROP_TRUNCATED, 1);
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, 0), HERALD_DROP_TRUNCATED, 1);
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, HDR - 1), HERALD_DROP_TRUNCATED, 1);
}

Test(steer, garbage_dropped_as_bad_magic)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: herald\r\nUser-Agent: scanner\r\n\r\n";
	uint8_t pkt[128];

	expect_drop(pkt, udp_frame(pkt, &client_to_node, http, sizeof(http) - 1), HERALD_DROP_BAD_MAGIC, 1);
}

Test(steer, wrong_version_dropped)
{
	uint8_t p[64], pkt[128];
	size_t plen = hello_payload(p);

	p[2] = 2;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_VERSION, 1);
}

Test(steer, bad_type_dropped)
{
	uint8_t p[64], pkt[128];
	size_t plen = hello_payload(p);

	p[3] = 0;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_TYPE, 1);
	p[3] = HERALD_T_MAX;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_TYPE, 1);
}

Test(steer, length_disagreeing_with_udp_dropped)
{
	uint8_t p[96], pkt[160];
	size_t plen = hello_payload(p);

	/* Header says 32 body bytes, the datagram carries 31, then 33. */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen - 1), HERALD_DROP_BAD_LENGTH, 1);
	p[plen] = 0;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen + 1), HERALD_DROP_BAD_LENGTH, 1);
}

Test(steer, unknown_flags_and_reserved_dropped)
{
	uint8_t p[64], pkt[128];
	size_t plen = hello_payload(p);

	p[5] = 0x80;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_FLAGS, 1);
	p[5] = HERALD_F_SNAP_END; /* valid on SNAPSHOT only */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_FLAGS, 1);
	p[5] = 0;
	p[31] = 1;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_FLAGS, 1);
}

/* An authenticated PUBLISH carries its MAC in session and reserved: steered, not junk. */
Test(steer, signed_publish_steered_auth_elsewhere_dropped)
{
	static const uint8_t pkey[HERALD_PUBLISH_KEY_LEN] = "steer test key!!";
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = CTX_KNOWN, .seq = 3};
	uint8_t p[64], pkt[128];
	int plen = herald_entry_encode(p, sizeof(p), &h, "k", 1, "v", 1, 0);

	cr_assert_gt(plen, 0);
	herald_publish_sign(p, (size_t)plen, pkey);
	cr_assert(p[28] | p[29] | p[30] | p[31], "this MAC has a non-zero low half");
	expect(pkt, udp_frame(pkt, &client_to_node, p, (size_t)plen), XDP_PASS, HERALD_DROP_NONE,
	       HERALD_XDP_CTR_XSK_MISSING);
	/* The flag on another type is junk, and so is a MAC without the flag. */
	size_t hlen = hello_payload(p);
	p[5] = HERALD_F_AUTH;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, hlen), HERALD_DROP_BAD_FLAGS, 1);
	plen = herald_entry_encode(p, sizeof(p), &h, "k", 1, "v", 1, 0);
	p[31] = 1;
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, (size_t)plen), HERALD_DROP_BAD_FLAGS, 1);
}

Test(steer, oversized_msg_len_dropped)
{
	uint8_t p[64], pkt[128];
	size_t plen = hello_payload(p);

	p[26] = 0xff; /* msg_len 0xff20 */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_OVERSIZED, 1);
}

Test(steer, malformed_hello_bodies_dropped)
{
	uint8_t p[64], pkt[128];
	size_t plen;

	plen = hello_payload(p);
	p[HDR + 17] = 0x5a; /* HELLO padding must be zero */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_FLAGS, 1);

	plen = herald_payload(p, HERALD_T_HELLO, CTX_KNOWN, 16); /* a HELLO smaller than its REDIRECT */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_BODY, 1);

	plen = hello_payload(p);
	p[27] = 64; /* msg_len 64 != length 32: a "fragmented" HELLO */
	expect_drop(pkt, udp_frame(pkt, &client_to_node, p, plen), HERALD_DROP_BAD_FRAGMENT, 1);
}

Test(steer, ip_fragment_to_herald_port_dropped)
{
	uint8_t p[64], pkt[128];
	size_t len = udp_frame(pkt, &client_to_node, p, hello_payload(p));
	struct iphdr ip = ip_get(pkt);

	ip.frag_off = htons(0x2000); /* MF, offset 0: a first fragment */
	ip_put(pkt, ip);
	expect_drop(pkt, len, HERALD_DROP_IP_FRAGMENT, 0);
}

Test(steer, later_ip_fragment_passes)
{
	uint8_t p[64], pkt[128];
	size_t len = udp_frame(pkt, &client_to_node, p, hello_payload(p));
	struct iphdr ip = ip_get(pkt);

	/* Offset 185*8: no UDP header to tell whose it is, so the kernel decides. */
	ip.frag_off = htons(185);
	ip_put(pkt, ip);
	expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_PASSED);
}

Test(steer, udp_length_disagreeing_with_ip_dropped)
{
	uint8_t p[64], pkt[128];
	size_t len = udp_frame(pkt, &client_to_node, p, hello_payload(p));
	struct udphdr udp;

	memcpy(&udp, pkt + UDP_OFF, sizeof(udp));
	udp.len = htons((uint16_t)(ntohs(udp.len) - 4));
	memcpy(pkt + UDP_OFF, &udp, sizeof(udp));
	expect_drop(pkt, len, HERALD_DROP_MALFORMED_UDP, 0);
}

Test(steer, ip_total_length_past_frame_dropped)
{
	uint8_t p[64], pkt[128];
	size_t len = udp_frame(pkt, &client_to_node, p, hello_payload(p));

	/* Same headers, frame cut 10 bytes short of what the IPv4 header claims. */
	expect_drop(pkt, len - 10, HERALD_DROP_MALFORMED_IP, 0);
}

Test(steer, ethernet_padding_is_not_herald_data)
{
	uint8_t p[64], pkt[128];
	size_t plen = herald_payload(p, HERALD_T_HEARTBEAT, CTX_KNOWN, 0);
	size_t len = udp_frame(pkt, &client_to_node, p, plen);

	/*
	 * A HEARTBEAT is 74 bytes; a NIC may hand it over with trailing
	 * padding, which the UDP length (not the frame length) excludes.
	 */
	memset(pkt + len, 0, 8);
	expect(pkt, len + 8, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
}

/* Not herald traffic: passed untouched. */

static void expect_passed(const uint8_t *pkt, size_t len)
{
	struct run r = expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_PASSED);

	cr_assert_eq(r.out_len, len);
	cr_assert_arr_eq(r.out, pkt, len);
}

/* An ARP request from the client for @p target (host order). */
static size_t arp_frame(uint8_t *pkt, uint32_t target)
{
	static const uint8_t arp[] = {0, 1, 8, 0, 6, 4, 0, 1};
	uint32_t spa = htonl(CLIENT_IP), tpa = htonl(target);

	memset(pkt, 0, 60);
	eth_put(pkt, bcast, client_mac, ETH_P_ARP);
	memcpy(pkt + IP_OFF, arp, sizeof(arp));
	memcpy(pkt + IP_OFF + 8, client_mac, ETH_ALEN);
	memcpy(pkt + IP_OFF + 14, &spa, 4);
	memcpy(pkt + IP_OFF + 24, &tpa, 4);
	return 60;
}

Test(steer, arp_passes)
{
	uint8_t pkt[60] = {0};
	static const uint8_t arp[] = {0, 1, 8, 0, 6, 4, 0, 1};

	eth_put(pkt, bcast, client_mac, ETH_P_ARP);
	memcpy(pkt + IP_OFF, arp, sizeof(arp));
	expect_passed(pkt, sizeof(pkt));
	/* For another address (the host's own): the kernel's. */
	expect_passed(pkt, arp_frame(pkt, HOST_IP));
	/* For the node, but not Ethernet/IPv4 ARP, or cut short: not the dataplane's either. */
	arp_frame(pkt, NODE_IP);
	pkt[IP_OFF + 5] = 16;
	expect_passed(pkt, 60);
	expect_passed(pkt, arp_frame(pkt, NODE_IP) - 60 + IP_OFF + 27);
}

/*
 * The node's address belongs to the dataplane, not the kernel: ARP and ICMP
 * for it go to the queue's AF_XDP socket (here none is bound: XDP_PASS, as
 * any frame for the dataplane without a socket).
 */
Test(steer, arp_and_icmp_for_node_go_to_the_dataplane)
{
	uint8_t p[64], pkt[128];
	size_t len = arp_frame(pkt, NODE_IP);
	struct run r = expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);

	cr_assert_arr_eq(r.out, pkt, len);
	len = udp_frame(pkt, &client_to_node, p, hello_payload(p));
	struct iphdr ip = ip_get(pkt);
	ip.protocol = IPPROTO_ICMP;
	ip_put(pkt, ip);
	r = expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
	cr_assert_arr_eq(r.out, pkt, len);
}

Test(steer, ipv6_passes)
{
	uint8_t pkt[128] = {0};

	eth_put(pkt, node_mac, client_mac, ETH_P_IPV6);
	pkt[14] = 0x60;
	expect_passed(pkt, 94);
}

Test(steer, icmp_and_tcp_to_herald_port_pass)
{
	uint8_t p[64], pkt[128];
	size_t len = udp_frame(pkt, &client_to_node, p, hello_payload(p));
	struct iphdr ip = ip_get(pkt);

	ip.protocol = IPPROTO_ICMP; /* to another address than the node's */
	ip.daddr = htonl(HOST_IP);
	ip_put(pkt, ip);
	expect_passed(pkt, len);
	ip.daddr = htonl(NODE_IP);
	ip.protocol = IPPROTO_TCP;
	ip_put(pkt, ip);
	expect_passed(pkt, len);
}

Test(steer, udp_to_other_ports_passes)
{
	static const char junk[] = "\x12\x34\x01\x00 not herald at all";
	uint8_t p[64], pkt[128];
	struct ends e = client_to_node;
	size_t plen = hello_payload(p);

	e.dport = 53;
	expect_passed(pkt, udp_frame(pkt, &e, junk, sizeof(junk) - 1));
	e.dport = PORT_BASE - 1;
	expect_passed(pkt, udp_frame(pkt, &e, p, plen));
	e.dport = PORT_BASE + NQUEUES; /* one past the last queue's port */
	expect_passed(pkt, udp_frame(pkt, &e, p, plen));
}

Test(steer, truncated_ip_header_passes)
{
	uint8_t p[64], pkt[128];

	udp_frame(pkt, &client_to_node, p, hello_payload(p));
	/* The kernel counts its own malformed IPv4; XDP cannot tell it is herald's. */
	expect_passed(pkt, sizeof(struct ethhdr) + 12);
}

/* Herald data frames: steered to the queue's AF_XDP socket. */

static size_t subscribe_frame(uint8_t *pkt)
{
	uint8_t p[64];
	size_t plen = herald_payload(p, HERALD_T_SUBSCRIBE, CTX_KNOWN, sizeof(struct herald_subscribe_body));

	return udp_frame(pkt, &client_to_node, p, plen);
}

Test(steer, data_frame_without_xsk_passes)
{
	uint8_t pkt[128];
	size_t len = subscribe_frame(pkt);
	struct run r;

	/*
	 * bpf_redirect_map(xsks_map, queue, XDP_PASS) finds no socket for
	 * queue 0 and returns its flags argument: the frame goes to the kernel.
	 */
	r = expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
	cr_assert_arr_eq(r.out, pkt, len);
}

struct xsk {
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp, rx;
};

#define XSK_FRAMES 64

/*
 * An AF_XDP socket on queue 0 of the loopback device of a network namespace
 * of our own: BPF_PROG_TEST_RUN runs the program as if the frame had arrived
 * on that queue, so nothing outside this test process is touched.
 */
static void xsk_on_private_lo(struct xsk *s)
{
	struct xsk_socket_config cfg = {
		.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	size_t size = XSK_FRAMES * XSK_UMEM__DEFAULT_FRAME_SIZE;
	uint32_t idx;
	int err;

	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	s->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(s->area, MAP_FAILED);
	err = xsk_umem__create(&s->umem, s->area, size, &s->fill, &s->comp, NULL);
	cr_assert_eq(err, 0, "xsk_umem__create: %s", strerror(-err));
	err = xsk_socket__create(&s->sock, "lo", 0, s->umem, &s->rx, NULL, &cfg);
	cr_assert_eq(err, 0, "xsk_socket__create: %s", strerror(-err));
	cr_assert_eq(xsk_ring_prod__reserve(&s->fill, XSK_FRAMES / 2, &idx), XSK_FRAMES / 2);
	for (uint32_t i = 0; i < XSK_FRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&s->fill, idx + i) = (uint64_t)i * XSK_UMEM__DEFAULT_FRAME_SIZE;
	xsk_ring_prod__submit(&s->fill, XSK_FRAMES / 2);
}

Test(steer, data_frame_redirected_into_queue_xsk)
{
	struct xsk s = {0};
	uint8_t pkt[128];
	size_t len = subscribe_frame(pkt);

	xsk_on_private_lo(&s);
	cr_assert_eq(herald_xdp_xsk_set(x, 0, xsk_socket__fd(s.sock)), 0);

	/*
	 * Without BPF_F_TEST_XDP_LIVE_FRAMES the kernel reports the verdict and
	 * does not perform the redirect: XDP_REDIRECT means the map had a socket.
	 */
	expect(pkt, len, XDP_REDIRECT, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_REDIRECTED);

	/* With live frames the redirect is carried out: the frame lands in the socket. */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	cr_assert_eq(bpf_prog_test_run_opts(herald_xdp_prog_fd(x), &o), 0);
	uint32_t idx;
	cr_assert_eq(xsk_ring_cons__peek(&s.rx, 1, &idx), 1, "no frame in the AF_XDP socket's RX ring");
	const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s.rx, idx);
	cr_assert_eq(d->len, len);
	cr_assert_arr_eq(xsk_umem__get_data(s.area, d->addr), pkt, len);
	xsk_ring_cons__release(&s.rx, 1);

	/* ARP and ICMP for the node take the same way. */
	uint8_t arp[60];
	expect(arp, arp_frame(arp, NODE_IP), XDP_REDIRECT, HERALD_DROP_NONE, HERALD_XDP_CTR_NODE_STEERED);
	uint8_t icmp[128];
	memcpy(icmp, pkt, len);
	struct iphdr ip = ip_get(icmp);
	ip.protocol = IPPROTO_ICMP;
	ip_put(icmp, ip);
	expect(icmp, len, XDP_REDIRECT, HERALD_DROP_NONE, HERALD_XDP_CTR_NODE_STEERED);

	/* The socket gone from the map: back to the kernel. */
	cr_assert_eq(herald_xdp_xsk_del(x, 0), 0);
	expect(pkt, len, XDP_PASS, HERALD_DROP_NONE, HERALD_XDP_CTR_XSK_MISSING);
	xsk_socket__delete(s.sock);
	xsk_umem__delete(s.umem);
}

/* Pinned maps outlive the loader: a restarted daemon finds its state. */
Test(pin, maps_shared_through_bpffs, .init = NULL)
{
	char dir[64], path[128];
	struct herald_xdp *first;
	struct stat st;
	uint8_t in[128];
	size_t len;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/herald-test-%d", (int)getpid());
	load(dir, 1);
	first = x;
	static const char *const maps[] = {"xsks_map", "herald_routes", "herald_secret", "herald_drops",
					   "herald_stats"};
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[i]);
		cr_assert_eq(stat(path, &st), 0, "%s not pinned", path);
	}

	/* A second instance reuses the pinned route map and key. */
	struct herald_xdp_opts o = {.pin_dir = dir, .port_base = PORT_BASE, .nqueues = NQUEUES};
	x = herald_xdp_open(&o);
	cr_assert_not_null(x);
	len = hello_frame(in, &client_to_node, CTX_KNOWN);
	cr_assert_eq(run_prog(in, len).verdict, XDP_TX, "second instance does not see the first's route");
	uint64_t s[HERALD_XDP_CTR_MAX];
	cr_assert_eq(herald_xdp_stats_read(first, s), 0);
	cr_assert_eq(s[HERALD_XDP_CTR_REDIRECTS_SENT], 1, "counters are shared too");

	cr_assert_eq(herald_xdp_unpin(x), 0);
	herald_xdp_destroy(first);
	cr_assert_neq(stat(dir, &st), 0, "%s left behind", dir);
	herald_xdp_destroy(x);
	x = NULL;
}
