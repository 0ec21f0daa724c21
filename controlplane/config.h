/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file config.h
 * The node's one configuration file (`/etc/herald/herald.conf`, INI, parsed
 * with inih): parse, validate, then apply. Every error names the file, the
 * line, the key and what was expected; a file with any error yields no
 * configuration at all, so nothing starts half-configured. Pure: no socket,
 * no DPDK; heraldd, heraldctl and the unit tests link the same code.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include <jansson.h>

/** Where heraldd and heraldctl look when no file is named. */
#define HERALD_CONFIG_PATH "/etc/herald/herald.conf"
/** heraldd's control socket when the file does not name one. */
#define HERALD_CONFIG_CTL_SOCK "/run/herald/heraldd.sock"
/** The dataplane's control socket when the file does not name one. */
#define HERALD_CONFIG_DP_SOCK "/run/herald/dataplane.sock"
/** Peers one node lists at most (HERALD_NODES_MAX - 1). */
#define HERALD_CONFIG_PEERS_MAX 63
/** Bytes of the cluster secret in the key file (as hex digits: twice this). */
#define HERALD_CONFIG_KEY_LEN 32

/** Room for the line numbers of every key (config.c asserts its table fits). */
#define HERALD_CONFIG_KEYS_MAX 48

enum herald_config_idle { HERALD_IDLE_SPIN, HERALD_IDLE_SLEEP };

struct herald_config {
	char path[256];
	/* [node] */
	uint32_t node_id;
	char name[64];
	/* [dataplane] */
	char driver[16];      /**< af_xdp, af_packet, tap, memif, null */
	char interface[16];   /**< kernel interface for af_xdp, af_packet, tap */
	char pci_address[16]; /**< driver pci: the NIC's PCI function, DDDD:BB:DD.F */
	char devargs[128];    /**< extra PMD arguments, "" = the driver's defaults */
	struct in_addr ip;    /**< the address clients reach the dataplane at */
	uint16_t udp_port;    /**< queue 0's port (queue q: + q) */
	uint16_t queues;
	char lcores[64];      /**< EAL -l list, "1" or "2-5" or "2,4" */
	enum herald_config_idle idle;
	char dataplane_sock[108];
	char file_prefix[32]; /**< EAL --file-prefix */
	char publish_key_file[256]; /**< --publish-key: "" = PUBLISH from anyone (docs/protocol.md §3.5.1) */
	uint32_t publish_window_s;  /**< --publish-window (docs/protocol.md §3.5.2) */
	uint32_t replay_cache;      /**< --replay-cache */
	/* [dataplane] context life cycle (docs/checkpoints.md) */
	char checkpoint_dir[192];       /**< --checkpoint-dir: "" = no checkpoints, nothing unloads */
	uint32_t idle_unload_s;         /**< --idle-unload-s (0 = never unload) */
	uint32_t checkpoint_interval_s; /**< --checkpoint-interval-s (0 = on unload and exit only) */
	uint32_t checkpoint_map_mb;     /**< --checkpoint-map-mb */
	/* [cluster] */
	struct sockaddr_in listen;
	struct sockaddr_in hello; /**< sin_port 0: the listen address, port udp_port */
	struct sockaddr_in peers[HERALD_CONFIG_PEERS_MAX];
	unsigned npeers;
	uint32_t heartbeat_ms, suspect_after, dead_after, token_ttl_s, capacity;
	char key_file[256];
	uint8_t key[HERALD_CONFIG_KEY_LEN]; /**< read from key_file */
	bool key_set;
	char xdp_pin_dir[256];
	/** heraldd's highest issued epoch survives restarts here ("" = not kept;
	 *  default: heraldd.state in checkpoint_dir when that is set). */
	char state_file[256];
	/* [control] */
	char control_sock[108];
	char status_file[256];
	struct sockaddr_in remote;  /**< sin_port 0: no remote heraldctl endpoint */
	char remote_key_file[256];
	uint8_t remote_key[HERALD_CONFIG_KEY_LEN]; /**< read from remote_key_file */
	bool remote_key_set;
	/* [metrics] */
	struct sockaddr_in metrics; /**< sin_port 0: no metrics endpoint */
	/** Line each key was set on, in the order of config.c's table; 0 = not set. */
	int key_line[HERALD_CONFIG_KEYS_MAX];
};

/** The values a key takes when the file does not set it. */
extern const struct herald_config herald_config_defaults;

/**
 * Read, parse and validate @p path into @p out. On any error @p out is left
 * as herald_config_defaults and @p err holds one line:
 * "FILE:LINE: [section] key: expected ..., got '...'" (LINE is absent for
 * whole-file errors such as a missing file or a missing required key).
 * @return 0, or -errno of the file (ENOENT, EACCES, ...) or -EINVAL.
 */
int herald_config_load(const char *path, struct herald_config *out, char *err, size_t errlen);

/** The same, from text in memory named @p name in errors (for tests). */
int herald_config_load_string(const char *name, const char *text, struct herald_config *out,
			      char *err, size_t errlen);

/**
 * The configuration as a JSON object, one member per section, the key
 * file's contents left out (only whether one was read).
 */
json_t *herald_config_to_json(const struct herald_config *c);

/**
 * The herald-dataplane command line the file describes, one argument per
 * line (EAL options, "--", then the dataplane's own), for the systemd unit.
 * @return the length written, or -ENOSPC.
 */
int herald_config_dataplane_args(const struct herald_config *c, char *buf, size_t cap);

/**
 * Can a running heraldd that loaded @p old switch to @p next (both valid)?
 * Only [node] name, [cluster] peer, heartbeat_ms, suspect_after, dead_after,
 * token_ttl_s, capacity and [control] status_file change live; any other
 * difference (the cluster secret's contents included) is refused with
 * "FILE:LINE: [section] key: ..." naming the first such key.
 * @param changed  if not NULL, gets a JSON array of the live keys that differ
 *                 ("cluster.heartbeat_ms"); the caller owns it
 * @return 0, or -EINVAL with @p err filled.
 */
int herald_config_reload_check(const struct herald_config *old, const struct herald_config *next,
			       json_t **changed, char *err, size_t errlen);

/**
 * [control] socket of @p path even when the file is otherwise invalid, so
 * that heraldctl still reaches the heraldd that runs on the previous version
 * (config reload of a broken file must say why it is refused).
 * @return 0 with @p out filled, or -ENOENT (no such key or file).
 */
int herald_config_control_socket(const char *path, char *out, size_t len);

/** "spin" or "sleep". */
const char *herald_config_idle_name(enum herald_config_idle idle);

#endif /* HERALD_CONFIG_H */
