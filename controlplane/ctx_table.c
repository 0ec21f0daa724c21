/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_table.h"
#include "director.h"

enum { EMPTY, USED, DELETED };

static uint32_t slot_of(const struct herald_ctx_table *t, uint32_t context)
{
	return (uint32_t)((context * 0x9E3779B97F4A7C15ull) >> 32) & (t->cap - 1);
}

int herald_ctx_table_init(struct herald_ctx_table *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	if (max == 0 || max > (1u << 24))
		return -EINVAL;
	t->cap = 1;
	while (t->cap < 2 * max) /* load at most 1/2, tombstones included */
		t->cap <<= 1;
	t->max = max;
	t->e = calloc(t->cap, sizeof(*t->e));
	return t->e == NULL ? -ENOMEM : 0;
}

void herald_ctx_table_free(struct herald_ctx_table *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

struct herald_ctx_entry *herald_ctx_find(struct herald_ctx_table *t, uint32_t context)
{
	for (uint32_t i = slot_of(t, context), k = 0; k < t->cap; i = (i + 1) & (t->cap - 1), k++) {
		if (t->e[i].slot == EMPTY)
			return NULL;
		if (t->e[i].slot == USED && t->e[i].context == context)
			return &t->e[i];
	}
	return NULL;
}

/* Drop the tombstones by re-inserting every entry (rare: after many deletes). */
static void compact(struct herald_ctx_table *t)
{
	struct herald_ctx_entry *old = t->e;
	struct herald_ctx_entry *e = calloc(t->cap, sizeof(*e));
	if (e == NULL)
		return; /* keep working with the tombstones */
	t->e = e;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (old[i].slot != USED)
			continue;
		uint32_t j = slot_of(t, old[i].context);
		while (e[j].slot != EMPTY)
			j = (j + 1) & (t->cap - 1);
		e[j] = old[i];
	}
	t->deleted = 0;
	free(old);
}

struct herald_ctx_entry *herald_ctx_add(struct herald_ctx_table *t, uint32_t context, bool *added)
{
	struct herald_ctx_entry *e = herald_ctx_find(t, context);
	*added = false;
	if (e != NULL)
		return e;
	if (t->n >= t->max)
		return NULL;
	if (t->n + t->deleted + 1 > t->cap / 4 * 3)
		compact(t);
	uint32_t i = slot_of(t, context);
	while (t->e[i].slot == USED)
		i = (i + 1) & (t->cap - 1);
	if (t->e[i].slot == DELETED)
		t->deleted--;
	t->e[i] = (struct herald_ctx_entry){
		.context = context, .primary = HERALD_NODE_NONE, .replica = HERALD_NODE_NONE, .slot = USED,
		.told = HERALD_NODE_NONE,
		.contested_by = HERALD_NODE_NONE,
	};
	t->n++;
	*added = true;
	return &t->e[i];
}

void herald_ctx_del(struct herald_ctx_table *t, struct herald_ctx_entry *e)
{
	e->slot = DELETED;
	t->n--;
	t->deleted++;
}
