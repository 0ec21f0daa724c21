/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's defaults: one const instance every entry point starts from. */
#include "dataplane.h"

const struct dp_config dp_config_defaults = {
	.udp_port = HERALD_UDP_PORT_BASE,
	.queues = 1,
	.max_sessions = 16384,
	/* One address may hold a quarter of the table: a NAT'd population needs more. */
	.max_sessions_per_source = 4096,
	.max_contexts = 1024,
	.max_keys = 8192,
	.max_keys_per_context = 1024,
	.history = 1024,
	.max_history_contexts = 8,
	.mbufs = 0, /* derived from max_keys and history unless given */
	.hdr_mbufs = 0, /* derived from the queues unless given */
	.reasm_slots = 64,
	.stats_interval_s = 0,
	.idle = DP_IDLE_SPIN,
	.force_copy = false,
	.publish_window_s = HERALD_PUBLISH_WINDOW_DEFAULT_S,
	.replay_cache = 65536,
	.default_policy = {.kind = DP_POLICY_REPLACE},
	.checkpoint_dir = NULL,
	.idle_unload_s = HERALD_CKPT_IDLE_UNLOAD_S,
	.checkpoint_interval_s = HERALD_CKPT_INTERVAL_S,
	.checkpoint_map_mb = HERALD_CKPT_MAP_MB,
};
