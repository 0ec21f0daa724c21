/* SPDX-License-Identifier: BSD-3-Clause */
/* Control requests: one JSON object per line, every field checked. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <herald/proto.h>

#include "ctl_msg.h"

static const char *const cmd_names[HERALD_CTL_CMD_MAX] = {
	[HERALD_CTL_PING] = "ping",
	[HERALD_CTL_ACTIVATE] = "activate",
	[HERALD_CTL_DEACTIVATE] = "deactivate",
	[HERALD_CTL_CONTEXTS] = "contexts",
	[HERALD_CTL_STATS] = "stats",
	[HERALD_CTL_PUT] = "put",
	[HERALD_CTL_SET_POLICY] = "set_policy",
	[HERALD_CTL_SESSIONS] = "sessions",
	[HERALD_CTL_KICK] = "kick",
};

/* Fields each command takes besides "cmd"; the F_NEED_ ones it requires. */
#define F_CONTEXT 1u
#define F_POLICY 2u
#define F_QUEUE 4u
#define F_REPLICA 8u
#define F_DATA 16u
#define F_SESSION 32u
#define F_MOVED 64u
#define F_NEED_CONTEXT 128u
#define F_NEED_POLICY 256u
#define F_NEED_SESSION 512u
static const unsigned cmd_fields[HERALD_CTL_CMD_MAX] = {
	[HERALD_CTL_ACTIVATE] = F_CONTEXT | F_NEED_CONTEXT | F_POLICY | F_QUEUE | F_REPLICA,
	[HERALD_CTL_DEACTIVATE] = F_CONTEXT | F_NEED_CONTEXT | F_QUEUE | F_MOVED,
	[HERALD_CTL_PUT] = F_QUEUE | F_DATA,
	[HERALD_CTL_SET_POLICY] = F_CONTEXT | F_NEED_CONTEXT | F_POLICY | F_NEED_POLICY | F_QUEUE,
	[HERALD_CTL_SESSIONS] = F_CONTEXT,
	[HERALD_CTL_KICK] = F_SESSION | F_NEED_SESSION,
};

