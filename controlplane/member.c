/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Member state machine and failover plan. The daemon owns the sockets and
 * the clock; this file only decides, so a test can replay any sequence of
 * heartbeats and silences to the nanosecond.
 */
#include <errno.h>
#include <string.h>

#include "member.h"

const struct herald_member_params herald_member_params_default = {
	.heartbeat_interval_ns = 50ULL * 1000 * 1000,
	/*
	 * Three missed beats (150 ms) before suspicion rides out one lost
	 * datagram and a scheduling hiccup; six (300 ms) before death bounds
	 * failover detection while still needing a real outage.
	 */
	.suspect_after = 3,
	.dead_after = 6,
	/* Two beats heard before hosting keeps a flapping peer from attracting contexts. */
	.active_after = 2,
};

static const char *const state_names[HERALD_MEMBER_STATE_MAX] = {
	[HERALD_MEMBER_JOINING] = "joining",
	[HERALD_MEMBER_ACTIVE] = "active",
	[HERALD_MEMBER_SUSPECT] = "suspect",
	[HERALD_MEMBER_DEAD] = "dead",
	[HERALD_MEMBER_REJOINING] = "rejoining",
};

const char *herald_member_state_name(enum herald_member_state s)
{
	return (unsigned int)s < HERALD_MEMBER_STATE_MAX ? state_names[s] : NULL;
}

int herald_member_params_validate(const struct herald_member_params *p)
{
	if (p == NULL || p->heartbeat_interval_ns == 0 || p->suspect_after == 0 ||
	    p->dead_after <= p->suspect_after || p->active_after == 0)
		return -EINVAL;
	return 0;
}

int herald_view_init(struct herald_view *v, const struct herald_member_params *p,
		     uint32_t local_id, uint16_t local_queues, uint32_t local_weight,
		     uint64_t now_ns)
{
	struct herald_member *self;

	if (v == NULL || local_id == HERALD_NODE_NONE)
		return -EINVAL;
	if (p == NULL)
		p = &herald_member_params_default;
	if (herald_member_params_validate(p) < 0)
		return -EINVAL;

	memset(v, 0, sizeof(*v));
	v->params = *p;
	v->epoch = 1;
	v->n = 1;
	self = &v->members[0];
	self->id = local_id;
	self->state = HERALD_MEMBER_ACTIVE;
	self->epoch = v->epoch;
	self->weight = local_weight;
	self->queues = local_queues;
	self->local = true;
	self->last_heard_ns = now_ns;
	self->since_ns = now_ns;
	return 0;
}

static struct herald_member *find(struct herald_view *v, uint32_t id)
{
	for (unsigned int i = 0; i < v->n; i++)
		if (v->members[i].id == id)
			return &v->members[i];
	return NULL;
}

const struct herald_member *herald_view_find(const struct herald_view *v, uint32_t id)
{
	if (v == NULL)
		return NULL;
	return find((struct herald_view *)v, id);
}

/* Whole heartbeat intervals of silence; a clock that steps back counts as none. */
static uint64_t missed(const struct herald_view *v, const struct herald_member *m,
		       uint64_t now_ns)
{
	if (now_ns <= m->last_heard_ns)
		return 0;
	return (now_ns - m->last_heard_ns) / v->params.heartbeat_interval_ns;
}

static int hosts(enum herald_member_state s)
{
	return s == HERALD_MEMBER_ACTIVE || s == HERALD_MEMBER_SUSPECT;
}

/*
 * Every state change goes through here so the epoch rule lives in one
 * place: the view epoch grows exactly when the set of hosting members
 * changes (a member starts hosting, or a hosting member dies). A suspect
 * still hosts, so suspicion and its refutation leave the epoch alone and
 * clients keep their redirects through a hiccup.
 */
static void transition(struct herald_view *v, struct herald_member *m,
		       enum herald_member_state to, uint64_t now_ns,
		       struct herald_member_event *ev, unsigned int cap, int *count)
{
	enum herald_member_state from = m->state;

	if (hosts(from) != hosts(to)) {
		v->epoch++;
		m->epoch = v->epoch;
	}
	m->state = to;
	m->since_ns = now_ns;
	m->beats = 0;
	if (ev != NULL && (unsigned int)*count < cap)
		ev[*count] = (struct herald_member_event){
			.node = m->id, .from = from, .to = to, .epoch = v->epoch,
		};
	(*count)++;
}

