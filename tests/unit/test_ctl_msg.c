/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the control protocol's parser (dataplane/ctl_msg.c): every
 * command parses, every bad input is refused with a reason a human can act
 * on, and what heraldd encodes the dataplane parses back.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "ctl_msg.h"

static struct herald_ctl_req req;
static char err[256];

static int parse(const char *line)
{
	err[0] = '\0';
	return herald_ctl_parse(line, strlen(line), &req, err, sizeof(err));
}

/* The line is refused and the reason contains @p why. */
static void refused(const char *line, const char *why)
{
	cr_assert_eq(parse(line), -EINVAL, "accepted: %s", line);
	cr_assert(strstr(err, why) != NULL, "for %s: error '%s' lacks '%s'", line, err, why);
}

Test(ctl_msg, every_command)
{
	cr_assert_eq(parse("{\"cmd\":\"ping\"}"), 0);
	cr_assert_eq(req.cmd, HERALD_CTL_PING);
	cr_assert_eq(parse("{\"cmd\":\"stats\"}\n"), 0, "%s", err);
	cr_assert_eq(req.cmd, HERALD_CTL_STATS);
	cr_assert_eq(parse("{\"cmd\":\"contexts\"}"), 0);
	cr_assert_eq(req.cmd, HERALD_CTL_CONTEXTS);
	cr_assert_eq(parse("{\"cmd\":\"activate\",\"context\":4294967295,\"policy\":\"merge:max\",\"queue\":3}"), 0);
	cr_assert_eq(req.cmd, HERALD_CTL_ACTIVATE);
	cr_assert_eq(req.context, 4294967295u);
	cr_assert_str_eq(req.policy, "merge:max");
	cr_assert_eq(req.queue, 3);
	cr_assert_eq(parse(" { \"context\" : 7 , \"cmd\" : \"deactivate\" } "), 0);
	cr_assert_eq(req.cmd, HERALD_CTL_DEACTIVATE);
	cr_assert_eq(req.context, 7);
	cr_assert_eq(req.queue, 0);
	cr_assert_eq(parse("{\"cmd\":\"activate\",\"context\":0}"), 0);
	cr_assert_str_eq(req.policy, "", "no policy: the dataplane's own");
}

Test(ctl_msg, not_json_or_not_an_object)
{
	refused("", "not JSON");
	refused("garbage", "not JSON");
	refused("{\"cmd\":\"ping\"", "not JSON");
	refused("[\"ping\"]", "must be a JSON object");
	refused("42", "must be a JSON object");
	refused("{\"cmd\":\"ping\",\"cmd\":\"stats\"}", "not JSON"); /* duplicate key */
	const char nul[] = "{\"cmd\":\"ping\"}\0x";
	cr_assert_eq(herald_ctl_parse(nul, sizeof(nul) - 1, &req, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "NUL") != NULL, "%s", err);
}

Test(ctl_msg, bad_command)
{
	refused("{}", "missing \"cmd\"");
	refused("{\"cmd\":1}", "\"cmd\" must be a string");
	refused("{\"cmd\":null}", "\"cmd\" must be a string");
	refused("{\"cmd\":\"reboot\"}", "unknown command \"reboot\"");
	refused("{\"cmd\":\"PING\"}", "unknown command");
}

