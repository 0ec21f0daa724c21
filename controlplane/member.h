/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file member.h
 * Cluster membership: the view one heraldd holds of its peers, a member
 * state machine per peer driven by the heartbeats it receives and by an
 * injected clock, and the failover plan that says which contexts move when
 * a member dies. Nothing here reads a clock, a socket or a random source:
 * the caller passes now_ns in, so tests fast-forward time. See
 * docs/director.md for the state diagram.
 */
#ifndef HERALD_MEMBER_H
#define HERALD_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "director.h"

/** Member states; see the diagram in docs/director.md. */
enum herald_member_state {
	HERALD_MEMBER_JOINING,   /**< heard, not yet trusted with contexts */
	HERALD_MEMBER_ACTIVE,    /**< heartbeating; hosts contexts */
	HERALD_MEMBER_SUSPECT,   /**< missed heartbeats; keeps its contexts */
	HERALD_MEMBER_DEAD,      /**< declared dead; its contexts have moved */
	HERALD_MEMBER_REJOINING, /**< heard again after death; comes back empty */
	HERALD_MEMBER_STATE_MAX
};

/** Membership timing. Missed beats count whole heartbeat intervals of silence. */
struct herald_member_params {
	uint64_t heartbeat_interval_ns; /**< peers send a heartbeat this often */
	uint32_t suspect_after;         /**< missed beats before ACTIVE -> SUSPECT */
	uint32_t dead_after;            /**< missed beats before -> DEAD; > suspect_after */
	uint32_t active_after;          /**< heartbeats heard before (RE)JOINING -> ACTIVE */
};

/** 50 ms heartbeats, suspect after 3 missed, dead after 6, active after 2 heard. */
extern const struct herald_member_params herald_member_params_default;

/** One heartbeat as the daemon decoded it from a peer. */
struct herald_heartbeat {
	uint32_t node;        /**< sender's node id */
	uint32_t incarnation; /**< sender's restart counter; grows on every start */
	uint32_t weight;      /**< herald_director_weight() of the sender */
	uint32_t contexts;    /**< contexts the sender hosts (for operators) */
	uint16_t queues;      /**< sender's dataplane queue count */
	uint32_t epoch;       /**< sender's view epoch: this view's is raised to it */
};

/** One peer as this node sees it. */
struct herald_member {
	uint32_t id;
	enum herald_member_state state;
	uint32_t incarnation;   /**< highest incarnation heard from the peer */
	uint32_t epoch;         /**< view epoch at which it last became ACTIVE or DEAD */
	uint32_t weight;        /**< last published weight */
	uint32_t contexts;      /**< last published context count */
	uint16_t queues;        /**< last published queue count */
	bool local;             /**< this node itself: never times out */
	uint32_t beats;         /**< heartbeats heard since entering this state */
	uint64_t last_heard_ns; /**< time of the last heartbeat accepted */
	uint64_t since_ns;      /**< time of the last state change */
};

/** This node's view of the cluster. */
struct herald_view {
	struct herald_member_params params;
	/** Grows whenever the set of nodes that host contexts changes. */
	uint32_t epoch;
	unsigned int n;
	struct herald_member members[HERALD_NODES_MAX];
};

/** One state change, reported to the caller so it can act and log. */
struct herald_member_event {
	uint32_t node;
	enum herald_member_state from;
	enum herald_member_state to;
	uint32_t epoch; /**< view epoch after the change */
};

/** How a context's hosting changes in a failover plan. */
enum herald_move_kind {
	HERALD_MOVE_PROMOTE,     /**< primary died; its live replica takes over */
	HERALD_MOVE_REPLACE,     /**< primary and replica gone; placed afresh */
	HERALD_MOVE_NEW_REPLICA, /**< replica died; primary stays, new replica */
};

/** Where a context lives now, by node id (HERALD_NODE_NONE for none). */
struct herald_assignment {
	uint32_t context;
	uint32_t primary;
	uint32_t replica;
};

