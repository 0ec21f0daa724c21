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
