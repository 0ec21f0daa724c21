/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the member state machine and the failover plan
 * (controlplane/member.c). Time is a plain variable the tests move forward;
 * nothing sleeps, so every timeout is checked to the nanosecond.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "director.h"
#include "epoch_file.h"
#include "member.h"

#define MS (1000ULL * 1000)
#define SELF 1u
#define PEER 7u
#define T0 (1000 * MS) /* a clock that does not start at 0 */
#define BEAT (50 * MS)
#define CONTEXTS 100000u

static struct herald_view view;
static struct herald_member_event ev[8];

static void setup(void)
{
	cr_assert_eq(herald_view_init(&view, NULL, SELF, 4, 16, T0), 0);
	memset(ev, 0, sizeof(ev));
}

TestSuite(member, .init = setup);

static int beat_inc(uint32_t node, uint32_t incarnation, uint64_t now)
{
	struct herald_heartbeat hb = {
		.node = node, .incarnation = incarnation, .weight = 16,
		.contexts = 3, .queues = 4,
	};

	return herald_view_heartbeat(&view, &hb, now, ev, 8);
}

static int beat(uint32_t node, uint64_t now)
{
	return beat_inc(node, 1, now);
}

static enum herald_member_state state(uint32_t node)
{
	const struct herald_member *m = herald_view_find(&view, node);

	cr_assert_not_null(m, "node %u not in the view", node);
	return m->state;
}

static void expect_event(int i, uint32_t node, enum herald_member_state from,
			 enum herald_member_state to)
{
	cr_assert_eq(ev[i].node, node, "event %d node", i);
	cr_assert_eq(ev[i].from, from, "event %d from %s", i, herald_member_state_name(ev[i].from));
	cr_assert_eq(ev[i].to, to, "event %d to %s", i, herald_member_state_name(ev[i].to));
}

/* A peer heard twice, one interval apart: ACTIVE at T0 + BEAT. */
static void join_peer(uint32_t node, uint64_t at)
{
	cr_assert_eq(beat(node, at), 1);
	cr_assert_eq(beat(node, at + BEAT), 1);
	cr_assert_eq(state(node), HERALD_MEMBER_ACTIVE);
}

Test(member, defaults_and_validation)
{
	struct herald_member_params p = herald_member_params_default;

	cr_assert_eq(p.heartbeat_interval_ns, 50 * MS);
	cr_assert_eq(p.suspect_after, 3);
	cr_assert_eq(p.dead_after, 6);
	cr_assert_eq(p.active_after, 2);
	cr_assert_eq(herald_member_params_validate(&p), 0);
	p.dead_after = p.suspect_after;
	cr_assert_eq(herald_member_params_validate(&p), -EINVAL);
	p = herald_member_params_default;
	p.heartbeat_interval_ns = 0;
	cr_assert_eq(herald_member_params_validate(&p), -EINVAL);
	cr_assert_eq(herald_view_init(&view, &p, SELF, 1, 1, 0), -EINVAL);
	cr_assert_eq(herald_view_init(&view, NULL, HERALD_NODE_NONE, 1, 1, 0), -EINVAL);
	cr_assert_str_eq(herald_member_state_name(HERALD_MEMBER_REJOINING), "rejoining");
	cr_assert_null(herald_member_state_name(HERALD_MEMBER_STATE_MAX));
}

Test(member, local_node_is_active_and_never_times_out)
{
	cr_assert_eq(view.epoch, 1);
	cr_assert_eq(state(SELF), HERALD_MEMBER_ACTIVE);
	cr_assert_eq(herald_view_tick(&view, T0 + 3600 * 1000 * MS, ev, 8), 0);
	cr_assert_eq(state(SELF), HERALD_MEMBER_ACTIVE);
	/* Our own load updates go through the same door and never transition. */
	cr_assert_eq(beat_inc(SELF, 99, T0 + MS), 0);
	cr_assert_eq(herald_view_find(&view, SELF)->contexts, 3);
}

