/* SPDX-License-Identifier: BSD-3-Clause */
/* The port kinds (one module each) and the steering mechanisms they share. */
#ifndef HERALD_DRIVERS_KINDS_H
#define HERALD_DRIVERS_KINDS_H

#include "port.h"

extern const struct herald_port_kind herald_port_pci;
extern const struct herald_port_kind herald_port_af_xdp;
extern const struct herald_port_kind herald_port_af_packet;
extern const struct herald_port_kind herald_port_tap;
extern const struct herald_port_kind herald_port_memif;
extern const struct herald_port_kind herald_port_null;

/* port_af_xdp.c: 1 if this process's AF_XDP sockets are bound zero-copy, 0 copy, -1 none found. */
int herald_xsk_zero_copy(void);

/* flow.c: rte_flow rules ETH / IPV4 dst / UDP dst base+q -> QUEUE q. */
int herald_flow_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len);
void herald_flow_unsteer(struct herald_port *port);

/* ntuple.c: the kernel driver's n-tuple filters (ethtool -N IFACE flow-type udp4 ...). */
int herald_ntuple_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len);
void herald_ntuple_unsteer(struct herald_port *port);

#endif
