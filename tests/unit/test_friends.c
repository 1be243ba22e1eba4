/* Tests for friends: asks, acceptance, deletion, events, counts, iteration and listing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/error.h"
#include "regulars/events.h"
#include "regulars/friends.h"
#include "regulars/secrets.h"
#include "regulars/store.h"
#include "regulars/users.h"
#include "test.h"

/* A fresh store with one open write txn, as the writer thread would hand it to a command. */
struct fx {
    char *dir;
    struct store st;
    struct store_tx tx;
};

static int fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    if (store_open(&f->st, f->dir, (size_t)32 << 20, STORE_SYNC_NONE))
        return -1;
    f->tx.st = &f->st;
    return mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn) ? -1 : 0;
}

static void fx_close(struct fx *f)
{
    char path[4096];
    if (f->tx.txn)
        mdb_txn_abort(f->tx.txn);
    f->tx.txn = NULL;
    store_close(&f->st);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->dir);
}

/* Opens a store with n users (ids 1..n). */
static int fx_users(struct fx *f, int n)
{
    if (fx_open(f))
        return -1;
    for (int i = 1; i <= n; i++) {
        char tok[32];
        unsigned char h[32];
        snprintf(tok, sizeof(tok), "ut_%d", i);
        secrets_hash(tok, strlen(tok), h);
        struct users_new u = {.name = "U", .secret_hash = h};
        struct rg_user out;
        if (users_create(&f->tx, &u, 1, &out) || out.id != (uint64_t)i)
            return -1;
    }
    return 0;
}

static uint32_t friends_count(struct fx *f, uint64_t user)
{
    struct rg_account a;
    if (users_account(&f->tx, user, &a))
        return UINT32_MAX;
    return a.friends;
}

static int has_req(struct fx *f, uint64_t a, uint64_t b, struct rg_friend_req *out)
{
    struct skey k;
    skey_make2(&k, a, b);
    return store_get_rec(&f->tx, DB_FRIEND_REQS, &k, out, sizeof(*out));
}

TEST(ask_makes_pending_with_request_event)
{
    struct fx f;
    struct dom_events ev = {0};
    struct rg_friend_req r;
    int status = 0;

    ASSERT_EQ(fx_users(&f, 2), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 5000, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_PENDING);
    ASSERT_EQ(ev.n, 1);
    ASSERT_EQ(ev.ev[0].type, EV_FRIEND_REQUEST);
    ASSERT_EQ(ev.ev[0].recipient, store_recipient(RG_KIND_USER, 2));
    ASSERT_EQ(ev.ev[0].friend_id, 1);
    ASSERT_EQ(ev.ev[0].user_id, 2);
    ASSERT_EQ(ev.ev[0].at, 5000);

    ASSERT_EQ(has_req(&f, 1, 2, &r), 0);
    ASSERT_EQ(r.dir, RG_REQ_OUT);
    ASSERT_EQ(r.at, 5000);
    ASSERT_EQ(has_req(&f, 2, 1, &r), 0);
    ASSERT_EQ(r.dir, RG_REQ_IN);
    ASSERT_EQ(friends_are(&f.tx, 1, 2, NULL), RG_ENOTFOUND);
    ASSERT_EQ(friends_count(&f, 1), 0);
    ASSERT_EQ(friends_count(&f, 2), 0);
    fx_close(&f);
}

TEST(ask_again_is_idempotent)
{
    struct fx f;
    struct dom_events ev = {0};
    struct rg_friend_req r;
    int status = 0;

    ASSERT_EQ(fx_users(&f, 2), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 5000, &status, &ev), 0);
    ev.n = 0;
    status = 0;
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 6000, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_PENDING);
    ASSERT_EQ(ev.n, 0);
    ASSERT_EQ(has_req(&f, 1, 2, &r), 0);
    ASSERT_EQ(r.at, 5000); /* unchanged */
    fx_close(&f);
}

