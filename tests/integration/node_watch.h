/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What herald-conflation-check watches besides its clients, sampled once a
 * second: the node (VmRSS from /proc, mbufs_in_use, deliveries and every
 * error and drop counter from its DPDK telemetry socket, the port's own
 * error counters) and the checker itself (datagrams the kernel dropped
 * because the checker's sockets were full, drops on its namespace's
 * interfaces). The checker's own figures say when IT fell behind, so a
 * failure of the measurement is never reported as a failure of the node.
 */
#ifndef HERALD_NODE_WATCH_H
#define HERALD_NODE_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Error and drop counters watched at most (node counters + drops + port). */
#define WATCH_ERRORS_MAX 64

/* Every field is -1 when it could not be read. */
struct watch_sample {
	double t;               /* seconds since publishing began */
	long rss_kb;            /* node VmRSS */
	long mbufs;             /* node mbufs_in_use */
	long deliveries;        /* node deliveries (per recipient) */
	long publishes;         /* node publishes applied */
	long node_errors;       /* sum of every watched error/drop counter of the node */
	long stalls;            /* node worker_stalls: its lcore was not scheduled for 1 s */
	long rcvbuf_errors;     /* checker: UDP RcvbufErrors in its namespace */
	long path_drops;        /* checker: rx/tx drops and errors on its namespace's interfaces */
	long client_deltas;     /* checker: deltas its subscribers received */
	long published;         /* checker: updates it published */
	long behind;            /* checker: updates the publisher was behind its schedule */
	long errors[WATCH_ERRORS_MAX]; /* each watched counter, in watch_error_name() order */
};

/*
 * Start watching the node with process id @p dp_pid (0: no VmRSS) and
 * telemetry socket @p telemetry (NULL: no counters).
 * @return 0, or -1 if the telemetry socket could not be opened (printed).
 */
int watch_open(pid_t dp_pid, const char *telemetry);
void watch_close(void);

/* Fill every node and namespace field of @p s (not t, client_deltas, published, behind). */
void watch_read(struct watch_sample *s);

/* Watched error/drop counters, and the name of the i-th. */
unsigned watch_error_count(void);
const char *watch_error_name(unsigned i);

/*
 * Print the counters that rose from @p from to @p to, one line each, with
 * @p prefix; skip those @p ignore says are not errors here.
 * @return how many rose.
 */
unsigned watch_errors_risen(const struct watch_sample *from, const struct watch_sample *to,
			    const char *prefix, bool (*ignore)(const char *name));

/* Print the watched counters that could not be read (-1 in @p s), if any. */
void watch_unread_print(const struct watch_sample *s);

/* Print the samples as a table, at most @p max_rows rows (evenly spaced). */
void watch_print(const struct watch_sample *s, unsigned n, unsigned max_rows);

/*
 * Flat memory: over the samples after the first @p warmup_s seconds, the
 * median of the last third exceeds the median of the first third by at most
 * @p slack_kb (VmRSS) and @p slack_mbufs (mbufs_in_use). Prints both.
 * @return true if flat (or not sampled), false if it grew or too few samples.
 */
bool watch_mem_flat(const struct watch_sample *s, unsigned n, double warmup_s,
		    long slack_kb, long slack_mbufs);

#endif /* HERALD_NODE_WATCH_H */
