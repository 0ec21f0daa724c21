/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the dataplane's frame handling (dataplane/, linked as the
 * herald_dp library). EAL can be initialised once per process; Criterion
 * 2.4 runs every test in a process of its own, so the suite's .init brings
 * EAL up (without hugepages, PCI or shared files: about a second, mostly
 * DPDK loading its PMD plugins) with a fresh worker, and .fini checks that
 * every mbuf went back and takes EAL down again.
 *
 * Crafted Ethernet/IPv4/UDP/herald frames go through dp_net_rx, the very
 * entry point the worker loop uses. The worker transmits on a net_ring port
 * whose RX and TX share one ring, so what the node would send is read back
 * with rte_eth_rx_burst and decoded by the same codec clients use. The
 * worker's clock (w.now) is set by the test; the budget drain that the timer
 * runs every 10 ms is called explicitly.
 */
#include <endian.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <criterion/criterion.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <lmdb.h>

#include "checkpoint.h"
#include "dataplane.h"
#include "token.h"

/* Contexts, one per policy under test (policies set in setup). */
#define CTX_REPLACE 10
#define CTX_ADD 20
#define CTX_MIN 21
#define CTX_MAX 22
#define CTX_NONE 30

#define HISTORY 8
#define PUB_PORT 9999
#define PORT_A 10001
#define PORT_B 10002
#define RING_NAME "net_ring_dptest"
#define OUT_MAX 256

static const uint32_t node_ip = RTE_IPV4(198, 18, 0, 1);
static const uint32_t client_ip = RTE_IPV4(198, 18, 0, 2);
static const struct rte_ether_addr client_mac = {{0x02, 0, 0, 0, 0, 0x02}};

static struct dp_config cfg;
static struct dp_worker w;
static struct rte_mempool *pool, *hdr_pool;
static uint16_t ring_port;
static uint64_t hz, pub_seq;
/* Publishes are signed with this key when it is set (publish authentication tests). */
static const uint8_t *sign_key;

/* One frame the node transmitted, decoded. */
struct out {
	uint8_t type;
	uint16_t flags;
	uint32_t context, session;
	uint64_t seq;
	uint16_t dport;    /* host order */
	uint16_t msg_len;
	char key[HERALD_KEY_MAX + 1];
	uint8_t value[HERALD_FRAG_BODY_MAX];
	uint16_t value_len;
	uint16_t code;     /* ERROR */
	char text[HERALD_ERROR_TEXT_MAX + 1];
	uint16_t nb_segs;
	const struct rte_mbuf *body_seg; /* second segment of a chained frame */
	uint32_t pkt_len;  /* bytes on the wire, Ethernet header included */
};

static struct out out[OUT_MAX];
static unsigned nout;

/* Sessions the test opened: wire id -> (port, context). */
static struct {
	uint32_t id, context;
	uint16_t port;
} subs[16];
static unsigned nsubs;

/* ---- EAL, port and worker ---- */

static void policy_set(uint32_t context, const char *text)
{
	char err[160];
	struct dp_context_policy *p = &cfg.policies[cfg.npolicies++];
	p->context = context;
	cr_assert_eq(dp_policy_parse(text, &p->policy, err, sizeof(err)), 0, "%s: %s", text, err);
}

static char rundir[PATH_MAX];
static bool up;

static void capture_drain(void)
{
	struct rte_mbuf *pkts[32];
	uint16_t n;

	while ((n = rte_eth_rx_burst(ring_port, 0, pkts, 32)) != 0)
		rte_pktmbuf_free_bulk(pkts, n);
}

static void eal_down(void)
{
	rte_eth_dev_stop(ring_port);
	rte_eth_dev_close(ring_port);
	rte_vdev_uninit(RING_NAME);
	rte_mempool_free(hdr_pool);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	rmdir(rundir); /* EAL leaves its (empty) runtime directory behind */
	up = false;
}

/* EAL, pools and the capture port: once per process (EAL cannot restart). */
static void eal_up(void)
{
	if (up)
		return;
	/*
	 * --no-huge implies legacy memory, which --in-memory refuses; --no-shconf
	 * and a per-process prefix give the same isolation: no file is shared
	 * with another process.
	 */
	char prefix[40];
	snprintf(prefix, sizeof(prefix), "--file-prefix=herald_dptest_%d", (int)getpid());
	char *argv[] = {"test_dataplane", "--no-huge", "--no-pci", "--no-shconf", prefix,
			"--no-telemetry", "-l", "0", "--log-level=*:error", NULL};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

	cr_assert_geq(rte_eal_init(argc, argv), 0, "EAL initialisation failed");
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	hz = rte_get_tsc_hz();
	pool = rte_pktmbuf_pool_create("dpt", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	hdr_pool = rte_pktmbuf_pool_create("dpt_hdr", 2047, 0, 0, RTE_PKTMBUF_HEADROOM + 128,
					   (int)rte_socket_id());
	cr_assert(pool != NULL && hdr_pool != NULL);

	/* net_ring without arguments loops TX back into RX: the capture. */
	cr_assert_eq(rte_vdev_init(RING_NAME, NULL), 0);
	cr_assert_eq(rte_eth_dev_get_port_by_name(RING_NAME, &ring_port), 0);
	struct rte_eth_conf conf = {0};
	cr_assert_eq(rte_eth_dev_configure(ring_port, 1, 1, &conf), 0);
	cr_assert_eq(rte_eth_rx_queue_setup(ring_port, 0, 1024, (unsigned)rte_socket_id(), NULL, pool), 0);
	cr_assert_eq(rte_eth_tx_queue_setup(ring_port, 0, 1024, (unsigned)rte_socket_id(), NULL), 0);
	cr_assert_eq(rte_eth_dev_start(ring_port), 0);
	up = true;
}

/* Per test: a fresh worker (store, counters, clock) and an empty capture. */
static void setup(void)
{
	eal_up();
	capture_drain();

	cfg = dp_config_defaults;
	cfg.ip = htonl(node_ip);
	cfg.max_sessions = 64;
	cfg.max_contexts = 32;
	cfg.max_keys = 512;
	cfg.max_keys_per_context = 128; /* two dirty-bitmap words */
	cfg.history = HISTORY;
	cfg.max_history_contexts = 4;
	cfg.reasm_slots = 8;
	policy_set(CTX_REPLACE, "replace");
	policy_set(CTX_ADD, "merge:add");
	policy_set(CTX_MIN, "merge:min");
	policy_set(CTX_MAX, "merge:max");
	policy_set(CTX_NONE, "none");

	struct herald_port port = {.port_id = ring_port, .nb_queues = 1,
				   .caps = {.multi_seg_tx = true},
				   .mac = {{0x02, 0, 0, 0, 0, 0x01}}};
	memset(&w, 0, sizeof(w));
	cr_assert_eq(dp_worker_init(&w, &cfg, &port, 0, pool, hdr_pool), 0);
	cr_assert(w.zero_copy);
	w.now = hz * 100;
	pub_seq = 0;
	sign_key = NULL;
	nout = nsubs = 0;
}

static void teardown(void)
{
	dp_tx_flush(&w);
	capture_drain();
	dp_ckpt_close(); /* no-op unless a test opened a checkpoint store */
	dp_store_free(&w);
	dp_replay_free(&w);
	/* Every mbuf went back: the store and the history hold no stray reference. */
	cr_expect_eq(rte_mempool_in_use_count(pool), 0, "%u RX/body mbufs still in use",
		     rte_mempool_in_use_count(pool));
	cr_expect_eq(rte_mempool_in_use_count(hdr_pool), 0, "%u header mbufs still in use",
		     rte_mempool_in_use_count(hdr_pool));
	eal_down();
}

TestSuite(dataplane, .init = setup, .fini = teardown, .timeout = 30);

static void advance_ms(uint64_t ms)
{
	w.now += hz / 1000 * ms;
}

/* ---- frames in ---- */

/* A complete frame from client_ip:@p sport to the node's UDP port @p dport. */
static struct rte_mbuf *frame_build(uint16_t sport, uint16_t dport, const void *herald, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	cr_assert(m != NULL);
	uint16_t l4 = (uint16_t)(sizeof(struct rte_udp_hdr) + len);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr) + l4));
	cr_assert(p != NULL);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	eth->dst_addr = w.mac;
	eth->src_addr = client_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4)),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = htonl(client_ip),
		.dst_addr = htonl(node_ip),
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	*udp = (struct rte_udp_hdr){
		.src_port = htons(sport),
		.dst_port = htons(dport),
		.dgram_len = htons(l4),
	};
	memcpy(udp + 1, herald, len);
	return m;
}

/* A complete frame from client_ip:@p sport to the node's queue port. */
static void send_raw(uint16_t sport, const void *herald, uint16_t len)
{
	dp_net_rx(&w, frame_build(sport, HERALD_UDP_PORT_BASE, herald, len));
}

/* An unfragmented message of any type with @p body. */
static void send_msg(uint16_t sport, uint8_t type, uint16_t flags, uint32_t context, uint32_t session,
		     uint64_t seq, const void *body, uint16_t len)
{
	uint8_t buf[HERALD_MTU];
	struct herald_hdr_fields h = {.type = type, .flags = flags, .context = context,
				      .session = session, .seq = seq};
	herald_hdr_encode(buf, &h, 0, len, len);
	if (len)
		memcpy(buf + sizeof(struct herald_hdr), body, len);
	send_raw(sport, buf, (uint16_t)(sizeof(struct herald_hdr) + len));
}

static void subscribe(uint16_t sport, uint32_t context, uint16_t flags, uint32_t budget)
{
	struct herald_subscribe_body sb = {.flags = htons(flags), .budget = htonl(budget)};
	send_msg(sport, HERALD_T_SUBSCRIBE, 0, context, 0, 0, &sb, sizeof(sb));
}

/* The fragments [first, last) of a PUBLISH, from @p sport. */
static void publish_frags(uint16_t sport, uint32_t context, uint64_t seq, const char *key,
			  const void *value, size_t value_len, unsigned first, unsigned last)
{
	uint8_t buf[HERALD_MTU];
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = context, .seq = seq};
	for (unsigned f = first; f < last; f++) {
		int len = herald_entry_encode(buf, sizeof(buf), &h, key, strlen(key), value, value_len, f);
		cr_assert_gt(len, 0);
		if (sign_key != NULL)
			herald_publish_sign(buf, (size_t)len, sign_key);
		send_raw(sport, buf, (uint16_t)len);
	}
}

/* The next PUBLISH's seq: a stamp when signed (proto.h), a counter otherwise. */
static uint64_t next_seq(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	pub_seq = sign_key == NULL ? pub_seq + 1
				   : herald_publish_stamp_next(pub_seq, (uint64_t)ts.tv_sec * 1000000u +
									(uint64_t)ts.tv_nsec / 1000u);
	return pub_seq;
}

static void publish(uint32_t context, const char *key, const void *value, size_t value_len)
{
	publish_frags(PUB_PORT, context, next_seq(), key, value, value_len, 0,
		      herald_frag_count(herald_entry_msg_len(strlen(key), value_len)));
}

