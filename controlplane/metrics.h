/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file metrics.h
 * heraldd's Prometheus endpoint (text format 0.0.4, GET /metrics), served
 * by libmicrohttpd from the daemon's own poll loop (its epoll fd is one more
 * pollfd), so rendering reads the daemon's state without locks. Metric names
 * come from the X-macro tables of proto.h: `herald_dataplane_<counter>_total`
 * for counters, `herald_dataplane_<counter>` for gauges,
 * `herald_dataplane_drops_total{reason="<drop>"}`, and `herald_daemon_*`.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include <jansson.h>

#include "member.h"

/** Upper bounds (seconds) of the latency histogram buckets; +Inf is implied. */
#define HERALD_HISTOGRAM_BOUNDS {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.0}
#define HERALD_HISTOGRAM_BUCKETS 11

struct herald_histogram {
	uint64_t bucket[HERALD_HISTOGRAM_BUCKETS]; /**< observations <= bound (not cumulative) */
	uint64_t count;
	double sum;
};

void herald_histogram_observe(struct herald_histogram *h, double seconds);

/** What the daemon knows of itself, for the renderer. */
struct herald_daemon_metrics {
	uint32_t node_id;
	uint32_t epoch;
	bool dataplane_up;
	uint64_t redirects, hello_drops, moved;
	uint64_t yielded; /**< contexts given up to a lower node id after a split brain */
	uint32_t table_contexts, local_contexts;
	uint64_t sessions;
	uint32_t members[HERALD_MEMBER_STATE_MAX]; /**< members of the view by state */
	const struct herald_histogram *dp_latency;  /**< dataplane control requests, or NULL */
};

/**
 * The exposition text. @p dp_stats is the dataplane's `stats` reply (its
 * "counters", "drops" and "port"), or NULL when the dataplane did not answer: then
 * only herald_dataplane_up 0 and the daemon's metrics are written.
 * @return a malloc()ed NUL-terminated string, or NULL (out of memory).
 */
char *herald_metrics_render(const json_t *dp_stats, const struct herald_daemon_metrics *dm);

struct herald_metrics;
/** Called per scrape: the text to serve (malloc()ed; the server frees it), or NULL for a 500. */
typedef char *(*herald_metrics_cb)(void *arg);

/** Listen on @p sa. @return the server, or NULL with errno set. */
struct herald_metrics *herald_metrics_start(const struct sockaddr_in *sa, herald_metrics_cb cb, void *arg);
/** The fd to poll for POLLIN. */
int herald_metrics_fd(const struct herald_metrics *m);
/** Serve what is ready; call when the fd is readable and now and then for timeouts. */
void herald_metrics_run(struct herald_metrics *m);
/** Stop and free. Accepts NULL. */
void herald_metrics_stop(struct herald_metrics *m);

#endif /* HERALD_METRICS_H */
