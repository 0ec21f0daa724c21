/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the control protocol (dataplane/ctl_msg.c): one
 * request line as the dataplane's control socket and heraldd's management
 * socket (controlplane/mgmt.c) receive it. An accepted request must have an
 * error-free encoding, and that encoding must parse back to the same
 * request: what heraldd sends is what the dataplane understands. A refused
 * one must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_msg.h"

#include "fuzz.h"

static int same(const struct herald_ctl_req *a, const struct herald_ctl_req *b)
{
	return a->cmd == b->cmd && a->context == b->context && a->queue == b->queue &&
	       strcmp(a->policy, b->policy) == 0 && a->replica == b->replica &&
	       a->has_context == b->has_context && a->session == b->session && a->moved == b->moved &&
	       a->data_len == b->data_len && (a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct herald_ctl_req req, again;
	char err[256];
	static char line[HERALD_CTL_LINE_MAX]; /* 128 KiB */

	memset(err, 0, sizeof(err));
	if (herald_ctl_parse((const char *)data, size, &req, err, sizeof(err)) != 0) {
		check(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		return 0;
	}
	check(req.cmd < HERALD_CTL_CMD_MAX && herald_ctl_cmd_name(req.cmd) != NULL);
	check(memchr(req.policy, '\0', sizeof(req.policy)) != NULL);
	int n = herald_ctl_encode(&req, line, sizeof(line));
	check(n > 0 && (size_t)n < sizeof(line) && line[n - 1] == '\n');
	check(herald_ctl_parse(line, (size_t)n, &again, err, sizeof(err)) == 0);
	check(same(&req, &again));
	/* A put's entries passed the check the dataplane's worker relies on. */
	check(req.cmd != HERALD_CTL_PUT || herald_ctl_put_check(req.data, req.data_len, err, sizeof(err)) > 0);
	herald_ctl_req_release(&req);
	herald_ctl_req_release(&again);
	return 0;
}