static void publish_str(uint32_t context, const char *key, const char *value)
{
	publish(context, key, value, strlen(value));
}

static void publish_i64(uint32_t context, const char *key, int64_t value)
{
	uint64_t be = htobe64((uint64_t)value);
	publish(context, key, &be, sizeof(be));
}

static void ack(uint16_t sport, uint32_t context, uint32_t session, uint32_t credits)
{
	struct herald_ack_body ab = {.credits = htonl(credits)};
	send_msg(sport, HERALD_T_ACK, 0, context, session, 0, &ab, sizeof(ab));
}

static void nak(uint16_t sport, uint32_t context, uint32_t session, uint64_t first, uint64_t last)
{
	struct herald_nak_body nb = {.first = htobe64(first), .last = htobe64(last)};
	send_msg(sport, HERALD_T_NAK, 0, context, session, 0, &nb, sizeof(nb));
}

static void resync(uint16_t sport, uint32_t context, uint32_t session)
{
	send_msg(sport, HERALD_T_RESYNC, 0, context, session, 0, NULL, 0);
}

/* ---- frames out ---- */

static void out_decode(struct rte_mbuf *m, struct out *o)
{
	uint8_t buf[RTE_ETHER_HDR_LEN + HERALD_MTU];
	cr_assert_leq(m->pkt_len, sizeof(buf));
	const uint8_t *p = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
	cr_assert(p != NULL);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)p;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
	struct herald_frame f;

	cr_assert(rte_is_same_ether_addr(&eth->dst_addr, &client_mac));
	cr_assert(rte_is_same_ether_addr(&eth->src_addr, &w.mac));
	cr_assert_eq(ip->src_addr, htonl(node_ip));
	cr_assert_eq(ip->dst_addr, htonl(client_ip));
	cr_assert_eq(rte_raw_cksum(ip, sizeof(*ip)), 0xffff, "IPv4 header checksum");
	cr_assert_eq(ntohs(ip->total_length), m->pkt_len - RTE_ETHER_HDR_LEN);
	cr_assert_eq(ntohs(udp->src_port), HERALD_UDP_PORT_BASE);
	cr_assert_eq(ntohs(udp->dgram_len), m->pkt_len - RTE_ETHER_HDR_LEN - sizeof(*ip));
	uint16_t len = (uint16_t)(ntohs(udp->dgram_len) - sizeof(*udp));
	enum herald_drop why = herald_frame_decode(udp + 1, len, &f);
	cr_assert_eq(why, HERALD_DROP_NONE, "node sent an invalid frame: %s", herald_drop_name(why));

	*o = (struct out){.type = f.type, .flags = f.flags, .context = f.context, .session = f.session,
			  .seq = f.seq, .dport = ntohs(udp->dst_port), .msg_len = f.msg_len,
			  .nb_segs = m->nb_segs, .body_seg = m->nb_segs > 1 ? m->next : NULL,
			  .pkt_len = m->pkt_len};
	if (f.type == HERALD_T_ERROR) {
		struct herald_error_body eb;
		memcpy(&eb, f.body, sizeof(eb));
		o->code = ntohs(eb.code);
		memcpy(o->text, f.body + sizeof(eb), f.length - sizeof(eb));
	} else if (f.type == HERALD_T_REDIRECT) {
		memcpy(o->value, f.body, f.length); /* the struct herald_redirect_body */
		o->value_len = f.length;
	} else if (f.key != NULL) {
		cr_assert_eq(f.length, f.msg_len, "tests use unfragmented values");
		memcpy(o->key, f.key, f.key_len);
		o->value_len = f.value_len;
		memcpy(o->value, f.key + f.key_len, f.value_len);
	}
}

/* Everything the node transmitted since the last call, in order, in out[]. */
static unsigned collect(void)
{
	struct rte_mbuf *pkts[32];
	uint16_t n;

	dp_tx_flush(&w);
	cr_assert_eq(w.drop[HERALD_DROP_TX_FULL], 0, "capture ring overflowed");
	nout = 0;
	while ((n = rte_eth_rx_burst(ring_port, 0, pkts, 32)) != 0)
		for (uint16_t i = 0; i < n; i++) {
			cr_assert_lt(nout, OUT_MAX);
			out_decode(pkts[i], &out[nout++]);
			rte_pktmbuf_free(pkts[i]);
		}
	return nout;
}

static int64_t out_i64(const struct out *o)
{
	uint64_t be;
	cr_assert_eq(o->value_len, 8);
	memcpy(&be, o->value, sizeof(be));
	return (int64_t)be64toh(be);
}

static void assert_entry(const struct out *o, uint8_t type, uint64_t seq, const char *key, const char *value)
{
	cr_assert_eq(o->type, type, "type %u, expected %u (seq %lu)", o->type, type, (unsigned long)seq);
	cr_assert_eq(o->seq, seq, "seq %lu, expected %lu", (unsigned long)o->seq, (unsigned long)seq);
	cr_assert_str_eq(o->key, key);
	cr_assert_eq(o->value_len, strlen(value), "key %s: value length %u", key, o->value_len);
	cr_assert_eq(memcmp(o->value, value, o->value_len), 0, "key %s: value %.*s, expected %s", key,
		     o->value_len, (const char *)o->value, value);
}

static void assert_delta(const struct out *o, uint64_t seq, const char *key, const char *value)
{
	assert_entry(o, HERALD_T_DELTA, seq, key, value);
	cr_assert_eq(o->flags, 0);
}

static void assert_error(const struct out *o, uint16_t dport, enum herald_error code)
{
	cr_assert_eq(o->type, HERALD_T_ERROR);
	cr_assert_eq(o->session, 0);
	cr_assert_eq(o->dport, dport);
	cr_assert_eq(o->code, code, "ERROR code %u, expected %u", o->code, code);
}

/* Subscribe and take the snapshot; returns the session id. */
static uint32_t subscribe_session(uint16_t sport, uint32_t context, uint16_t flags, uint32_t budget)
{
	subscribe(sport, context, flags, budget);
	cr_assert_geq(collect(), 1);
	cr_assert_eq(out[nout - 1].type, HERALD_T_SNAPSHOT);
	cr_assert_eq(out[nout - 1].flags, HERALD_F_SNAP_END);
	cr_assert_neq(out[0].session, 0);
	cr_assert_lt(nsubs, 16);
	subs[nsubs].id = out[0].session;
	subs[nsubs].context = context;
	subs[nsubs++].port = sport;
	/* Confirm it, as libherald does (protocol §4.1): until then it gets its snapshot only. */
	send_msg(sport, HERALD_T_HEARTBEAT, 0, context, out[0].session, 0, NULL, 0);
	return out[0].session;
}

static uint64_t drops_total(void)
{
	uint64_t n = 0;
	for (int i = 1; i < HERALD_DROP_MAX; i++)
		n += w.drop[i];
	return n;
}

/*
 * The worker's session behind a wire id, found the way the node finds it
 * (client address, port, context), so the test does not depend on how wire
 * ids are made. NULL once the session is closed.
 */
static struct dp_session *session(uint32_t wire_id)
{
	for (unsigned i = 0; i < nsubs; i++)
		if (subs[i].id == wire_id) {
			uint32_t ctx = dp_context_get(&w, subs[i].context, false);
			uint32_t s = ctx == DP_NONE ? DP_NONE
				   : dp_session_find(&w, htonl(client_ip), htons(subs[i].port), ctx);
			return s == DP_NONE ? NULL : &w.sessions[s];
		}
	cr_assert_fail("no session %u was opened", wire_id);
	return NULL;
}

/* ---- conflation policies ---- */

Test(dataplane, policy_parse_names_and_errors)
{
	struct dp_policy p;
	char err[200], name[32];

	cr_assert_eq(dp_policy_parse("replace", &p, err, sizeof(err)), 0);
	cr_assert_eq(p.kind, DP_POLICY_REPLACE);
	cr_assert_eq(dp_policy_parse("none", &p, err, sizeof(err)), 0);
	cr_assert_eq(p.kind, DP_POLICY_NONE);
	cr_assert_str_eq(dp_policy_name(&p, name, sizeof(name)), "none");
	const char *ops[] = {"add", "min", "max"};
	for (unsigned i = 0; i < 3; i++) {
		char text[16];
		snprintf(text, sizeof(text), "merge:%s", ops[i]);
		cr_assert_eq(dp_policy_parse(text, &p, err, sizeof(err)), 0);
		cr_assert_eq(p.kind, DP_POLICY_MERGE);
		cr_assert_str_eq(p.merge->name, ops[i]);
		cr_assert_str_eq(dp_policy_name(&p, name, sizeof(name)), text);
	}

	cr_assert_eq(dp_policy_parse("merge:avg", &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown merge operation 'avg': expected one of add, min, max");
	cr_assert_eq(dp_policy_parse("merge:", &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown merge operation '': expected one of add, min, max");
	cr_assert_eq(dp_policy_parse("fifo", &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown policy 'fifo': expected replace, none or merge:OP (OP one of add, min, max)");
	cr_assert_eq(dp_policy_parse("", &p, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown policy '': expected replace, none or merge:OP (OP one of add, min, max)");
	cr_assert_eq(dp_policy_parse("Replace", &p, err, sizeof(err)), -EINVAL);
	cr_assert_eq(dp_policy_parse("merge", &p, err, sizeof(err)), -EINVAL);
	cr_assert_eq(dp_policy_parse("merge:add ", &p, err, sizeof(err)), -EINVAL);
	/* A short buffer truncates the message, never overruns it. */
	char small[8];
	cr_assert_eq(dp_policy_parse("bogus", &p, small, sizeof(small)), -EINVAL);
	cr_assert_str_eq(small, "unknown");
}

/*
 * A session its client has not named yet (a spoofed SUBSCRIBE looks like
 * that) gets its snapshot and nothing more; updates wait as dirty keys and
 * the latest values go out when the client confirms.
 */
Test(dataplane, unconfirmed_session_gets_snapshot_only_until_named)
{
	subscribe(PORT_A, CTX_REPLACE, 0, 0);
	cr_assert_eq(collect(), 1);
	uint32_t id = out[0].session;
	cr_assert_eq(out[0].type, HERALD_T_SNAPSHOT);

	publish_str(CTX_REPLACE, "k1", "one");
	publish_str(CTX_REPLACE, "k1", "two");
	publish_str(CTX_REPLACE, "k2", "x");
	cr_assert_eq(collect(), 0, "no delta before the client names its session");
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_MARKED], 3);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 0, "the drain does not send to it either");

	/* The wrong id does not confirm it. */
	send_msg(PORT_A, HERALD_T_HEARTBEAT, 0, CTX_REPLACE, id ^ 1, 0, NULL, 0);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 1);

	send_msg(PORT_A, HERALD_T_HEARTBEAT, 0, CTX_REPLACE, id, 0, NULL, 0);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 2, "one latest value per dirty key once confirmed");
	assert_delta(&out[0], 2, "k1", "two");
	assert_delta(&out[1], 3, "k2", "x");
}

Test(dataplane, unconfirmed_session_closed_without_heartbeats)
{
	uint64_t hb_sent = w.ctr[HERALD_CTR_HEARTBEATS_SENT];

	subscribe(PORT_A, CTX_REPLACE, 0, 0);
	cr_assert_eq(collect(), 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 1);
	/* Ten default heartbeat intervals are 1 s, under the floor: still there. */
	for (unsigned i = 0; i < HERALD_SESSION_CONFIRM_MIN_MS / 10; i++) {
		advance_ms(10);
		dp_worker_timers(&w);
	}
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 1, "closed before HERALD_SESSION_CONFIRM_MIN_MS");
	/* Past the floor: gone, never heartbeated. */
	for (unsigned i = 0; i < 2; i++) {
		advance_ms(10);
		dp_worker_timers(&w);
	}
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.ctr[HERALD_CTR_HEARTBEATS_SENT], hb_sent);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_UNCONFIRMED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], 0, "the empty context it made is gone too");
}