TEST(accept_by_other_makes_friends)
{
    struct fx f;
    struct dom_events ev = {0};
    struct rg_friend_req r;
    int status = 0;
    int64_t since = 0;

    ASSERT_EQ(fx_users(&f, 3), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 5000, &status, &ev), 0);
    ev.n = 0;
    ASSERT_EQ(friends_put(&f.tx, 2, 1, 7000, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_FRIENDS);
    ASSERT_EQ(ev.n, 1);
    ASSERT_EQ(ev.ev[0].type, EV_FRIEND_ACCEPTED);
    ASSERT_EQ(ev.ev[0].recipient, store_recipient(RG_KIND_USER, 1));
    ASSERT_EQ(ev.ev[0].friend_id, 2);
    ASSERT_EQ(ev.ev[0].user_id, 1);
    ASSERT_EQ(ev.ev[0].at, 7000);

    ASSERT_EQ(friends_are(&f.tx, 1, 2, &since), 0);
    ASSERT_EQ(since, 7000);
    since = 0;
    ASSERT_EQ(friends_are(&f.tx, 2, 1, &since), 0);
    ASSERT_EQ(since, 7000);
    ASSERT_EQ(friends_are(&f.tx, 1, 3, NULL), RG_ENOTFOUND);
    ASSERT_EQ(has_req(&f, 1, 2, &r), RG_ENOTFOUND);
    ASSERT_EQ(has_req(&f, 2, 1, &r), RG_ENOTFOUND);
    ASSERT_EQ(friends_count(&f, 1), 1);
    ASSERT_EQ(friends_count(&f, 2), 1);
    ASSERT_EQ(friends_count(&f, 3), 0);

    /* Once friends, asking either way changes nothing and says so. */
    ev.n = 0;
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 9000, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_FRIENDS);
    ASSERT_EQ(friends_put(&f.tx, 2, 1, 9000, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_FRIENDS);
    ASSERT_EQ(ev.n, 0);
    ASSERT_EQ(friends_count(&f, 1), 1);
    ASSERT_EQ(friends_are(&f.tx, 1, 2, &since), 0);
    ASSERT_EQ(since, 7000);
    fx_close(&f);
}

TEST(delete_friendship_both_ways)
{
    struct fx f;
    struct dom_events ev = {0};
    int status;

    ASSERT_EQ(fx_users(&f, 3), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 1, &status, &ev), 0);
    ASSERT_EQ(friends_put(&f.tx, 2, 1, 2, &status, &ev), 0);
    ASSERT_EQ(friends_put(&f.tx, 3, 1, 3, &status, &ev), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 3, 4, &status, &ev), 0);
    ASSERT_EQ(friends_count(&f, 1), 2);

    /* Ended by the one who asked... */
    ASSERT_EQ(friends_delete(&f.tx, 1, 2), 0);
    ASSERT_EQ(friends_are(&f.tx, 1, 2, NULL), RG_ENOTFOUND);
    ASSERT_EQ(friends_are(&f.tx, 2, 1, NULL), RG_ENOTFOUND);
    ASSERT_EQ(friends_count(&f, 1), 1);
    ASSERT_EQ(friends_count(&f, 2), 0);
    /* ...or by the one who accepted. */
    ASSERT_EQ(friends_delete(&f.tx, 1, 3), 0);
    ASSERT_EQ(friends_are(&f.tx, 3, 1, NULL), RG_ENOTFOUND);
    ASSERT_EQ(friends_count(&f, 1), 0);
    ASSERT_EQ(friends_count(&f, 3), 0);
    /* Nothing left: still fine, counts do not go below zero. */
    ASSERT_EQ(friends_delete(&f.tx, 3, 1), 0);
    ASSERT_EQ(friends_count(&f, 3), 0);

    /* After ending, a new ask starts over as pending. */
    ev.n = 0;
    ASSERT_EQ(friends_put(&f.tx, 2, 1, 10, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_PENDING);
    ASSERT_EQ(ev.n, 1);
    ASSERT_EQ(ev.ev[0].type, EV_FRIEND_REQUEST);
    fx_close(&f);
}