Test(ctl_msg, bad_fields)
{
	refused("{\"cmd\":\"activate\"}", "activate needs \"context\"");
	refused("{\"cmd\":\"deactivate\"}", "deactivate needs \"context\"");
	refused("{\"cmd\":\"activate\",\"context\":\"42\"}", "\"context\" must be an integer");
	refused("{\"cmd\":\"activate\",\"context\":4.5}", "\"context\" must be an integer");
	refused("{\"cmd\":\"activate\",\"context\":-1}", "\"context\" must be in 0..4294967295, got -1");
	refused("{\"cmd\":\"activate\",\"context\":4294967296}", "got 4294967296");
	refused("{\"cmd\":\"activate\",\"context\":1,\"queue\":65536}", "\"queue\" must be in 0..65535");
	refused("{\"cmd\":\"activate\",\"context\":1,\"policy\":3}", "\"policy\" must be a string");
	refused("{\"cmd\":\"activate\",\"context\":1,\"policy\":\"merge:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"longer than 31");
	refused("{\"cmd\":\"activate\",\"context\":1,\"colour\":\"red\"}", "activate takes no field \"colour\"");
	refused("{\"cmd\":\"deactivate\",\"context\":1,\"policy\":\"none\"}", "deactivate takes no field \"policy\"");
	refused("{\"cmd\":\"ping\",\"context\":1}", "ping takes no field \"context\"");
}

Test(ctl_msg, too_long)
{
	static char line[HERALD_CTL_LINE_MAX + 16];
	memset(line, ' ', sizeof(line) - 1);
	memcpy(line, "{\"cmd\":\"ping\"}", 14);
	cr_assert_eq(herald_ctl_parse(line, HERALD_CTL_LINE_MAX, &req, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "longer than") != NULL, "%s", err);
	cr_assert_eq(herald_ctl_parse(line, HERALD_CTL_LINE_MAX - 1, &req, err, sizeof(err)), 0, "%s", err);
}

Test(ctl_msg, encode_round_trip)
{
	char buf[256];
	struct herald_ctl_req in[] = {
		{.cmd = HERALD_CTL_PING},
		{.cmd = HERALD_CTL_STATS},
		{.cmd = HERALD_CTL_CONTEXTS},
		{.cmd = HERALD_CTL_ACTIVATE, .context = 99, .policy = "none", .queue = 2},
		{.cmd = HERALD_CTL_ACTIVATE, .context = 5},
		{.cmd = HERALD_CTL_DEACTIVATE, .context = 4000000000u, .queue = 1},
	};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		int n = herald_ctl_encode(&in[i], buf, sizeof(buf));
		cr_assert_gt(n, 0);
		cr_assert_eq(buf[n - 1], '\n', "one line");
		cr_assert_eq(memchr(buf, '\n', (size_t)n - 1), NULL, "exactly one line");
		cr_assert_eq(herald_ctl_parse(buf, (size_t)n, &req, err, sizeof(err)), 0, "%s: %s", buf, err);
		cr_assert_eq(req.cmd, in[i].cmd);
		cr_assert_eq(req.context, in[i].context);
		cr_assert_eq(req.queue, in[i].queue);
		cr_assert_str_eq(req.policy, in[i].policy);
	}
	cr_assert_eq(herald_ctl_encode(&in[3], buf, 10), -ENOSPC);
	struct herald_ctl_req bad = {.cmd = HERALD_CTL_CMD_MAX};
	cr_assert_eq(herald_ctl_encode(&bad, buf, sizeof(buf)), -EINVAL);
}

/* One put entry: context, body length, key length, key, value. */
static size_t put_entry(uint8_t *p, uint32_t context, const char *key, size_t vlen, uint8_t fill)
{
	size_t kl = strlen(key), body = 2 + kl + vlen;
	p[0] = (uint8_t)(context >> 24);
	p[1] = (uint8_t)(context >> 16);
	p[2] = (uint8_t)(context >> 8);
	p[3] = (uint8_t)context;
	p[4] = (uint8_t)(body >> 8);
	p[5] = (uint8_t)body;
	p[6] = 0;
	p[7] = (uint8_t)kl;
	memcpy(p + 8, key, kl);
	memset(p + 8 + kl, fill, vlen);
	return HERALD_CTL_PUT_ENTRY_HDR + body;
}

