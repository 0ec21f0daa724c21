/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port's own counters (rte_eth_stats) in Herald's order and names
 * (proto.h HERALD_PORT_STATS), for the exit dump, the stats line, the
 * control socket and telemetry. Read on any thread: the PMDs keep these as
 * per-queue words their lcore writes, as DPDK's own /ethdev/stats reads them.
 */
#include <string.h>

#include <rte_ethdev.h>

#include "dataplane.h"

int dp_port_stats(uint16_t port_id, uint64_t out[HERALD_PORT_STAT_MAX])
{
	struct rte_eth_stats s;
	int rc = rte_eth_stats_get(port_id, &s);

	memset(out, 0, sizeof(uint64_t) * HERALD_PORT_STAT_MAX);
	if (rc != 0)
		return rc;
	out[HERALD_PORT_IPACKETS] = s.ipackets;
	out[HERALD_PORT_OPACKETS] = s.opackets;
	out[HERALD_PORT_IMISSED] = s.imissed;
	out[HERALD_PORT_IERRORS] = s.ierrors;
	out[HERALD_PORT_OERRORS] = s.oerrors;
	out[HERALD_PORT_RX_NOMBUF] = s.rx_nombuf;
	return 0;
}