/* A client heartbeating a session the node closed is told, at a bounded rate. */
Test(dataplane, heartbeat_for_closed_session_answered_unknown_session)
{
	uint32_t id = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);

	dp_worker_timers(&w); /* a timer period starts: replies allowed */
	send_msg(PORT_A, HERALD_T_BYE, 0, CTX_REPLACE, id, 0, NULL, 0);
	for (unsigned i = 0; i < 100; i++)
		send_msg(PORT_A, HERALD_T_HEARTBEAT, 0, CTX_REPLACE, id, 0, NULL, 0);
	unsigned n = collect();
	cr_assert_eq(n, 16, "%u replies: at most 16 per 10 ms timer period", n);
	assert_error(&out[0], PORT_A, HERALD_ERR_UNKNOWN_SESSION);
	cr_assert_eq(out[0].context, CTX_REPLACE);
	cr_assert_eq(out[0].msg_len, 4, "no text: no larger than a heartbeat plus the code");
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 100);
	cr_assert_eq(w.ctr[HERALD_CTR_UNKNOWN_SESSION_ERRORS], 16);
}

/* The worker's own stall is not its clients' silence. */
Test(dataplane, worker_stall_expires_no_session)
{
	subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	dp_worker_timers(&w);
	advance_ms(HERALD_HEARTBEAT_MS_DEFAULT * HERALD_SESSION_TIMEOUT_BEATS * 2); /* 6 s unscheduled */
	dp_worker_timers(&w);
	cr_assert_eq(w.ctr[HERALD_CTR_WORKER_STALLS], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_EXPIRED], 0, "expired for the worker's own stall");
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 1);
	/* Still silent once the grace (as long as the stall) is over: now it expires. */
	for (unsigned i = 0; i < 700; i++) {
		advance_ms(10);
		dp_worker_timers(&w);
	}
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_EXPIRED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_WORKER_STALLS], 1);
}

Test(dataplane, replace_newest_value_and_late_snapshot)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	cr_assert_eq(nout, 1, "empty context: one empty SNAPSHOT");
	cr_assert_eq(out[0].seq, 1);
	cr_assert_eq(out[0].msg_len, 0);
	cr_assert_eq(out[0].context, CTX_REPLACE);
	cr_assert_eq(out[0].dport, PORT_A);

	publish_str(CTX_REPLACE, "k1", "one");
	publish_str(CTX_REPLACE, "k1", "two");
	publish_str(CTX_REPLACE, "k2", "x");
	cr_assert_eq(collect(), 3);
	assert_delta(&out[0], 2, "k1", "one");
	assert_delta(&out[1], 3, "k1", "two");
	assert_delta(&out[2], 4, "k2", "x");
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(out[i].session, a);
		cr_assert_eq(out[i].nb_segs, 2, "header segment + shared body");
	}

	/* A late subscriber's snapshot holds the latest value of each key. */
	uint32_t b = subscribe_session(PORT_B, CTX_REPLACE, 0, 0);
	cr_assert_neq(a, b);
	cr_assert_eq(nout, 2);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k1", "two");
	cr_assert_eq(out[0].flags, 0);
	assert_entry(&out[1], HERALD_T_SNAPSHOT, 2, "k2", "x");
	cr_assert_eq(out[1].flags, HERALD_F_SNAP_END);
	cr_assert_eq(out[1].dport, PORT_B);

	/* Both sessions get the next update, each with its own sequence. */
	publish_str(CTX_REPLACE, "k2", "y");
	cr_assert_eq(collect(), 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct out *o = &out[i];
		assert_delta(o, o->session == a ? 5 : 3, "k2", "y");
		/* One body, referenced by both frames: written once. */
		cr_assert_eq(o->body_seg, out[0].body_seg);
	}
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 4);
	cr_assert_eq(w.ctr[HERALD_CTR_DELIVERIES], 5);
	cr_assert_eq(w.ctr[HERALD_CTR_SNAPSHOT_ENTRIES], 2);
	cr_assert_eq(w.ctr[HERALD_CTR_KEYS_ACTIVE], 2);
	cr_assert_eq(w.ctr[HERALD_CTR_TX_COPIED], 0);
	cr_assert_eq(drops_total(), 0);
}

Test(dataplane, merge_add_folds_and_wraps)
{
	uint32_t a = subscribe_session(PORT_A, CTX_ADD, 0, 0);
	publish_i64(CTX_ADD, "n", 5);
	publish_i64(CTX_ADD, "n", 7);
	publish_i64(CTX_ADD, "n", -20);
	publish_i64(CTX_ADD, "m", INT64_MAX);
	publish_i64(CTX_ADD, "m", 1);
	cr_assert_eq(collect(), 5);
	const int64_t want[] = {5, 12, -8, INT64_MAX, INT64_MIN};
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(out[i].type, HERALD_T_DELTA);
		cr_assert_eq(out[i].session, a);
		cr_assert_eq(out[i].seq, 2 + i);
		cr_assert_str_eq(out[i].key, i < 3 ? "n" : "m");
		cr_assert_eq(out_i64(&out[i]), want[i], "delta %u: %ld", i, (long)out_i64(&out[i]));
	}
	cr_assert_eq(w.ctr[HERALD_CTR_MERGES], 5);

	subscribe_session(PORT_B, CTX_ADD, 0, 0);
	cr_assert_eq(nout, 2);
	cr_assert_str_eq(out[0].key, "n");
	cr_assert_eq(out_i64(&out[0]), -8);
	cr_assert_str_eq(out[1].key, "m");
	cr_assert_eq(out_i64(&out[1]), INT64_MIN);
}

static void merge_sequence(uint32_t context, const int64_t *in, const int64_t *want, unsigned n)
{
	subscribe_session(PORT_A, context, 0, 0);
	for (unsigned i = 0; i < n; i++)
		publish_i64(context, "v", in[i]);
	cr_assert_eq(collect(), n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(out_i64(&out[i]), want[i], "update %u: got %ld, want %ld", i,
			     (long)out_i64(&out[i]), (long)want[i]);
	subscribe_session(PORT_B, context, 0, 0);
	cr_assert_eq(nout, 1);
	cr_assert_eq(out_i64(&out[0]), want[n - 1]);
}

Test(dataplane, merge_min)
{
	const int64_t in[] = {5, 7, 3, -4, 0, INT64_MIN, 9};
	const int64_t want[] = {5, 5, 3, -4, -4, INT64_MIN, INT64_MIN};
	merge_sequence(CTX_MIN, in, want, 7);
}

Test(dataplane, merge_max)
{
	const int64_t in[] = {-5, -7, 3, 2, INT64_MAX, -1};
	const int64_t want[] = {-5, -5, 3, 3, INT64_MAX, INT64_MAX};
	merge_sequence(CTX_MAX, in, want, 6);
}

Test(dataplane, merge_drops_values_not_8_bytes)
{
	subscribe_session(PORT_A, CTX_ADD, 0, 0);
	publish_i64(CTX_ADD, "n", 40);
	cr_assert_eq(collect(), 1);

	uint8_t nine[9] = {0}, four[4] = {0, 0, 0, 1};
	publish(CTX_ADD, "n", four, sizeof(four));
	publish(CTX_ADD, "n", nine, sizeof(nine));
	publish(CTX_ADD, "n", nine, 0);
	publish(CTX_ADD, "fresh", four, sizeof(four)); /* no key is created for it */
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_VALUE], 4);
	cr_assert_eq(drops_total(), 4);
	cr_assert_eq(w.ctr[HERALD_CTR_KEYS_ACTIVE], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 1);

	/* The stored value is untouched. */
	publish_i64(CTX_ADD, "n", 2);
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out_i64(&out[0]), 42);
}

Test(dataplane, none_delivers_every_update_in_order)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, 0, 0);
	const char *vals[] = {"a", "b", "c", "d"};
	for (unsigned i = 0; i < 4; i++)
		publish_str(CTX_NONE, "k", vals[i]);
	cr_assert_eq(collect(), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_delta(&out[i], 2 + i, "k", vals[i]);
		cr_assert_eq(out[i].session, a);
	}
	cr_assert_eq(w.contexts[session(a)->ctx].hist_head, 4);
	/* The snapshot still holds only the latest value. */
	subscribe_session(PORT_B, CTX_NONE, 0, 0);
	cr_assert_eq(nout, 1);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "d");
}

/* ---- budgets: rate mode ---- */

Test(dataplane, rate_budget_zero_is_unlimited)
{
	subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	for (unsigned i = 0; i < 200; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%u", i % 50);
		publish_str(CTX_REPLACE, key, "v");
		if (i % 50 == 49)
			cr_assert_eq(collect(), 50);
	}
	cr_assert_eq(w.ctr[HERALD_CTR_DELIVERIES], 200);
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_MARKED], 0);
}

Test(dataplane, rate_budget_exact_then_dirty_then_latest)
{
	/* 200 messages/s: a burst of 10 (50 ms worth), one more every 5 ms. */
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 200);
	char key[8], val[8];

	for (unsigned i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		publish_str(CTX_REPLACE, key, "v0");
	}
	cr_assert_eq(collect(), 10, "a new session's bucket holds a whole burst");
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_MARKED], 0);

	/* Past the budget: marked dirty, nothing queued. */
	for (unsigned r = 1; r <= 5; r++)
		for (unsigned i = 0; i < 3; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			snprintf(val, sizeof(val), "v%u", r);
			publish_str(CTX_REPLACE, key, val);
		}
	cr_assert_eq(collect(), 0);
	struct dp_session *s = session(a);
	cr_assert_eq(s->ndirty, 3, "queue depth is at most one per key");
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_MARKED], 15);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 0, "no time has passed: no budget");

	/* 5 ms: one message of budget, the latest value of one dirty key. */
	advance_ms(5);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 12, "k0", "v5");
	cr_assert_eq(s->ndirty, 2);
	/* A fresh update while dirty keys are owed waits its turn. */
	publish_str(CTX_REPLACE, "k9", "v9");
	cr_assert_eq(collect(), 0);
	cr_assert_eq(s->ndirty, 3);

	advance_ms(100);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 3);
	assert_delta(&out[0], 13, "k1", "v5");
	assert_delta(&out[1], 14, "k2", "v5");
	assert_delta(&out[2], 15, "k9", "v9");
	cr_assert_eq(s->ndirty, 0);
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_SENT], 4);
	cr_assert_eq(w.dirty_head, DP_NONE, "session left the drain list");

	/* Budget left (burst refilled): deliveries are immediate again. */
	publish_str(CTX_REPLACE, "k3", "now");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 16, "k3", "now");
}