Test(ctl_msg, replica_activation)
{
	cr_assert_eq(parse("{\"cmd\":\"activate\",\"context\":7,\"replica\":true}"), 0, "%s", err);
	cr_assert(req.replica);
	cr_assert_eq(parse("{\"cmd\":\"activate\",\"context\":7,\"replica\":false}"), 0, "%s", err);
	cr_assert(!req.replica);
	cr_assert_eq(parse("{\"cmd\":\"activate\",\"context\":7}"), 0, "%s", err);
	cr_assert(!req.replica, "not a copy unless asked");
	refused("{\"cmd\":\"activate\",\"context\":7,\"replica\":1}", "\"replica\" must be true or false");
	refused("{\"cmd\":\"deactivate\",\"context\":7,\"replica\":true}", "deactivate takes no field \"replica\"");
	char buf[256];
	struct herald_ctl_req in = {.cmd = HERALD_CTL_ACTIVATE, .context = 9, .replica = true};
	int n = herald_ctl_encode(&in, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(herald_ctl_parse(buf, (size_t)n, &req, err, sizeof(err)), 0, "%s", err);
	cr_assert(req.replica && req.context == 9);
}

/* What heraldd's relay encodes, the dataplane parses back byte for byte, the largest value included. */
Test(ctl_msg, put_round_trip)
{
	static uint8_t data[2 * (HERALD_CTL_PUT_ENTRY_HDR + 2 + 64 + 4096)];
	static char line[HERALD_CTL_LINE_MAX];
	size_t len = put_entry(data, 4000000000u, "k1", 8, 0xab);
	len += put_entry(data + len, 12, "a-key-of-sixty-four-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 4096, 0x5c);
	struct herald_ctl_req in = {.cmd = HERALD_CTL_PUT, .queue = 3, .data = data, .data_len = (uint32_t)len};

	cr_assert_eq(herald_ctl_put_check(data, len, err, sizeof(err)), 2, "%s", err);
	int n = herald_ctl_encode(&in, line, sizeof(line));
	cr_assert_gt(n, 0);
	cr_assert_eq(herald_ctl_parse(line, (size_t)n, &req, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(req.cmd, HERALD_CTL_PUT);
	cr_assert_eq(req.queue, 3);
	cr_assert_eq(req.data_len, len);
	cr_assert_eq(memcmp(req.data, data, len), 0);
	herald_ctl_req_release(&req);
	cr_assert_null(req.data);
	cr_assert_eq(herald_ctl_encode(&in, line, 64), -ENOSPC);
}

Test(ctl_msg, put_refused)
{
	uint8_t data[HERALD_CTL_PUT_ENTRY_HDR + 2 + 65 + 8];
	char line[1024];
	static const char hex[] = "0123456789abcdef";

	refused("{\"cmd\":\"put\"}", "put needs \"data\"");
	refused("{\"cmd\":\"put\",\"data\":7}", "\"data\" must be a string");
	refused("{\"cmd\":\"put\",\"data\":\"\"}", "must be 2..");
	refused("{\"cmd\":\"put\",\"data\":\"abc\"}", "even");
	refused("{\"cmd\":\"put\",\"data\":\"0000000C000A00026B31AB\"}", "not a lower-case hex digit");
	refused("{\"cmd\":\"put\",\"data\":\"zz\"}", "not a lower-case hex digit");
	refused("{\"cmd\":\"put\",\"context\":1,\"data\":\"00\"}", "put takes no field \"context\"");
	refused("{\"cmd\":\"put\",\"data\":\"0000000c\"}", "entry 0 truncated");
	/* body length beyond the data */
	refused("{\"cmd\":\"put\",\"data\":\"0000000c00ff00026b31\"}", "entry 0 is 255 bytes");
	/* key of 0 bytes, and of 65 */
	refused("{\"cmd\":\"put\",\"data\":\"0000000c00020000\"}", "entry 0: key of 0 bytes");
	size_t n = put_entry(data, 1, "k", 8, 1);
	data[7] = 65;
	data[5] = 2 + 65 + 8;
	memset(data + 8, 'k', 65 + 8);
	n = HERALD_CTL_PUT_ENTRY_HDR + 2 + 65 + 8;
	char *p = line + sprintf(line, "{\"cmd\":\"put\",\"data\":\"");
	for (size_t i = 0; i < n; i++) {
		*p++ = hex[data[i] >> 4];
		*p++ = hex[data[i] & 15];
	}
	strcpy(p, "\"}");
	refused(line, "key of 65 bytes");
	cr_assert_null(req.data, "a refused put frees what it decoded");
	/* a value over HERALD_VALUE_MAX is refused by the check itself */
	static uint8_t big[HERALD_CTL_PUT_ENTRY_HDR + 2 + 1 + 4097];
	put_entry(big, 1, "k", 4097, 0);
	cr_assert_eq(herald_ctl_put_check(big, sizeof(big), err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "value up to 4096") != NULL, "%s", err);
}

/* heraldctl's set-policy, clients and drain reach the dataplane through these. */
Test(ctl_msg, operator_commands)
{
	cr_assert_eq(parse("{\"cmd\":\"set_policy\",\"context\":9,\"policy\":\"merge:add\",\"queue\":1}"), 0, "%s", err);
	cr_assert_eq(req.cmd, HERALD_CTL_SET_POLICY);
	cr_assert_str_eq(req.policy, "merge:add");
	refused("{\"cmd\":\"set_policy\",\"context\":9}", "needs a non-empty \"policy\"");
	refused("{\"cmd\":\"set_policy\",\"policy\":\"replace\"}", "needs \"context\"");
	cr_assert_eq(parse("{\"cmd\":\"sessions\"}"), 0, "%s", err);
	cr_assert(!req.has_context);
	cr_assert_eq(parse("{\"cmd\":\"sessions\",\"context\":5}"), 0, "%s", err);
	cr_assert(req.has_context);
	cr_assert_eq(req.context, 5);
	cr_assert_eq(parse("{\"cmd\":\"kick\",\"session\":4294967295}"), 0, "%s", err);
	cr_assert_eq(req.session, 4294967295u);
	refused("{\"cmd\":\"kick\"}", "needs \"session\"");
	refused("{\"cmd\":\"kick\",\"session\":-1}", "\"session\" must be in 0..");
	refused("{\"cmd\":\"sessions\",\"session\":1}", "takes no field \"session\"");
	cr_assert_eq(parse("{\"cmd\":\"deactivate\",\"context\":3,\"moved\":true}"), 0, "%s", err);
	cr_assert(req.moved);
	refused("{\"cmd\":\"deactivate\",\"context\":3,\"moved\":1}", "\"moved\" must be true or false");
	refused("{\"cmd\":\"activate\",\"context\":3,\"moved\":true}", "takes no field \"moved\"");
}

/* What heraldd encodes, the dataplane parses back, optional fields included. */
Test(ctl_msg, operator_commands_round_trip)
{
	char line[HERALD_CTL_LINE_MAX];
	struct herald_ctl_req out[] = {
		{.cmd = HERALD_CTL_SESSIONS},
		{.cmd = HERALD_CTL_SESSIONS, .context = 77, .has_context = true},
		{.cmd = HERALD_CTL_KICK, .session = 123456},
		{.cmd = HERALD_CTL_DEACTIVATE, .context = 8, .queue = 2, .moved = true},
		{.cmd = HERALD_CTL_SET_POLICY, .context = 8, .policy = "merge:min", .queue = 1},
	};
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		int n = herald_ctl_encode(&out[i], line, sizeof(line));
		cr_assert_gt(n, 0);
		cr_assert_eq(herald_ctl_parse(line, (size_t)n, &req, err, sizeof(err)), 0, "%s: %s", line, err);
		cr_assert_eq(req.cmd, out[i].cmd);
		cr_assert_eq(req.context, out[i].context, "%s", line);
		bool context_sent = out[i].has_context ||
				    (out[i].cmd != HERALD_CTL_SESSIONS && out[i].cmd != HERALD_CTL_KICK);
		cr_assert_eq(req.has_context, context_sent, "%s", line);
		cr_assert_eq(req.session, out[i].session);
		cr_assert_eq(req.moved, out[i].moved);
		cr_assert_str_eq(req.policy, out[i].policy);
	}
}
