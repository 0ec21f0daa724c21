/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A TAP interface the dataplane creates (net_tap): for labs and functional
 * tests. Copies both ways. Its rte_flow support (tc flower rules in the
 * kernel) steers UDP port base+q to queue q, as on a PCI NIC.
 */
#include "kinds.h"

static const char *const devargs[] = {"mac", "persist", NULL};

const struct herald_port_kind herald_port_tap = {
	.name = "tap",
	.driver = "net_tap",
	.help = "a TAP interface the dataplane creates: tap:IFACE",
	.attach = HERALD_PORT_IFACE,
	.base = "",
	.devargs = devargs,
	.rx = HERALD_RX_COPY,
	.steer = herald_flow_steer,
	.unsteer = herald_flow_unsteer,
};
