/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Conflation policies and the registry of merge operations. Adding a merge
 * operation is one function and one table row.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dataplane.h"

/* Wrapping arithmetic: a counter that overflows wraps, it never traps. */
static int64_t merge_add(int64_t cur, int64_t upd)
{
	return (int64_t)((uint64_t)cur + (uint64_t)upd);
}

static int64_t merge_min(int64_t cur, int64_t upd)
{
	return upd < cur ? upd : cur;
}

static int64_t merge_max(int64_t cur, int64_t upd)
{
	return upd > cur ? upd : cur;
}

static const struct dp_merge_op merge_ops[] = {
	{"add", merge_add},
	{"min", merge_min},
	{"max", merge_max},
};

#define NOPS (sizeof(merge_ops) / sizeof(merge_ops[0]))

const struct dp_merge_op *dp_merge_op_find(const char *name)
{
	for (size_t i = 0; i < NOPS; i++)
		if (strcmp(merge_ops[i].name, name) == 0)
			return &merge_ops[i];
	return NULL;
}

const char *dp_merge_op_names(void)
{
	static char list[64];
	if (list[0] == '\0')
		for (size_t i = 0; i < NOPS; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 i ? ", " : "", merge_ops[i].name);
	return list;
}

int dp_policy_parse(const char *text, struct dp_policy *out, char *err, size_t errlen)
{
	*out = (struct dp_policy){0};
	if (strcmp(text, "replace") == 0) {
		out->kind = DP_POLICY_REPLACE;
	} else if (strcmp(text, "none") == 0) {
		out->kind = DP_POLICY_NONE;
	} else if (strncmp(text, "merge:", 6) == 0) {
		out->kind = DP_POLICY_MERGE;
		out->merge = dp_merge_op_find(text + 6);
		if (out->merge == NULL) {
			snprintf(err, errlen, "unknown merge operation '%s': expected one of %s",
				 text + 6, dp_merge_op_names());
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "unknown policy '%s': expected replace, none or merge:OP (OP one of %s)",
			 text, dp_merge_op_names());
		return -EINVAL;
	}
	return 0;
}

const char *dp_policy_name(const struct dp_policy *p, char *buf, size_t len)
{
	switch (p->kind) {
	case DP_POLICY_MERGE:
		snprintf(buf, len, "merge:%s", p->merge->name);
		break;
	case DP_POLICY_NONE:
		snprintf(buf, len, "none");
		break;
	default:
		snprintf(buf, len, "replace");
		break;
	}
	return buf;
}

const struct dp_policy *dp_policy_for(const struct dp_config *cfg, uint32_t context)
{
	for (uint32_t i = 0; i < cfg->npolicies; i++)
		if (cfg->policies[i].context == context)
			return &cfg->policies[i].policy;
	return &cfg->default_policy;
}
