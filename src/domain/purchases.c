/*
 * Purchases: recording (points, attribution, awards), refunds and reads. The rules are
 * API.md's "Attribution" section; purchases.h says what each function writes.
 */
#include <string.h>

#include "regulars/analytics.h"
#include "regulars/attribution.h"
#include "regulars/error.h"
#include "regulars/ledger.h"
#include "regulars/merchants.h"
#include "regulars/purchases.h"
#include "regulars/users.h"

#define INDEX_KEY_LEN 16 /* (u64 owner, u64 purchase) */

int64_t purchases_points(int64_t amount, uint32_t earn_rate_bp)
{
    if (amount <= 0)
        return 0;
    /* amount * bp fits int64 within the API's ranges (1e9 * 1e4), but a 128-bit product
     * keeps the floor exact for any input instead of relying on the caller's validation. */
    __int128 p = (__int128)amount * earn_rate_bp / 10000;
    return p > INT64_MAX ? INT64_MAX : (int64_t)p;
}

/* ------------------------------------------------------------------------------------- */
/* Recording                                                                              */
/* ------------------------------------------------------------------------------------- */

/* The share and friend an award or its reversal refers to: none for the buyer's own
 * purchase points; for a referral the friend is the buyer; for a friend bonus the sharer. */
static void award_refs(const struct rg_purchase *p, uint32_t kind, uint64_t *share_id,
                       uint64_t *friend_id)
{
    *share_id = 0;
    *friend_id = 0;
    if (kind == RG_LK_REFERRAL) {
        *share_id = p->share_id;
        *friend_id = p->user_id;
    } else if (kind == RG_LK_FRIEND_BONUS) {
        *share_id = p->share_id;
        *friend_id = p->sharer_id;
    }
}

/* Rule 4: an award of 0 points leaves no trace but its absence. Otherwise one ledger entry,
 * one line in p->awards and one EV_POINTS_EARNED to the awarded user. */
static int award(struct store_tx *tx, struct rg_purchase *p, uint64_t user, uint32_t kind,
                 int64_t points, int64_t now, struct dom_events *ev)
{
    struct rg_ledger_entry e = {0};
    int rc;

    if (points == 0)
        return 0;
    e.kind = kind;
    e.points = points;
    e.purchase_id = p->id;
    e.merchant_id = p->merchant_id;
    award_refs(p, kind, &e.share_id, &e.friend_id);
    if ((rc = ledger_append(tx, user, now, &e)))
        return rc;

    struct rg_award *a = &p->awards[p->nawards++];
    a->user_id = user;
    a->kind = kind;
    a->points = points;

    struct dom_event d = {
        .type = EV_POINTS_EARNED,
        .recipient = store_recipient(RG_KIND_USER, user),
        .at = now,
        .user_id = user,
        .friend_id = e.friend_id,
        .merchant_id = p->merchant_id,
        .purchase_id = p->id,
        .share_id = e.share_id,
        .kind = kind,
        .points = points,
        .balance = e.balance_after,
    };
    return dom_events_add(ev, &d);
}

/* Writes a new purchase and its two "newest first" indexes (user's, merchant's). */
static int put_new_purchase(struct store_tx *tx, const struct rg_purchase *p)
{
    struct skey k;
    int rc;

    skey_make1(&k, p->id);
    if ((rc = store_put(tx, DB_PURCHASES, &k, p, sizeof(*p), MDB_NOOVERWRITE)))
        return rc;
    skey_make2(&k, p->user_id, p->id);
    if ((rc = store_put(tx, DB_USER_PURCHASES, &k, "", 0, 0)))
        return rc;
    skey_make2(&k, p->merchant_id, p->id);
    return store_put(tx, DB_MERCHANT_PURCHASES, &k, "", 0, 0);
}

