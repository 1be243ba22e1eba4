/*
 * Friendships and pending asks. Every relation is written twice, (a, b) and (b, a), so that
 * each user's side is one prefix scan; the two rows are always written and deleted together
 * in the same txn.
 */
#include <string.h>

#include "regulars/error.h"
#include "regulars/friends.h"
#include "regulars/model.h"
#include "regulars/users.h"

static int get_edge(struct store_tx *tx, uint64_t a, uint64_t b, struct rg_friend_edge *e)
{
    struct skey k;
    skey_make2(&k, a, b);
    return store_get_rec(tx, DB_FRIENDS, &k, e, sizeof(*e));
}

static int put_pair(struct store_tx *tx, enum store_db db, uint64_t a, uint64_t b, const void *ab,
                    const void *ba, size_t size)
{
    struct skey k;
    int rc;
    skey_make2(&k, a, b);
    if ((rc = store_put(tx, db, &k, ab, size, 0)))
        return rc;
    skey_make2(&k, b, a);
    return store_put(tx, db, &k, ba, size, 0);
}

/* Deletes both rows; a missing row means the pair was half-written, which the txn discipline
 * rules out, so it is reported as RG_EIO rather than ignored. */
static int del_pair(struct store_tx *tx, enum store_db db, uint64_t a, uint64_t b)
{
    struct skey k;
    int rc;
    skey_make2(&k, a, b);
    if ((rc = store_del(tx, db, &k)))
        return rc == RG_ENOTFOUND ? RG_EIO : rc;
    skey_make2(&k, b, a);
    if ((rc = store_del(tx, db, &k)))
        return rc == RG_ENOTFOUND ? RG_EIO : rc;
    return 0;
}

static int add_friends_count(struct store_tx *tx, uint64_t user, int delta)
{
    struct rg_account a;
    int rc = users_account(tx, user, &a);
    if (rc)
        return rc == RG_ENOTFOUND ? RG_EIO : rc;
    if (delta < 0 && a.friends == 0)
        return RG_EIO;
    a.friends = (uint32_t)((int64_t)a.friends + delta);
    return users_put_account(tx, user, &a);
}

static int make_friends(struct store_tx *tx, uint64_t me, uint64_t other, int64_t now)
{
    struct rg_friend_edge e = {.since = now};
    int rc;
    if ((rc = del_pair(tx, DB_FRIEND_REQS, me, other)))
        return rc;
    if ((rc = put_pair(tx, DB_FRIENDS, me, other, &e, &e, sizeof(e))))
        return rc;
    if ((rc = add_friends_count(tx, me, 1)))
        return rc;
    return add_friends_count(tx, other, 1);
}

int friends_put(struct store_tx *tx, uint64_t me, uint64_t other, int64_t now, int *status,
                struct dom_events *ev)
{
    struct rg_friend_edge edge;
    struct rg_friend_req req;
    struct skey k;
    int rc;

    if (me == other)
        return RG_E_SELF;
    if ((rc = users_exists(tx, other)))
        return rc;
    rc = get_edge(tx, me, other, &edge);
    if (rc == 0) {
        *status = FRIENDS_FRIENDS;
        return 0;
    }
    if (rc != RG_ENOTFOUND)
        return rc;

    skey_make2(&k, me, other);
    rc = store_get_rec(tx, DB_FRIEND_REQS, &k, &req, sizeof(req));
    if (rc && rc != RG_ENOTFOUND)
        return rc;
    struct dom_event e;
    memset(&e, 0, sizeof(e));
    e.recipient = store_recipient(RG_KIND_USER, other);
    e.at = now;
    e.user_id = other;
    e.friend_id = me;
    if (rc == 0 && req.dir == RG_REQ_OUT) {
        *status = FRIENDS_PENDING;
        return 0;
    }
    /* Both remaining paths publish one event: refuse before writing anything. */
    if (ev->n >= DOM_MAX_EVENTS)
        return RG_ETOOBIG;
    if (rc == 0) {
        /* Asking someone who already asked me is accepting. */
        if ((rc = make_friends(tx, me, other, now)))
            return rc;
        e.type = EV_FRIEND_ACCEPTED;
        *status = FRIENDS_FRIENDS;
        return dom_events_add(ev, &e);
    }

    struct rg_friend_req out = {.dir = RG_REQ_OUT, .at = now};
    struct rg_friend_req in = {.dir = RG_REQ_IN, .at = now};
    if ((rc = put_pair(tx, DB_FRIEND_REQS, me, other, &out, &in, sizeof(out))))
        return rc;
    e.type = EV_FRIEND_REQUEST;
    *status = FRIENDS_PENDING;
    return dom_events_add(ev, &e);
}

