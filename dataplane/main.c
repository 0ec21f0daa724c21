/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * herald-dataplane: the DPDK primary process. Parses options, brings up EAL,
 * the mbuf pools and the port, runs one worker per queue and, on SIGINT or
 * SIGTERM, stops cleanly and prints every counter. Worker 0 runs on the main
 * lcore, worker q on the q-th worker lcore of EAL's -l list; the control
 * socket and telemetry run on control threads, never on a worker's lcore.
 *
 *   herald-dataplane [EAL options] -- --port KIND[:IFACE][,devargs] --ip A.B.C.D [options]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "loader.h"
#include "token.h"
#include "xdp.h"

/* RX ring, TX in flight and per-lcore caches: mbufs the store may not take. */
#define MBUFS_WORKING_SET 8192
/*
 * Header segments live from fan-out until the PMD lets go of the frame: at
 * most a TX ring (2048 descriptors on a PCI NIC, which frees them on
 * completion) plus the TX buffer plus the lcore's cache, per queue. The
 * software PMDs (af_packet, af_xdp, tap, memif) copy and free inside
 * rte_eth_tx_burst, so there one TX buffer (DP_TX_BUF) is all that is held.
 */
#define HDR_MBUFS_PER_QUEUE 4096
#define HDR_MBUFS_MIN 8192
#define HDR_ROOM (RTE_PKTMBUF_HEADROOM + 128)
#define POOL_CACHE 256

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald-dataplane [EAL options] -- --port KIND[:IFACE][,devargs] --ip A.B.C.D [options]\n"
		"  --port SPEC           port to serve; KIND is one of: %s\n"
		"                        e.g. af_xdp:eth1  af_packet:veth0  null\n"
		"  --ip ADDR             IPv4 address the node answers for (ARP, ping, herald)\n"
		"  --udp-port N          herald UDP port of queue 0; queue q serves N + q (default %u)\n"
		"  --queues N            RX/TX queue pairs, one worker each, on the first N lcores\n"
		"                        of EAL's -l list (default 1, at most %d)\n"
		"  --max-sessions N      session table size (default %u)\n"
		"  --max-sessions-per-source N  sessions one client address may hold (default %u)\n"
		"  --max-contexts N      context table size (default %u)\n"
		"  --max-keys N          key table size, all contexts (default %u)\n"
		"  --max-keys-per-context N  keys one context may hold (default %u)\n"
		"  --context ID=POLICY   conflation policy of context ID (repeatable, up to %d)\n"
		"  --default-policy P    policy of contexts not named by --context (default replace)\n"
		"                        POLICY: replace | none | merge:OP, OP one of %s\n"
		"  --history N           messages kept per `none` context for NAKs and laggards (default %u)\n"
		"  --max-history-contexts N  `none` contexts at most (default %u)\n"
		"  --mbufs N             packet buffers (default: what the store and history can hold + %d)\n"
		"  --hdr-mbufs N         header segments for zero-copy fan-out (default %d per queue, at\n"
		"                        least %d); fewer than %d per queue (one TX buffer) can run dry in\n"
		"                        one fan-out: the frames are dropped (drop no_mbuf), the sessions resync\n"
		"  --idle spin|sleep     spin for latency (default) or nap when idle on shared hosts\n"
		"  --force-copy          copy payloads even if the port has multi-segment TX\n"
		"  --stats-interval S    print a counter line every S seconds (default off)\n"
		"  --publish-key FILE    accept only PUBLISH signed with this key (32 hex digits;\n"
		"                        docs/protocol.md 3.5.1); default: any source may publish\n"
		"  --publish-window S    with --publish-key: a signed PUBLISH's stamp may differ from the\n"
		"                        node's clock by S seconds either way (default %u)\n"
		"  --replay-cache N      with --publish-key: MACs of applied PUBLISH datagrams remembered\n"
		"                        per queue to refuse replays (default %u; docs/protocol.md 3.5.2)\n"
		"  --token-key FILE      require the address token of a REDIRECT in SUBSCRIBE, and answer\n"
		"                        HELLOs with a REDIRECT to this node (docs/protocol.md 3.2.1);\n"
		"                        FILE: 32 hex digits (the token key) or 64 (the cluster secret,\n"
		"                        [cluster] key_file, the key derived as heraldd does).\n"
		"                        Default: SUBSCRIBE from any source (spoofable, amplifies)\n"
		"  --token-ttl S         lifetime of the tokens this node issues (default %d)\n"
		"  --ctl-sock PATH       serve the control socket for heraldd at PATH (default off)\n"
		"  --checkpoint-dir DIR  checkpoint contexts to LMDB in DIR, unload idle ones and\n"
		"                        load them on use (default off; docs/checkpoints.md)\n"
		"  --idle-unload-s N     unload a context N s after its last client and update (default %u; 0 = never)\n"
		"  --checkpoint-interval-s N  write changed contexts every N s (default %u; 0 = on unload and exit only)\n"
		"  --checkpoint-map-mb N LMDB map size, the most the store can hold (default %u)\n"
		"  --xdp-pin-dir DIR     af_xdp: bpffs directory of the steer program's maps\n"
		"                        (default " HERALD_XDP_PIN_DIR "; \"\" = do not pin)\n"
		"  --no-xdp              af_xdp: keep the PMD's own XDP program (no steering)\n"
		"  --help                this text\n",
		herald_port_kinds(), dp_config_defaults.udp_port, HERALD_QUEUES_MAX,
		dp_config_defaults.max_sessions,
		dp_config_defaults.max_sessions_per_source,
		dp_config_defaults.max_contexts, dp_config_defaults.max_keys,
		dp_config_defaults.max_keys_per_context, DP_POLICIES_MAX, dp_merge_op_names(),
		dp_config_defaults.history, dp_config_defaults.max_history_contexts, MBUFS_WORKING_SET,
		HDR_MBUFS_PER_QUEUE, HDR_MBUFS_MIN, DP_TX_BUF, dp_config_defaults.publish_window_s,
		dp_config_defaults.replay_cache, HERALD_TOKEN_TTL_DEFAULT,
		dp_config_defaults.idle_unload_s, dp_config_defaults.checkpoint_interval_s,
		dp_config_defaults.checkpoint_map_mb);
}

