/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * heraldd's management socket. It is served from the daemon's own poll
 * loop, so handlers see the daemon's state without locks; a reply is sent
 * with a short send timeout so a heraldctl that stops reading cannot stall
 * heartbeats for long.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl_msg.h"
#include "mgmt.h"

#define A_CONTEXT 1u
#define A_POLICY 2u
#define A_SESSION 4u
#define A_NODE 8u
#define A_UNDO 16u

static const struct {
	const char *name;
	unsigned args, needs;
} cmds[HERALD_MGMT_CMD_MAX] = {
	[HERALD_MGMT_STATUS] = {"status", 0, 0},
	[HERALD_MGMT_NODES] = {"nodes", 0, 0},
	[HERALD_MGMT_CONTEXTS] = {"contexts", 0, 0},
	[HERALD_MGMT_CONTEXT] = {"context", A_CONTEXT, A_CONTEXT},
	[HERALD_MGMT_CREATE] = {"create", A_CONTEXT | A_POLICY, A_CONTEXT},
	[HERALD_MGMT_EVICT] = {"evict", A_CONTEXT, A_CONTEXT},
	[HERALD_MGMT_STATS] = {"stats", 0, 0},
	[HERALD_MGMT_CONFIG] = {"config", 0, 0},
	[HERALD_MGMT_LOCATE] = {"locate", A_CONTEXT, A_CONTEXT},
	[HERALD_MGMT_SET_POLICY] = {"set_policy", A_CONTEXT | A_POLICY, A_CONTEXT | A_POLICY},
	[HERALD_MGMT_SESSIONS] = {"clients", A_CONTEXT, 0},
	[HERALD_MGMT_SESSION] = {"client", A_SESSION, A_SESSION},
	[HERALD_MGMT_KICK] = {"kick", A_SESSION, A_SESSION},
	[HERALD_MGMT_DRAIN] = {"drain", A_NODE | A_UNDO, A_NODE},
	[HERALD_MGMT_RELOAD] = {"reload", 0, 0},
};

const char *herald_mgmt_cmd_name(enum herald_mgmt_cmd c)
{
	return (unsigned)c < HERALD_MGMT_CMD_MAX ? cmds[c].name : NULL;
}

json_t *herald_mgmt_error(const char *fmt, ...)
{
	char text[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return json_pack("{sbss}", "ok", 0, "error", text);
}

static int refuse(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fields(json_t *o, struct herald_mgmt_req *out, char *err, size_t errlen)
{
	const char *name;
	json_t *v;
	unsigned seen = 0, allowed = cmds[out->cmd].args;

	json_object_foreach(o, name, v) {
		if (strcmp(name, "cmd") == 0)
			continue;
		static const struct {
			const char *name;
			unsigned bit;
			size_t off;
		} ints[] = {
			{"context", A_CONTEXT, offsetof(struct herald_mgmt_req, context)},
			{"session", A_SESSION, offsetof(struct herald_mgmt_req, session)},
			{"node", A_NODE, offsetof(struct herald_mgmt_req, node)},
		};
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
			if (strcmp(name, ints[k].name) == 0 && (allowed & ints[k].bit)) {
				json_int_t i = json_integer_value(v);
				if (!json_is_integer(v) || i < 0 || i > UINT32_MAX)
					return refuse(err, errlen, "\"%s\" must be an integer in 0..%u", name, UINT32_MAX);
				*(uint32_t *)((char *)out + ints[k].off) = (uint32_t)i;
				seen |= bit = ints[k].bit;
			}
		if (bit != 0) {
			out->has_context |= bit == A_CONTEXT;
		} else if (strcmp(name, "undo") == 0 && (allowed & A_UNDO)) {
			if (!json_is_boolean(v))
				return refuse(err, errlen, "\"undo\" must be true or false");
			out->undo = json_is_true(v);
		} else if (strcmp(name, "policy") == 0 && (allowed & A_POLICY)) {
			if (!json_is_string(v) || json_string_length(v) >= sizeof(out->policy))
				return refuse(err, errlen, "\"policy\" must be a string of at most %zu characters",
					      sizeof(out->policy) - 1);
			memcpy(out->policy, json_string_value(v), json_string_length(v) + 1);
			seen |= A_POLICY;
		} else {
			return refuse(err, errlen, "%s takes no field \"%s\"", cmds[out->cmd].name, name);
		}
	}
	static const char *const names[] = {"context", "policy", "session", "node"};
	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if ((cmds[out->cmd].needs & (1u << k)) && !(seen & (1u << k)))
			return refuse(err, errlen, "%s needs \"%s\"", cmds[out->cmd].name, names[k]);
	return 0;
}

int herald_mgmt_parse(const char *line, size_t len, struct herald_mgmt_req *out, char *err,
		      size_t errlen)
{
	json_error_t je;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len >= HERALD_MGMT_LINE_MAX)
		return refuse(err, errlen, "request longer than %d bytes", HERALD_MGMT_LINE_MAX - 1);
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL)
		return refuse(err, errlen, "not a JSON object: %s", je.text);
	const char *cmd = json_string_value(json_object_get(o, "cmd"));
	if (cmd == NULL) {
		refuse(err, errlen, "request needs \"cmd\" (a string)");
		goto out;
	}
	out->cmd = HERALD_MGMT_CMD_MAX;
	for (int i = 0; i < HERALD_MGMT_CMD_MAX; i++)
		if (strcmp(cmd, cmds[i].name) == 0)
			out->cmd = (enum herald_mgmt_cmd)i;
	if (out->cmd == HERALD_MGMT_CMD_MAX) {
		refuse(err, errlen, "unknown command \"%.32s\"", cmd);
		goto out;
	}
	rc = fields(o, out, err, errlen);
out:
	json_decref(o);
	return rc;
}

