/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the integration checkers (herald-fanout-check,
 * herald-conflation-check): clock, option parsing, descriptor limit and one
 * round of a poll loop over many libherald clients in one thread.
 */
#ifndef HERALD_CHECK_UTIL_H
#define HERALD_CHECK_UTIL_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <herald/client.h>

/* Clients one checker polls at most. */
#define CHECK_CLIENTS_MAX 1200

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A decimal (or 0x hex) integer in [min, max], nothing after it. */
static inline int parse_uint(const char *s, unsigned long min, unsigned long max,
			     unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 0);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

/* One socket per client: make room for them. */
static inline void raise_nofile(unsigned need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * One round of the event loop: wait on every client's socket (bounded by
 * the nearest client timer and @p max_wait_ms), then let each client that is
 * readable or due do its work. @p n is at most CHECK_CLIENTS_MAX.
 * @return 0, or a negative errno from poll() or a client.
 */
static inline int clients_pump(struct herald_client *const *cl, unsigned n, int max_wait_ms)
{
	static struct pollfd pfd[CHECK_CLIENTS_MAX];
	int wait = max_wait_ms;

	for (unsigned i = 0; i < n; i++) {
		int t = herald_client_next_timer_ms(cl[i]);

		pfd[i].fd = herald_client_fd(cl[i]);
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
		if (t >= 0 && t < wait)
			wait = t;
	}
	if (poll(pfd, n, wait) < 0 && errno != EINTR)
		return -errno;
	for (unsigned i = 0; i < n; i++) {
		if ((pfd[i].revents & POLLIN) || herald_client_next_timer_ms(cl[i]) == 0) {
			int r = herald_client_poll(cl[i], 0);

			if (r < 0) {
				fprintf(stderr, "client %u: %s\n", i, strerror(-r));
				return r;
			}
		}
	}
	return 0;
}

#endif /* HERALD_CHECK_UTIL_H */