/* Records that share credited buyer with purchase p (rule 5: forever, refunds included). */
static int credit_share(struct store_tx *tx, struct rg_share *share, const struct rg_purchase *p)
{
    struct skey k, v;
    int rc;

    skey_make2(&k, share->id, p->user_id);
    skey_make1(&v, p->id);
    if ((rc = store_put(tx, DB_SHARE_CREDITS, &k, v.b, v.len, MDB_NOOVERWRITE)))
        return rc;
    share->referrals++;
    skey_make1(&k, share->id);
    return store_put(tx, DB_SHARES, &k, share, sizeof(*share), 0);
}

int purchases_record(struct store_tx *tx, uint64_t merchant, uint64_t buyer, int64_t amount,
                     int64_t now, struct rg_purchase *out, struct dom_events *ev)
{
    struct rg_merchant m;
    struct rg_share share;
    struct rg_purchase p = {0};
    int rc, referred;

    if (amount < 1 || amount > PURCHASES_AMOUNT_MAX)
        return RG_EINVAL;
    if ((rc = merchants_get(tx, merchant, &m)))
        return rc;
    if ((rc = users_exists(tx, buyer)))
        return rc;
    /* Every rule but credit_window_s is read now, at the purchase (API.md). */
    const struct rg_rules r = m.rules;

    rc = attribution_find_capped(tx, merchant, buyer, now, r.max_referrals_per_share, &share);
    if (rc && rc != RG_ENOTFOUND)
        return rc;
    referred = rc == 0;

    if ((rc = store_next_id(tx, "purchase", &p.id)))
        return rc;
    p.user_id = buyer;
    p.merchant_id = merchant;
    p.amount = amount;
    memcpy(p.currency, m.currency, sizeof(p.currency));
    p.created_at = now;
    if (referred) {
        p.share_id = share.id;
        p.sharer_id = share.user_id;
    }

    /* Awards in a fixed order: the buyer's points, the sharer's referral, the friend
     * bonus. Balances in the events are those right after each entry. */
    if ((rc = award(tx, &p, buyer, RG_LK_PURCHASE, purchases_points(amount, r.earn_rate_bp), now,
                    ev)))
        return rc;
    if (referred) {
        if ((rc = award(tx, &p, share.user_id, RG_LK_REFERRAL, r.referral_bonus, now, ev)))
            return rc;
        if ((rc = award(tx, &p, buyer, RG_LK_FRIEND_BONUS, r.friend_bonus, now, ev)))
            return rc;
        /* Rule 4: even with both bonuses at 0 the referral is recorded and counted. */
        if ((rc = credit_share(tx, &share, &p)))
            return rc;
    }
    if ((rc = put_new_purchase(tx, &p)))
        return rc;
    if ((rc = analytics_on_purchase(tx, &p)))
        return rc;

    struct dom_event d = {
        .type = EV_PURCHASE,
        .recipient = store_recipient(RG_KIND_MERCHANT, merchant),
        .at = now,
        .user_id = buyer,
        .friend_id = p.sharer_id,
        .merchant_id = merchant,
        .purchase_id = p.id,
        .share_id = p.share_id,
    };
    if ((rc = dom_events_add(ev, &d)))
        return rc;
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Refunds                                                                                */
/* ------------------------------------------------------------------------------------- */

int purchases_refund(struct store_tx *tx, uint64_t merchant, uint64_t purchase_id, int64_t now,
                     struct rg_purchase *out, struct rg_award *reversals, size_t *nrev,
                     struct dom_events *ev)
{
    struct rg_purchase p;
    int rc;

    *nrev = 0;
    if (now <= 0)
        return RG_EINVAL; /* refunded_at = 0 means "not refunded" */
    if ((rc = purchases_get(tx, purchase_id, &p)))
        return rc;
    /* Another merchant's purchase is answered exactly like a missing one. */
    if (p.merchant_id != merchant)
        return RG_ENOTFOUND;
    if (p.refunded_at)
        return RG_E_ALREADY_REFUNDED;
    if (p.nawards > RG_MAX_AWARDS)
        return RG_EIO;

    p.refunded_at = now;
    struct skey k;
    skey_make1(&k, p.id);
    if ((rc = store_put(tx, DB_PURCHASES, &k, &p, sizeof(p), 0)))
        return rc;

    for (uint32_t i = 0; i < p.nawards; i++) {
        const struct rg_award *a = &p.awards[i];
        struct rg_ledger_entry e = {0};
        e.kind = RG_LK_REVERSAL;
        e.reversed_kind = a->kind;
        e.points = -a->points;
        e.purchase_id = p.id;
        e.merchant_id = p.merchant_id;
        award_refs(&p, a->kind, &e.share_id, &e.friend_id);
        if ((rc = ledger_append(tx, a->user_id, now, &e)))
            return rc;

        reversals[i] =
            (struct rg_award){.user_id = a->user_id, .kind = RG_LK_REVERSAL, .points = e.points};
        *nrev = i + 1;

        struct dom_event d = {
            .type = EV_POINTS_REVERSED,
            .recipient = store_recipient(RG_KIND_USER, a->user_id),
            .at = now,
            .user_id = a->user_id,
            .friend_id = e.friend_id,
            .merchant_id = p.merchant_id,
            .purchase_id = p.id,
            .share_id = e.share_id,
            .kind = RG_LK_REVERSAL,
            .reversed_kind = a->kind,
            .points = e.points,
            .balance = e.balance_after,
        };
        if ((rc = dom_events_add(ev, &d)))
            return rc;
    }
    /* The share credit (DB_SHARE_CREDITS, share.referrals) is deliberately left alone:
     * rule 5 keeps it counted for the cap and for "never credited B". */
    if ((rc = analytics_on_refund(tx, &p)))
        return rc;

    struct dom_event d = {
        .type = EV_REFUND,
        .recipient = store_recipient(RG_KIND_MERCHANT, merchant),
        .at = now,
        .user_id = p.user_id,
        .friend_id = p.sharer_id,
        .merchant_id = merchant,
        .purchase_id = p.id,
        .share_id = p.share_id,
    };
    if ((rc = dom_events_add(ev, &d)))
        return rc;
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Reads                                                                                  */
/* ------------------------------------------------------------------------------------- */

int purchases_get(struct store_tx *tx, uint64_t id, struct rg_purchase *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_PURCHASES, &k, out, sizeof(*out));
}

/* Reverse scan of an (owner, purchase) index: purchases with id < before (0: all), newest
 * first, each read from DB_PURCHASES. */
static int page(struct store_tx *tx, enum store_db db, uint64_t owner, uint64_t before,
                size_t limit, struct rg_purchase *out, size_t *n, uint64_t *next)
{
    MDB_cursor *cur = NULL;
    struct skey start;
    MDB_val k, v;
    int rc;

    *n = 0;
    *next = 0;
    if (limit == 0)
        return 0; /* nothing asked; the API never asks for 0 */
    if ((rc = store_cursor(tx, db, &cur)))
        return rc;
    skey_make2(&start, owner, before ? before : UINT64_MAX);
    k = skey_val(&start);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        if (k.mv_size != INDEX_KEY_LEN || store_be64(k.mv_data) != owner)
            break;
        if (*n == limit) {
            *next = out[*n - 1].id; /* one more exists */
            break;
        }
        uint64_t id = store_be64((const unsigned char *)k.mv_data + 8);
        int r = purchases_get(tx, id, &out[*n]);
        if (r) {
            mdb_cursor_close(cur);
            return r == RG_ENOTFOUND ? RG_EIO : r; /* an index without its record */
        }
        (*n)++;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}

int purchases_page_by_user(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                           struct rg_purchase *out, size_t *n, uint64_t *next)
{
    return page(tx, DB_USER_PURCHASES, user, before, limit, out, n, next);
}

int purchases_page_by_merchant(struct store_tx *tx, uint64_t merchant, uint64_t before,
                               size_t limit, struct rg_purchase *out, size_t *n, uint64_t *next)
{
    return page(tx, DB_MERCHANT_PURCHASES, merchant, before, limit, out, n, next);
}
