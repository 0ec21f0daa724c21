/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What DPDK's own tools see of a running dataplane: telemetry commands under
 * /herald/ (dpdk-telemetry.py, `--file-prefix` as its -f), and rte_pdump, so
 * `dpdk-dumpcap --file-prefix PREFIX` captures the port's traffic. The
 * telemetry callbacks run on the telemetry thread and only read the
 * workers' counters and configuration: each counter is a naturally aligned
 * 64-bit word written by one lcore, so a read is never torn. pdump costs
 * nothing until a capture is enabled: its RX/TX callbacks are installed by
 * dpdk-dumpcap's request and removed when it exits.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_pdump.h>
#include <rte_telemetry.h>

#include "dataplane.h"

static struct dp_worker *workers;
static unsigned nb_workers;

/* Sum of one counter over queues [first, last). */
static uint64_t sum(size_t offset, unsigned first, unsigned last)
{
	uint64_t total = 0;
	for (unsigned i = first; i < last; i++)
		total += *(const volatile uint64_t *)((const uint8_t *)&workers[i] + offset);
	return total;
}

static void counters_dict(struct rte_tel_data *d, unsigned first, unsigned last)
{
	char name[64];

	rte_tel_data_start_dict(d);
	for (int c = 0; c < HERALD_CTR_MAX; c++)
		rte_tel_data_add_dict_u64(d, herald_counter_name(c),
					  sum(offsetof(struct dp_worker, ctr[c]), first, last));
	for (int r = 1; r < HERALD_DROP_MAX; r++) {
		snprintf(name, sizeof(name), "drop_%s", herald_drop_name(r));
		rte_tel_data_add_dict_u64(d, name, sum(offsetof(struct dp_worker, drop[r]), first, last));
	}
}

static int stats_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t ps[HERALD_PORT_STAT_MAX];
	char name[64];
	(void)cmd;
	(void)params;
	counters_dict(d, 0, nb_workers);
	/* The port's own counters, next to Herald's (also in DPDK's /ethdev/stats). */
	dp_port_stats(workers[0].port_id, ps);
	for (int s = 0; s < HERALD_PORT_STAT_MAX; s++) {
		snprintf(name, sizeof(name), "port_%s", herald_port_stat_name(s));
		rte_tel_data_add_dict_u64(d, name, ps[s]);
	}
	return 0;
}

/* /herald/queue_stats,Q: one queue's counters. */
static int queue_stats_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char *end;
	(void)cmd;
	if (params == NULL || *params == '\0')
		return -EINVAL;
	unsigned long q = strtoul(params, &end, 10);
	if (*end != '\0' || q >= nb_workers)
		return -EINVAL;
	counters_dict(d, (unsigned)q, (unsigned)q + 1);
	return 0;
}

static int info_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct dp_config *cfg = workers[0].cfg;
	char ip[INET_ADDRSTRLEN], pol[32];
	(void)cmd;
	(void)params;

	inet_ntop(AF_INET, &cfg->ip, ip, sizeof(ip));
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "ip", ip);
	rte_tel_data_add_dict_int(d, "udp_port", cfg->udp_port);
	rte_tel_data_add_dict_int(d, "queues", (int)nb_workers);
	rte_tel_data_add_dict_int(d, "pid", (int)getpid());
	rte_tel_data_add_dict_string(d, "port", cfg->port.kind->name);
	rte_tel_data_add_dict_string(d, "fanout", workers[0].zero_copy ? "zero-copy" : "copy");
	rte_tel_data_add_dict_string(d, "default_policy", dp_policy_name(&cfg->default_policy, pol, sizeof(pol)));
	rte_tel_data_add_dict_u64(d, "max_sessions", cfg->max_sessions);
	rte_tel_data_add_dict_u64(d, "max_contexts", cfg->max_contexts);
	rte_tel_data_add_dict_u64(d, "max_keys", cfg->max_keys);
	return 0;
}

int dp_telemetry_init(struct dp_worker *w, unsigned n)
{
	workers = w;
	nb_workers = n;
	/* A capture tool is an operator's aid, not a reason to refuse to start. */
	if (rte_pdump_init() < 0)
		fprintf(stderr, "herald-dataplane: rte_pdump_init failed: dpdk-dumpcap cannot attach\n");
	if (rte_telemetry_register_cmd("/herald/stats", stats_cb,
				       "Herald dataplane counters and drops by reason, summed over queues, and the port's rte_eth_stats") < 0 ||
	    rte_telemetry_register_cmd("/herald/queue_stats", queue_stats_cb,
				       "One queue's counters and drops. Parameter: queue index") < 0)
		return -1;
	return rte_telemetry_register_cmd("/herald/info", info_cb,
					  "Herald dataplane: address, UDP port, queues, port kind, fan-out mode, limits");
}