TEST(delete_withdraws_or_declines_ask)
{
    struct fx f;
    struct dom_events ev = {0};
    struct rg_friend_req r;
    int status;

    ASSERT_EQ(fx_users(&f, 3), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 1, &status, &ev), 0);
    ASSERT_EQ(friends_delete(&f.tx, 1, 2), 0); /* withdrawn by the asker */
    ASSERT_EQ(has_req(&f, 1, 2, &r), RG_ENOTFOUND);
    ASSERT_EQ(has_req(&f, 2, 1, &r), RG_ENOTFOUND);

    ASSERT_EQ(friends_put(&f.tx, 1, 3, 2, &status, &ev), 0);
    ASSERT_EQ(friends_delete(&f.tx, 3, 1), 0); /* declined by the asked */
    ASSERT_EQ(has_req(&f, 1, 3, &r), RG_ENOTFOUND);
    ASSERT_EQ(has_req(&f, 3, 1, &r), RG_ENOTFOUND);
    ASSERT_EQ(friends_count(&f, 1), 0);
    ASSERT_EQ(friends_count(&f, 3), 0);

    /* Declined, so asking back is a new ask, not an acceptance. */
    ASSERT_EQ(friends_put(&f.tx, 3, 1, 3, &status, &ev), 0);
    ASSERT_EQ(status, FRIENDS_PENDING);
    fx_close(&f);
}

TEST(self_and_unknown)
{
    struct fx f;
    struct dom_events ev = {0};
    int status = 0;

    ASSERT_EQ(fx_users(&f, 2), 0);
    ASSERT_EQ(friends_put(&f.tx, 1, 1, 1, &status, &ev), RG_E_SELF);
    ASSERT_EQ(friends_put(&f.tx, 1, 99, 1, &status, &ev), RG_ENOTFOUND);
    ASSERT_EQ(friends_delete(&f.tx, 1, 1), RG_E_SELF);
    ASSERT_EQ(friends_delete(&f.tx, 1, 99), RG_ENOTFOUND);
    ASSERT_EQ(ev.n, 0);
    ASSERT_EQ(friends_are(&f.tx, 1, 99, NULL), RG_ENOTFOUND);
    fx_close(&f);
}

TEST(events_full_is_etoobig)
{
    struct fx f;
    struct dom_events ev = {0};
    int status;

    ASSERT_EQ(fx_users(&f, 2), 0);
    ev.n = DOM_MAX_EVENTS;
    ASSERT_EQ(friends_put(&f.tx, 1, 2, 1, &status, &ev), RG_ETOOBIG);
    ASSERT_EQ(ev.n, DOM_MAX_EVENTS);
    struct rg_friend_req r;
    ASSERT_EQ(has_req(&f, 1, 2, &r), RG_ENOTFOUND); /* refused before writing */
    fx_close(&f);
}

static int befriend(struct fx *f, uint64_t a, uint64_t b, int64_t at)
{
    struct dom_events ev = {0};
    int status, rc;
    if ((rc = friends_put(&f->tx, a, b, at, &status, &ev)))
        return rc;
    return friends_put(&f->tx, b, a, at, &status, &ev);
}

