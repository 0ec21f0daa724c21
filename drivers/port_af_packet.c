/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AF_PACKET mmap rings on a kernel interface (net_af_packet): works on any
 * interface and kernel, copies on RX, sends mbuf chains (zero-copy fan-out).
 * Its queue pairs share one PACKET_FANOUT group hashed by the kernel, so
 * UDP ports cannot be steered to queues: misqueued frames go to their
 * owner through the dataplane's rings.
 */
#include "kinds.h"

static const char *const devargs[] = {"blocksz", "framesz", "framecnt", "qdisc_bypass", NULL};

const struct herald_port_kind herald_port_af_packet = {
	.name = "af_packet",
	.driver = "net_af_packet",
	.help = "AF_PACKET mmap rings on a kernel interface: af_packet:IFACE",
	.attach = HERALD_PORT_IFACE,
	.base = "framesz=2048,blocksz=4096,framecnt=2048,qdisc_bypass=1",
	.devargs = devargs,
	.queues_key = "qpairs",
	.rx = HERALD_RX_COPY,
};
