/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mgmt.h
 * heraldd's management socket for heraldctl: a local Unix stream socket,
 * one JSON request per line, one JSON reply per line, like the dataplane's
 * control socket (docs/cli.md lists the commands). The server runs inside
 * heraldd's poll loop (no thread): heraldd hands its pollfds here and gets
 * each checked request back through a handler.
 */
#ifndef HERALD_MGMT_H
#define HERALD_MGMT_H

#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/** Connections served at once; one more is told so and closed. */
#define HERALD_MGMT_CLIENTS 8
/** Longest request line, newline included. */
#define HERALD_MGMT_LINE_MAX 4096

enum herald_mgmt_cmd {
	HERALD_MGMT_STATUS,   /**< the node: id, epoch, dataplane, counters of the daemon */
	HERALD_MGMT_NODES,    /**< the membership view */
	HERALD_MGMT_CONTEXTS, /**< the director's table joined with the local dataplane's contexts */
	HERALD_MGMT_CONTEXT,  /**< one context: where it lives, its policy, keys, sessions */
	HERALD_MGMT_CREATE,   /**< activate a context on this node's dataplane with a policy */
	HERALD_MGMT_EVICT,    /**< deactivate a context on this node's dataplane */
	HERALD_MGMT_STATS,    /**< the dataplane's counters and drops, and the daemon's */
	HERALD_MGMT_CONFIG,   /**< the configuration heraldd runs with */
	HERALD_MGMT_LOCATE,   /**< where a client reaches a context (address, port) */
	HERALD_MGMT_SET_POLICY, /**< change a live context's policy on this node's dataplane */
	HERALD_MGMT_SESSIONS, /**< sessions on this node's dataplane (all, or one context's) */
	HERALD_MGMT_SESSION,  /**< one session */
	HERALD_MGMT_KICK,     /**< close one session (its client gets BYE) */
	HERALD_MGMT_DRAIN,    /**< move every context off this node and place none here (undo: stop) */
	HERALD_MGMT_RELOAD,   /**< re-read the config file; apply it whole or refuse it whole */
	HERALD_MGMT_CMD_MAX
};

struct herald_mgmt_req {
	enum herald_mgmt_cmd cmd;
	uint32_t context; /**< context, create, evict, locate, set_policy; clients: a filter */
	bool has_context;
	char policy[32];  /**< create; "" = the dataplane's policy for the id; set_policy */
	uint32_t session; /**< client, kick: the id on the wire */
	uint32_t node;    /**< drain */
	bool undo;        /**< drain: stop draining */
};

/** Command name ("contexts"), or NULL. */
const char *herald_mgmt_cmd_name(enum herald_mgmt_cmd c);

/**
 * Parse one request line. Unknown commands and fields, missing or
 * out-of-range values are refused with a one-line reason in @p err.
 * @return 0 or -EINVAL.
 */
int herald_mgmt_parse(const char *line, size_t len, struct herald_mgmt_req *out, char *err,
		      size_t errlen);

/** Handler: the reply object for a checked request (the server frees it). */
typedef json_t *(*herald_mgmt_handler)(const struct herald_mgmt_req *req, void *arg);

/** Bytes of the remote endpoint's key and of each connection's challenge. */
#define HERALD_MGMT_KEY_LEN 32
/** pollfds herald_mgmt_pollfds() fills at most: two listeners and the connections. */
#define HERALD_MGMT_POLLFDS (HERALD_MGMT_CLIENTS + 2)

struct herald_mgmt {
	int listen_fd; /* the Unix socket */
	int tcp_fd;    /* the remote endpoint, -1 = none */
	char path[108];
	uint8_t key[HERALD_MGMT_KEY_LEN];
	struct {
		int fd;
		bool authed; /* Unix connections are; TCP ones once they answered the challenge */
		uint8_t nonce[HERALD_MGMT_KEY_LEN];
		size_t len;
		char buf[HERALD_MGMT_LINE_MAX];
	} c[HERALD_MGMT_CLIENTS];
};

/**
 * Listen on @p path (a stale socket file is replaced; mode 0660).
 * @return 0 or -errno.
 */
int herald_mgmt_open(struct herald_mgmt *m, const char *path);
/**
 * Also listen on TCP @p addr for remote heraldctl. A connection is sent
 * {"challenge":HEX} (32 random bytes) and must answer {"auth":HEX}, the
 * HMAC-SHA-256 of those bytes under @p key, before any request; a wrong or
 * missing answer is refused and the connection closed. This proves the key,
 * it does not encrypt: use it on a management network or through a tunnel.
 * @return 0 or -errno.
 */
int herald_mgmt_open_remote(struct herald_mgmt *m, const struct sockaddr_in *addr,
			    const uint8_t key[HERALD_MGMT_KEY_LEN]);
/** Fill up to HERALD_MGMT_POLLFDS pollfds. @return how many. */
unsigned herald_mgmt_pollfds(const struct herald_mgmt *m, struct pollfd *p);
/** Accept, read and answer what @p p (from herald_mgmt_pollfds) says is ready. */
void herald_mgmt_service(struct herald_mgmt *m, const struct pollfd *p, unsigned n,
			 herald_mgmt_handler h, void *arg);
/** Close every connection and remove the socket file. Accepts a closed server. */
void herald_mgmt_close(struct herald_mgmt *m);

/** {"ok":false,"error":TEXT}. */
json_t *herald_mgmt_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* HERALD_MGMT_H */