Test(member, joining_then_active_after_two_beats_bumps_epoch)
{
	cr_assert_eq(beat(PEER, T0), 1);
	expect_event(0, PEER, HERALD_MEMBER_STATE_MAX, HERALD_MEMBER_JOINING);
	cr_assert_eq(state(PEER), HERALD_MEMBER_JOINING);
	cr_assert_eq(view.epoch, 1, "a joining member hosts nothing yet");

	cr_assert_eq(beat(PEER, T0 + BEAT), 1);
	expect_event(0, PEER, HERALD_MEMBER_JOINING, HERALD_MEMBER_ACTIVE);
	cr_assert_eq(view.epoch, 2);
	cr_assert_eq(ev[0].epoch, 2);
	cr_assert_eq(herald_view_find(&view, PEER)->epoch, 2);
}

Test(member, warm_up_beats_must_be_consecutive)
{
	cr_assert_eq(beat(PEER, T0), 1);
	/* Four intervals of silence: the count starts again. */
	cr_assert_eq(beat(PEER, T0 + 4 * BEAT), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_JOINING);
	cr_assert_eq(beat(PEER, T0 + 5 * BEAT), 1);
	cr_assert_eq(state(PEER), HERALD_MEMBER_ACTIVE);
}

Test(member, active_turns_suspect_after_three_missed_beats_epoch_unchanged)
{
	uint64_t last = T0 + BEAT;
	uint32_t epoch;

	join_peer(PEER, T0);
	epoch = view.epoch;
	cr_assert_eq(herald_view_tick(&view, last + 3 * BEAT - 1, ev, 8), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_ACTIVE);
	cr_assert_eq(herald_view_tick(&view, last + 3 * BEAT, ev, 8), 1);
	expect_event(0, PEER, HERALD_MEMBER_ACTIVE, HERALD_MEMBER_SUSPECT);
	cr_assert_eq(view.epoch, epoch, "suspicion moves no context");
}

Test(member, suspect_refuted_by_a_heartbeat)
{
	uint64_t last = T0 + BEAT;
	uint32_t epoch;

	join_peer(PEER, T0);
	epoch = view.epoch;
	cr_assert_eq(herald_view_tick(&view, last + 4 * BEAT, ev, 8), 1);
	cr_assert_eq(beat(PEER, last + 4 * BEAT + MS), 1);
	expect_event(0, PEER, HERALD_MEMBER_SUSPECT, HERALD_MEMBER_ACTIVE);
	cr_assert_eq(view.epoch, epoch);
	/* The silence clock restarted with that beat. */
	cr_assert_eq(herald_view_tick(&view, last + 6 * BEAT, ev, 8), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_ACTIVE);
}

Test(member, suspect_dies_after_six_missed_beats_epoch_bumps)
{
	uint64_t last = T0 + BEAT;
	uint32_t epoch;

	join_peer(PEER, T0);
	epoch = view.epoch;
	cr_assert_eq(herald_view_tick(&view, last + 3 * BEAT, ev, 8), 1);
	cr_assert_eq(herald_view_tick(&view, last + 6 * BEAT - 1, ev, 8), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_SUSPECT);
	cr_assert_eq(herald_view_tick(&view, last + 6 * BEAT, ev, 8), 1);
	expect_event(0, PEER, HERALD_MEMBER_SUSPECT, HERALD_MEMBER_DEAD);
	cr_assert_eq(view.epoch, epoch + 1);
	cr_assert_eq(herald_view_find(&view, PEER)->epoch, epoch + 1);
	/* Dead stays dead without heartbeats. */
	cr_assert_eq(herald_view_tick(&view, last + 600 * BEAT, ev, 8), 0);
}

Test(member, late_tick_reports_both_transitions_in_order)
{
	join_peer(PEER, T0);
	cr_assert_eq(herald_view_tick(&view, T0 + 100 * BEAT, ev, 8), 2);
	expect_event(0, PEER, HERALD_MEMBER_ACTIVE, HERALD_MEMBER_SUSPECT);
	expect_event(1, PEER, HERALD_MEMBER_SUSPECT, HERALD_MEMBER_DEAD);
}