/* Apply the silence rules to one member at now_ns. */
static void expire(struct herald_view *v, struct herald_member *m, uint64_t now_ns,
		   struct herald_member_event *ev, unsigned int cap, int *count)
{
	uint64_t silent;

	if (m->local || m->state == HERALD_MEMBER_DEAD)
		return;
	silent = missed(v, m, now_ns);
	if (m->state == HERALD_MEMBER_ACTIVE && silent >= v->params.suspect_after)
		transition(v, m, HERALD_MEMBER_SUSPECT, now_ns, ev, cap, count);
	if (silent >= v->params.dead_after)
		transition(v, m, HERALD_MEMBER_DEAD, now_ns, ev, cap, count);
}

static void report_new(const struct herald_view *v, const struct herald_member *m,
		       struct herald_member_event *ev, unsigned int cap, int *count)
{
	if (ev != NULL && (unsigned int)*count < cap)
		ev[*count] = (struct herald_member_event){
			.node = m->id, .from = HERALD_MEMBER_STATE_MAX,
			.to = m->state, .epoch = v->epoch,
		};
	(*count)++;
}

int herald_view_heartbeat(struct herald_view *v, const struct herald_heartbeat *hb,
			  uint64_t now_ns, struct herald_member_event *ev,
			  unsigned int cap)
{
	struct herald_member *m;
	int count = 0;
	bool restarted;

	if (v == NULL || hb == NULL || hb->node == HERALD_NODE_NONE ||
	    (ev == NULL && cap > 0))
		return -EINVAL;

	m = find(v, hb->node);
	if (m == NULL) {
		if (v->n >= HERALD_NODES_MAX)
			return -ENOSPC;
		m = &v->members[v->n++];
		memset(m, 0, sizeof(*m));
		m->id = hb->node;
		m->state = HERALD_MEMBER_JOINING;
		m->incarnation = hb->incarnation;
		m->since_ns = now_ns;
		report_new(v, m, ev, cap, &count);
		restarted = false;
	} else if (m->local) {
		/* Our own load, fed back by the daemon: nothing to time out. */
		m->weight = hb->weight;
		m->queues = hb->queues;
		m->contexts = hb->contexts;
		m->last_heard_ns = now_ns;
		return 0;
	} else {
		if (hb->incarnation < m->incarnation)
			return -ESTALE;
		/*
		 * Judge the silence before this beat first, so the outcome
		 * does not depend on whether the daemon ticked in between: a
		 * peer heard again after dead_after is dead, then rejoining.
		 */
		expire(v, m, now_ns, ev, cap, &count);
		restarted = hb->incarnation > m->incarnation;
		m->incarnation = hb->incarnation;
	}
	m->weight = hb->weight;
	m->queues = hb->queues;
	m->contexts = hb->contexts;
	/*
	 * Epochs only grow, cluster-wide: a view never runs behind a peer's,
	 * so a restarted daemon (or one that missed changes) issues epochs
	 * above every one the cluster handed out, and any change this beat
	 * causes is numbered above the peer's.
	 */
	herald_view_epoch_raise(v, hb->epoch);

	switch (m->state) {
	case HERALD_MEMBER_ACTIVE:
	case HERALD_MEMBER_SUSPECT:
		if (restarted) {
			/*
			 * A peer that restarted inside the suspicion window
			 * lost its dataplane state: treat it as dead so its
			 * contexts fail over, then let it earn its way back.
			 */
			if (m->state == HERALD_MEMBER_ACTIVE)
				transition(v, m, HERALD_MEMBER_SUSPECT, now_ns, ev, cap, &count);
			transition(v, m, HERALD_MEMBER_DEAD, now_ns, ev, cap, &count);
			transition(v, m, HERALD_MEMBER_REJOINING, now_ns, ev, cap, &count);
			m->beats = 1;
		} else if (m->state == HERALD_MEMBER_SUSPECT) {
			transition(v, m, HERALD_MEMBER_ACTIVE, now_ns, ev, cap, &count);
		}
		break;
	case HERALD_MEMBER_JOINING:
	case HERALD_MEMBER_REJOINING:
		/* Warm-up beats must come in a row: a long gap starts the count again. */
		if (m->beats > 0 && missed(v, m, now_ns) >= v->params.suspect_after)
			m->beats = 1;
		else
			m->beats++;
		break;
	case HERALD_MEMBER_DEAD:
		transition(v, m, HERALD_MEMBER_REJOINING, now_ns, ev, cap, &count);
		m->beats = 1;
		break;
	default:
		return -EINVAL;
	}

	if ((m->state == HERALD_MEMBER_JOINING || m->state == HERALD_MEMBER_REJOINING) &&
	    m->beats >= v->params.active_after)
		transition(v, m, HERALD_MEMBER_ACTIVE, now_ns, ev, cap, &count);
	m->last_heard_ns = now_ns;
	return count;
}

