/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-bench-fanout: the dataplane alone. Complete PUBLISH frames go
 * through the real receive path (dp_net_rx: parse, store, fan out) on a
 * net_null port, whose TX frees what it is given, so the figure is the cost
 * of Herald's own work per delivery with no kernel and no wire: zero-copy
 * (header segment + shared body) against a copy per recipient, side by side
 * in one run.
 *
 *   herald-bench-fanout [EAL options] -- [--subscribers 1,100,1000]
 *                        [--sizes 125,1500] [--deliveries N] [--json FILE]
 *                        [--parked N]
 *
 * --parked N opens a checkpoint store (docs/checkpoints.md) in a temporary
 * directory and parks N other contexts, so every PUBLISH pays the lookup a
 * node with unloaded contexts makes; compare with a run without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "checkpoint.h"
#include "dataplane.h"

#define LIST_MAX 8
#define KEYS 100

struct opts {
	unsigned subs[LIST_MAX], nsubs;
	unsigned sizes[LIST_MAX], nsizes;
	unsigned long deliveries;
	const char *json;
	unsigned long parked;
};

static int parse_list(const char *text, unsigned *out, unsigned *n, unsigned max)
{
	char *copy = strdup(text), *save = NULL, *tok;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v = strtoul(tok, &end, 10);
		if (*end != '\0' || v == 0 || v > max || *n == LIST_MAX) {
			free(copy);
			return -EINVAL;
		}
		out[(*n)++] = (unsigned)v;
	}
	free(copy);
	return *n ? 0 : -EINVAL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"subscribers", required_argument, NULL, 's'},
		{"sizes", required_argument, NULL, 'z'},
		{"deliveries", required_argument, NULL, 'd'},
		{"json", required_argument, NULL, 'j'},
		{"parked", required_argument, NULL, 'p'},
		{0},
	};
	int c;
	*o = (struct opts){.subs = {1, 100, 1000}, .nsubs = 3, .sizes = {125, 1500}, .nsizes = 2,
			   .deliveries = 4000000};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_list(optarg, o->subs, &o->nsubs, 16000) < 0)
				goto bad;
			break;
		case 'z':
			if (parse_list(optarg, o->sizes, &o->nsizes, HERALD_VALUE_MAX) < 0)
				goto bad;
			break;
		case 'd':
			o->deliveries = strtoul(optarg, NULL, 10);
			if (o->deliveries < 1000)
				goto bad;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'p':
			o->parked = strtoul(optarg, NULL, 10);
			break;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	fprintf(stderr, "usage: herald-bench-fanout [EAL options] -- [--subscribers LIST (1..16000)] "
			"[--sizes LIST (1..%d bytes)] [--deliveries N (>= 1000)] [--json FILE] [--parked N]\n",
		HERALD_VALUE_MAX);
	return -EINVAL;
}

/* A complete frame from 198.18.0.2:@p sport carrying one herald message. */
static struct rte_mbuf *frame(struct rte_mempool *pool, const struct dp_worker *w, uint16_t sport,
			      const uint8_t *herald, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		return NULL;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_HDRS_LEN - sizeof(struct herald_hdr) + len));
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	struct rte_ether_addr client = {{0x02, 0, 0, 0, 0, 2}};

	eth->dst_addr = w->mac;
	eth->src_addr = client;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	*ip = (struct rte_ipv4_hdr){
		.version_ihl = RTE_IPV4_VHL_DEF,
		.total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) + len)),
		.time_to_live = 64,
		.next_proto_id = IPPROTO_UDP,
		.src_addr = htonl(0xc6120002),
		.dst_addr = w->ip,
	};
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	*udp = (struct rte_udp_hdr){
		.src_port = htons(sport),
		.dst_port = w->udp_port_be,
		.dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + len)),
	};
	memcpy(udp + 1, herald, len);
	return m;
}