Test(member, dead_rejoins_then_active_with_a_newer_epoch)
{
	uint64_t t = T0 + BEAT + 6 * BEAT;
	uint32_t died;

	join_peer(PEER, T0);
	cr_assert_eq(herald_view_tick(&view, t, ev, 8), 2);
	died = herald_view_find(&view, PEER)->epoch;

	cr_assert_eq(beat(PEER, t + 10 * BEAT), 1);
	expect_event(0, PEER, HERALD_MEMBER_DEAD, HERALD_MEMBER_REJOINING);
	cr_assert_eq(view.epoch, died, "a rejoining member hosts nothing yet");

	cr_assert_eq(beat(PEER, t + 11 * BEAT), 1);
	expect_event(0, PEER, HERALD_MEMBER_REJOINING, HERALD_MEMBER_ACTIVE);
	cr_assert_eq(view.epoch, died + 1);
	cr_assert_gt(herald_view_find(&view, PEER)->epoch, died);
}

Test(member, heartbeat_after_long_silence_is_judged_without_a_tick)
{
	join_peer(PEER, T0);
	/* No tick ran: the beat itself finds the peer silent for 10 intervals. */
	cr_assert_eq(beat(PEER, T0 + 11 * BEAT), 3);
	expect_event(0, PEER, HERALD_MEMBER_ACTIVE, HERALD_MEMBER_SUSPECT);
	expect_event(1, PEER, HERALD_MEMBER_SUSPECT, HERALD_MEMBER_DEAD);
	expect_event(2, PEER, HERALD_MEMBER_DEAD, HERALD_MEMBER_REJOINING);
}

Test(member, restart_inside_suspicion_window_is_a_death)
{
	uint32_t epoch;

	join_peer(PEER, T0);
	epoch = view.epoch;
	/* kill -9 and restart within one interval: only the incarnation tells. */
	cr_assert_eq(beat_inc(PEER, 2, T0 + 2 * BEAT), 3);
	expect_event(0, PEER, HERALD_MEMBER_ACTIVE, HERALD_MEMBER_SUSPECT);
	expect_event(1, PEER, HERALD_MEMBER_SUSPECT, HERALD_MEMBER_DEAD);
	expect_event(2, PEER, HERALD_MEMBER_DEAD, HERALD_MEMBER_REJOINING);
	cr_assert_eq(view.epoch, epoch + 1);
	cr_assert_eq(herald_view_find(&view, PEER)->incarnation, 2);
	cr_assert_eq(beat_inc(PEER, 2, T0 + 3 * BEAT), 1);
	cr_assert_eq(state(PEER), HERALD_MEMBER_ACTIVE);
	cr_assert_eq(view.epoch, epoch + 2);
}

Test(member, stale_incarnation_is_ignored)
{
	join_peer(PEER, T0);
	cr_assert_eq(beat_inc(PEER, 3, T0 + 2 * BEAT), 3);
	cr_assert_eq(beat_inc(PEER, 2, T0 + 3 * BEAT), -ESTALE);
	cr_assert_eq(state(PEER), HERALD_MEMBER_REJOINING);
	cr_assert_eq(herald_view_find(&view, PEER)->last_heard_ns, T0 + 2 * BEAT);
}

Test(member, silent_joiner_dies_without_moving_the_epoch)
{
	cr_assert_eq(beat(PEER, T0), 1);
	cr_assert_eq(herald_view_tick(&view, T0 + 5 * BEAT, ev, 8), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_JOINING);
	cr_assert_eq(herald_view_tick(&view, T0 + 6 * BEAT, ev, 8), 1);
	expect_event(0, PEER, HERALD_MEMBER_JOINING, HERALD_MEMBER_DEAD);
	cr_assert_eq(view.epoch, 1);
}