bool herald_view_epoch_raise(struct herald_view *v, uint32_t epoch)
{
	if (v == NULL || epoch <= v->epoch)
		return false;
	v->epoch = epoch;
	return true;
}

int herald_view_tick(struct herald_view *v, uint64_t now_ns,
		     struct herald_member_event *ev, unsigned int cap)
{
	int count = 0;

	if (v == NULL || (ev == NULL && cap > 0))
		return -EINVAL;

	for (unsigned int i = 0; i < v->n; i++)
		expire(v, &v->members[i], now_ns, ev, cap, &count);
	return count;
}

int herald_view_nodes(const struct herald_view *v, struct herald_node *nodes,
		      unsigned int cap)
{
	unsigned int k = 0;

	if (v == NULL || (nodes == NULL && cap > 0))
		return -EINVAL;
	for (unsigned int i = 0; i < v->n; i++) {
		const struct herald_member *m = &v->members[i];

		if (!hosts(m->state))
			continue;
		if (k >= cap)
			return -ENOSPC;
		nodes[k++] = (struct herald_node){
			.id = m->id, .weight = m->weight, .queues = m->queues,
		};
	}
	return (int)k;
}

static bool is_candidate(const struct herald_node *nodes, unsigned int n, uint32_t id)
{
	for (unsigned int i = 0; i < n; i++)
		if (nodes[i].id == id && nodes[i].weight > 0)
			return true;
	return false;
}

/*
 * The best candidate other than @p primary. Rendezvous ranks are stable, so
 * this is the straw that would have been the replica had the dead node never
 * existed: the same answer every node computes on its own.
 */
static uint32_t next_replica(const struct herald_director *d,
			     const struct herald_node *nodes, unsigned int n,
			     uint32_t context, uint32_t primary)
{
	struct herald_placement p;

	if (herald_director_place(d, nodes, n, context, &p) < 0)
		return HERALD_NODE_NONE;
	if (nodes[p.primary].id != primary)
		return nodes[p.primary].id;
	return p.replica < 0 ? HERALD_NODE_NONE : nodes[p.replica].id;
}

int herald_view_failover(const struct herald_view *v, const struct herald_director *d,
			 uint32_t dead, const struct herald_assignment *assign,
			 size_t n, struct herald_move *moves, size_t cap)
{
	struct herald_node all[HERALD_NODES_MAX], cand[HERALD_NODES_MAX];
	unsigned int nc = 0;
	size_t k = 0;
	int na;

	if (v == NULL || d == NULL || (assign == NULL && n > 0) ||
	    (moves == NULL && cap > 0) || dead == HERALD_NODE_NONE)
		return -EINVAL;

	/*
	 * The dead node is struck out explicitly, so the plan can be computed
	 * before the view itself declares the death (or for a planned drain).
	 */
	na = herald_view_nodes(v, all, HERALD_NODES_MAX);
	if (na < 0)
		return na;
	for (int i = 0; i < na; i++)
		if (all[i].id != dead)
			cand[nc++] = all[i];

	for (size_t i = 0; i < n; i++) {
		const struct herald_assignment *a = &assign[i];
		struct herald_move mv = {
			.context = a->context, .from = a->primary, .to = a->primary,
			.old_replica = a->replica,
		};

		if (a->primary == dead) {
			if (a->replica != dead && is_candidate(cand, nc, a->replica)) {
				mv.kind = HERALD_MOVE_PROMOTE;
				mv.to = a->replica;
			} else {
				struct herald_placement p;

				if (herald_director_place(d, cand, nc, a->context, &p) < 0)
					return -ENOENT;
				mv.kind = HERALD_MOVE_REPLACE;
				mv.to = cand[p.primary].id;
			}
		} else if (a->replica == dead) {
			mv.kind = HERALD_MOVE_NEW_REPLICA;
		} else {
			continue;
		}
		mv.replica = next_replica(d, cand, nc, a->context, mv.to);
		if (k >= cap)
			return -ENOSPC;
		moves[k++] = mv;
	}
	return (int)k;
}
