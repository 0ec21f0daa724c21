/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue steering with rte_flow (PCI NICs, net_tap): one rule per queue,
 * ETH / IPV4 dst NODE / UDP dst BASE+q -> QUEUE q. A PMD that refuses a rule
 * says why (rte_flow_error); the rules already made are removed and the
 * dataplane runs on RSS plus its misqueue rings.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_flow.h>

#include "kinds.h"

int herald_flow_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len)
{
	for (uint16_t q = 0; q < port->nb_queues; q++) {
		struct rte_flow_item_ipv4 ip_spec = {.hdr.dst_addr = ip};
		struct rte_flow_item_ipv4 ip_mask = {.hdr.dst_addr = RTE_BE32(UINT32_MAX)};
		struct rte_flow_item_udp udp_spec = {.hdr.dst_port = rte_cpu_to_be_16(base + q)};
		struct rte_flow_item_udp udp_mask = {.hdr.dst_port = RTE_BE16(UINT16_MAX)};
		const struct rte_flow_item pattern[] = {
			{.type = RTE_FLOW_ITEM_TYPE_ETH},
			{.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
			{.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
			{.type = RTE_FLOW_ITEM_TYPE_END},
		};
		const struct rte_flow_action_queue queue = {.index = q};
		const struct rte_flow_action actions[] = {
			{.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
			{.type = RTE_FLOW_ACTION_TYPE_END},
		};
		const struct rte_flow_attr attr = {.ingress = 1};
		struct rte_flow_error err = {0};
		struct rte_flow *f = rte_flow_create(port->port_id, &attr, pattern, actions, &err);

		if (f == NULL) {
			snprintf(why, len, "rte_flow rule udp/%u -> queue %u refused by %s: %s", base + q, q,
				 port->name, err.message ? err.message : rte_strerror(rte_errno));
			herald_flow_unsteer(port);
			return -ENOTSUP;
		}
		port->rules[port->nrules++] = (uintptr_t)f;
	}
	return 0;
}

void herald_flow_unsteer(struct herald_port *port)
{
	struct rte_flow_error err;

	for (unsigned i = 0; i < port->nrules; i++)
		rte_flow_destroy(port->port_id, (struct rte_flow *)port->rules[i], &err);
	port->nrules = 0;
}
