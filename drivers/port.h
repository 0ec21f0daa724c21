/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port layer: how the dataplane attaches to a NIC. One table row per port
 * kind (driver, required arguments, devargs it builds); every kind reports the
 * capabilities the dataplane adapts to (multi-segment TX decides between
 * zero-copy fan-out and a counted copy).
 */
#ifndef HERALD_DRIVERS_PORT_H
#define HERALD_DRIVERS_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#define HERALD_PORT_SPEC_MAX 256

/*
 * One row per port kind. `needs_iface` kinds attach to a kernel interface;
 * `base` devargs are what Herald always wants for that kind.
 */
struct herald_port_kind {
	const char *name;
	const char *driver;
	bool needs_iface;
	const char *base;
	const char *help;
	bool chains_ok; /* TX takes mbuf chains whatever the PMD advertises */
};

/** A parsed `--port KIND[:IFACE][,devarg=value...]` specification. */
struct herald_port_spec {
	const struct herald_port_kind *kind;
	char iface[32];
	char extra[HERALD_PORT_SPEC_MAX]; /* devargs appended verbatim */
};

struct herald_port_caps {
	bool multi_seg_tx;
	bool ipv4_cksum_tx;
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	uint32_t max_rx_pktlen;
};

struct herald_port {
	uint16_t port_id;
	uint16_t nb_queues;
	char name[64];
	struct herald_port_spec spec;
	struct herald_port_caps caps;
	struct rte_ether_addr mac;
};

/** Human list of supported kinds, for usage messages ("af_xdp, af_packet, ..."). */
const char *herald_port_kinds(void);

/**
 * Parse @p text into @p spec. On error returns -EINVAL and writes what was
 * expected into @p err.
 */
int herald_port_parse(const char *text, struct herald_port_spec *spec, char *err, size_t errlen);

/**
 * Create the port (after rte_eal_init), configure @p nb_queues RX/TX queue
 * pairs with @p pool for RX, start it and fill @p port.
 * @p want_multi_seg asks for multi-segment TX where the port has it.
 * @return 0 or a negative errno; the reason is logged.
 */
int herald_port_open(const struct herald_port_spec *spec, uint16_t nb_queues,
		     struct rte_mempool *pool, bool want_multi_seg, struct herald_port *port);

/** Stop and remove a port opened by herald_port_open. Accepts a zeroed port. */
void herald_port_close(struct herald_port *port);

/** Print the port's driver and capabilities in one line. */
void herald_port_describe(const struct herald_port *port, FILE *out);

#endif