static void ckpt_files_remove(const char *dir)
{
	char path[PATH_MAX];
	for (const char *const *f = (const char *const[]){"data.mdb", "lock.mdb", NULL}; *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
}

struct result {
	unsigned subs, size;
	bool zero_copy;
	double ns_per_delivery, mdeliveries_per_s;
	uint64_t copied, zerocopy, dropped;
};

static int run(const struct opts *o, struct dp_config *cfg, const struct herald_port *port,
	       struct rte_mempool *pool, struct rte_mempool *hdr, unsigned subs, unsigned size,
	       struct result *r)
{
	static uint8_t msg[HERALD_MTU], value[HERALD_VALUE_MAX];
	struct dp_worker w = {0};
	int rc = dp_worker_init(&w, cfg, port, 0, pool, hdr);
	if (rc < 0)
		return rc;
	if (o->parked != 0) {
		if ((rc = dp_ckpt_open(cfg, &w, 1)) < 0)
			return rc;
		for (unsigned long i = 0; i < o->parked; i++)
			if ((rc = dp_ckpt_park(&w, (uint32_t)(1000 + i), NULL)) < 0)
				return rc;
	}

	/* Subscribers, through the same SUBSCRIBE path a client uses. */
	struct herald_subscribe_body sb = {0};
	struct herald_hdr_fields hs = {.type = HERALD_T_SUBSCRIBE, .context = 1};
	herald_hdr_encode(msg, &hs, 0, sizeof(sb), sizeof(sb));
	memcpy(msg + sizeof(struct herald_hdr), &sb, sizeof(sb));
	w.now = rte_rdtsc();
	for (unsigned s = 0; s < subs; s++) {
		struct rte_mbuf *m = frame(pool, &w, (uint16_t)(10000 + s), msg,
					   sizeof(struct herald_hdr) + sizeof(sb));
		if (m == NULL)
			return -ENOMEM;
		dp_net_rx(&w, m);
	}
	dp_tx_flush(&w);
	/* As if each client had named its session (protocol §4.1): unconfirmed ones get no deltas. */
	for (uint32_t s = 0; s < w.session_hwm; s++)
		w.sessions[s].confirmed = w.sessions[s].in_use;
	memset(w.ctr, 0, sizeof(w.ctr));
	memset(w.drop, 0, sizeof(w.drop));

	unsigned long updates = o->deliveries / subs;
	if (updates < 200)
		updates = 200;
	struct herald_hdr_fields hp = {.type = HERALD_T_PUBLISH, .context = 1};
	unsigned nfrags = herald_frag_count(herald_entry_msg_len(4, size));
	uint64_t t0 = rte_rdtsc();
	for (unsigned long u = 0; u < updates; u++) {
		char key[8];
		snprintf(key, sizeof(key), "k%03lu", u % KEYS);
		memcpy(value, &u, sizeof(u));
		hp.seq = u + 1;
		for (unsigned f = 0; f < nfrags; f++) {
			int len = herald_entry_encode(msg, sizeof(msg), &hp, key, 4, value, size, f);
			struct rte_mbuf *m = frame(pool, &w, 9999, msg, (uint16_t)len);
			if (m == NULL)
				return -ENOMEM;
			w.now = rte_rdtsc();
			dp_net_rx(&w, m);
		}
		dp_tx_flush(&w);
	}
	uint64_t cycles = rte_rdtsc() - t0;

	double ns = (double)cycles * 1e9 / (double)rte_get_tsc_hz();
	double deliveries = (double)w.ctr[HERALD_CTR_DELIVERIES];
	*r = (struct result){
		.subs = subs, .size = size, .zero_copy = w.zero_copy,
		.ns_per_delivery = ns / deliveries,
		.mdeliveries_per_s = deliveries / ns * 1e3,
		.copied = w.ctr[HERALD_CTR_TX_COPIED], .zerocopy = w.ctr[HERALD_CTR_TX_ZEROCOPY],
	};
	for (int d = 1; d < HERALD_DROP_MAX; d++)
		r->dropped += w.drop[d];
	if (w.ctr[HERALD_CTR_PUBLISHES] != updates || deliveries != (double)updates * subs) {
		fprintf(stderr, "herald-bench-fanout: %lu updates gave %lu publishes, %.0f deliveries\n",
			updates, w.ctr[HERALD_CTR_PUBLISHES], deliveries);
		rc = -EIO;
	}
	if (o->parked != 0) {
		dp_ckpt_close();
		ckpt_files_remove(cfg->checkpoint_dir); /* each run starts with an empty store */
	}
	dp_store_free(&w);
	return rc;
}

int main(int argc, char **argv)
{
	struct dp_config cfg = dp_config_defaults;
	struct herald_port port = {0};
	struct result res[2 * LIST_MAX * LIST_MAX];
	unsigned nres = 0;
	struct opts o;
	char err[128];
	int status = EXIT_FAILURE;

	int n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "herald-bench-fanout: EAL initialisation failed\n");
		return EXIT_FAILURE;
	}
	if (parse_opts(argc - n, argv + n, &o) < 0)
		return 2;
	herald_port_parse("null", &cfg.port, err, sizeof(err));
	cfg.ip = htonl(0xc6120001);
	cfg.max_keys = KEYS * 2;
	char ckpt_dir[] = "/tmp/herald_bench_ckpt_XXXXXX";
	if (o.parked != 0) {
		if (mkdtemp(ckpt_dir) == NULL)
			return EXIT_FAILURE;
		cfg.checkpoint_dir = ckpt_dir;
		cfg.idle_unload_s = cfg.checkpoint_interval_s = 0; /* the timers do not run here */
		cfg.max_contexts = (uint32_t)(o.parked / DP_CKPT_PARKED_PER_CONTEXT + 64);
	}
	struct rte_mempool *pool = rte_pktmbuf_pool_create("bench", 65535, 256, 0,
							   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	struct rte_mempool *hdr = rte_pktmbuf_pool_create("bench_hdr", 16383, 256, 0,
							  RTE_PKTMBUF_HEADROOM + 128, (int)rte_socket_id());
	if (pool == NULL || hdr == NULL || herald_port_open(&cfg.port, 1, pool, true, &port) < 0)
		goto out;
	herald_port_describe(&port, stdout);

	printf("%8s %6s %-9s %14s %12s\n", "subs", "size", "mode", "ns/delivery", "Mdeliv/s");
	for (int copy = port.caps.multi_seg_tx ? 0 : 1; copy < 2; copy++) {
		cfg.force_copy = copy;
		for (unsigned z = 0; z < o.nsizes; z++)
			for (unsigned s = 0; s < o.nsubs; s++) {
				struct result *r = &res[nres];
				if (run(&o, &cfg, &port, pool, hdr, o.subs[s], o.sizes[z], r) < 0)
					goto out;
				nres++;
				printf("%8u %6u %-9s %14.1f %12.2f\n", r->subs, r->size,
				       r->zero_copy ? "zero-copy" : "copy", r->ns_per_delivery,
				       r->mdeliveries_per_s);
				fflush(stdout);
			}
	}
	if (o.json != NULL) {
		FILE *f = fopen(o.json, "w");
		if (f == NULL)
			goto out;
		fprintf(f, "{\"bench\": \"fanout_null\", \"results\": [\n");
		for (unsigned i = 0; i < nres; i++)
			fprintf(f, "  {\"subscribers\": %u, \"size\": %u, \"mode\": \"%s\", "
				   "\"ns_per_delivery\": %.2f, \"mdeliveries_per_s\": %.3f}%s\n",
				res[i].subs, res[i].size, res[i].zero_copy ? "zero-copy" : "copy",
				res[i].ns_per_delivery, res[i].mdeliveries_per_s, i + 1 < nres ? "," : "");
		fprintf(f, "]}\n");
		fclose(f);
	}
	status = EXIT_SUCCESS;
out:
	if (o.parked != 0)
		rmdir(ckpt_dir);
	herald_port_close(&port);
	rte_mempool_free(hdr);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return status;
}