int herald_mgmt_open(struct herald_mgmt *m, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	m->listen_fd = m->tcp_fd = -1;
	for (int i = 0; i < HERALD_MGMT_CLIENTS; i++)
		m->c[i].fd = -1;
	size_t n = strlen(path);
	if (n >= sizeof(sa.sun_path) || n >= sizeof(m->path))
		return -ENAMETOOLONG;
	memcpy(m->path, path, n + 1);
	memcpy(sa.sun_path, path, n + 1);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->listen_fd < 0)
		return -errno;
	unlink(path); /* left by a heraldd that was killed */
	if (bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(m->listen_fd, HERALD_MGMT_CLIENTS) < 0) {
		int rc = -errno;
		close(m->listen_fd);
		m->listen_fd = -1;
		return rc;
	}
	return 0;
}

int herald_mgmt_open_remote(struct herald_mgmt *m, const struct sockaddr_in *addr,
			    const uint8_t key[HERALD_MGMT_KEY_LEN])
{
	int one = 1;
	if (sodium_init() < 0)
		return -EIO;
	memcpy(m->key, key, sizeof(m->key));
	m->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (m->tcp_fd < 0)
		return -errno;
	setsockopt(m->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->tcp_fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ||
	    listen(m->tcp_fd, HERALD_MGMT_CLIENTS) < 0) {
		int rc = -errno;
		close(m->tcp_fd);
		m->tcp_fd = -1;
		return rc;
	}
	return 0;
}

unsigned herald_mgmt_pollfds(const struct herald_mgmt *m, struct pollfd *p)
{
	if (m->listen_fd < 0)
		return 0;
	p[0] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = m->tcp_fd, .events = POLLIN}; /* poll skips -1 */
	for (int i = 0; i < HERALD_MGMT_CLIENTS; i++)
		p[i + 2] = (struct pollfd){.fd = m->c[i].fd, .events = POLLIN};
	return HERALD_MGMT_POLLFDS;
}

/* A remote connection's first line: {"auth":HEX}, the HMAC of its challenge. */
static json_t *auth_check(struct herald_mgmt *m, int i, const char *line, size_t len)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	json_t *o = json_loadb(line, len, 0, NULL);
	const char *hex = json_string_value(json_object_get(o, "auth"));
	size_t n = 0;
	bool ok = hex != NULL && sodium_hex2bin(mac, sizeof(mac), hex, strlen(hex), NULL, &n, NULL) == 0 &&
		  n == sizeof(mac) && crypto_auth_hmacsha256_verify(mac, m->c[i].nonce, sizeof(m->c[i].nonce), m->key) == 0;
	json_decref(o);
	if (!ok)
		return NULL;
	m->c[i].authed = true;
	return json_pack("{sbsb}", "ok", 1, "authenticated", 1);
}