/** One line of a failover plan. */
struct herald_move {
	uint32_t context;
	enum herald_move_kind kind;
	uint32_t from;        /**< primary before */
	uint32_t to;          /**< primary after (== from for NEW_REPLICA) */
	uint32_t replica;     /**< replica after, HERALD_NODE_NONE if no node is left */
	uint32_t old_replica; /**< replica before */
};

/** Name of a state, lower case, for logs and heraldctl; NULL if out of range. */
const char *herald_member_state_name(enum herald_member_state s);

/** @return 0 when the parameters are usable, -EINVAL otherwise. */
int herald_member_params_validate(const struct herald_member_params *p);

/**
 * Start a view that holds only this node, ACTIVE, at epoch 1.
 *
 * @param p  timing, or NULL for herald_member_params_default
 * @return 0, or -EINVAL on bad parameters or a local id of HERALD_NODE_NONE.
 */
int herald_view_init(struct herald_view *v, const struct herald_member_params *p,
		     uint32_t local_id, uint16_t local_queues, uint32_t local_weight,
		     uint64_t now_ns);

/** @return the member with this id, or NULL. */
const struct herald_member *herald_view_find(const struct herald_view *v, uint32_t id);

/**
 * Feed one heartbeat. An unknown sender joins the view as JOINING (reported
 * as an event from HERALD_MEMBER_STATE_MAX). The silence before the beat is
 * judged first, exactly as herald_view_tick() would, so a peer heard again
 * after dead_after intervals goes DEAD and then REJOINING whether or not the
 * daemon ticked in between. A sender whose incarnation grew while it was
 * ACTIVE or SUSPECT restarted and lost its contexts, so it is declared DEAD
 * and then REJOINING at once. The view epoch is raised to the beat's epoch
 * first (herald_view_epoch_raise()), so changes the beat causes are
 * numbered above it.
 *
 * @param ev   room for up to @p cap events, may be NULL when cap is 0
 * @return the number of state changes (may exceed cap; the extra ones are
 *         not written), or -EINVAL, -ENOSPC (view full), -ESTALE (older
 *         incarnation than already heard: a delayed datagram, ignored).
 */
int herald_view_heartbeat(struct herald_view *v, const struct herald_heartbeat *hb,
			  uint64_t now_ns, struct herald_member_event *ev,
			  unsigned int cap);

/**
 * Raise the view epoch to @p epoch if that is higher (a peer's, heard in a
 * heartbeat; or the epoch file's after a restart). Epochs never go down.
 * @return whether the epoch changed.
 */
bool herald_view_epoch_raise(struct herald_view *v, uint32_t epoch);

/**
 * Advance time: members silent for suspect_after intervals become SUSPECT,
 * for dead_after intervals DEAD. A late tick still reports ACTIVE -> SUSPECT
 * before SUSPECT -> DEAD, so every transition is visible.
 *
 * @return the number of state changes (may exceed cap), or -EINVAL.
 */
int herald_view_tick(struct herald_view *v, uint64_t now_ns,
		     struct herald_member_event *ev, unsigned int cap);

/**
 * Placement candidates of the view: ACTIVE and SUSPECT members (a suspect
 * keeps its contexts until it is declared dead, so it still draws straws).
 *
 * @return the number written, or -ENOSPC if cap is too small, -EINVAL.
 */
int herald_view_nodes(const struct herald_view *v, struct herald_node *nodes,
		      unsigned int cap);

/**
 * Failover plan for the death of @p dead: each context whose primary was
 * the dead node goes to its replica if that is still a candidate, else to
 * the shortest straw among the candidates; each context that lost its
 * replica gets the next straw as a new replica. No other context moves.
 * Candidates are herald_view_nodes() minus @p dead.
 *
 * @return the number of moves written, or -EINVAL, -ENOSPC (cap too
 *         small), -ENOENT (a context must move but no candidate is left).
 */
int herald_view_failover(const struct herald_view *v, const struct herald_director *d,
			 uint32_t dead, const struct herald_assignment *assign,
			 size_t n, struct herald_move *moves, size_t cap);

#endif /* HERALD_MEMBER_H */
