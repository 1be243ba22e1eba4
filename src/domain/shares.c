/*
 * Shares: making one (checked in API.md's order) and reading them back. The attribution
 * index DB_SHARES_BY_SHARER is written here and read by attribution.c.
 */
#include <string.h>

#include "regulars/analytics.h"
#include "regulars/error.h"
#include "regulars/merchants.h"
#include "regulars/purchases.h"
#include "regulars/shares.h"

#define INDEX_KEY_LEN 16 /* (u64 user, u64 share) */

int shares_create(struct store_tx *tx, uint64_t user, uint64_t purchase_id, uint32_t channel,
                  const char *message, int64_t now, struct rg_share *out, struct dom_events *ev)
{
    struct rg_purchase p;
    struct rg_merchant m;
    struct rg_share s = {0};
    struct skey k, v;
    int rc;

    if (channel < RG_CH_POST || channel > RG_CH_LINK)
        return RG_EINVAL;
    /* API.md's order of checks: 404, 403, 409 refunded, 409 already_shared. */
    if ((rc = purchases_get(tx, purchase_id, &p)))
        return rc;
    if (p.user_id != user)
        return RG_EFORBIDDEN;
    if (p.refunded_at)
        return RG_E_REFUNDED;
    if (p.shared_as)
        return RG_E_ALREADY_SHARED;
    /* credit_window_s is the one rule read at share time: it fixes expires_at for good. */
    if ((rc = merchants_get(tx, p.merchant_id, &m)))
        return rc == RG_ENOTFOUND ? RG_EIO : rc;

    if ((rc = store_next_id(tx, "share", &s.id)))
        return rc;
    s.user_id = user;
    s.merchant_id = p.merchant_id;
    s.purchase_id = p.id;
    s.created_at = now;
    s.expires_at = now + (int64_t)m.rules.credit_window_s * 1000;
    s.channel = channel;
    s.referrals = 0;
    if (message)
        strncpy(s.message, message, sizeof(s.message) - 1);

    skey_make1(&k, s.id);
    if ((rc = store_put(tx, DB_SHARES, &k, &s, sizeof(s), MDB_NOOVERWRITE)))
        return rc;
    skey_make2(&k, user, s.id);
    if ((rc = store_put(tx, DB_USER_SHARES, &k, "", 0, 0)))
        return rc;
    skey_make3(&k, s.merchant_id, user, s.id);
    skey_make1(&v, (uint64_t)s.expires_at);
    if ((rc = store_put(tx, DB_SHARES_BY_SHARER, &k, v.b, v.len, 0)))
        return rc;
    p.shared_as = s.id;
    skey_make1(&k, p.id);
    if ((rc = store_put(tx, DB_PURCHASES, &k, &p, sizeof(p), 0)))
        return rc;
    if ((rc = analytics_on_share(tx, &s)))
        return rc;

    struct dom_event d = {
        .type = EV_SHARE,
        .recipient = store_recipient(RG_KIND_MERCHANT, s.merchant_id),
        .at = now,
        .user_id = user,
        .merchant_id = s.merchant_id,
        .purchase_id = p.id,
        .share_id = s.id,
    };
    if ((rc = dom_events_add(ev, &d)))
        return rc;
    *out = s;
    return 0;
}

int shares_get(struct store_tx *tx, uint64_t id, struct rg_share *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_SHARES, &k, out, sizeof(*out));
}

int shares_page_by_user(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                        struct rg_share *out, size_t *n, uint64_t *next)
{
    MDB_cursor *cur = NULL;
    struct skey start;
    MDB_val k, v;
    int rc;

    *n = 0;
    *next = 0;
    if (limit == 0)
        return 0; /* nothing asked; the API never asks for 0 */
    if ((rc = store_cursor(tx, DB_USER_SHARES, &cur)))
        return rc;
    /* Newest first: land just past (user, before) and walk back. */
    skey_make2(&start, user, before ? before : UINT64_MAX);
    k = skey_val(&start);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        if (k.mv_size != INDEX_KEY_LEN || store_be64(k.mv_data) != user)
            break;
        if (*n == limit) {
            *next = out[*n - 1].id; /* one more exists */
            break;
        }
        int r = shares_get(tx, store_be64((const unsigned char *)k.mv_data + 8), &out[*n]);
        if (r) {
            mdb_cursor_close(cur);
            return r == RG_ENOTFOUND ? RG_EIO : r; /* an index without its record */
        }
        (*n)++;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_err(rc);
}
