/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition of a node. The help text of every
 * dataplane metric is the X-macro table's, so `# HELP` says the same as
 * docs/protocol.md and `heraldctl stats`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include <herald/proto.h>

#include "metrics.h"

static const char *const counter_help[HERALD_CTR_MAX] = {
#define HERALD_X_HELP(name, help) help,
	HERALD_COUNTERS(HERALD_X_HELP)
#undef HERALD_X_HELP
};

static const char *const port_help[HERALD_PORT_STAT_MAX] = {
#define HERALD_X_HELP(name, help) help,
	HERALD_PORT_STATS(HERALD_X_HELP)
#undef HERALD_X_HELP
};

static const double bounds[HERALD_HISTOGRAM_BUCKETS] = HERALD_HISTOGRAM_BOUNDS;

void herald_histogram_observe(struct herald_histogram *h, double seconds)
{
	for (int i = 0; i < HERALD_HISTOGRAM_BUCKETS; i++)
		if (seconds <= bounds[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, unsigned long long v)
{
	family(f, name, type, help);
	fprintf(f, "%s %llu\n", name, v);
}

static void dataplane(FILE *f, const json_t *stats)
{
	const json_t *ctrs = json_object_get(stats, "counters"), *drops = json_object_get(stats, "drops");
	char name[96];

	for (int c = 0; c < HERALD_CTR_MAX; c++) {
		const char *n = herald_counter_name(c);
		bool gauge = strstr(counter_help[c], "(gauge)") != NULL;
		snprintf(name, sizeof(name), "herald_dataplane_%s%s", n, gauge ? "" : "_total");
		one(f, name, gauge ? "gauge" : "counter", counter_help[c],
		    (unsigned long long)json_integer_value(json_object_get(ctrs, n)));
	}
	family(f, "herald_dataplane_drops_total", "counter",
	       "frames dropped by the dataplane, by reason (proto.h HERALD_DROP_REASONS)");
	for (int r = 1; r < HERALD_DROP_MAX; r++)
		fprintf(f, "herald_dataplane_drops_total{reason=\"%s\"} %llu\n", herald_drop_name(r),
			(unsigned long long)json_integer_value(json_object_get(drops, herald_drop_name(r))));
	const json_t *port = json_object_get(stats, "port");
	for (int s = 0; port != NULL && s < HERALD_PORT_STAT_MAX; s++) {
		snprintf(name, sizeof(name), "herald_dataplane_port_%s_total", herald_port_stat_name(s));
		one(f, name, "counter", port_help[s],
		    (unsigned long long)json_integer_value(json_object_get(port, herald_port_stat_name(s))));
	}
}

static void histogram(FILE *f, const char *name, const char *help, const struct herald_histogram *h)
{
	uint64_t cum = 0;
	family(f, name, "histogram", help);
	for (int i = 0; i < HERALD_HISTOGRAM_BUCKETS; i++) {
		cum += h->bucket[i];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name,
		(unsigned long long)h->count, name, h->sum, name, (unsigned long long)h->count);
}

char *herald_metrics_render(const json_t *dp_stats, const struct herald_daemon_metrics *dm)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL)
		return NULL;

	one(f, "herald_dataplane_up", "gauge", "1 if the dataplane answered this scrape's stats request",
	    dp_stats != NULL);
	if (dp_stats != NULL)
		dataplane(f, dp_stats);
	family(f, "herald_daemon_info", "gauge", "heraldd's node id (always 1)");
	fprintf(f, "herald_daemon_info{node=\"%u\"} 1\n", dm->node_id);
	one(f, "herald_daemon_view_epoch", "gauge", "epoch of the membership view", dm->epoch);
	one(f, "herald_daemon_dataplane_connected", "gauge", "1 while heraldd is connected to its dataplane",
	    dm->dataplane_up);
	one(f, "herald_daemon_redirects_total", "counter", "HELLOs answered with a REDIRECT from userspace",
	    dm->redirects);
	one(f, "herald_daemon_hello_drops_total", "counter",
	    "HELLOs dropped by heraldd: malformed, or no node to place the context on", dm->hello_drops);
	one(f, "herald_daemon_contexts_moved_total", "counter", "contexts moved by failover",
	    dm->moved);
	one(f, "herald_daemon_contexts_yielded_total", "counter",
	    "contexts given up to a lower node id when two live nodes claimed them (split brain healed)",
	    dm->yielded);
	one(f, "herald_daemon_table_contexts", "gauge", "contexts in the director's table (all nodes)",
	    dm->table_contexts);
	one(f, "herald_daemon_local_contexts", "gauge", "contexts this node's dataplane hosts",
	    dm->local_contexts);
	one(f, "herald_daemon_sessions", "gauge", "sessions on this node's dataplane", dm->sessions);
	family(f, "herald_daemon_members", "gauge", "members of the view by state (this node included)");
	for (int s = 0; s < HERALD_MEMBER_STATE_MAX; s++)
		fprintf(f, "herald_daemon_members{state=\"%s\"} %u\n", herald_member_state_name(s),
			dm->members[s]);
	if (dm->dp_latency != NULL)
		histogram(f, "herald_daemon_dataplane_request_seconds",
			  "time from a control request to the dataplane's reply", dm->dp_latency);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

struct herald_metrics {
	struct MHD_Daemon *mhd;
	herald_metrics_cb cb;
	void *arg;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **req_cls)
{
	struct herald_metrics *m = cls;
	struct MHD_Response *r;
	unsigned code = MHD_HTTP_OK;
	char *body = NULL;
	static const char not_found[] = "herald: only GET /metrics is served\n";
	(void)version;
	(void)upload;
	(void)req_cls;

	if (*upload_size != 0)
		return MHD_NO;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics") != 0) {
		code = MHD_HTTP_NOT_FOUND;
	} else if ((body = m->cb(m->arg)) == NULL) {
		code = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	if (body != NULL)
		r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1, (void *)not_found,
						    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", body != NULL ? "text/plain; version=0.0.4; charset=utf-8"
								: "text/plain; charset=utf-8");
	enum MHD_Result rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

struct herald_metrics *herald_metrics_start(const struct sockaddr_in *sa, herald_metrics_cb cb, void *arg)
{
	struct herald_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->cb = cb;
	m->arg = arg;
	/* No thread of its own: epoll, run from heraldd's loop, a few slow scrapers at most. */
	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, ntohs(sa->sin_port), NULL, NULL,
				  answer, m, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
				  MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 5u,
				  MHD_OPTION_END);
	if (m->mhd == NULL) {
		free(m);
		errno = errno ? errno : EADDRINUSE;
		return NULL;
	}
	return m;
}

int herald_metrics_fd(const struct herald_metrics *m)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return i != NULL ? i->epoll_fd : -1;
}

void herald_metrics_run(struct herald_metrics *m)
{
	MHD_run(m->mhd);
}

void herald_metrics_stop(struct herald_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}
