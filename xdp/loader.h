/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file loader.h
 * herald_xdp: load Herald's steer XDP program (xdp/steer.bpf.c) through its
 * libbpf skeleton, pin its maps, attach it, and read and write the maps the
 * control plane owns. Map layouts and counters are in <herald/proto.h>.
 *
 * Int functions return 0 or a negative errno; constructors return NULL and
 * set errno.
 */
#ifndef HERALD_XDP_LOADER_H
#define HERALD_XDP_LOADER_H

#include <stdint.h>

#include <herald/proto.h>

/** Load options. A zeroed struct gives the defaults noted per field. */
struct herald_xdp_opts {
	/**
	 * bpffs directory the maps are pinned in (created if missing). Maps
	 * already pinned there are reused, so a restarted daemon finds the
	 * routes, key, XSK sockets and counters of the previous one.
	 * NULL: HERALD_XDP_PIN_DIR. "" : do not pin (tests, benchmarks).
	 */
	const char *pin_dir;
	uint16_t port_base;   /**< UDP port of queue 0; 0: HERALD_UDP_PORT_BASE */
	uint16_t nqueues;     /**< herald ports are [port_base, port_base + nqueues); 0: HERALD_XDP_MAX_QUEUES */
	uint32_t max_routes;  /**< route map capacity; 0: HERALD_XDP_MAX_ROUTES */
	/**
	 * The node's IPv4 address, network order: ARP and ICMP for it go to the
	 * AF_XDP socket (the dataplane owns the address). 0: they pass.
	 */
	uint32_t node_ip;
	/**
	 * > 0: use this XSKMAP as xsks_map instead of a pinned or new one (the
	 * map the af_xdp PMD put its sockets in, herald_xdp_attached_xsks());
	 * it replaces any xsks_map pinned in pin_dir. 0: none.
	 */
	int xsks_map_fd;
	/**
	 * Non-zero: HELLOs XDP does not answer (no key, no route, IPv4 options)
	 * go to the AF_XDP socket, for the dataplane's own responder
	 * (herald-dataplane --token-key), instead of passing to the kernel.
	 */
	int hello_to_xsk;
};

struct herald_xdp;

/** Open, configure and load the program (the verifier runs here). */
struct herald_xdp *herald_xdp_open(const struct herald_xdp_opts *opts);
/** Unload; pinned maps and an attached program stay. Accepts NULL. */
void herald_xdp_destroy(struct herald_xdp *x);
/** Remove the pins this instance made or reused (and the directory, if empty). */
int herald_xdp_unpin(struct herald_xdp *x);

/** Attach to @p ifindex; @p xdp_flags as for bpf_xdp_attach (XDP_FLAGS_DRV_MODE ...). */
int herald_xdp_attach(struct herald_xdp *x, int ifindex, uint32_t xdp_flags);
/**
 * Take over @p ifindex: atomically replace the program attached there (in
 * whatever mode it was attached) by this one. -ENOENT if none is attached.
 */
int herald_xdp_replace(struct herald_xdp *x, int ifindex);
/**
 * The xsks_map of the program attached to @p ifindex (a new fd, the caller
 * closes it), as libxdp finds it: by name among the program's maps.
 * -ENOENT if no program or no such map.
 */
int herald_xdp_attached_xsks(int ifindex);
/**
 * The steer object as built (ELF bytes, embedded in the skeleton), for a
 * loader that takes a file: DPDK's net_af_xdp xdp_prog= devarg.
 */
const void *herald_xdp_object(size_t *len);
/** Detach whatever program is attached to @p ifindex in that mode. */
int herald_xdp_detach(struct herald_xdp *x, int ifindex, uint32_t xdp_flags);
/** Program fd, e.g. for BPF_PROG_TEST_RUN. */
int herald_xdp_prog_fd(const struct herald_xdp *x);

/** Map fds, for callers (the dataplane, tests) that use libbpf directly. */
int herald_xdp_xsks_fd(const struct herald_xdp *x);
int herald_xdp_routes_fd(const struct herald_xdp *x);

/** Set or replace where @p context lives. */
int herald_xdp_route_set(struct herald_xdp *x, uint32_t context, const struct herald_xdp_route *r);
/** Forget @p context: its HELLOs go to userspace again. -ENOENT if absent. */
int herald_xdp_route_del(struct herald_xdp *x, uint32_t context);
/** Install the token key; @p ttl_s 0 means HERALD_TOKEN_TTL_DEFAULT. */
int herald_xdp_secret_set(struct herald_xdp *x, const uint8_t key[HERALD_TOKEN_KEY_LEN], uint32_t ttl_s);
/** Steer queue @p queue into the AF_XDP socket @p xsk_fd. */
int herald_xdp_xsk_set(struct herald_xdp *x, uint32_t queue, int xsk_fd);
int herald_xdp_xsk_del(struct herald_xdp *x, uint32_t queue);

/** Drop counters summed over CPUs, indexed by enum herald_drop. */
int herald_xdp_drops_read(struct herald_xdp *x, uint64_t out[HERALD_DROP_MAX]);
/** XDP counters summed over CPUs, indexed by enum herald_xdp_counter. */
int herald_xdp_stats_read(struct herald_xdp *x, uint64_t out[HERALD_XDP_CTR_MAX]);
/** Lower-case name of an XDP counter ("redirects_sent"), or NULL. */
const char *herald_xdp_counter_name(enum herald_xdp_counter c);

/** Instruction counts of the loaded program, for docs and the bench. */
struct herald_xdp_insns {
	uint32_t object;   /**< instructions in the object after libbpf relocation */
	uint32_t xlated;   /**< after the verifier's rewrites */
	uint32_t jited;    /**< bytes of x86 code */
	uint32_t verified; /**< instructions the verifier walked */
};
int herald_xdp_insns(const struct herald_xdp *x, struct herald_xdp_insns *out);

#endif /* HERALD_XDP_LOADER_H */
