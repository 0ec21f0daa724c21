/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the integration checkers (herald-fanout-check,
 * herald-conflation-check): clock, option parsing, descriptor limit, one
 * round of a poll loop over many libherald clients in one thread, and the
 * same over an epoll set for checkers with hundreds of clients.
 */
#ifndef HERALD_CHECK_UTIL_H
#define HERALD_CHECK_UTIL_H

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/epoll.h>
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

/*
 * Many clients in one thread without an O(clients) cost per round: epoll
 * reports the readable sockets, and every client's timers (heartbeats,
 * retransmits, NAKs) are looked at when the nearest is due, and at least
 * every CHECK_TIMER_SCAN_MS for a timer armed meanwhile; with at most
 * CHECK_TIMER_EVERY_ROUND clients, after every round (as clients_pump). The loop
 * also measures itself: the longest time it spent away from epoll_wait (a
 * round's work plus whatever the caller did between rounds), during which
 * nothing was read from any socket.
 */
#define CHECK_TIMER_SCAN_MS 10
#define CHECK_TIMER_EVERY_ROUND 256
#define CHECK_EVENTS 1024

struct check_loop {
	int epfd;
	unsigned n;
	struct herald_client *cl[CHECK_CLIENTS_MAX];
	uint64_t timers_due_ns;  /* next look at every client's timers */
	uint64_t left_wait_ns;   /* when the last epoll_wait returned; 0 before the first */
	uint64_t max_away_ns;    /* longest time between epoll_wait returning and the next call */
	uint64_t rounds;
};

/* @return 0, or a negative errno from epoll_create1. */
static inline int check_loop_init(struct check_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

/* Add @p c (at most CHECK_CLIENTS_MAX). @return 0 or a negative errno. */
static inline int check_loop_add(struct check_loop *l, struct herald_client *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = l->n};

	if (l->n == CHECK_CLIENTS_MAX)
		return -ENOSPC;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, herald_client_fd(c), &ev) < 0)
		return -errno;
	l->cl[l->n++] = c;
	return 0;
}

/* Close every client and the epoll set. */
static inline void check_loop_close(struct check_loop *l)
{
	for (unsigned i = 0; i < l->n; i++)
		herald_client_close(l->cl[i]);
	l->n = 0;
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static inline int check_loop_poll_one(struct check_loop *l, unsigned i)
{
	int r = herald_client_poll(l->cl[i], 0);

	if (r < 0)
		fprintf(stderr, "client %u: %s\n", i, strerror(-r));
	return r < 0 ? r : 0;
}

/*
 * One round: wait up to @p max_wait_ms (less if timers are due) for readable
 * sockets, let each readable client receive and dispatch, then, when due,
 * every client whose timer is due do its work.
 * @return 0, or a negative errno from epoll or a client.
 */
static inline int check_loop_pump(struct check_loop *l, int max_wait_ms)
{
	static struct epoll_event ev[CHECK_EVENTS];
	uint64_t t = now_ns();
	int wait = max_wait_ms, n;

	if (l->left_wait_ns && t - l->left_wait_ns > l->max_away_ns)
		l->max_away_ns = t - l->left_wait_ns;
	if (l->timers_due_ns <= t)
		wait = 0;
	else if ((l->timers_due_ns - t) / 1000000ull < (uint64_t)wait)
		wait = (int)((l->timers_due_ns - t + 999999ull) / 1000000ull);
	n = epoll_wait(l->epfd, ev, CHECK_EVENTS, wait);
	l->left_wait_ns = now_ns();
	l->rounds++;
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++)
		if (check_loop_poll_one(l, ev[i].data.u32) < 0)
			return -EIO;
	t = now_ns();
	if (t >= l->timers_due_ns || l->n <= CHECK_TIMER_EVERY_ROUND) {
		int next = CHECK_TIMER_SCAN_MS;

		for (unsigned i = 0; i < l->n; i++) {
			int due = herald_client_next_timer_ms(l->cl[i]);

			if (due == 0) {
				if (check_loop_poll_one(l, i) < 0)
					return -EIO;
				due = herald_client_next_timer_ms(l->cl[i]);
			}
			if (due >= 0 && due < next)
				next = due;
		}
		/* A timer still due after its poll: look again in a millisecond, not now. */
		if (next < 1)
			next = 1;
		l->timers_due_ns = t + (uint64_t)next * 1000000ull;
	}
	return 0;
}

#endif /* HERALD_CHECK_UTIL_H */