Test(dataplane, rate_budget_refill_is_capped_at_burst)
{
	subscribe_session(PORT_A, CTX_REPLACE, 0, 200);
	advance_ms(10000); /* a long idle period banks no more than the burst */
	char key[8];
	for (unsigned i = 0; i < 12; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		publish_str(CTX_REPLACE, key, "v");
	}
	cr_assert_eq(collect(), 10);
	cr_assert_eq(w.ctr[HERALD_CTR_DIRTY_MARKED], 2);
}

/* ---- budgets: credit mode ---- */

Test(dataplane, credit_window_ack_and_dirty)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, 3);
	cr_assert_eq(nout, 1, "snapshot entries are not charged");
	publish_str(CTX_REPLACE, "a", "1");
	publish_str(CTX_REPLACE, "b", "1");
	publish_str(CTX_REPLACE, "c", "1");
	publish_str(CTX_REPLACE, "a", "2");
	publish_str(CTX_REPLACE, "a", "3");
	publish_str(CTX_REPLACE, "d", "1");
	cr_assert_eq(collect(), 3);
	assert_delta(&out[2], 4, "c", "1");
	cr_assert_eq(session(a)->ndirty, 2);

	/* Time alone never refills a credit window. */
	advance_ms(5000);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 0);

	ack(PORT_A, CTX_REPLACE, a, 1);
	cr_assert_eq(collect(), 0, "an ACK is not answered");
	cr_assert_eq(w.ctr[HERALD_CTR_ACKS], 1);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 5, "a", "3");

	ack(PORT_A, CTX_REPLACE, a, 5);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 6, "d", "1");
	cr_assert_eq(session(a)->ndirty, 0);
	cr_assert_eq(session(a)->tokens, 4 * 1000, "4 credits left");
	publish_str(CTX_REPLACE, "b", "2");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 7, "b", "2");
	cr_assert_eq(drops_total(), 0);
}

Test(dataplane, credit_huge_values_are_capped)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, 1);
	ack(PORT_A, CTX_REPLACE, a, UINT32_MAX);
	ack(PORT_A, CTX_REPLACE, a, UINT32_MAX);
	cr_assert_eq(session(a)->tokens, (int64_t)(1 << 20) * 1000, "banked credits are capped at 2^20");
	cr_assert_eq(w.ctr[HERALD_CTR_ACKS], 2);
	cr_assert_eq(collect(), 0);
	publish_str(CTX_REPLACE, "k", "v");
	cr_assert_eq(collect(), 1);
}

Test(dataplane, credit_initial_window_is_capped_and_ack_never_lowers_it)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, UINT32_MAX);
	cr_assert_eq(session(a)->tokens, (int64_t)(1 << 20) * 1000);
	publish_str(CTX_REPLACE, "k", "v");
	cr_assert_eq(collect(), 1);
	ack(PORT_A, CTX_REPLACE, a, 1);
	cr_assert_eq(session(a)->tokens, (int64_t)(1 << 20) * 1000);
}

Test(dataplane, credit_zero_budget_is_unlimited_and_rate_ack_keeps_alive)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, 0);
	uint32_t b = subscribe_session(PORT_B, CTX_REPLACE, 0, 100);
	for (unsigned i = 0; i < 20; i++)
		publish_str(CTX_REPLACE, "k", "v");
	collect();
	unsigned to_a = 0;
	for (unsigned i = 0; i < nout; i++)
		to_a += out[i].session == a;
	cr_assert_eq(to_a, 20);

	/* On a rate session an ACK only refreshes liveness. */
	int64_t tokens = session(b)->tokens;
	advance_ms(1);
	ack(PORT_B, CTX_REPLACE, b, 1000);
	cr_assert_eq(session(b)->tokens, tokens);
	cr_assert_eq(session(b)->last_rx_tsc, w.now);
	cr_assert_eq(collect(), 0);
}

Test(dataplane, ack_unknown_session_and_malformed)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, 1);
	int64_t tokens = session(a)->tokens;

	ack(PORT_A, CTX_REPLACE, a + 1, 10);             /* not this sender's id */
	ack(PORT_B, CTX_REPLACE, a, 10);                 /* another port */
	ack(PORT_A, CTX_REPLACE + 1, a, 10);             /* unknown context */
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 3);

	uint8_t body[12] = {0};
	send_msg(PORT_A, HERALD_T_ACK, 0, CTX_REPLACE, a, 0, body, 4);
	send_msg(PORT_A, HERALD_T_ACK, 0, CTX_REPLACE, a, 0, body, 12);
	send_msg(PORT_A, HERALD_T_ACK, 0, CTX_REPLACE, a, 0, body, 0);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_BODY], 3);
	struct herald_ack_body ab = {.credits = htonl(10), .reserved = htonl(1)};
	send_msg(PORT_A, HERALD_T_ACK, 0, CTX_REPLACE, a, 0, &ab, sizeof(ab));
	cr_assert_eq(w.drop[HERALD_DROP_BAD_FLAGS], 1);

	cr_assert_eq(drops_total(), 7);
	cr_assert_eq(w.ctr[HERALD_CTR_ACKS], 0);
	cr_assert_eq(session(a)->tokens, tokens);
	cr_assert_eq(collect(), 0, "malformed frames are never answered");
}

/* ---- RESYNC ---- */

Test(dataplane, resync_sends_fresh_snapshot_and_clears_dirty)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, HERALD_SUB_F_CREDITS, 1);
	publish_str(CTX_REPLACE, "x", "1");
	publish_str(CTX_REPLACE, "y", "1");
	publish_str(CTX_REPLACE, "x", "2");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 2, "x", "1");
	cr_assert_eq(session(a)->ndirty, 2);

	resync(PORT_A, CTX_REPLACE, a);
	cr_assert_eq(collect(), 2);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 3, "x", "2");
	assert_entry(&out[1], HERALD_T_SNAPSHOT, 4, "y", "1");
	cr_assert_eq(out[1].flags, HERALD_F_SNAP_END);
	cr_assert_eq(out[0].session, a);
	cr_assert_eq(w.ctr[HERALD_CTR_RESYNCS], 1);
	cr_assert_eq(session(a)->ndirty, 0);
	cr_assert_eq(w.dirty_head, DP_NONE);

	/* Nothing is owed any more, even when credit returns. */
	ack(PORT_A, CTX_REPLACE, a, 10);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 0);
	publish_str(CTX_REPLACE, "y", "2");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 5, "y", "2");
}

Test(dataplane, resync_malformed_and_unknown)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	uint8_t junk[4] = {0};
	send_msg(PORT_A, HERALD_T_RESYNC, 0, CTX_REPLACE, a, 0, junk, sizeof(junk));
	cr_assert_eq(w.drop[HERALD_DROP_BAD_BODY], 1);
	resync(PORT_B, CTX_REPLACE, a);
	resync(PORT_A, CTX_REPLACE, a + 7);
	resync(PORT_A, 999, a);
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 3);
	cr_assert_eq(w.ctr[HERALD_CTR_RESYNCS], 0);
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], 1, "RESYNC never creates a context");
}

/* ---- `none`: history, lag, NAK ---- */

Test(dataplane, none_lagging_session_catches_up_in_order)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, HERALD_SUB_F_CREDITS, 2);
	for (unsigned i = 0; i < 6; i++) {
		char v[4];
		snprintf(v, sizeof(v), "%u", i);
		publish_str(CTX_NONE, "k", v);
	}
	cr_assert_eq(collect(), 2);
	assert_delta(&out[1], 3, "k", "1");
	cr_assert_eq(w.ctr[HERALD_CTR_HISTORY_LAGGED], 4);

	ack(PORT_A, CTX_NONE, a, 3);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 3);
	assert_delta(&out[0], 4, "k", "2");
	assert_delta(&out[1], 5, "k", "3");
	assert_delta(&out[2], 6, "k", "4");
	/* A new update goes behind the lag, never ahead of it. */
	publish_str(CTX_NONE, "k", "6");
	cr_assert_eq(collect(), 0);
	ack(PORT_A, CTX_NONE, a, 10);
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 2);
	assert_delta(&out[0], 7, "k", "5");
	assert_delta(&out[1], 8, "k", "6");
	cr_assert_eq(w.dirty_head, DP_NONE);
}

Test(dataplane, none_session_beyond_history_is_cut)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, HERALD_SUB_F_CREDITS, 1);
	uint32_t b = subscribe_session(PORT_B, CTX_NONE, 0, 0);
	for (unsigned i = 0; i < 1 + HISTORY; i++)
		publish_str(CTX_NONE, "k", "v");
	cr_assert_eq(collect(), 2 + HISTORY, "A took 1 within its credit, B all");
	/* A owes messages 2..9: exactly the history. Still served. */
	dp_budget_drain(&w);
	cr_assert_not_null(session(a));
	publish_str(CTX_NONE, "k", "v");
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out[0].session, b);
	uint64_t newest = out[0].seq; /* both sessions opened on the empty context: same numbering */

	/* Message 2 has left the ring: A is cut. */
	dp_budget_drain(&w);
	cr_assert_eq(collect(), 1);
	assert_error(&out[0], PORT_A, HERALD_ERR_HISTORY_LOST);
	cr_assert_eq(out[0].seq, newest, "the ERROR names the newest lost message: %" PRIu64,
		     out[0].seq);
	cr_assert_str_eq(out[0].text, "fell beyond the history: resubscribe");
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_CUT], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 1);
	cr_assert_null(session(a), "the cut session is closed");
	send_msg(PORT_A, HERALD_T_HEARTBEAT, 0, CTX_NONE, a, 0, NULL, 0);
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 1, "the cut session is gone");

	/* B is unaffected; A may subscribe again and gets the snapshot. */
	publish_str(CTX_NONE, "k", "w");
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out[0].session, b);
	subscribe_session(PORT_A, CTX_NONE, 0, 0);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "w");
}

Test(dataplane, nak_retransmits_by_reference)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, 0, 0);
	publish_str(CTX_NONE, "k", "m1");
	publish_str(CTX_NONE, "j", "m2");
	publish_str(CTX_NONE, "k", "m3");
	cr_assert_eq(collect(), 3);
	uint64_t zc = w.ctr[HERALD_CTR_TX_ZEROCOPY];

	nak(PORT_A, CTX_NONE, a, 2, 3);
	cr_assert_eq(collect(), 2);
	assert_delta(&out[0], 2, "k", "m1");
	assert_delta(&out[1], 3, "j", "m2");
	const struct dp_context *c = &w.contexts[session(a)->ctx];
	cr_assert_eq(out[0].body_seg, c->hist[0].frag[0], "retransmit references the stored body");
	cr_assert_eq(out[1].body_seg, c->hist[1].frag[0]);
	cr_assert_eq(w.ctr[HERALD_CTR_TX_COPIED], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_TX_ZEROCOPY], zc + 2);
	cr_assert_eq(w.ctr[HERALD_CTR_NAKS], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_RETRANSMITS], 2);
	/* Retransmits keep their numbers: the session's sequence goes on. */
	publish_str(CTX_NONE, "k", "m4");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 5, "k", "m4");
	cr_assert_eq(drops_total(), 0);
}