Test(member, clock_stepping_back_counts_as_no_silence)
{
	join_peer(PEER, T0);
	cr_assert_eq(herald_view_tick(&view, T0 - 10 * BEAT, ev, 8), 0);
	cr_assert_eq(state(PEER), HERALD_MEMBER_ACTIVE);
}

Test(member, event_count_can_exceed_the_room_given)
{
	join_peer(PEER, T0);
	cr_assert_eq(herald_view_tick(&view, T0 + 100 * BEAT, ev, 1), 2);
	expect_event(0, PEER, HERALD_MEMBER_ACTIVE, HERALD_MEMBER_SUSPECT);
	cr_assert_eq(ev[1].node, 0, "nothing written past the room given");
	cr_assert_eq(herald_view_tick(&view, T0, NULL, 1), -EINVAL);
}

Test(member, candidates_are_active_and_suspect_members)
{
	struct herald_node nodes[HERALD_NODES_MAX];
	uint32_t seen = 0;
	int n;

	join_peer(2, T0);
	join_peer(3, T0);
	join_peer(5, T0);
	cr_assert_eq(beat(3, T0 + 3 * BEAT), 0);
	cr_assert_eq(beat(2, T0 + 3 * BEAT), 0);
	cr_assert_eq(beat(2, T0 + 5 * BEAT), 0);
	cr_assert_eq(beat(4, T0 + 6 * BEAT), 1);
	cr_assert_eq(beat(2, T0 + 7 * BEAT), 0);
	/* 3 silent 4 intervals, 5 silent 6: one suspect, one dead. */
	cr_assert_eq(herald_view_tick(&view, T0 + 7 * BEAT, ev, 8), 3);
	cr_assert_eq(state(2), HERALD_MEMBER_ACTIVE);
	cr_assert_eq(state(3), HERALD_MEMBER_SUSPECT);
	cr_assert_eq(state(4), HERALD_MEMBER_JOINING);
	cr_assert_eq(state(5), HERALD_MEMBER_DEAD);

	n = herald_view_nodes(&view, nodes, HERALD_NODES_MAX);
	cr_assert_eq(n, 3, "self, active 2 and suspect 3");
	for (int i = 0; i < n; i++) {
		seen |= 1u << nodes[i].id;
		cr_assert_eq(nodes[i].weight, 16u);
	}
	cr_assert_eq(seen, (1u << SELF) | (1u << 2) | (1u << 3));
	cr_assert_eq(herald_view_nodes(&view, nodes, 2), -ENOSPC);
}

Test(member, view_holds_at_most_nodes_max)
{
	for (uint32_t id = 100; id < 100 + HERALD_NODES_MAX - 1; id++)
		cr_assert_eq(beat(id, T0), 1);
	cr_assert_eq(beat(999, T0), -ENOSPC);
	cr_assert_null(herald_view_find(&view, 999));
}

/*
 * A five-node cluster with uneven weights and 100 000 contexts placed by the
 * director; then node 3 dies. The plan must touch only contexts that had
 * node 3 as primary or replica.
 */
static struct herald_director dir;
static struct herald_assignment assign[CONTEXTS];
static struct herald_move moves[CONTEXTS];

static uint32_t ctx(uint32_t i)
{
	return i * 2654435761u + 777u;
}

static int build_cluster(void)
{
	static const uint8_t key[HERALD_DIRECTOR_KEY_LEN] = "herald-test-key";
	struct herald_node nodes[HERALD_NODES_MAX];
	int n;

	herald_director_init(&dir, key);
	for (uint32_t id = 2; id <= 5; id++) {
		struct herald_heartbeat hb = {
			.node = id, .incarnation = 1, .weight = 8 * id, .queues = 2,
		};

		cr_assert_eq(herald_view_heartbeat(&view, &hb, T0, NULL, 0), 1);
		cr_assert_eq(herald_view_heartbeat(&view, &hb, T0 + BEAT, NULL, 0), 1);
	}
	n = herald_view_nodes(&view, nodes, HERALD_NODES_MAX);
	cr_assert_eq(n, 5);
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		struct herald_placement p;

		cr_assert_eq(herald_director_place(&dir, nodes, (unsigned int)n, ctx(i), &p), 0);
		assign[i] = (struct herald_assignment){
			.context = ctx(i), .primary = nodes[p.primary].id,
			.replica = nodes[p.replica].id,
		};
	}
	return n;
}