const char *herald_ctl_cmd_name(enum herald_ctl_cmd c)
{
	return (unsigned)c < HERALD_CTL_CMD_MAX ? cmd_names[c] : NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int get_uint(json_t *v, const char *name, uint64_t max, uint64_t *out, char *err,
		    size_t errlen)
{
	if (!json_is_integer(v))
		return fail(err, errlen, "\"%s\" must be an integer", name);
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return fail(err, errlen, "\"%s\" must be in 0..%llu, got %lld", name,
			    (unsigned long long)max, (long long)i);
	*out = (uint64_t)i;
	return 0;
}

void herald_ctl_req_release(struct herald_ctl_req *req)
{
	free(req->data);
	req->data = NULL;
	req->data_len = 0;
}

static uint32_t be_get(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int herald_ctl_put_check(const uint8_t *data, size_t len, char *err, size_t errlen)
{
	int n = 0;
	for (size_t off = 0; off < len; n++) {
		if (len - off < HERALD_CTL_PUT_ENTRY_HDR + 2)
			return fail(err, errlen, "put: entry %d truncated", n);
		uint32_t ml = be_get(data + off + 4, 2), kl = be_get(data + off + HERALD_CTL_PUT_ENTRY_HDR, 2);
		if (ml > len - off - HERALD_CTL_PUT_ENTRY_HDR)
			return fail(err, errlen, "put: entry %d is %u bytes, %zu left", n, ml,
				    len - off - HERALD_CTL_PUT_ENTRY_HDR);
		if (kl == 0 || kl > HERALD_KEY_MAX || 2 + kl > ml || ml - 2 - kl > HERALD_VALUE_MAX)
			return fail(err, errlen, "put: entry %d: key of %u bytes in %u (key 1..%d, value up to %d bytes)",
				    n, kl, ml, HERALD_KEY_MAX, HERALD_VALUE_MAX);
		off += HERALD_CTL_PUT_ENTRY_HDR + ml;
	}
	return n;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "data": lower-case hex of the put entries. */
static int parse_data(json_t *v, struct herald_ctl_req *out, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, "\"data\" must be a string of hex digits");
	const char *h = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n % 2 || n / 2 > HERALD_CTL_PUT_MAX)
		return fail(err, errlen, "\"data\" must be 2..%d hex digits, even, got %zu",
			    2 * HERALD_CTL_PUT_MAX, n);
	free(out->data);
	if ((out->data = malloc(n / 2)) == NULL)
		return fail(err, errlen, "out of memory");
	out->data_len = (uint32_t)(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(err, errlen, "\"data\": not a lower-case hex digit at %zu", 2 * i);
		out->data[i] = (uint8_t)(hi << 4 | lo);
	}
	return herald_ctl_put_check(out->data, out->data_len, err, errlen) < 0 ? -EINVAL : 0;
}

static int parse_fields(json_t *o, unsigned allowed, struct herald_ctl_req *out, char *err,
			size_t errlen)
{
	const char *name;
	json_t *v;
	uint64_t u;
	bool have_context = false, have_session = false;

	json_object_foreach(o, name, v) {
		if (strcmp(name, "cmd") == 0)
			continue;
		if (strcmp(name, "context") == 0 && (allowed & F_CONTEXT)) {
			if (get_uint(v, name, UINT32_MAX, &u, err, errlen) < 0)
				return -EINVAL;
			out->context = (uint32_t)u;
			out->has_context = have_context = true;
		} else if (strcmp(name, "session") == 0 && (allowed & F_SESSION)) {
			if (get_uint(v, name, UINT32_MAX, &u, err, errlen) < 0)
				return -EINVAL;
			out->session = (uint32_t)u;
			have_session = true;
		} else if (strcmp(name, "moved") == 0 && (allowed & F_MOVED)) {
			if (!json_is_boolean(v))
				return fail(err, errlen, "\"moved\" must be true or false");
			out->moved = json_is_true(v);
		} else if (strcmp(name, "queue") == 0 && (allowed & F_QUEUE)) {
			if (get_uint(v, name, UINT16_MAX, &u, err, errlen) < 0)
				return -EINVAL;
			out->queue = (uint16_t)u;
		} else if (strcmp(name, "policy") == 0 && (allowed & F_POLICY)) {
			if (!json_is_string(v))
				return fail(err, errlen, "\"policy\" must be a string");
			if (json_string_length(v) >= sizeof(out->policy))
				return fail(err, errlen, "\"policy\" longer than %zu characters",
					    sizeof(out->policy) - 1);
			memcpy(out->policy, json_string_value(v), json_string_length(v) + 1);
		} else if (strcmp(name, "replica") == 0 && (allowed & F_REPLICA)) {
			if (!json_is_boolean(v))
				return fail(err, errlen, "\"replica\" must be true or false");
			out->replica = json_is_true(v);
		} else if (strcmp(name, "data") == 0 && (allowed & F_DATA)) {
			if (parse_data(v, out, err, errlen) < 0)
				return -EINVAL;
		} else {
			return fail(err, errlen, "%s takes no field \"%s\"", cmd_names[out->cmd], name);
		}
	}
	if ((allowed & F_NEED_CONTEXT) && !have_context)
		return fail(err, errlen, "%s needs \"context\"", cmd_names[out->cmd]);
	if ((allowed & F_DATA) && out->data == NULL)
		return fail(err, errlen, "%s needs \"data\"", cmd_names[out->cmd]);
	if ((allowed & F_NEED_SESSION) && !have_session)
		return fail(err, errlen, "%s needs \"session\"", cmd_names[out->cmd]);
	if ((allowed & F_NEED_POLICY) && out->policy[0] == '\0')
		return fail(err, errlen, "%s needs a non-empty \"policy\"", cmd_names[out->cmd]);
	return 0;
}

int herald_ctl_parse(const char *line, size_t len, struct herald_ctl_req *out, char *err,
		     size_t errlen)
{
	json_error_t je;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (len >= HERALD_CTL_LINE_MAX)
		return fail(err, errlen, "request longer than %d bytes", HERALD_CTL_LINE_MAX - 1);
	if (memchr(line, '\0', len) != NULL)
		return fail(err, errlen, "request contains a NUL byte");
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (o == NULL)
		return fail(err, errlen, "not JSON: %s (column %d)", je.text, je.column);
	if (!json_is_object(o)) {
		fail(err, errlen, "request must be a JSON object");
		goto out;
	}
	json_t *cmd = json_object_get(o, "cmd");
	if (!json_is_string(cmd)) {
		fail(err, errlen, cmd == NULL ? "missing \"cmd\"" : "\"cmd\" must be a string");
		goto out;
	}
	int c;
	for (c = 0; c < HERALD_CTL_CMD_MAX; c++)
		if (strcmp(json_string_value(cmd), cmd_names[c]) == 0)
			break;
	if (c == HERALD_CTL_CMD_MAX) {
		fail(err, errlen, "unknown command \"%.40s\" (ping, activate, deactivate, contexts, stats, "
		     "put, set_policy, sessions, kick)",
		     json_string_value(cmd));
		goto out;
	}
	out->cmd = (enum herald_ctl_cmd)c;
	rc = parse_fields(o, cmd_fields[c], out, err, errlen);
	if (rc < 0)
		herald_ctl_req_release(out);
out:
	json_decref(o);
	return rc;
}

int herald_ctl_encode(const struct herald_ctl_req *req, char *buf, size_t cap)
{
	const char *name = herald_ctl_cmd_name(req->cmd);
	if (name == NULL)
		return -EINVAL;
	json_t *o = json_pack("{ss}", "cmd", name);
	unsigned fields = cmd_fields[req->cmd];
	if ((fields & F_NEED_CONTEXT) || ((fields & F_CONTEXT) && req->has_context))
		json_object_set_new(o, "context", json_integer(req->context));
	if ((fields & F_POLICY) && req->policy[0] != '\0')
		json_object_set_new(o, "policy", json_string(req->policy));
	if (fields & F_QUEUE)
		json_object_set_new(o, "queue", json_integer(req->queue));
	if ((fields & F_REPLICA) && req->replica)
		json_object_set_new(o, "replica", json_true());
	if ((fields & F_DATA) && req->data != NULL) {
		static const char digits[] = "0123456789abcdef";
		char *h = malloc((size_t)req->data_len * 2 + 1);
		if (h == NULL) {
			json_decref(o);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < req->data_len; i++) {
			h[2 * i] = digits[req->data[i] >> 4];
			h[2 * i + 1] = digits[req->data[i] & 15];
		}
		json_object_set_new(o, "data", json_stringn(h, (size_t)req->data_len * 2));
		free(h);
	}
	if (fields & F_SESSION)
		json_object_set_new(o, "session", json_integer(req->session));
	if ((fields & F_MOVED) && req->moved)
		json_object_set_new(o, "moved", json_true());
	size_t n = json_dumpb(o, buf, cap, JSON_COMPACT);
	json_decref(o);
	if (n == 0 || n + 1 >= cap)
		return -ENOSPC;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return (int)n + 1;
}

int herald_ctl_reply_send(int fd, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (text == NULL)
		return -ENOMEM;
	size_t n = strlen(text), off = 0;
	text[n++] = '\n'; /* overwrites the NUL: json_dumps's buffer has room for it */
	while (off < n) {
		ssize_t k = send(fd, text + off, n - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			free(text);
			return -EIO;
		}
		off += (size_t)k;
	}
	free(text);
	return 0;
}
