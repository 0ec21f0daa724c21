/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A PCI NIC driven by its DPDK PMD (ixgbe, i40e, ice, mlx5 class 10GbE):
 * `--port pci:0000:03:00.0`. The function must be bound to vfio-pci (mlx5:
 * stays on mlx5_core, bifurcated) — docs/operations.md. The NIC writes
 * into the mbufs (RX zero-copy) and its rte_flow rules put UDP port base+q
 * on queue q.
 */
#include "kinds.h"

const struct herald_port_kind herald_port_pci = {
	.name = "pci",
	.driver = "(the NIC's PMD)",
	.help = "a PCI NIC on its DPDK PMD, bound to vfio-pci: pci:DDDD:BB:DD.F",
	.attach = HERALD_PORT_PCI,
	.base = "",
	.devargs = NULL, /* PMD-specific keys: the PMD checks them at probe */
	.rx = HERALD_RX_ZERO_COPY,
	.steer = herald_flow_steer,
	.unsteer = herald_flow_unsteer,
};