static void kill_node(uint32_t id, uint64_t at)
{
	/* Everyone but id keeps beating; id falls silent and is declared dead. */
	for (uint64_t t = T0 + 2 * BEAT; t <= at; t += BEAT) {
		for (uint32_t other = 2; other <= 5; other++) {
			struct herald_heartbeat hb = {
				.node = other, .incarnation = 1, .weight = 8 * other, .queues = 2,
			};

			if (other != id && herald_view_find(&view, other)->state != HERALD_MEMBER_DEAD)
				cr_assert_geq(herald_view_heartbeat(&view, &hb, t, NULL, 0), 0);
		}
		cr_assert_geq(herald_view_tick(&view, t, NULL, 0), 0);
	}
	cr_assert_eq(state(id), HERALD_MEMBER_DEAD);
}

Test(member, failover_moves_only_the_dead_nodes_contexts_to_their_replicas)
{
	struct herald_node surv[HERALD_NODES_MAX];
	unsigned int primaries = 0, replicas = 0, promoted = 0, new_rep = 0;
	size_t next = 0;
	int nm, ns;

	build_cluster();
	kill_node(3, T0 + 10 * BEAT);
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		primaries += assign[i].primary == 3;
		replicas += assign[i].replica == 3;
	}

	nm = herald_view_failover(&view, &dir, 3, assign, CONTEXTS, moves, CONTEXTS);
	cr_assert_eq(nm, (int)(primaries + replicas));
	ns = herald_view_nodes(&view, surv, HERALD_NODES_MAX);
	cr_assert_eq(ns, 4);

	/* Walk assignments and moves together: the plan keeps input order. */
	for (uint32_t i = 0; i < CONTEXTS; i++) {
		const struct herald_assignment *a = &assign[i];
		const struct herald_move *mv;

		if (a->primary != 3 && a->replica != 3)
			continue;
		cr_assert_lt(next, (size_t)nm);
		mv = &moves[next++];
		cr_assert_eq(mv->context, a->context);
		cr_assert_eq(mv->from, a->primary);
		cr_assert_eq(mv->old_replica, a->replica);
		cr_assert_neq(mv->to, 3);
		cr_assert_neq(mv->replica, 3);
		cr_assert_neq(mv->replica, mv->to);
		cr_assert_neq(mv->replica, HERALD_NODE_NONE);
		if (a->primary == 3) {
			cr_assert_eq(mv->kind, HERALD_MOVE_PROMOTE);
			cr_assert_eq(mv->to, a->replica, "the replica takes over first");
			promoted++;
		} else {
			cr_assert_eq(mv->kind, HERALD_MOVE_NEW_REPLICA);
			cr_assert_eq(mv->to, a->primary, "a live primary never moves");
			new_rep++;
		}
		/* Every node, deciding alone from the survivors, agrees with the plan. */
		struct herald_placement p;

		cr_assert_eq(herald_director_place(&dir, surv, (unsigned int)ns, a->context, &p), 0);
		cr_assert_eq(surv[p.primary].id, mv->to);
		cr_assert_eq(surv[p.replica].id, mv->replica);
	}
	cr_assert_eq(next, (size_t)nm);
	cr_assert_eq(promoted, primaries);
	cr_assert_eq(new_rep, replicas);

	/* Node 3 had weight 24 of 1 * 16 + 16 + 24 + 32 + 40 = 128. */
	double frac = (double)primaries / CONTEXTS, want = 24.0 / 128.0;

	cr_log_info("node 3 (weight 24/128) hosted %.4f of %u contexts; all of them moved, nothing else",
		    frac, CONTEXTS);
	cr_assert(fabs(frac - want) <= 0.02, "dead node hosted %.4f, want %.4f", frac, want);
}