int friends_delete(struct store_tx *tx, uint64_t me, uint64_t other)
{
    struct rg_friend_edge edge;
    struct rg_friend_req req;
    struct skey k;
    int rc;

    if (me == other)
        return RG_E_SELF;
    if ((rc = users_exists(tx, other)))
        return rc;
    rc = get_edge(tx, me, other, &edge);
    if (rc == 0) {
        if ((rc = del_pair(tx, DB_FRIENDS, me, other)))
            return rc;
        if ((rc = add_friends_count(tx, me, -1)))
            return rc;
        return add_friends_count(tx, other, -1);
    }
    if (rc != RG_ENOTFOUND)
        return rc;
    skey_make2(&k, me, other);
    rc = store_get_rec(tx, DB_FRIEND_REQS, &k, &req, sizeof(req));
    if (rc == RG_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    return del_pair(tx, DB_FRIEND_REQS, me, other);
}

int friends_are(struct store_tx *tx, uint64_t a, uint64_t b, int64_t *since)
{
    struct rg_friend_edge e;
    int rc = get_edge(tx, a, b, &e);
    if (rc == 0 && since)
        *since = e.since;
    return rc;
}

/* ---- iteration ---- */

int friends_iter_begin(struct store_tx *tx, uint64_t user, struct friends_iter *it)
{
    memset(it, 0, sizeof(*it));
    it->user = user;
    return store_cursor(tx, DB_FRIENDS, &it->cur);
}

/* Steps a cursor over the (user, x) keys of a pair database: positions on the first key of
 * the prefix when *started is 0, on the next otherwise. Returns 0 with x and the value,
 * RG_ENOTFOUND past the prefix. */
static int pair_next(MDB_cursor *cur, uint64_t user, int *started, uint64_t *x, MDB_val *val)
{
    struct skey k;
    MDB_val key = {0, NULL};
    int rc;
    if (!*started) {
        skey_make2(&k, user, 0);
        key = skey_val(&k);
        rc = mdb_cursor_get(cur, &key, val, MDB_SET_RANGE);
        *started = 1;
    } else {
        rc = mdb_cursor_get(cur, &key, val, MDB_NEXT);
    }
    if (rc)
        return store_err(rc);
    if (key.mv_size != 16 || store_be64(key.mv_data) != user)
        return RG_ENOTFOUND;
    *x = store_be64((const unsigned char *)key.mv_data + 8);
    return 0;
}

int friends_iter_next(struct friends_iter *it, uint64_t *friend_id, int64_t *since)
{
    uint64_t f = 0;
    MDB_val val;
    int rc = pair_next(it->cur, it->user, &it->started, &f, &val);
    if (rc)
        return rc;
    if (val.mv_size != sizeof(struct rg_friend_edge))
        return RG_EIO;
    if (friend_id)
        *friend_id = f;
    if (since) {
        struct rg_friend_edge e;
        memcpy(&e, val.mv_data, sizeof(e));
        *since = e.since;
    }
    return 0;
}

void friends_iter_end(struct friends_iter *it)
{
    if (it->cur)
        mdb_cursor_close(it->cur);
    it->cur = NULL;
}

int friends_list(struct store_tx *tx, uint64_t me, friends_list_fn fn, void *ctx)
{
    struct friends_iter it;
    uint64_t id = 0;
    int64_t at = 0;
    int rc, stop = 0;

    /* fn's return is kept apart from the walk's own status, so that any value it returns
     * (even RG_ENOTFOUND) comes back unchanged. */
    if ((rc = friends_iter_begin(tx, me, &it)))
        return rc;
    while (!stop && (rc = friends_iter_next(&it, &id, &at)) == 0)
        stop = fn(ctx, FRIENDS_LIST_FRIEND, id, at);
    friends_iter_end(&it);
    if (stop)
        return stop;
    if (rc != RG_ENOTFOUND)
        return rc;

    MDB_cursor *cur;
    MDB_val val;
    int started = 0;
    if ((rc = store_cursor(tx, DB_FRIEND_REQS, &cur)))
        return rc;
    while (!stop && (rc = pair_next(cur, me, &started, &id, &val)) == 0) {
        struct rg_friend_req req;
        if (val.mv_size != sizeof(req)) {
            rc = RG_EIO;
            break;
        }
        memcpy(&req, val.mv_data, sizeof(req));
        int which = req.dir == RG_REQ_IN ? FRIENDS_LIST_INCOMING : FRIENDS_LIST_OUTGOING;
        stop = fn(ctx, which, id, req.at);
    }
    mdb_cursor_close(cur);
    if (stop)
        return stop;
    return rc == RG_ENOTFOUND ? 0 : rc;
}