Test(dataplane, nak_range_not_sent_yet_is_ignored)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, 0, 0);
	publish_str(CTX_NONE, "k", "m1");
	publish_str(CTX_NONE, "k", "m2");
	cr_assert_eq(collect(), 2); /* seq 2, 3 */

	nak(PORT_A, CTX_NONE, a, 3, 10); /* only seq 3 was sent */
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 3, "k", "m2");
	nak(PORT_A, CTX_NONE, a, 4, 4);
	nak(PORT_A, CTX_NONE, a, 4, UINT64_MAX);
	nak(PORT_A, CTX_NONE, a, UINT64_MAX / 2 + 1, UINT64_MAX);
	nak(PORT_A, CTX_NONE, a, UINT64_MAX, UINT64_MAX);
	cr_assert_eq(collect(), 0, "nothing sent, no ERROR");
	cr_assert_eq(w.ctr[HERALD_CTR_NAKS], 5);
	cr_assert_eq(w.ctr[HERALD_CTR_RETRANSMITS], 1);
	cr_assert_eq(drops_total(), 0);
}

Test(dataplane, nak_past_history_gets_history_lost)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, 0, 0);
	for (unsigned i = 1; i <= 12; i++) {
		char v[4];
		snprintf(v, sizeof(v), "m%u", i);
		publish_str(CTX_NONE, "k", v);
	}
	cr_assert_eq(collect(), 12); /* seq 2..13; the history holds messages 5..12 = seq 6..13 */

	nak(PORT_A, CTX_NONE, a, 2, 3);
	cr_assert_eq(collect(), 1);
	assert_error(&out[0], PORT_A, HERALD_ERR_HISTORY_LOST);
	cr_assert_eq(w.drop[HERALD_DROP_HISTORY_LOST], 1);

	/* A range straddling the oldest entry: ERROR, then what is still held. */
	nak(PORT_A, CTX_NONE, a, 4, 7);
	cr_assert_eq(collect(), 3);
	assert_error(&out[0], PORT_A, HERALD_ERR_HISTORY_LOST);
	assert_delta(&out[1], 6, "k", "m5");
	assert_delta(&out[2], 7, "k", "m6");
	cr_assert_eq(w.drop[HERALD_DROP_HISTORY_LOST], 2);
	cr_assert_eq(w.ctr[HERALD_CTR_RETRANSMITS], 2);
	cr_assert_not_null(session(a), "a NAK answer does not cut the session");
}

Test(dataplane, nak_never_replays_history_as_snapshot_seqs)
{
	/* Three messages before B subscribes: its seq 1..2 are SNAPSHOT entries. */
	publish_str(CTX_NONE, "k", "old");
	publish_str(CTX_NONE, "j", "j1");
	publish_str(CTX_NONE, "k", "new");
	uint32_t b = subscribe_session(PORT_B, CTX_NONE, 0, 0);
	cr_assert_eq(nout, 2);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "new");
	assert_entry(&out[1], HERALD_T_SNAPSHOT, 2, "j", "j1");
	publish_str(CTX_NONE, "k", "after");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 3, "k", "after");

	/* Snapshot entries are not in the history: the answer is HISTORY_LOST. */
	nak(PORT_B, CTX_NONE, b, 1, 3);
	cr_assert_eq(collect(), 2);
	assert_error(&out[0], PORT_B, HERALD_ERR_HISTORY_LOST);
	assert_delta(&out[1], 3, "k", "after");
	cr_assert_eq(w.drop[HERALD_DROP_HISTORY_LOST], 1);
}

Test(dataplane, nak_malformed_unknown_and_conflated)
{
	uint32_t a = subscribe_session(PORT_A, CTX_NONE, 0, 0);
	uint32_t r = subscribe_session(PORT_B, CTX_REPLACE, 0, 0);
	publish_str(CTX_NONE, "k", "m1");
	cr_assert_eq(collect(), 1);

	nak(PORT_A, CTX_NONE, a, 3, 2);
	uint8_t body[24] = {0};
	send_msg(PORT_A, HERALD_T_NAK, 0, CTX_NONE, a, 0, body, 8);
	send_msg(PORT_A, HERALD_T_NAK, 0, CTX_NONE, a, 0, body, 24);
	send_msg(PORT_A, HERALD_T_NAK, 0, CTX_NONE, a, 0, body, 0);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_BODY], 4);

	nak(PORT_A, CTX_NONE, a + 1, 2, 2);
	nak(PORT_B, CTX_NONE, a, 2, 2);
	nak(PORT_A, 777, a, 2, 2);
	cr_assert_eq(w.drop[HERALD_DROP_UNKNOWN_SESSION], 3);

	/* Conflated contexts repair with RESYNC, not NAK. */
	nak(PORT_B, CTX_REPLACE, r, 1, 1);
	cr_assert_eq(w.drop[HERALD_DROP_UNEXPECTED_TYPE], 1);

	cr_assert_eq(drops_total(), 8);
	cr_assert_eq(w.ctr[HERALD_CTR_NAKS], 0);
	cr_assert_eq(collect(), 0, "never answered");
}

Test(dataplane, node_to_client_types_are_unexpected)
{
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	uint8_t entry[8] = {0, 1, 'k', 'v'};
	struct herald_error_body eb = {.code = htons(HERALD_ERR_UNKNOWN_SESSION)};
	struct herald_redirect_body rb = {0};
	struct herald_hello_body hb = {0};

	send_msg(PORT_A, HERALD_T_SNAPSHOT, HERALD_F_SNAP_END, CTX_REPLACE, a, 9, entry, 4);
	send_msg(PORT_A, HERALD_T_DELTA, 0, CTX_REPLACE, a, 9, entry, 4);
	send_msg(PORT_A, HERALD_T_ERROR, 0, CTX_REPLACE, 0, 0, &eb, sizeof(eb));
	send_msg(PORT_A, HERALD_T_REDIRECT, 0, CTX_REPLACE, 0, 0, &rb, sizeof(rb));
	send_msg(PORT_A, HERALD_T_HELLO, 0, CTX_REPLACE, 0, 0, &hb, sizeof(hb));
	cr_assert_eq(w.drop[HERALD_DROP_UNEXPECTED_TYPE], 5);
	cr_assert_eq(drops_total(), 5);
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.ctr[HERALD_CTR_KEYS_ACTIVE], 0, "a DELTA from a client changes nothing");
}


/* ---- two queues: ownership and the hand-off ring (handoff.c) ---- */

#define RING2_NAME "net_ring_dptest2q"

/* The first context at or after @p from that queue @p q of 2 owns. */
static uint32_t context_on(uint16_t q, uint32_t from)
{
	while (herald_queue_of(from, 2) != q)
		from++;
	return from;
}

/* A SUBSCRIBE from PORT_A for @p context, to UDP port @p dport. */
static struct rte_mbuf *subscribe_frame(uint32_t context, uint16_t dport)
{
	uint8_t buf[sizeof(struct herald_hdr) + sizeof(struct herald_subscribe_body)];
	struct herald_subscribe_body sb = {0};
	struct herald_hdr_fields h = {.type = HERALD_T_SUBSCRIBE, .context = context};

	herald_hdr_encode(buf, &h, 0, sizeof(sb), sizeof(sb));
	memcpy(buf + sizeof(struct herald_hdr), &sb, sizeof(sb));
	return frame_build(PORT_A, dport, buf, sizeof(buf));
}