Test(member, failover_replaces_when_the_replica_is_gone_too)
{
	struct herald_node surv[HERALD_NODES_MAX];
	unsigned int both = 0;
	int nm, ns;

	build_cluster();
	kill_node(2, T0 + 10 * BEAT);
	nm = herald_view_failover(&view, &dir, 3, assign, CONTEXTS, moves, CONTEXTS);
	cr_assert_gt(nm, 0);
	ns = herald_view_nodes(&view, surv, HERALD_NODES_MAX);
	for (int i = 0; i < nm; i++) {
		const struct herald_move *mv = &moves[i];

		/*
		 * Contexts whose primary was 2 belong to 2's own plan; this
		 * one only re-homes what 3 held and the replicas 3 was.
		 */
		if (mv->from != 2)
			cr_assert_neq(mv->to, 2);
		cr_assert_neq(mv->to, 3);
		cr_assert_neq(mv->replica, 2);
		cr_assert_neq(mv->replica, 3);
		if (mv->from == 3 && mv->old_replica == 2) {
			struct herald_placement p;

			cr_assert_eq(mv->kind, HERALD_MOVE_REPLACE);
			both++;
			/* Survivors are the view minus 2 (dead) minus 3 (dying). */
			struct herald_node rest[HERALD_NODES_MAX];
			unsigned int nr = 0;

			for (int k = 0; k < ns; k++)
				if (surv[k].id != 3)
					rest[nr++] = surv[k];
			cr_assert_eq(herald_director_place(&dir, rest, nr, mv->context, &p), 0);
			cr_assert_eq(mv->to, rest[p.primary].id);
		}
	}
	cr_assert_gt(both, 0, "some contexts had 3 as primary and 2 as replica");
}

Test(member, failover_errors)
{
	struct herald_assignment a = { .context = 9, .primary = SELF, .replica = HERALD_NODE_NONE };
	struct herald_move mv[2];

	cr_assert_eq(herald_view_failover(&view, &dir, HERALD_NODE_NONE, &a, 1, mv, 2), -EINVAL);
	/* The only node dies: there is nowhere to go. */
	cr_assert_eq(herald_view_failover(&view, &dir, SELF, &a, 1, mv, 2), -ENOENT);
	/* Not enough room for the plan. */
	join_peer(PEER, T0);
	a.replica = PEER;
	cr_assert_eq(herald_view_failover(&view, &dir, SELF, &a, 1, mv, 0), -ENOSPC);
	cr_assert_eq(herald_view_failover(&view, &dir, SELF, &a, 1, mv, 1), 1);
	cr_assert_eq(mv[0].kind, HERALD_MOVE_PROMOTE);
	cr_assert_eq(mv[0].to, PEER);
	cr_assert_eq(mv[0].replica, HERALD_NODE_NONE, "no third node for a replica");
	/* Unrelated contexts produce no move. */
	a.primary = PEER;
	a.replica = SELF;
	cr_assert_eq(herald_view_failover(&view, &dir, 42, &a, 1, mv, 2), 0);
}

/* A beat that carries the sender's view epoch. */
static int beat_epoch(uint32_t node, uint32_t epoch, uint64_t now)
{
	struct herald_heartbeat hb = {.node = node, .incarnation = 1, .weight = 16, .queues = 4, .epoch = epoch};
	return herald_view_heartbeat(&view, &hb, now, ev, 8);
}

