/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port layer: how the dataplane attaches to a NIC. One module per port
 * kind (drivers/port_KIND.c: PCI, af_xdp, af_packet, tap, memif, null), each
 * a table row saying which PMD it uses, how it is attached (PCI address,
 * kernel interface or nothing), which device arguments an operator may add,
 * what its TX does with mbuf chains, whether its RX is zero-copy, and how
 * (or whether) it steers UDP port base+q to queue q. This file's functions
 * are the same for every kind; capabilities are read from the device at
 * start and printed, and the dataplane adapts to them (multi-segment TX
 * decides between zero-copy fan-out and a counted copy).
 */
#ifndef HERALD_DRIVERS_PORT_H
#define HERALD_DRIVERS_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#define HERALD_PORT_SPEC_MAX 256
/** Flow-steering rules one port holds at most (one per queue). */
#define HERALD_PORT_RULES_MAX 64

struct herald_port;
struct herald_port_spec;

enum herald_port_attach {
	HERALD_PORT_NONE,  /**< a virtual device that needs nothing (null, memif) */
	HERALD_PORT_IFACE, /**< a kernel network interface (af_xdp, af_packet, tap) */
	HERALD_PORT_PCI,   /**< a PCI function bound to vfio-pci (DDDD:BB:DD.F) */
};

/** How a kind's RX gets frames into mbufs. */
enum herald_port_rx_copy {
	HERALD_RX_COPY,      /**< the PMD copies every frame (af_packet, tap, memif) */
	HERALD_RX_ZERO_COPY, /**< the NIC writes into the mbuf (PCI) */
	HERALD_RX_KERNEL,    /**< the kernel decides per socket (AF_XDP: read at start) */
	HERALD_RX_NONE,      /**< receives nothing (null) */
};

struct herald_port_kind {
	const char *name;   /**< --port NAME[:...] */
	const char *driver; /**< DPDK PMD */
	const char *help;
	enum herald_port_attach attach;
	const char *base;   /**< devargs Herald always passes */
	const char *const *devargs; /**< keys an operator may add, NULL-terminated */
	const char *queues_key;     /**< devarg taking the queue count, or NULL */
	bool chains_ok;     /**< TX takes mbuf chains whatever the PMD advertises */
	enum herald_port_rx_copy rx;
	/**
	 * Check the values of the device arguments (the base's, overridden by
	 * the operator's) before the PMD sees them; NULL = the PMD checks them.
	 * On error writes what was expected into @p err and returns -EINVAL.
	 */
	int (*args_check)(const struct herald_port_spec *spec, char *err, size_t errlen);
	/**
	 * Install steering of UDP to @p ip port base+q into queue q for every
	 * queue, or explain in @p why why it cannot; NULL = the kind cannot.
	 */
	int (*steer)(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len);
	void (*unsteer)(struct herald_port *port);
};

/** A parsed `--port KIND[:IFACE|:PCI][,devarg=value...]` specification. */
struct herald_port_spec {
	const struct herald_port_kind *kind;
	char iface[32]; /* interface name, or PCI address */
	char extra[HERALD_PORT_SPEC_MAX]; /* validated devargs, appended */
};

struct herald_port_caps {
	bool multi_seg_tx;
	bool ipv4_cksum_tx;
	bool udp_cksum_tx;
	int rx_zero_copy; /* 1 yes, 0 no, -1 unknown */
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
	/* Flow steering installed by herald_port_steer (kind-specific handles). */
	unsigned nrules;
	uintptr_t rules[HERALD_PORT_RULES_MAX];
};

/**
 * The value of device argument @p key as the PMD will get it: the
 * operator's if given, else the kind's base; NULL if neither sets it.
 * @p len receives the value's length (values end at ',' or NUL).
 */
const char *herald_port_arg(const struct herald_port_spec *spec, const char *key, size_t *len);

/** Human list of supported kinds, for usage messages ("pci, af_xdp, ..."). */
const char *herald_port_kinds(void);

/**
 * Parse @p text into @p spec: the kind, its interface or PCI address, and
 * device arguments, each checked against the kind's list of keys. On error
 * returns -EINVAL and writes what was expected into @p err.
 */
int herald_port_parse(const char *text, struct herald_port_spec *spec, char *err, size_t errlen);

/**
 * Create (or probe, for PCI) the port after rte_eal_init, configure
 * @p nb_queues RX/TX queue pairs with @p pool for RX, start it and fill
 * @p port. @p want_multi_seg asks for multi-segment TX where the port has it.
 * @return 0 or a negative errno; the reason is logged.
 */
int herald_port_open(const struct herald_port_spec *spec, uint16_t nb_queues,
		     struct rte_mempool *pool, bool want_multi_seg, struct herald_port *port);

/**
 * Steer UDP to @p ip (network order) port @p base + q into RX queue q, for
 * every queue of @p port, with the kind's mechanism (rte_flow on PCI and tap,
 * ethtool ntuple on an AF_XDP interface). @return 0, or -ENOTSUP with the
 * reason in @p why: frames then land by RSS and the dataplane hands a
 * misqueued one to its owner.
 */
int herald_port_steer(struct herald_port *port, uint32_t ip, uint16_t base, char *why, size_t len);

/** Stop and remove a port opened by herald_port_open, its rules first. Accepts a zeroed port. */
void herald_port_close(struct herald_port *port);

/** Print the port's driver and capabilities in one line. */
void herald_port_describe(const struct herald_port *port, FILE *out);

#endif