Test(dataplane, two_queues_frames_reach_the_owner_through_its_ring)
{
	/* net_ring loops each TX queue back into its RX queue: what queue q sends, queue q receives. */
	struct rte_eth_conf conf = {0};
	uint16_t port_id;
	cr_assert_eq(rte_vdev_init(RING2_NAME, NULL), 0);
	cr_assert_eq(rte_eth_dev_get_port_by_name(RING2_NAME, &port_id), 0);
	cr_assert_eq(rte_eth_dev_configure(port_id, 2, 2, &conf), 0);
	for (uint16_t q = 0; q < 2; q++) {
		cr_assert_eq(rte_eth_rx_queue_setup(port_id, q, 1024, (unsigned)rte_socket_id(), NULL, pool), 0);
		cr_assert_eq(rte_eth_tx_queue_setup(port_id, q, 1024, (unsigned)rte_socket_id(), NULL), 0);
	}
	cr_assert_eq(rte_eth_dev_start(port_id), 0);

	static struct dp_worker wk[2];
	dp_store_free(&w); /* its tables are named for queue 0, as wk[0]'s will be */
	struct herald_port port = {.port_id = port_id, .nb_queues = 2, .caps = {.multi_seg_tx = true},
				   .mac = w.mac};
	for (uint16_t q = 0; q < 2; q++) {
		cr_assert_eq(dp_worker_init(&wk[q], &cfg, &port, q, pool, hdr_pool), 0);
		wk[q].now = w.now;
	}
	cr_assert_eq(dp_handoff_init(wk, 2), 0);
	uint32_t c0 = context_on(0, 1000), c1 = context_on(1, 1000);
	const uint16_t base = HERALD_UDP_PORT_BASE;

	/* Queue 0 receives a SUBSCRIBE for queue 1's context: it goes to queue 1's ring. */
	dp_net_rx(&wk[0], subscribe_frame(c1, base + 1));
	cr_assert_eq(wk[0].ctr[HERALD_CTR_MISQUEUED], 1);
	cr_assert_eq(wk[0].ctr[HERALD_CTR_RX_PACKETS], 1, "counted once, where it was received");
	cr_assert_eq(dp_context_get(&wk[0], c1, false), DP_NONE, "queue 0 keeps no state for it");
	cr_assert_eq(rte_ring_count(wk[1].handoff), 1);
	cr_assert_eq(dp_handoff_drain(&wk[0]), 0, "nothing was handed to queue 0");

	/* The owner takes it at the top of its loop and answers from its port, on its TX queue. */
	cr_assert_eq(dp_handoff_drain(&wk[1]), 1);
	cr_assert_eq(wk[1].ctr[HERALD_CTR_SUBSCRIBES], 1);
	cr_assert_eq(wk[1].ctr[HERALD_CTR_RX_PACKETS], 0);
	cr_assert_neq(dp_context_get(&wk[1], c1, false), DP_NONE);
	dp_tx_flush(&wk[1]);
	struct rte_mbuf *pkts[4];
	cr_assert_eq(rte_eth_rx_burst(port_id, 0, pkts, 4), 0, "nothing left on queue 0");
	cr_assert_eq(rte_eth_rx_burst(port_id, 1, pkts, 4), 1);
	struct rte_udp_hdr udp;
	struct herald_hdr hdr;
	udp = *(const struct rte_udp_hdr *)rte_pktmbuf_read(pkts[0], RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr),
							   sizeof(udp), &udp);
	hdr = *(const struct herald_hdr *)rte_pktmbuf_read(pkts[0], DP_HDRS_LEN - sizeof(hdr), sizeof(hdr), &hdr);
	cr_assert_eq(ntohs(udp.src_port), base + 1, "the reply comes from queue 1's port");
	cr_assert_eq(ntohs(udp.dst_port), PORT_A);
	cr_assert_eq(hdr.type, HERALD_T_SNAPSHOT);
	cr_assert_eq(ntohl(hdr.context), c1);
	rte_pktmbuf_free(pkts[0]);

	/* Queue 0's own context stays on queue 0, whichever queue's turn it is. */
	dp_net_rx(&wk[0], subscribe_frame(c0, base));
	cr_assert_eq(wk[0].ctr[HERALD_CTR_SUBSCRIBES], 1);
	cr_assert_eq(wk[0].ctr[HERALD_CTR_MISQUEUED], 1);
	cr_assert_neq(dp_context_get(&wk[0], c0, false), DP_NONE);
	dp_tx_flush(&wk[0]);
	cr_assert_eq(rte_eth_rx_burst(port_id, 0, pkts, 4), 1);
	udp = *(const struct rte_udp_hdr *)rte_pktmbuf_read(pkts[0], RTE_ETHER_HDR_LEN + sizeof(struct rte_ipv4_hdr),
							   sizeof(udp), &udp);
	cr_assert_eq(ntohs(udp.src_port), base);
	rte_pktmbuf_free(pkts[0]);

	/* Another queue's port: refused where it lands (the client would hear another port). */
	dp_net_rx(&wk[1], subscribe_frame(c1, base));
	dp_net_rx(&wk[0], subscribe_frame(c0, base + 1));
	cr_assert_eq(wk[1].drop[HERALD_DROP_WRONG_QUEUE], 1);
	cr_assert_eq(wk[0].drop[HERALD_DROP_WRONG_QUEUE], 1);
	/* Past the last queue's port, and not herald at all: as with one queue. */
	dp_net_rx(&wk[0], frame_build(PORT_A, base + 2, "HRjunk", 6));
	cr_assert_eq(wk[0].drop[HERALD_DROP_WRONG_PORT], 1);
	uint8_t junk[sizeof(struct herald_hdr)] = {0x12, 0x34};
	dp_net_rx(&wk[0], frame_build(PORT_A, base + 1, junk, sizeof(junk)));
	cr_assert_eq(wk[0].drop[HERALD_DROP_BAD_MAGIC], 1, "dropped by the codec where it landed");

	/* The owner's ring full: the frame is dropped and counted, never waited for. */
	void *filler = &wk[1];
	while (rte_ring_free_count(wk[1].handoff) != 0)
		cr_assert_eq(rte_ring_enqueue(wk[1].handoff, filler), 0);
	dp_net_rx(&wk[0], subscribe_frame(c1, base + 1));
	cr_assert_eq(wk[0].drop[HERALD_DROP_HANDOFF_FULL], 1);
	cr_assert_eq(wk[0].ctr[HERALD_CTR_MISQUEUED], 1);
	rte_ring_reset(wk[1].handoff); /* the fillers are not mbufs */

	/* A frame still in a ring at shutdown goes back to the pool. */
	dp_net_rx(&wk[0], subscribe_frame(c1, base + 1));
	cr_assert_eq(rte_ring_count(wk[1].handoff), 1);
	dp_handoff_free(wk, 2);
	for (uint16_t q = 0; q < 2; q++) {
		dp_tx_flush(&wk[q]);
		dp_store_free(&wk[q]);
		uint16_t n;
		while ((n = rte_eth_rx_burst(port_id, q, pkts, 4)) != 0)
			rte_pktmbuf_free_bulk(pkts, n);
	}
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
	rte_vdev_uninit(RING2_NAME);
}

/* ---- publish authentication (--publish-key, docs/protocol.md §3.5.1) ---- */

/* --publish-key on the running worker: its replay cache is made as at start. */
static void auth_on(const uint8_t key[HERALD_PUBLISH_KEY_LEN])
{
	memcpy(cfg.publish_key, key, HERALD_PUBLISH_KEY_LEN);
	cfg.publish_auth = true;
	cr_assert_eq(dp_replay_init(&w, 0), 0);
}

Test(dataplane, publish_auth_drops_unsigned_and_forged_before_any_state)
{
	static const uint8_t node_key[HERALD_PUBLISH_KEY_LEN] = "0123456789abcdef";
	static const uint8_t wrong_key[HERALD_PUBLISH_KEY_LEN] = "0123456789abcdeF";
	static uint8_t big[3000];

	auth_on(node_key);
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	uint64_t contexts = w.ctr[HERALD_CTR_CONTEXTS_ACTIVE];

	/* Signed with the node's key: applied and fanned out. */
	sign_key = node_key;
	publish_str(CTX_REPLACE, "k", "real");
	cr_assert_eq(collect(), 1);
	assert_delta(&out[0], 2, "k", "real");
	cr_assert_eq(out[0].session, a);

	/* Unsigned, or signed with another key: dropped, counted, nothing sent. */
	sign_key = NULL;
	publish_str(CTX_REPLACE, "k", "forged");
	sign_key = wrong_key;
	publish_str(CTX_REPLACE, "k", "forged");
	publish_str(CTX_REPLACE + 100, "k", "forged"); /* a context that does not exist */
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_AUTH], 3);
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], contexts, "a forged PUBLISH created a context");

	/*
	 * Forged first fragments, one per reassembly slot and more: none takes
	 * a slot, so a real fragmented publish still goes through. (A context
	 * without subscribers: the capture decodes unfragmented frames only.)
	 */
	const uint32_t ctx_frag = CTX_REPLACE + 1;
	for (unsigned i = 0; i < 2 * cfg.reasm_slots; i++)
		publish_frags((uint16_t)(PUB_PORT + 1 + i), ctx_frag, 1000 + i, "big", big, sizeof(big), 0, 1);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_AUTH], 3 + 2 * cfg.reasm_slots);
	sign_key = node_key;
	publish(ctx_frag, "big", big, sizeof(big));
	cr_assert_eq(w.ctr[HERALD_CTR_FRAGMENTS_REASSEMBLED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 2);

	/* A signed fragment with forged siblings: the forged ones are dropped alone. */
	publish_frags(PUB_PORT, ctx_frag, next_seq(), "big", big, sizeof(big), 0, 1);
	sign_key = wrong_key;
	publish_frags(PUB_PORT, ctx_frag, pub_seq, "big", big, sizeof(big), 1, 3);
	sign_key = node_key;
	publish_frags(PUB_PORT, ctx_frag, pub_seq, "big", big, sizeof(big), 1, 3);
	cr_assert_eq(w.ctr[HERALD_CTR_FRAGMENTS_REASSEMBLED], 2, "completed by the signed fragments");
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 3);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_AUTH], 3 + 2 * cfg.reasm_slots + 2);
	cr_assert_eq(drops_total(), w.drop[HERALD_DROP_BAD_AUTH]);
	cr_assert_eq(collect(), 0);

	/* The state is the real publisher's. */
	uint32_t b = subscribe_session(PORT_B, CTX_REPLACE, 0, 0);
	cr_assert_neq(a, b);
	cr_assert_eq(nout, 1);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "real");
	cr_assert_eq(out[0].flags, HERALD_F_SNAP_END);
}

Test(dataplane, publish_auth_off_accepts_signed_and_unsigned)
{
	static const uint8_t key[HERALD_PUBLISH_KEY_LEN] = "any key at all!!";

	subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	publish_str(CTX_REPLACE, "k", "plain");
	sign_key = key;
	publish_str(CTX_REPLACE, "k", "signed");
	cr_assert_eq(collect(), 2);
	assert_delta(&out[0], 2, "k", "plain");
	assert_delta(&out[1], 3, "k", "signed");
	cr_assert_eq(drops_total(), 0);
}

/* A signed, unfragmented PUBLISH of +@p n to CTX_ADD's key "n", stamped @p seq, into @p buf. */
static uint16_t signed_add(uint8_t buf[HERALD_MTU], uint64_t seq, int64_t n)
{
	struct herald_hdr_fields h = {.type = HERALD_T_PUBLISH, .context = CTX_ADD, .seq = seq};
	uint64_t be = htobe64((uint64_t)n);
	int len = herald_entry_encode(buf, HERALD_MTU, &h, "n", 1, &be, sizeof(be), 0);
	cr_assert_gt(len, 0);
	herald_publish_sign(buf, (size_t)len, sign_key);
	return (uint16_t)len;
}

Test(dataplane, publish_replay_refused_by_mac_then_by_stamp)
{
	static const uint8_t key[HERALD_PUBLISH_KEY_LEN] = "0123456789abcdef";
	static uint8_t sent[100][HERALD_MTU];
	static uint16_t len[100];
	const uint64_t window_us = cfg.publish_window_s * 1000000ull;

	cfg.replay_cache = 64;
	auth_on(key);
	sign_key = key;
	const uint64_t now_us = next_seq();
	subscribe_session(PORT_A, CTX_ADD, 0, 0);

	/*
	 * 100 increments, each sent twice, the copy from another port (a
	 * replay, or a duplicate on the path): each applied once.
	 */
	for (unsigned i = 0; i < 100; i++) {
		len[i] = signed_add(sent[i], next_seq(), 1);
		send_raw(PUB_PORT, sent[i], len[i]);
		send_raw((uint16_t)(PUB_PORT + 1), sent[i], len[i]);
		cr_assert_eq(collect(), 1);
		cr_assert_eq(out_i64(&out[0]), i + 1);
	}
	cr_assert_eq(w.drop[HERALD_DROP_PUBLISH_REPLAYED], 100);

	/*
	 * All 100 again: the cache remembers the last 64 MACs; the 36 it
	 * forgot are older than its horizon. None applied.
	 */
	for (unsigned i = 0; i < 100; i++)
		send_raw(PUB_PORT, sent[i], len[i]);
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_PUBLISH_REPLAYED], 100 + 64);
	cr_assert_eq(w.drop[HERALD_DROP_PUBLISH_STALE], 36);

	/* Stamps outside the window, either way, or from before the node started. */
	uint8_t buf[HERALD_MTU];
	send_raw(PUB_PORT, buf, signed_add(buf, now_us - window_us - 1000000, 1));
	send_raw(PUB_PORT, buf, signed_add(buf, now_us + window_us + 1000000, 1));
	send_raw(PUB_PORT, buf, signed_add(buf, w.replay.horizon_us - 1, 1));
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_PUBLISH_STALE], 36 + 3);
	/* A new one: applied. */
	send_raw(PUB_PORT, buf, signed_add(buf, next_seq(), 1));
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out_i64(&out[0]), 101);
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 101);
	cr_assert_eq(drops_total(), 100 + 64 + 36 + 3);
}

/* ---- address tokens (--token-key, docs/protocol.md §3.2.1) ---- */

static const uint8_t tok_key[HERALD_TOKEN_KEY_LEN] = "token key, 16 B!";

static void token_require(uint32_t tai)
{
	memcpy(cfg.token_key, tok_key, sizeof(tok_key));
	cfg.token_required = true;
	w.tai_s = tai; /* what the timers would have read from CLOCK_TAI */
}

