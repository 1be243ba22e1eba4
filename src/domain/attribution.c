/*
 * Attribution: which share credits a purchase. The rules and the cost argument are in
 * attribution.h; this file is the scan.
 *
 * Why from the buyer's friends: store.h fixes DB_SHARES_BY_SHARER (merchant, sharer, share),
 * so the natural walk is "each friend's shares at M". Its weak spot is a buyer with many
 * friends at a merchant with few shares: one seek per friend finds nothing. A merchant-side
 * index (merchant, share) -> (sharer, expires_at), walked newest first with a DB_FRIENDS
 * point read per live share, stops at the first candidate (which is then the winner, ids
 * being in creation order) and is bounded by the merchant's live shares instead; a planner
 * could pick the smaller side from a per-merchant live-share count. Not built yet: the
 * friends walk measured about 16 us per hundred friends (160 us for a buyer with 1,000
 * friends and no share at M, -O2, hot cache), which is writer-thread time per purchase.
 */
#include <string.h>

#include "regulars/attribution.h"
#include "regulars/error.h"
#include "regulars/friends.h"
#include "regulars/merchants.h"

#define BY_SHARER_KEY_LEN 24 /* (u64 merchant, u64 sharer, u64 share) */

/* Everything one search needs, so that the per-friend scan takes one argument. */
struct search {
    struct store_tx *tx;
    MDB_cursor *cur; /* on DB_SHARES_BY_SHARER, reused for every friend */
    uint64_t merchant;
    uint64_t buyer;
    int64_t now;
    uint32_t max_referrals;
    int found;
    struct rg_share best;
};

/* Is the live share s (already known: at M, expires_at > now) a candidate? The cheap checks
 * come first; each later one costs one point read. Returns 1, 0, or a negative rg_err. */
static int is_candidate(struct search *s, const struct rg_share *sh)
{
    struct skey k;
    MDB_val v;
    struct rg_purchase p;
    int rc;

    if (sh->user_id == s->buyer || sh->merchant_id != s->merchant)
        return 0;
    if (sh->created_at > s->now || sh->expires_at <= s->now)
        return 0;
    if (sh->referrals >= s->max_referrals)
        return 0;
    /* Rule 5: a credit stays counted, so a row here means "never again for this buyer". */
    skey_make2(&k, sh->id, s->buyer);
    rc = store_get(s->tx, DB_SHARE_CREDITS, &k, &v);
    if (rc == 0)
        return 0;
    if (rc != RG_ENOTFOUND)
        return rc;
    skey_make1(&k, sh->purchase_id);
    if ((rc = store_get_rec(s->tx, DB_PURCHASES, &k, &p, sizeof(p))))
        return rc;
    return p.refunded_at == 0;
}

/* Most recently created wins; in the same millisecond, the one recorded later. */
static int beats(const struct rg_share *a, const struct rg_share *b)
{
    return a->created_at > b->created_at || (a->created_at == b->created_at && a->id > b->id);
}

/* Scans friend's shares at the merchant, newest first, until one is a candidate or no older
 * share can be (see attribution.h for why both stops are sound). */
static int scan_friend(struct search *s, uint64_t friend_id)
{
    const int64_t stale = s->now - ATTRIBUTION_MAX_WINDOW_MS;
    struct skey start;
    MDB_val k, v;
    int rc;

    /* Share ids are < 2^56, so (M, F, max) is past F's last share: SET_RANGE lands on the
     * next sharer's first key (or nothing), and one step back is F's newest share. */
    skey_make3(&start, s->merchant, friend_id, UINT64_MAX);
    k = skey_val(&start);
    rc = mdb_cursor_get(s->cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(s->cur, &k, &v, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(s->cur, &k, &v, MDB_PREV);

    for (; rc == 0; rc = mdb_cursor_get(s->cur, &k, &v, MDB_PREV)) {
        const unsigned char *kb = k.mv_data;
        if (k.mv_size != BY_SHARER_KEY_LEN || store_be64(kb) != s->merchant ||
            store_be64(kb + 8) != friend_id)
            break;
        uint64_t share_id = store_be64(kb + 16);
        if (s->found && share_id <= s->best.id)
            break; /* created no later than the best: cannot win */
        if (v.mv_size != 8)
            return RG_EIO;
        int64_t expires_at = (int64_t)store_be64(v.mv_data);
        if (expires_at <= s->now) {
            if (expires_at <= stale)
                break; /* every older share of F expired before now */
            continue;
        }
        struct rg_share sh;
        struct skey sk;
        skey_make1(&sk, share_id);
        int r = store_get_rec(s->tx, DB_SHARES, &sk, &sh, sizeof(sh));
        if (r)
            return r;
        if ((r = is_candidate(s, &sh)) < 0)
            return r;
        if (r) {
            if (!s->found || beats(&sh, &s->best)) {
                s->best = sh;
                s->found = 1;
            }
            break; /* F's older shares were created no later than this one */
        }
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int attribution_find_capped(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t now,
                            uint32_t max_referrals, struct rg_share *winner)
{
    struct search s = {
        .tx = tx,
        .merchant = merchant,
        .buyer = buyer,
        .now = now,
        .max_referrals = max_referrals,
    };
    struct friends_iter it;
    uint64_t friend_id;
    int64_t since;
    int rc;

    if ((rc = store_cursor(tx, DB_SHARES_BY_SHARER, &s.cur)))
        return rc;
    if ((rc = friends_iter_begin(tx, buyer, &it)))
        goto out_cur;
    while ((rc = friends_iter_next(&it, &friend_id, &since)) == 0) {
        if (since > now)
            continue; /* not yet friends at the purchase's time */
        if ((rc = scan_friend(&s, friend_id)))
            goto out;
    }
    if (rc != RG_ENOTFOUND)
        goto out;
    rc = s.found ? 0 : RG_ENOTFOUND;
    if (s.found)
        *winner = s.best;
out:
    friends_iter_end(&it);
out_cur:
    mdb_cursor_close(s.cur);
    return rc;
}

int attribution_find(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t now,
                     struct rg_share *winner)
{
    struct rg_merchant m; /* ~9 KB on the stack, read once */
    int rc = merchants_get(tx, merchant, &m);
    if (rc)
        return rc;
    return attribution_find_capped(tx, merchant, buyer, now, m.rules.max_referrals_per_share,
                                   winner);
}
