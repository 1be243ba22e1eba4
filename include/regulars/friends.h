/*
 * Friendships, mutual as on a social network: A asks B, B accepts (by asking back), and
 * from then on both are friends. Layouts (store.h):
 *   DB_FRIENDS      (a, b) -> rg_friend_edge {since}, written both ways;
 *   DB_FRIEND_REQS  (a, b) -> rg_friend_req {dir from a's side, at}, written both ways, so
 *                   that a user's incoming and outgoing asks are one prefix scan.
 * An accepted pair has edges and no req rows; a pending pair has req rows and no edges.
 * Writes run on the writer thread inside the caller's txn and return the events to publish.
 */
#ifndef REGULARS_FRIENDS_H
#define REGULARS_FRIENDS_H

#include <lmdb.h>
#include <stdint.h>

#include "regulars/events.h"
#include "regulars/store.h"

enum friends_status { FRIENDS_PENDING = 1, FRIENDS_FRIENDS = 2 };

/** PUT /v1/friends/{other} by me: asks other, or accepts other's pending ask.
 *  - me == other: RG_E_SELF. Unknown other: RG_ENOTFOUND.
 *  - Already friends: *status = FRIENDS_FRIENDS, nothing written, no event.
 *  - My ask pending: *status = FRIENDS_PENDING, nothing written (idempotent), no event.
 *  - Other's ask pending: accepted: both req rows deleted, both edges written with
 *    since = now, both accounts' friends incremented; *status = FRIENDS_FRIENDS and event
 *    EV_FRIEND_ACCEPTED to other (user_id = other, friend_id = me).
 *  - Otherwise a new ask: both req rows (dir OUT on my side, IN on other's, at = now);
 *    *status = FRIENDS_PENDING and event EV_FRIEND_REQUEST to other (user_id = other,
 *    friend_id = me).
 *  Cost: 3 gets (other exists, edge, req); accept adds 2 gets + 2 puts (accounts),
 *  2 dels, 2 puts; a new ask adds 2 puts.
 *  Returns 0, RG_E_SELF, RG_ENOTFOUND, RG_ETOOBIG (ev full, found before any write) or a
 *  store error. */
int friends_put(struct store_tx *tx, uint64_t me, uint64_t other, int64_t now, int *status,
                struct dom_events *ev);

/** DELETE /v1/friends/{other} by me: ends the friendship (both edges deleted, both friends
 *  counts decremented) or withdraws / declines the pending ask in either direction.
 *  Returns 0 also when there was nothing between them (DELETE is idempotent), RG_E_SELF,
 *  RG_ENOTFOUND for an unknown other, or a store error. No event.
 *  Cost: 2 gets (other, edge); friends: 2 dels + 2 gets + 2 puts (accounts); otherwise
 *  1 get (req) and, when pending, 2 dels. */
int friends_delete(struct store_tx *tx, uint64_t me, uint64_t other);

/** Returns 0 when a and b are friends (setting *since when since is not NULL),
 *  RG_ENOTFOUND when not, or a store error. Cost: 1 get. */
int friends_are(struct store_tx *tx, uint64_t a, uint64_t b, int64_t *since);

/* Walks one user's friends in friend-id order with an LMDB cursor (no allocation). */
struct friends_iter {
    MDB_cursor *cur; /* owned, closed by friends_iter_end */
    uint64_t user;   /* whose friends */
    int started;     /* 0 before the first next */
};

/** Opens the iterator on user's friends. Returns 0 or a store error (nothing to end then).
 *  friends_iter_end must be called before the txn ends. */
int friends_iter_begin(struct store_tx *tx, uint64_t user, struct friends_iter *it);
/** Next friend: 0 with *friend_id and *since (either may be NULL), RG_ENOTFOUND at the end,
 *  or a store error. */
int friends_iter_next(struct friends_iter *it, uint64_t *friend_id, int64_t *since);
/** Closes the cursor. Safe to call twice. */
void friends_iter_end(struct friends_iter *it);

enum friends_which {
    FRIENDS_LIST_FRIEND = 0,   /* an accepted friend; at = since */
    FRIENDS_LIST_INCOMING = 1, /* an ask from user_id to me; at = when asked */
    FRIENDS_LIST_OUTGOING = 2, /* my ask to user_id; at = when asked */
};

/* Called once per entry of friends_list; at is `since` for a friend, the ask's time for an
 * ask. A non-zero return stops the walk, and friends_list returns it. */
typedef int (*friends_list_fn)(void *ctx, int which, uint64_t user_id, int64_t at);

/** GET /v1/friends: calls fn for every friend of me in user-id order (one prefix scan of
 *  DB_FRIENDS), then for every pending ask, incoming and outgoing mixed, in user-id order
 *  (one prefix scan of DB_FRIEND_REQS). Returns 0, fn's non-zero return, or a store error. */
int friends_list(struct store_tx *tx, uint64_t me, friends_list_fn fn, void *ctx);

#endif