static void conn_close(struct herald_mgmt *m, int i)
{
	close(m->c[i].fd);
	m->c[i].fd = -1;
}

static void challenge_send(struct herald_mgmt *m, int i)
{
	char hex[2 * HERALD_MGMT_KEY_LEN + 1];
	randombytes_buf(m->c[i].nonce, sizeof(m->c[i].nonce));
	sodium_bin2hex(hex, sizeof(hex), m->c[i].nonce, sizeof(m->c[i].nonce));
	if (herald_ctl_reply_send(m->c[i].fd, json_pack("{ss}", "challenge", hex)) < 0)
		conn_close(m, i);
}

static void conn_rx(struct herald_mgmt *m, int i, herald_mgmt_handler h, void *arg)
{
	struct herald_mgmt_req req;
	char err[256];
	ssize_t k = recv(m->c[i].fd, m->c[i].buf + m->c[i].len, sizeof(m->c[i].buf) - m->c[i].len,
			 MSG_DONTWAIT);
	if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) {
		conn_close(m, i);
		return;
	}
	if (k < 0)
		return;
	m->c[i].len += (size_t)k;
	char *nl;
	while ((nl = memchr(m->c[i].buf, '\n', m->c[i].len)) != NULL) {
		size_t ll = (size_t)(nl - m->c[i].buf);
		json_t *r;
		if (!m->c[i].authed) {
			if ((r = auth_check(m, i, m->c[i].buf, ll)) == NULL) {
				herald_ctl_reply_send(m->c[i].fd, herald_mgmt_error(
					"authentication failed: expected {\"auth\":HEX}, the HMAC-SHA-256 of the challenge "
					"under the [control] remote_key_file key"));
				conn_close(m, i);
				return;
			}
		} else {
			r = herald_mgmt_parse(m->c[i].buf, ll, &req, err, sizeof(err)) < 0 ? herald_mgmt_error("%s", err)
											  : h(&req, arg);
		}
		if (r == NULL)
			r = herald_mgmt_error("out of memory");
		if (herald_ctl_reply_send(m->c[i].fd, r) < 0) {
			conn_close(m, i);
			return;
		}
		memmove(m->c[i].buf, nl + 1, m->c[i].len - ll - 1);
		m->c[i].len -= ll + 1;
	}
	if (m->c[i].len == sizeof(m->c[i].buf)) {
		herald_ctl_reply_send(m->c[i].fd, herald_mgmt_error("request longer than %d bytes", HERALD_MGMT_LINE_MAX - 1));
		conn_close(m, i);
	}
}

void herald_mgmt_service(struct herald_mgmt *m, const struct pollfd *p, unsigned n,
			 herald_mgmt_handler h, void *arg)
{
	if (m->listen_fd < 0 || n < HERALD_MGMT_POLLFDS)
		return;
	for (int l = 0; l < 2; l++) {
		if (!(p[l].revents & POLLIN))
			continue;
		int fd = accept4(l ? m->tcp_fd : m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		int slot = -1;
		for (int i = 0; i < HERALD_MGMT_CLIENTS && fd >= 0 && slot < 0; i++)
			if (m->c[i].fd < 0)
				slot = i;
		if (fd >= 0) {
			struct timeval tv = {.tv_sec = 1};
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (fd >= 0 && slot < 0) {
			herald_ctl_reply_send(fd, herald_mgmt_error("too many connections (%d)", HERALD_MGMT_CLIENTS));
			close(fd);
		} else if (fd >= 0) {
			m->c[slot].fd = fd;
			m->c[slot].len = 0;
			m->c[slot].authed = l == 0;
			if (l == 1)
				challenge_send(m, slot);
		}
	}
	for (int i = 0; i < HERALD_MGMT_CLIENTS; i++)
		if (m->c[i].fd >= 0 && p[i + 2].fd == m->c[i].fd &&
		    (p[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
			conn_rx(m, i, h, arg);
}

void herald_mgmt_close(struct herald_mgmt *m)
{
	for (int i = 0; i < HERALD_MGMT_CLIENTS; i++)
		if (m->c[i].fd >= 0)
			conn_close(m, i);
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		m->listen_fd = -1;
		unlink(m->path);
	}
	if (m->tcp_fd >= 0) {
		close(m->tcp_fd);
		m->tcp_fd = -1;
	}
	sodium_memzero(m->key, sizeof(m->key));
}