static int parse_u32(const char *opt, const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "herald-dataplane: --%s expects an integer in %u..%u, got '%s'\n", opt,
			min, max, text);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static const char *ctl_sock; /* --ctl-sock */
static const char *xdp_pin_dir = HERALD_XDP_PIN_DIR; /* --xdp-pin-dir */
static bool xdp_off; /* --no-xdp */

static int parse_args(int argc, char **argv, struct dp_config *cfg)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"ip", required_argument, NULL, 'i'},
		{"udp-port", required_argument, NULL, 'u'},
		{"queues", required_argument, NULL, 'q'},
		{"max-sessions", required_argument, NULL, 'S'},
		{"max-sessions-per-source", required_argument, NULL, 'Q'},
		{"max-contexts", required_argument, NULL, 'C'},
		{"max-keys", required_argument, NULL, 'K'},
		{"mbufs", required_argument, NULL, 'm'},
		{"hdr-mbufs", required_argument, NULL, 'G'},
		{"idle", required_argument, NULL, 'I'},
		{"force-copy", no_argument, NULL, 'f'},
		{"stats-interval", required_argument, NULL, 's'},
		{"max-keys-per-context", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"default-policy", required_argument, NULL, 'P'},
		{"history", required_argument, NULL, 'H'},
		{"max-history-contexts", required_argument, NULL, 'X'},
		{"ctl-sock", required_argument, NULL, 'L'},
		{"xdp-pin-dir", required_argument, NULL, 'x'},
		{"no-xdp", no_argument, NULL, 'N'},
		{"publish-key", required_argument, NULL, 'A'},
		{"publish-window", required_argument, NULL, 'w'},
		{"replay-cache", required_argument, NULL, 'R'},
		{"token-key", required_argument, NULL, 'Y'},
		{"token-ttl", required_argument, NULL, 'y'},
		{"checkpoint-dir", required_argument, NULL, 'D'},
		{"idle-unload-s", required_argument, NULL, 'U'},
		{"checkpoint-interval-s", required_argument, NULL, 'T'},
		{"checkpoint-map-mb", required_argument, NULL, 'M'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char err[256];
	uint32_t v;
	int c, have_port = 0, have_ip = 0;
	struct in_addr addr;

	*cfg = dp_config_defaults;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (herald_port_parse(optarg, &cfg->port, err, sizeof(err)) < 0) {
				fprintf(stderr, "herald-dataplane: --port: %s\n", err);
				return -EINVAL;
			}
			have_port = 1;
			break;
		case 'i':
			if (inet_pton(AF_INET, optarg, &addr) != 1) {
				fprintf(stderr, "herald-dataplane: --ip expects an IPv4 address, got '%s'\n", optarg);
				return -EINVAL;
			}
			cfg->ip = addr.s_addr;
			have_ip = 1;
			break;
		case 'u':
			if (parse_u32("udp-port", optarg, 1, 65535, &v) < 0)
				return -EINVAL;
			cfg->udp_port = (uint16_t)v;
			break;
		case 'q':
			if (parse_u32("queues", optarg, 1, HERALD_QUEUES_MAX, &v) < 0)
				return -EINVAL;
			cfg->queues = (uint16_t)v;
			break;
		case 'S':
			if (parse_u32("max-sessions", optarg, 1, 1u << 24, &cfg->max_sessions) < 0)
				return -EINVAL;
			break;
		case 'Q':
			if (parse_u32("max-sessions-per-source", optarg, 1, 1u << 24,
				      &cfg->max_sessions_per_source) < 0)
				return -EINVAL;
			break;
		case 'C':
			if (parse_u32("max-contexts", optarg, 1, 1u << 24, &cfg->max_contexts) < 0)
				return -EINVAL;
			break;
		case 'K':
			if (parse_u32("max-keys", optarg, 1, 1u << 24, &cfg->max_keys) < 0)
				return -EINVAL;
			break;
		case 'm':
			if (parse_u32("mbufs", optarg, 1024, 1u << 26, &cfg->mbufs) < 0)
				return -EINVAL;
			break;
		case 'G':
			if (parse_u32("hdr-mbufs", optarg, 16, 1u << 26, &cfg->hdr_mbufs) < 0)
				return -EINVAL;
			break;
		case 'I':
			if (strcmp(optarg, "spin") == 0) {
				cfg->idle = DP_IDLE_SPIN;
			} else if (strcmp(optarg, "sleep") == 0) {
				cfg->idle = DP_IDLE_SLEEP;
			} else {
				fprintf(stderr, "herald-dataplane: --idle expects 'spin' or 'sleep', got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'f':
			cfg->force_copy = true;
			break;
		case 'A':
			if (herald_key_file_load(optarg, cfg->publish_key, HERALD_PUBLISH_KEY_LEN, err, sizeof(err)) < 0) {
				fprintf(stderr, "herald-dataplane: --publish-key: %s\n", err);
				return -EINVAL;
			}
			cfg->publish_auth = true;
			break;
		case 'w':
			if (parse_u32("publish-window", optarg, 1, 86400, &cfg->publish_window_s) < 0)
				return -EINVAL;
			break;
		case 'R':
			if (parse_u32("replay-cache", optarg, 64, 1u << 24, &cfg->replay_cache) < 0)
				return -EINVAL;
			break;
		case 'Y':
			if (herald_token_key_load(optarg, cfg->token_key, err, sizeof(err)) < 0) {
				fprintf(stderr, "herald-dataplane: --token-key: %s\n", err);
				return -EINVAL;
			}
			cfg->token_required = true;
			break;
		case 'y':
			if (parse_u32("token-ttl", optarg, 1, 86400, &cfg->token_ttl_s) < 0)
				return -EINVAL;
			break;
		case 's':
			if (parse_u32("stats-interval", optarg, 0, 86400, &cfg->stats_interval_s) < 0)
				return -EINVAL;
			break;
		case 'k':
			if (parse_u32("max-keys-per-context", optarg, 1, 1u << 20, &cfg->max_keys_per_context) < 0)
				return -EINVAL;
			break;
		case 'H':
			if (parse_u32("history", optarg, 1, 1u << 20, &cfg->history) < 0)
				return -EINVAL;
			break;
		case 'X':
			if (parse_u32("max-history-contexts", optarg, 0, 1u << 16, &cfg->max_history_contexts) < 0)
				return -EINVAL;
			break;
		case 'P':
			if (dp_policy_parse(optarg, &cfg->default_policy, err, sizeof(err)) < 0) {
				fprintf(stderr, "herald-dataplane: --default-policy: %s\n", err);
				return -EINVAL;
			}
			break;
		case 'c': {
			char *eq = strchr(optarg, '=');
			uint32_t id;
			if (eq == NULL) {
				fprintf(stderr, "herald-dataplane: --context expects ID=POLICY, got '%s'\n", optarg);
				return -EINVAL;
			}
			*eq = '\0';
			if (parse_u32("context", optarg, 0, UINT32_MAX, &id) < 0)
				return -EINVAL;
			if (cfg->npolicies == DP_POLICIES_MAX) {
				fprintf(stderr, "herald-dataplane: at most %d --context options\n", DP_POLICIES_MAX);
				return -EINVAL;
			}
			if (dp_policy_parse(eq + 1, &cfg->policies[cfg->npolicies].policy, err, sizeof(err)) < 0) {
				fprintf(stderr, "herald-dataplane: --context %s: %s\n", optarg, err);
				return -EINVAL;
			}
			cfg->policies[cfg->npolicies++].context = id;
			break;
		}
		case 'L':
			ctl_sock = optarg;
			break;
		case 'x':
			xdp_pin_dir = optarg;
			break;
		case 'N':
			xdp_off = true;
			break;
		case 'D':
			if (optarg[0] == '\0') {
				fprintf(stderr, "herald-dataplane: --checkpoint-dir expects a directory, got ''\n");
				return -EINVAL;
			}
			cfg->checkpoint_dir = optarg;
			break;
		case 'U':
			if (parse_u32("idle-unload-s", optarg, 0, 86400 * 365, &cfg->idle_unload_s) < 0)
				return -EINVAL;
			break;
		case 'T':
			if (parse_u32("checkpoint-interval-s", optarg, 0, 86400, &cfg->checkpoint_interval_s) < 0)
				return -EINVAL;
			break;
		case 'M':
			if (parse_u32("checkpoint-map-mb", optarg, 1, 1u << 20, &cfg->checkpoint_map_mb) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "herald-dataplane: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!have_port || !have_ip) {
		fprintf(stderr, "herald-dataplane: --port and --ip are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if ((uint32_t)cfg->udp_port + cfg->queues - 1 > 65535) {
		fprintf(stderr, "herald-dataplane: --udp-port %u + --queues %u - 1 must stay <= 65535\n",
			cfg->udp_port, cfg->queues);
		return -EINVAL;
	}
	/* Each worker's store keeps received buffers; it must never starve RX of them. */
	uint64_t need = (((uint64_t)cfg->max_keys + (uint64_t)cfg->history * cfg->max_history_contexts) *
			 HERALD_FRAGS_MAX + MBUFS_WORKING_SET) * cfg->queues;
	if (cfg->mbufs == 0) {
		cfg->mbufs = (uint32_t)RTE_MIN(need, UINT32_MAX);
	} else if (cfg->mbufs < need) {
		fprintf(stderr,
			"herald-dataplane: --mbufs %u is too small for --max-keys %u: need at least %" PRIu64
			" (((max-keys + history x max-history-contexts) x %d fragments + %d working set)"
			" x %u queues)\n",
			cfg->mbufs, cfg->max_keys, need, HERALD_FRAGS_MAX, MBUFS_WORKING_SET, cfg->queues);
		return -EINVAL;
	}
	if (cfg->hdr_mbufs == 0)
		cfg->hdr_mbufs = RTE_MAX((uint32_t)HDR_MBUFS_MIN, (uint32_t)HDR_MBUFS_PER_QUEUE * cfg->queues);
	else if (cfg->hdr_mbufs < (uint32_t)DP_TX_BUF * cfg->queues)
		fprintf(stderr, "herald-dataplane: warning: --hdr-mbufs %u is less than one TX buffer (%d) "
			"per queue: a fan-out larger than that loses frames (drop no_mbuf)\n",
			cfg->hdr_mbufs, DP_TX_BUF);
	return 0;
}

/* A pool's per-lcore cache: DPDK wants it at most n / 1.5; a small pool gets a small one. */
static struct rte_mempool *pool_create(const char *name, uint32_t n, uint16_t room)
{
	return rte_pktmbuf_pool_create(name, n, RTE_MIN((uint32_t)POOL_CACHE, n / 8), 0, room,
				       (int)rte_socket_id());
}

/*
 * Whether SUBSCRIBE is address-verified, and who answers HELLO here: loud
 * when it is not, since such a node amplifies a spoofed SUBSCRIBE.
 */
static void token_say(const struct dp_config *cfg, bool steer)
{
	if (!cfg->token_required) {
		fprintf(stderr, "herald-dataplane: WARNING: no --token-key: SUBSCRIBE is not address-verified; "
			"a SUBSCRIBE with a spoofed source draws a whole snapshot to that address "
			"(docs/protocol.md 3.2.1). Deploy only behind anti-spoofing filters, or give --token-key.\n");
		fflush(stderr);
		return;
	}
	printf("herald-dataplane: SUBSCRIBE requires an address token (--token-key); HELLOs %s answered "
	       "here with a REDIRECT to this node (tokens live %u s)\n",
	       steer ? "XDP does not answer are" : "are",
	       cfg->token_ttl_s ? cfg->token_ttl_s : HERALD_TOKEN_TTL_DEFAULT);
}

static void on_signal(int sig)
{
	(void)sig;
	dp_quit = true;
}

/* With several queues, each worker's non-zero counters too ("q1_misqueued 42"). */
static void queues_dump(const struct dp_worker *workers, unsigned n, FILE *out)
{
	if (n < 2)
		return;
	fprintf(out, "== per queue (non-zero) ==\n");
	for (unsigned q = 0; q < n; q++) {
		for (int c = 0; c < HERALD_CTR_MAX; c++)
			if (workers[q].ctr[c] != 0)
				fprintf(out, "q%u_%-21s %" PRIu64 "\n", q, herald_counter_name(c),
					workers[q].ctr[c]);
		for (int r = 1; r < HERALD_DROP_MAX; r++)
			if (workers[q].drop[r] != 0)
				fprintf(out, "q%u_drop_%-16s %" PRIu64 "\n", q, herald_drop_name(r),
					workers[q].drop[r]);
	}
}

static void counters_dump(const struct dp_worker *workers, unsigned n, FILE *out)
{
	fprintf(out, "== herald-dataplane counters ==\n");
	for (int c = 0; c < HERALD_CTR_MAX; c++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < n; i++)
			v += workers[i].ctr[c];
		fprintf(out, "%-24s %" PRIu64 "\n", herald_counter_name(c), v);
	}
	fprintf(out, "== drops by reason (non-zero) ==\n");
	for (int r = 1; r < HERALD_DROP_MAX; r++) {
		uint64_t v = 0;
		for (unsigned i = 0; i < n; i++)
			v += workers[i].drop[r];
		if (v != 0)
			fprintf(out, "drop_%-19s %" PRIu64 "\n", herald_drop_name(r), v);
	}
	queues_dump(workers, n, out);
	/* Below Herald: what the port itself counted (drops the dataplane never saw). */
	uint64_t ps[HERALD_PORT_STAT_MAX];
	if (dp_port_stats(workers[0].port_id, ps) == 0) {
		fprintf(out, "== port (rte_eth_stats) ==\n");
		for (int s = 0; s < HERALD_PORT_STAT_MAX; s++)
			fprintf(out, "port_%-19s %" PRIu64 "\n", herald_port_stat_name(s), ps[s]);
	}
	fflush(out);
}

int main(int argc, char **argv)
{
	struct dp_config cfg;
	struct herald_port port = {0};
	struct dp_worker *workers = NULL;
	struct rte_mempool *pool = NULL, *hdr_pool = NULL;
	struct herald_xdp *xdp = NULL;
	int rc, status = EXIT_FAILURE;

	int eal_argc = rte_eal_init(argc, argv);
	if (eal_argc < 0) {
		fprintf(stderr, "herald-dataplane: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return EXIT_FAILURE;
	}
	argc -= eal_argc;
	argv += eal_argc;
	if (parse_args(argc, argv, &cfg) < 0) {
		status = 2;
		goto out_eal;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const uint16_t nb_queues = cfg.queues;
	if (rte_lcore_count() < nb_queues) {
		fprintf(stderr, "herald-dataplane: --queues %u needs %u lcores, EAL's -l gave %u "
			"(e.g. -l 0-%u: worker 0 on the first, worker q on the q-th after it)\n",
			nb_queues, nb_queues, rte_lcore_count(), nb_queues - 1);
		status = 2;
		goto out_eal;
	}
	pool = pool_create("herald_rx", cfg.mbufs, RTE_MBUF_DEFAULT_BUF_SIZE);
	hdr_pool = pool_create("herald_hdr", cfg.hdr_mbufs, HDR_ROOM);
	if (pool == NULL || hdr_pool == NULL) {
		fprintf(stderr, "herald-dataplane: cannot create mbuf pools (%u + %u header mbufs): %s "
			"(are hugepages reserved? scripts/lab up does it)\n", cfg.mbufs, cfg.hdr_mbufs,
			rte_strerror(rte_errno));
		goto out_pools;
	}
	/* af_xdp: the PMD loads Herald's steer program, then the dataplane configures it. */
	bool steer = strcmp(cfg.port.kind->name, "af_xdp") == 0 && !xdp_off;
	int obj_fd = steer ? dp_xdp_prepare(&cfg.port) : -1;
	if (obj_fd < -1) {
		fprintf(stderr, "herald-dataplane: cannot hand the XDP program to the port: %s\n",
			strerror(-obj_fd));
		goto out_pools;
	}
	rc = herald_port_open(&cfg.port, nb_queues, pool, !cfg.force_copy, &port);
	if (obj_fd >= 0)
		close(obj_fd);
	if (rc < 0) {
		fprintf(stderr, "herald-dataplane: cannot open port %s%s%s: %s\n", cfg.port.kind->name,
			cfg.port.iface[0] ? ":" : "", cfg.port.iface, strerror(-rc));
		goto out_pools;
	}
	herald_port_describe(&port, stdout);
	if (steer) {
		struct dp_xdp_opts xo = {.pin_dir = xdp_pin_dir, .port_base = cfg.udp_port,
					 .nqueues = nb_queues, .node_ip = cfg.ip,
					 .hello_to_xsk = cfg.token_required};
		xdp = dp_xdp_take_over(&port, &xo);
		if (xdp == NULL)
			goto out_port;
	}
	if (nb_queues > 1) {
		/* Not fatal: without rules frames land by RSS and are handed to their owner. */
		char why[160];
		if (herald_port_steer(&port, cfg.ip, cfg.udp_port, why, sizeof(why)) == 0)
			printf("herald-dataplane: udp/%u+q steered to queue q (%u rules)\n", cfg.udp_port,
			       port.nrules);
		else
			printf("herald-dataplane: no flow steering (%s): frames land by flow hash, "
			       "misqueued ones reach their owner through its ring\n", why);
	}

	workers = rte_zmalloc("workers", sizeof(*workers) * nb_queues, RTE_CACHE_LINE_SIZE);
	if (workers == NULL)
		goto out_port;
	for (uint16_t q = 0; q < nb_queues; q++) {
		rc = dp_worker_init(&workers[q], &cfg, &port, q, pool, hdr_pool);
		if (rc < 0) {
			fprintf(stderr, "herald-dataplane: cannot size the store: %s\n", strerror(-rc));
			goto out_workers;
		}
	}
	rc = dp_handoff_init(workers, nb_queues);
	if (rc < 0) {
		fprintf(stderr, "herald-dataplane: cannot create the hand-off rings: %s\n", strerror(-rc));
		goto out_workers;
	}
	if (dp_telemetry_init(workers, nb_queues) < 0)
		fprintf(stderr, "herald-dataplane: telemetry commands not registered\n");

	/* Checkpoints and the control socket before the "serving" line: it is
	 * what scripts wait for, so everything it promises must be in place. */
	if ((rc = dp_ckpt_open(&cfg, workers, nb_queues)) < 0 || (rc = dp_ckpt_start()) < 0) {
		fprintf(stderr, "herald-dataplane: --checkpoint-dir %s: %s\n", cfg.checkpoint_dir, strerror(-rc));
		goto out_workers;
	}
	if (ctl_sock != NULL && (rc = dp_ctl_start(ctl_sock, workers, nb_queues)) < 0) {
		fprintf(stderr, "herald-dataplane: --ctl-sock %s: %s\n", ctl_sock, strerror(-rc));
		goto out_workers;
	}
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &cfg.ip, ip, sizeof(ip));
	unsigned lcores[HERALD_QUEUES_MAX], nl = 0, lc;
	lcores[nl++] = rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (nl < nb_queues)
			lcores[nl++] = lc;
		else
			printf("herald-dataplane: lcore %u has no queue to serve: idle\n", lc);
	}
	for (uint16_t q = 0; q < nb_queues && nb_queues > 1; q++)
		printf("herald-dataplane: queue %u: udp/%u on lcore %u\n", q, cfg.udp_port + q, lcores[q]);
	printf("herald-dataplane: serving %s udp/%u on lcore %u, %u queue(s), %s fan-out, idle=%s\n",
	       ip, cfg.udp_port, lcores[0], nb_queues, workers[0].zero_copy ? "zero-copy" : "copy",
	       cfg.idle == DP_IDLE_SPIN ? "spin" : "sleep");
	char pol[32];
	printf("herald-dataplane: default policy %s", dp_policy_name(&cfg.default_policy, pol, sizeof(pol)));
	for (uint32_t i = 0; i < cfg.npolicies; i++)
		printf(", context %u %s", cfg.policies[i].context,
		       dp_policy_name(&cfg.policies[i].policy, pol, sizeof(pol)));
	printf("\n");
	token_say(&cfg, steer);
	fflush(stdout);

	bool launched = true;
	for (uint16_t q = 1; q < nb_queues && launched; q++) {
		rc = rte_eal_remote_launch(dp_worker_main, &workers[q], lcores[q]);
		if (rc < 0) {
			fprintf(stderr, "herald-dataplane: cannot launch queue %u on lcore %u: %s\n", q,
				lcores[q], strerror(-rc));
			dp_quit = true;
			launched = false;
		}
	}
	if (launched)
		dp_worker_main(&workers[0]);
	rte_eal_mp_wait_lcore();
	dp_ctl_stop();
	dp_ckpt_close(); /* before the dump: it counts what it writes at exit */
	status = launched ? EXIT_SUCCESS : EXIT_FAILURE;
	counters_dump(workers, nb_queues, stdout);
	dp_xdp_dump(xdp, stdout);

out_workers:
	dp_ckpt_close();
	dp_handoff_free(workers, nb_queues);
	for (uint16_t q = 0; q < nb_queues; q++) {
		dp_tx_flush(&workers[q]);
		dp_store_free(&workers[q]);
		dp_replay_free(&workers[q]);
	}
	rte_free(workers);
out_port:
	herald_port_close(&port);
	herald_xdp_destroy(xdp);
out_pools:
	rte_mempool_free(hdr_pool);
	rte_mempool_free(pool);
out_eal:
	rte_eal_cleanup();
	return status;
}