TEST(iterator_walks_friends_in_id_order)
{
    struct fx f;
    struct friends_iter it;
    uint64_t id;
    int64_t since;
    int status;
    struct dom_events ev = {0};

    ASSERT_EQ(fx_users(&f, 6), 0);
    ASSERT_EQ(befriend(&f, 3, 5, 500), 0);
    ASSERT_EQ(befriend(&f, 3, 1, 100), 0);
    ASSERT_EQ(befriend(&f, 4, 3, 400), 0);
    ASSERT_EQ(befriend(&f, 2, 4, 200), 0);                     /* not 3's */
    ASSERT_EQ(friends_put(&f.tx, 3, 6, 600, &status, &ev), 0); /* pending: not a friend */

    ASSERT_EQ(friends_iter_begin(&f.tx, 3, &it), 0);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), 0);
    ASSERT_EQ(id, 1);
    ASSERT_EQ(since, 100);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), 0);
    ASSERT_EQ(id, 4);
    ASSERT_EQ(since, 400);
    ASSERT_EQ(friends_iter_next(&it, &id, NULL), 0);
    ASSERT_EQ(id, 5);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), RG_ENOTFOUND);
    friends_iter_end(&it);
    friends_iter_end(&it); /* twice is safe */

    /* A user with no friends, and the last user (cursor runs off the end of the db). */
    ASSERT_EQ(friends_iter_begin(&f.tx, 6, &it), 0);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), RG_ENOTFOUND);
    friends_iter_end(&it);
    ASSERT_EQ(friends_iter_begin(&f.tx, 5, &it), 0);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), 0);
    ASSERT_EQ(id, 3);
    ASSERT_EQ(friends_iter_next(&it, &id, &since), RG_ENOTFOUND);
    friends_iter_end(&it);
    fx_close(&f);
}

struct list_rec {
    int n;
    int which[8];
    uint64_t id[8];
    int64_t at[8];
    int stop_after; /* return 77 after this many calls, 0: never */
};

static int list_cb(void *ctx, int which, uint64_t id, int64_t at)
{
    struct list_rec *r = ctx;
    if (r->n < 8) {
        r->which[r->n] = which;
        r->id[r->n] = id;
        r->at[r->n] = at;
    }
    r->n++;
    return r->stop_after && r->n >= r->stop_after ? 77 : 0;
}

TEST(list_friends_incoming_outgoing)
{
    struct fx f;
    struct dom_events ev = {0};
    int status;
    struct list_rec r;

    ASSERT_EQ(fx_users(&f, 5), 0);
    ASSERT_EQ(befriend(&f, 1, 4, 40), 0);
    ASSERT_EQ(befriend(&f, 1, 2, 20), 0);
    ASSERT_EQ(friends_put(&f.tx, 5, 1, 50, &status, &ev), 0); /* incoming to 1 */
    ASSERT_EQ(friends_put(&f.tx, 1, 3, 30, &status, &ev), 0); /* outgoing from 1 */

    memset(&r, 0, sizeof(r));
    ASSERT_EQ(friends_list(&f.tx, 1, list_cb, &r), 0);
    ASSERT_EQ(r.n, 4);
    ASSERT_EQ(r.which[0], FRIENDS_LIST_FRIEND);
    ASSERT_EQ(r.id[0], 2);
    ASSERT_EQ(r.at[0], 20);
    ASSERT_EQ(r.which[1], FRIENDS_LIST_FRIEND);
    ASSERT_EQ(r.id[1], 4);
    ASSERT_EQ(r.at[1], 40);
    ASSERT_EQ(r.which[2], FRIENDS_LIST_OUTGOING);
    ASSERT_EQ(r.id[2], 3);
    ASSERT_EQ(r.at[2], 30);
    ASSERT_EQ(r.which[3], FRIENDS_LIST_INCOMING);
    ASSERT_EQ(r.id[3], 5);
    ASSERT_EQ(r.at[3], 50);

    /* The other side sees the mirror. */
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(friends_list(&f.tx, 3, list_cb, &r), 0);
    ASSERT_EQ(r.n, 1);
    ASSERT_EQ(r.which[0], FRIENDS_LIST_INCOMING);
    ASSERT_EQ(r.id[0], 1);

    /* The callback can stop the walk, and its value comes back. */
    memset(&r, 0, sizeof(r));
    r.stop_after = 3;
    ASSERT_EQ(friends_list(&f.tx, 1, list_cb, &r), 77);
    ASSERT_EQ(r.n, 3);
    fx_close(&f);
}
