/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A shared-memory packet interface (net_memif) to another DPDK or VPP
 * process on the same host; Herald is the server side by default.
 */
#include "kinds.h"

static const char *const devargs[] = {"role", "id", "bsize", "rsize", "socket", "socket-abstract",
				      "mac", "secret", "zero-copy", NULL};

const struct herald_port_kind herald_port_memif = {
	.name = "memif",
	.driver = "net_memif",
	.help = "shared-memory packet interface to a local process: memif",
	.attach = HERALD_PORT_NONE,
	.base = "role=server",
	.devargs = devargs,
	.rx = HERALD_RX_COPY,
};