static uint64_t tok(uint16_t sport, uint32_t context, uint32_t expiry)
{
	return herald_token_for(tok_key, htonl(client_ip), htons(sport), context, expiry);
}

static void subscribe_tok(uint16_t sport, uint32_t context, uint32_t expiry, uint64_t token)
{
	struct {
		struct herald_subscribe_body b;
		struct herald_subscribe_token t;
	} __attribute__((packed)) body = {
		.b = {.flags = htons(HERALD_SUB_F_TOKEN)},
		.t = {.expiry = htonl(expiry), .token = htobe64(token)},
	};
	send_msg(sport, HERALD_T_SUBSCRIBE, 0, context, 0, 0, &body, sizeof(body));
}

/* Bytes on the wire of a frame carrying a herald body of @p len bytes. */
#define WIRE_LEN(len) (DP_HDRS_LEN + (len))

Test(dataplane, token_required_subscribe_without_valid_token_creates_nothing)
{
	const uint32_t now = 1000000, exp = now + 60, made_up = 777;
	token_require(now);
	publish_str(CTX_REPLACE, "k", "a value much longer than the SUBSCRIBE that asks for it");
	uint64_t contexts = w.ctr[HERALD_CTR_CONTEXTS_ACTIVE];

	subscribe(PORT_A, CTX_REPLACE, 0, 0);                                   /* no token */
	subscribe(PORT_A, made_up, 0, 0);                                       /* no token, made-up context */
	subscribe_tok(PORT_A, CTX_REPLACE, exp, tok(PORT_A, CTX_REPLACE, exp) ^ 1); /* forged */
	subscribe_tok(PORT_A, CTX_REPLACE, exp, tok(PORT_B, CTX_REPLACE, exp));    /* another port's */
	subscribe_tok(PORT_A, CTX_REPLACE, exp, tok(PORT_A, made_up, exp));        /* another context's */
	subscribe_tok(PORT_A, made_up, exp, tok(PORT_A, CTX_REPLACE, exp));        /* ... the other way */
	subscribe_tok(PORT_A, CTX_REPLACE, exp + 1, tok(PORT_A, CTX_REPLACE, exp)); /* expiry moved */
	subscribe_tok(PORT_A, CTX_REPLACE, now - 1, tok(PORT_A, CTX_REPLACE, now - 1)); /* expired */
	cr_assert_eq(collect(), 8);
	for (unsigned i = 0; i < nout; i++) {
		assert_error(&out[i], PORT_A, HERALD_ERR_TOKEN_REQUIRED);
		cr_assert_str_eq(out[i].text, "");
		/* Never more bytes than the request: 36 for 40 (no token) or 52. */
		cr_assert_leq(out[i].pkt_len, WIRE_LEN(sizeof(struct herald_subscribe_body)));
	}
	cr_assert_eq(w.drop[HERALD_DROP_TOKEN_REQUIRED], 2);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_TOKEN], 5);
	cr_assert_eq(w.drop[HERALD_DROP_TOKEN_EXPIRED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SUBSCRIBES], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], contexts, "a SUBSCRIBE without a token made a context");
	cr_assert_eq(dp_context_get(&w, made_up, false), DP_NONE);

	/* The real token, through the second it expires: the snapshot. */
	w.tai_s = exp;
	subscribe_tok(PORT_A, CTX_REPLACE, exp, tok(PORT_A, CTX_REPLACE, exp));
	cr_assert_eq(collect(), 1);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "a value much longer than the SUBSCRIBE that asks for it");
	cr_assert_eq(w.ctr[HERALD_CTR_TOKENS_VERIFIED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_SESSIONS_ACTIVE], 1);
	/* A second later the same token opens nothing, not even a resync of the live session. */
	w.tai_s = exp + 1;
	subscribe_tok(PORT_A, CTX_REPLACE, exp, tok(PORT_A, CTX_REPLACE, exp));
	cr_assert_eq(collect(), 1);
	assert_error(&out[0], PORT_A, HERALD_ERR_TOKEN_REQUIRED);
	cr_assert_eq(w.drop[HERALD_DROP_TOKEN_EXPIRED], 2);
}

Test(dataplane, token_key_hello_answered_with_same_size_redirect_to_self)
{
	struct herald_hello_body zero = {{0}};
	struct herald_redirect_body rb;

	token_require(5000);
	cfg.token_ttl_s = 30;
	send_msg(PORT_A, HERALD_T_HELLO, 0, 4242, 0, 99, &zero, sizeof(zero));
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out[0].type, HERALD_T_REDIRECT);
	cr_assert_eq(out[0].dport, PORT_A);
	cr_assert_eq(out[0].context, 4242);
	cr_assert_eq(out[0].seq, 99, "the HELLO's header is echoed");
	cr_assert_eq(out[0].pkt_len, WIRE_LEN(sizeof(zero)), "as large as the HELLO, no larger");
	cr_assert_eq(out[0].value_len, sizeof(rb));
	memcpy(&rb, out[0].value, sizeof(rb));
	cr_assert_eq(rb.node_ip, htonl(node_ip));
	cr_assert_eq(ntohs(rb.port), HERALD_UDP_PORT_BASE);
	cr_assert_eq(ntohs(rb.queue), 0);
	cr_assert_eq(ntohl(rb.expiry), 5030);
	cr_assert_eq(be64toh(rb.token), tok(PORT_A, 4242, 5030));
	cr_assert_eq(w.ctr[HERALD_CTR_REDIRECTS_SENT], 1);

	/* The token it issued opens the session. */
	subscribe_tok(PORT_A, 4242, ntohl(rb.expiry), be64toh(rb.token));
	cr_assert_eq(collect(), 1);
	cr_assert_eq(out[0].type, HERALD_T_SNAPSHOT);

	/* A malformed HELLO is dropped with the codec's reason; without a key HELLO stays unexpected. */
	zero.zero[3] = 1;
	send_msg(PORT_A, HERALD_T_HELLO, 0, 4242, 0, 0, &zero, sizeof(zero));
	cfg.token_required = false;
	zero.zero[3] = 0;
	send_msg(PORT_A, HERALD_T_HELLO, 0, 4242, 0, 0, &zero, sizeof(zero));
	cr_assert_eq(collect(), 0);
	cr_assert_eq(w.drop[HERALD_DROP_BAD_FLAGS], 1);
	cr_assert_eq(w.drop[HERALD_DROP_UNEXPECTED_TYPE], 1);
}

/* ---- context life cycle: checkpoint, unload, load (docs/checkpoints.md) ---- */

static char ckpt_dir[64];

static void ckpt_rm(void)
{
	char path[128];
	for (const char *const *f = (const char *const[]){"data.mdb", "lock.mdb", NULL}; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", ckpt_dir, *f);
		unlink(path);
	}
	rmdir(ckpt_dir);
}

/* Open the store on this worker (no thread: the test runs its rounds). */
static void ckpt_open(uint32_t idle_s, uint32_t interval_s)
{
	if (ckpt_dir[0] == '\0') {
		snprintf(ckpt_dir, sizeof(ckpt_dir), "/tmp/herald_ckpt_XXXXXX");
		cr_assert_not_null(mkdtemp(ckpt_dir));
		atexit(ckpt_rm);
	}
	cfg.checkpoint_dir = ckpt_dir;
	cfg.idle_unload_s = idle_s;
	cfg.checkpoint_interval_s = interval_s;
	cfg.checkpoint_map_mb = 16;
	cr_assert_eq(dp_ckpt_open(&cfg, &w, 1), 0);
}

/* Whole node restart: close (writes what is in memory), new worker, open. */
static void ckpt_restart(void)
{
	dp_tx_flush(&w);
	capture_drain();
	dp_ckpt_close();
	dp_store_free(&w);
	struct herald_port port = {.port_id = ring_port, .nb_queues = 1,
				   .caps = {.multi_seg_tx = true},
				   .mac = {{0x02, 0, 0, 0, 0, 0x01}}};
	memset(&w, 0, sizeof(w));
	cr_assert_eq(dp_worker_init(&w, &cfg, &port, 0, pool, hdr_pool), 0);
	w.now = hz * 100;
	ckpt_open(cfg.idle_unload_s, cfg.checkpoint_interval_s);
}

/* Round trips between the worker and the store until both are quiet. */
static void ckpt_settle(void)
{
	for (int i = 0; i < 16; i++) {
		unsigned n = dp_ckpt_service();
		dp_ckpt_drain(&w);
		if (n == 0 && rte_ring_empty(w.ckpt->from_store))
			return;
	}
}

/* Let @p ms pass with the checkpoint timers running. */
static void ckpt_idle_ms(uint64_t ms)
{
	advance_ms(ms);
	dp_ckpt_timers(&w);
	ckpt_settle();
}

Test(dataplane, checkpoint_idle_context_unloads_and_reloads_identical)
{
	ckpt_open(1, 0);
	publish_str(CTX_REPLACE, "k1", "one");
	publish_str(CTX_REPLACE, "k2", "two");
	publish_str(CTX_REPLACE, "k1", "three");
	/* A subscriber keeps it loaded however long it stays. */
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0);
	ckpt_idle_ms(5000);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 0);
	send_msg(PORT_A, HERALD_T_BYE, 0, CTX_REPLACE, a, 0, NULL, 0);
	ckpt_idle_ms(500);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 0, "unloaded before its idle period");
	ckpt_idle_ms(600);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINTS_WRITTEN], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_KEYS_ACTIVE], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 1);
	cr_assert_eq(dp_context_get(&w, CTX_REPLACE, false), DP_NONE);

	/* The SUBSCRIBE is held while the context loads, then answered from it. */
	subscribe(PORT_B, CTX_REPLACE, 0, 0);
	cr_assert_eq(collect(), 0, "answered before the context was loaded");
	ckpt_settle();
	cr_assert_eq(collect(), 2);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k1", "three");
	assert_entry(&out[1], HERALD_T_SNAPSHOT, 2, "k2", "two");
	cr_assert_eq(out[1].flags, HERALD_F_SNAP_END);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINT_ERRORS], 0);
	cr_assert_eq(drops_total(), 0);
}

Test(dataplane, checkpoint_publish_during_load_wins_over_the_record)
{
	ckpt_open(1, 0);
	publish_i64(CTX_ADD, "n", 5);
	publish_str(CTX_REPLACE, "k", "old");
	ckpt_idle_ms(1500);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 2);
	/* Listed for the control plane with the policy they were saved with. */
	uint32_t it = 0, id, seen = 0;
	struct dp_policy pol;
	while (dp_ckpt_parked_next(&w, &it, &id, &pol)) {
		seen++;
		cr_assert(id == CTX_ADD || id == CTX_REPLACE, "parked %u", id);
		cr_assert_eq(pol.kind, id == CTX_ADD ? DP_POLICY_MERGE : DP_POLICY_REPLACE);
		cr_assert_eq(pol.merge, id == CTX_ADD ? dp_merge_op_find("add") : NULL);
	}
	cr_assert_eq(seen, 2);
	cr_assert_eq(dp_ckpt_parked_count(&w), 2);

	/* Arriving while the contexts load: applied on top of what was saved. */
	publish_i64(CTX_ADD, "n", 3);
	publish_str(CTX_REPLACE, "k", "new");
	subscribe(PORT_A, CTX_ADD, 0, 0);
	subscribe(PORT_B, CTX_REPLACE, 0, 0);
	cr_assert_eq(collect(), 0);
	ckpt_settle();
	cr_assert_eq(collect(), 2);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert_eq(out[i].type, HERALD_T_SNAPSHOT);
		if (out[i].context == CTX_ADD)
			cr_assert_eq(out_i64(&out[i]), 8, "merge:add folded the held update onto the record");
		else
			assert_entry(&out[i], HERALD_T_SNAPSHOT, 1, "k", "new");
	}
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 2);
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 4);
}

