/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Herald's steer XDP program on the dataplane's af_xdp port (docs/xdp.md,
 * "With DPDK's net_af_xdp"): the PMD loads the steer object through its
 * xdp_prog= devarg and puts its AF_XDP sockets in that program's xsks_map;
 * the dataplane then loads a configured instance (ports, queues, its own
 * address), pins its maps for the control plane and swaps it in atomically,
 * sharing the PMD's xsks_map.
 */
#ifndef HERALD_DP_XDP_H
#define HERALD_DP_XDP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "port.h"

struct herald_xdp;

struct dp_xdp_opts {
	const char *pin_dir; /* NULL: HERALD_XDP_PIN_DIR; "": do not pin */
	uint16_t port_base;  /* UDP port of queue 0 */
	uint16_t nqueues;
	uint32_t node_ip;    /* network order */
	bool hello_to_xsk;   /* --token-key: HELLOs XDP does not answer come to the dataplane */
};

/*
 * Before the port is opened: hand the steer object to the PMD (xdp_prog= on
 * an in-memory file) unless @p spec already names a program. Returns the
 * file's descriptor (close it once the port is open), -1 when none was made,
 * or a negative errno (< -1) on failure.
 */
int dp_xdp_prepare(struct herald_port_spec *spec);

/* After the port is started: load, pin and swap in the configured program. */
struct herald_xdp *dp_xdp_take_over(const struct herald_port *port, const struct dp_xdp_opts *o);

/* The XDP counters and drops, "xdp_<name> N" lines for the final dump. */
void dp_xdp_dump(struct herald_xdp *x, FILE *out);

#endif