/* A peer's higher epoch raises the view's; a change it causes is numbered above it; never down. */
Test(member, epoch_learned_from_peers_heartbeats)
{
	cr_assert_eq(view.epoch, 1);
	cr_assert_eq(beat_epoch(PEER, 40, T0), 1); /* joins: no hosting change yet */
	cr_assert_eq(view.epoch, 40);
	cr_assert_eq(beat_epoch(PEER, 40, T0 + BEAT), 1); /* ACTIVE: a change, above the peer's */
	cr_assert_eq(view.epoch, 41);
	cr_assert_eq(ev[0].epoch, 41);
	cr_assert_eq(beat_epoch(PEER, 12, T0 + 2 * BEAT), 0); /* a lower epoch changes nothing */
	cr_assert_eq(view.epoch, 41);
	cr_assert(!herald_view_epoch_raise(&view, 41));
	cr_assert(herald_view_epoch_raise(&view, 50));
	cr_assert_eq(view.epoch, 50);
	/* a delayed beat of an older incarnation teaches nothing */
	cr_assert_eq(beat_inc(PEER, 2, T0 + 3 * BEAT), 3); /* restart: SUSPECT, DEAD, REJOINING */
	cr_assert_eq(view.epoch, 51);
	struct herald_heartbeat old = {.node = PEER, .incarnation = 1, .epoch = 900};
	cr_assert_eq(herald_view_heartbeat(&view, &old, T0 + 4 * BEAT, ev, 8), -ESTALE);
	cr_assert_eq(view.epoch, 51);
}

/*
 * heraldd restarts (a fresh view) with its epoch file: whatever it issued
 * before, every epoch it issues now is higher, with or without peers.
 */
Test(member, restarted_daemon_never_issues_a_lower_epoch)
{
	char dir[] = "/tmp/herald-epoch.XXXXXX", path[128], err[512];
	uint32_t saved = 0, issued;
	uint64_t t = T0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state/heraldd.state", dir); /* the directory is created */
	cr_assert_eq(herald_epoch_file_load(path, &saved, err, sizeof(err)), -ENOENT);
	/* first run: two peers join, one dies and comes back; each change saved as heraldd does */
	join_peer(PEER, t);
	join_peer(PEER + 1, t);
	t += BEAT;
	for (int i = 0; i < 8; i++, t += BEAT) {
		beat(PEER + 1, t);
		herald_view_tick(&view, t, ev, 8);
	}
	join_peer(PEER, t);
	issued = view.epoch;
	cr_assert_eq(issued, 5, "1 + two activations + a death + a rejoin, got %u", issued);
	cr_assert_eq(herald_epoch_file_save(path, issued, err, sizeof(err)), 0, "%s", err);

	/* restart: a fresh view at epoch 1, raised above the file before anything is issued */
	t += 1000 * MS;
	cr_assert_eq(herald_view_init(&view, NULL, SELF, 4, 16, t), 0);
	cr_assert_eq(herald_epoch_file_load(path, &saved, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(saved, issued);
	cr_assert(herald_view_epoch_raise(&view, saved + 1));
	cr_assert_gt(view.epoch, issued);
	/* the peers come back: every epoch from here on is above the first run's */
	cr_assert_eq(beat_epoch(PEER, issued, t), 1);
	cr_assert_gt(view.epoch, issued);
	cr_assert_eq(beat_epoch(PEER, issued, t + BEAT), 1);
	cr_assert_gt(ev[0].epoch, issued + 1);

	/* a file that is not "epoch N" is refused with what it holds */
	FILE *f = fopen(path, "w");
	fputs("epoch seven\n", f);
	fclose(f);
	cr_assert_eq(herald_epoch_file_load(path, &saved, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "expected one line 'epoch N'") != NULL && strstr(err, "'epoch seven'") != NULL, "%s", err);
	f = fopen(path, "w");
	fputs("epoch 0\n", f);
	fclose(f);
	cr_assert_eq(herald_epoch_file_load(path, &saved, err, sizeof(err)), -EINVAL);
	f = fopen(path, "w");
	fputs("epoch 12", f); /* torn: no newline */
	fclose(f);
	cr_assert_eq(herald_epoch_file_load(path, &saved, err, sizeof(err)), -EINVAL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state", dir);
	rmdir(path);
	rmdir(dir);
}
