/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dpctl.h"

void herald_dpctl_init(struct herald_dpctl *c, const char *path)
{
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->fd = -1;
	c->len = 0;
	c->latency = NULL;
}

void herald_dpctl_close(struct herald_dpctl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

int herald_dpctl_connect(struct herald_dpctl *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (c->fd >= 0)
		return 0;
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		herald_dpctl_close(c);
		return rc;
	}
	c->len = 0;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static json_t *transport_error(struct herald_dpctl *c, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "dataplane %s: %s", c->path, what);
	herald_dpctl_close(c);
	return NULL;
}

json_t *herald_dpctl_call(struct herald_dpctl *c, const struct herald_ctl_req *req, int timeout_ms,
			  char *err, size_t errlen)
{
	char line[HERALD_CTL_LINE_MAX];
	int rc = herald_dpctl_connect(c);
	if (rc < 0) {
		snprintf(err, errlen, "dataplane %s: %s", c->path, strerror(-rc));
		return NULL;
	}
	uint64_t t0 = now_ns();
	int n = herald_ctl_encode(req, line, sizeof(line));
	if (n < 0 || send(c->fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		return transport_error(c, err, errlen, "send failed");
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char *nl;
	while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			return transport_error(c, err, errlen, "no reply in time");
		if (c->len == sizeof(c->buf))
			return transport_error(c, err, errlen, "reply too long");
		ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (k <= 0)
			return transport_error(c, err, errlen, k == 0 ? "closed" : strerror(errno));
		c->len += (size_t)k;
	}
	size_t ll = (size_t)(nl - c->buf);
	json_error_t je;
	json_t *r = json_loadb(c->buf, ll, 0, &je);
	memmove(c->buf, nl + 1, c->len - ll - 1);
	c->len -= ll + 1;
	if (r == NULL)
		return transport_error(c, err, errlen, "reply is not JSON");
	if (c->latency != NULL)
		herald_histogram_observe(c->latency, (double)(now_ns() - t0) / 1e9);
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *e = json_string_value(json_object_get(r, "error"));
		snprintf(err, errlen, "%s", e ? e : "refused");
		json_decref(r);
		return NULL;
	}
	return r;
}