Test(dataplane, checkpoint_unload_waits_for_the_commit_and_for_idleness)
{
	ckpt_open(1, 0);
	publish_str(CTX_REPLACE, "k", "v1");
	advance_ms(1500);
	dp_ckpt_timers(&w); /* the record is on its way ... */
	uint32_t a = subscribe_session(PORT_A, CTX_REPLACE, 0, 0); /* ... and a client came */
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k", "v1");
	ckpt_settle();
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINTS_WRITTEN], 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 0, "unloaded under a subscriber");
	cr_assert_not_null(session(a));
}

Test(dataplane, checkpoint_state_survives_a_restart)
{
	ckpt_open(60, 0);
	publish_str(CTX_REPLACE, "k1", "kept");
	publish_i64(CTX_MAX, "m", 42);
	publish_str(CTX_NONE, "h", "last");
	ckpt_restart(); /* written at exit, not unloaded */
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 3);
	uint32_t it = 0, id;
	struct dp_policy pol;
	while (dp_ckpt_parked_next(&w, &it, &id, &pol))
		if (id == CTX_NONE)
			cr_assert_eq(pol.kind, DP_POLICY_NONE, "policy read back from the record header");
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_ACTIVE], 0);

	subscribe(PORT_A, CTX_REPLACE, 0, 0);
	subscribe(PORT_B, CTX_MAX, 0, 0);
	ckpt_settle();
	cr_assert_eq(collect(), 2);
	assert_entry(&out[0], HERALD_T_SNAPSHOT, 1, "k1", "kept");
	cr_assert_eq(out[1].context, CTX_MAX);
	cr_assert_eq(out_i64(&out[1]), 42);
	/* The policy came back with the state: max keeps 42 against 7. */
	publish_i64(CTX_MAX, "m", 7);
	uint32_t ctx = dp_context_get(&w, CTX_MAX, false);
	cr_assert_neq(ctx, DP_NONE);
	cr_assert_eq(w.contexts[ctx].policy.kind, DP_POLICY_MERGE);
	/* The control plane's activate loads a checkpointed context too. */
	cr_assert_eq(dp_ckpt_activate(&w, CTX_NONE), 1);
	ckpt_settle();
	ctx = dp_context_get(&w, CTX_NONE, false);
	cr_assert_neq(ctx, DP_NONE);
	cr_assert_eq(w.contexts[ctx].nkeys, 1);
	cr_assert_eq(w.contexts[ctx].policy.kind, DP_POLICY_NONE);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 3);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 0);
}

/* Rewrite context @p id's record in the closed store with @p edit. */
static void record_edit(uint32_t id, void (*edit)(MDB_val *v))
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint32_t id_be = htonl(id);
	MDB_val key = {.mv_size = 4, .mv_data = &id_be}, val;
	static uint8_t copy[65536];

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_mapsize(env, 16u << 20), 0);
	cr_assert_eq(mdb_env_open(env, ckpt_dir, 0, 0640), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	cr_assert_eq(mdb_get(txn, dbi, &key, &val), 0, "no record for context %u", id);
	cr_assert_leq(val.mv_size, sizeof(copy));
	memcpy(copy, val.mv_data, val.mv_size);
	val.mv_data = copy;
	edit(&val);
	cr_assert_eq(mdb_put(txn, dbi, &key, &val, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void garble_value(MDB_val *v)
{
	((uint8_t *)v->mv_data)[v->mv_size - 2] ^= 0x5a;
}

static void tear(MDB_val *v)
{
	v->mv_size -= 3;
}

static void bump_version(MDB_val *v)
{
	((uint8_t *)v->mv_data)[5] = 9;
}

Test(dataplane, checkpoint_corrupt_records_are_counted_and_start_empty)
{
	ckpt_open(60, 0);
	publish_str(CTX_REPLACE, "k", "good");
	publish_str(CTX_MIN + 100, "k", "torn");
	publish_str(CTX_MAX + 100, "k", "future");
	dp_tx_flush(&w);
	capture_drain();
	dp_ckpt_close();
	record_edit(CTX_REPLACE, garble_value);
	record_edit(CTX_MIN + 100, tear);
	record_edit(CTX_MAX + 100, bump_version);
	ckpt_restart();
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 3);

	const uint32_t ids[] = {CTX_REPLACE, CTX_MIN + 100, CTX_MAX + 100};
	for (unsigned i = 0; i < 3; i++) {
		subscribe((uint16_t)(PORT_A + i), ids[i], 0, 0);
		ckpt_settle();
		cr_assert_eq(collect(), 1, "context %u", ids[i]);
		cr_assert_eq(out[0].type, HERALD_T_SNAPSHOT);
		cr_assert_eq(out[0].flags, HERALD_F_SNAP_END);
		cr_assert_eq(out[0].msg_len, 0, "context %u served state from a corrupt record", ids[i]);
	}
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINT_ERRORS], 3);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 0);
	/* The context serves on: new state replaces the bad record at its next checkpoint. */
	publish_str(CTX_REPLACE, "k", "fresh");
	cr_assert_eq(collect(), 0, "unconfirmed session: snapshot only");
}

Test(dataplane, checkpoint_hold_queue_full_drops_and_counts)
{
	ckpt_open(1, 0);
	publish_str(CTX_REPLACE, "k", "v");
	ckpt_idle_ms(1500);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 1);
	for (unsigned i = 0; i < DP_CKPT_HOLD + 3; i++)
		publish_str(CTX_REPLACE, "k", "w");
	cr_assert_eq(w.drop[HERALD_DROP_CHECKPOINT_LOAD], 3);
	ckpt_settle();
	cr_assert_eq(w.ctr[HERALD_CTR_PUBLISHES], 1 + DP_CKPT_HOLD);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 1);
}

Test(dataplane, checkpoint_interval_writes_changed_contexts_only)
{
	ckpt_open(0, 2);
	publish_str(CTX_REPLACE, "k", "v");
	ckpt_idle_ms(2100);
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINTS_WRITTEN], 1);
	ckpt_idle_ms(2100);
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINTS_WRITTEN], 1, "unchanged context written again");
	publish_str(CTX_REPLACE, "k", "v2");
	ckpt_idle_ms(2100);
	cr_assert_eq(w.ctr[HERALD_CTR_CHECKPOINTS_WRITTEN], 2);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_UNLOADED], 0, "--idle-unload-s 0 never unloads");
}

/* The record format alone: every refusal names its reason. */
Test(dataplane, checkpoint_record_refusals)
{
	uint8_t rec[DP_CKPT_HDR_LEN + 64], *body = rec + DP_CKPT_HDR_LEN;
	struct dp_ckpt_rec r;
	char err[160];
	/* One entry: body "\0\2k1v" (key "k1", value "v") behind its length. */
	const uint8_t entry[] = {0, 5, 0, 2, 'k', '1', 'v'};
	size_t len = DP_CKPT_HDR_LEN + sizeof(entry);

	memcpy(body, entry, sizeof(entry));
	dp_ckpt_rec_encode_hdr(rec, "replace", 1, body, sizeof(entry));
	cr_assert_eq(dp_ckpt_rec_decode(rec, len, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(r.policy, "replace");
	cr_assert_eq(r.nkeys, 1);

	cr_assert_eq(dp_ckpt_rec_decode(rec, 20, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "shorter than its 32-byte header") != NULL, "%s", err);
	cr_assert_eq(dp_ckpt_rec_decode(rec, len - 1, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "checksum") != NULL, "%s", err);

	/* Refusals behind a valid checksum: the header is written for each bad body. */
	struct { uint32_t nkeys; const char *policy; uint8_t bytes[12]; size_t n; const char *why; } bad[] = {
		{2, "replace", {0, 5, 0, 2, 'k', '1', 'v'}, 7, "record ends inside its length"},
		{1, "replace", {0, 9, 0, 2, 'k', '1', 'v'}, 7, "runs past the record"},
		{1, "replace", {0, 3, 0, 0, 'v'}, 5, "key length 0"},
		{1, "replace", {0, 3, 0, 2, 'k'}, 5, "key length 2 invalid"},
		{1, "merge:add", {0, 5, 0, 2, 'k', '1', 'v'}, 7, "merge value is not 8 bytes"},
		{1, "replace", {0, 5, 0, 2, 'k', '1', 'v', 0}, 8, "1 bytes after the last"},
		{0, "", {0}, 0, "policy field is not a string"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(body, bad[i].bytes, bad[i].n);
		dp_ckpt_rec_encode_hdr(rec, bad[i].policy, bad[i].nkeys, body, bad[i].n);
		cr_assert_eq(dp_ckpt_rec_decode(rec, DP_CKPT_HDR_LEN + bad[i].n, &r, err, sizeof(err)), -EINVAL,
			     "case %zu accepted", i);
		cr_assert(strstr(err, bad[i].why) != NULL, "case %zu: '%s', expected '%s'", i, err, bad[i].why);
	}
	memcpy(body, entry, sizeof(entry));
	dp_ckpt_rec_encode_hdr(rec, "replace", 1, body, sizeof(entry));
	rec[0] ^= 1;
	cr_assert_eq(dp_ckpt_rec_decode(rec, len, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "bad magic") != NULL, "%s", err);
}

Test(dataplane, checkpoint_deactivate_deletes_the_record)
{
	ckpt_open(1, 0);
	publish_str(CTX_REPLACE, "k", "parked");
	ckpt_idle_ms(1500);
	publish_str(CTX_MIN, "k", "loaded"); /* not merge-sized: dropped, but the context exists */
	publish_i64(CTX_MAX, "m", 1);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 1);
	cr_assert_eq(dp_ckpt_forget(&w, CTX_REPLACE), 1, "a parked context");
	cr_assert_eq(dp_ckpt_forget(&w, CTX_MAX), 0, "a context in memory");
	ckpt_settle();
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 0);
	uint32_t ctx = dp_context_get(&w, CTX_MAX, false);
	dp_context_remove(&w, ctx, &(uint32_t){0}, &(uint32_t){0}); /* as DEACTIVATE does */
	ckpt_restart();
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_PARKED], 1, "only CTX_MIN's record is left");
	subscribe(PORT_A, CTX_REPLACE, 0, 0);
	cr_assert_eq(collect(), 1, "a deleted record is not loaded: answered at once");
	cr_assert_eq(out[0].msg_len, 0);
	cr_assert_eq(w.ctr[HERALD_CTR_CONTEXTS_LOADED], 0);
}
