/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry commands under /herald/, so `dpdk-telemetry.py` and
 * heraldctl can read the counters of a running dataplane. The callbacks run
 * on the telemetry thread and only read the workers' counters: each is a
 * naturally aligned 64-bit word written by one lcore, so a read is never torn.
 */
#include <rte_telemetry.h>

#include "dataplane.h"

static struct dp_worker *workers;
static unsigned nb_workers;

static uint64_t sum(size_t offset)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < nb_workers; i++)
		total += *(const volatile uint64_t *)((const uint8_t *)&workers[i] + offset);
	return total;
}

static int stats_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char name[64];
	(void)cmd;
	(void)params;

	rte_tel_data_start_dict(d);
	for (int c = 0; c < HERALD_CTR_MAX; c++)
		rte_tel_data_add_dict_u64(d, herald_counter_name(c),
					  sum(offsetof(struct dp_worker, ctr[c])));
	for (int r = 1; r < HERALD_DROP_MAX; r++) {
		snprintf(name, sizeof(name), "drop_%s", herald_drop_name(r));
		rte_tel_data_add_dict_u64(d, name, sum(offsetof(struct dp_worker, drop[r])));
	}
	return 0;
}

int dp_telemetry_init(struct dp_worker *w, unsigned n)
{
	workers = w;
	nb_workers = n;
	return rte_telemetry_register_cmd("/herald/stats", stats_cb,
					  "Herald dataplane counters and drops by reason, summed over lcores");
}
