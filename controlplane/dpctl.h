/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file dpctl.h
 * heraldd's side of the dataplane control socket (dataplane/ctl.c): connect,
 * send one request, read one JSON reply line, with a timeout. A dataplane
 * that is not there is not an error heraldd dies of: it reconnects later.
 */
#ifndef HERALD_DPCTL_H
#define HERALD_DPCTL_H

#include <jansson.h>

#include "ctl_msg.h"
#include "metrics.h"

struct herald_dpctl {
	char path[108];
	int fd;        /**< -1 while disconnected */
	char buf[1 << 20];
	size_t len;
	struct herald_histogram *latency; /**< request-to-reply times go here, if set */
};

void herald_dpctl_init(struct herald_dpctl *c, const char *path);
/** Connect if not connected. @return 0 or -errno. */
int herald_dpctl_connect(struct herald_dpctl *c);
void herald_dpctl_close(struct herald_dpctl *c);
/**
 * Send @p req and wait up to @p timeout_ms for the reply.
 * @return the reply object (caller json_decref()s it), with "ok" true; NULL
 *         on a transport error (the connection is closed) or when the
 *         dataplane refused: @p err then holds the reason.
 */
json_t *herald_dpctl_call(struct herald_dpctl *c, const struct herald_ctl_req *req, int timeout_ms,
			  char *err, size_t errlen);

#endif /* HERALD_DPCTL_H */
