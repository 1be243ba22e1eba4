/*
 * The points ledger. See ledger.h for the layout and the invariant it keeps
 * (balance == sum of entries).
 */
#include <string.h>

#include "regulars/error.h"
#include "regulars/ledger.h"

#define LEDGER_KEY_LEN 16 /* (u64 user, u64 entry) */

int ledger_balance(struct store_tx *tx, uint64_t user, int64_t *balance)
{
    struct skey k;
    struct rg_account acc;
    skey_make1(&k, user);
    int rc = store_get_rec(tx, DB_ACCOUNTS, &k, &acc, sizeof(acc));
    if (rc == 0)
        *balance = acc.balance;
    return rc;
}

int ledger_append(struct store_tx *tx, uint64_t user, int64_t now, struct rg_ledger_entry *e)
{
    struct skey ak, ek;
    struct rg_account acc;
    int rc;

    skey_make1(&ak, user);
    if ((rc = store_get_rec(tx, DB_ACCOUNTS, &ak, &acc, sizeof(acc))))
        return rc;
    /* Points are bounded by the API (awards <= 1e9, amounts <= 1e9), so this only trips on
     * corruption; refusing beats wrapping a balance. */
    if (__builtin_add_overflow(acc.balance, e->points, &acc.balance))
        return RG_EIO;
    if ((rc = store_next_id(tx, "ledger", &e->id)))
        return rc;
    e->created_at = now;
    e->balance_after = acc.balance;
    acc.entries++;

    skey_make2(&ek, user, e->id);
    if ((rc = store_put(tx, DB_LEDGER, &ek, e, sizeof(*e), MDB_NOOVERWRITE)))
        return rc;
    return store_put(tx, DB_ACCOUNTS, &ak, &acc, sizeof(acc), 0);
}

/* Positions cur on the newest entry of user with id < before (before = 0: the newest).
 * Returns 0 with k/v set, RG_ENOTFOUND when there is none, or a store error. */
static int seek_below(MDB_cursor *cur, uint64_t user, uint64_t before, MDB_val *k, MDB_val *v)
{
    struct skey start;
    skey_make2(&start, user, before ? before : UINT64_MAX);
    *k = skey_val(&start);
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, k, v, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_PREV);
    return store_err(rc);
}

static int is_users(const MDB_val *k, uint64_t user)
{
    return k->mv_size == LEDGER_KEY_LEN && store_be64(k->mv_data) == user;
}

int ledger_page(struct store_tx *tx, uint64_t user, uint64_t before, size_t limit,
                struct rg_ledger_entry *out, size_t *n, uint64_t *next)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    *n = 0;
    *next = 0;
    if (limit == 0)
        return 0; /* nothing asked; the API never asks for 0 */
    if ((rc = store_cursor(tx, DB_LEDGER, &cur)))
        return rc;
    rc = seek_below(cur, user, before, &k, &v);
    while (rc == 0 && is_users(&k, user)) {
        if (*n == limit) {
            /* One more exists: the page ends at the last entry returned. */
            *next = out[*n - 1].id;
            break;
        }
        if (v.mv_size != sizeof(struct rg_ledger_entry)) {
            rc = RG_EIO;
            goto out;
        }
        memcpy(&out[(*n)++], v.mv_data, v.mv_size);
        rc = store_err(mdb_cursor_get(cur, &k, &v, MDB_PREV));
    }
    rc = rc == RG_ENOTFOUND ? 0 : rc;
out:
    mdb_cursor_close(cur);
    return rc;
}

int ledger_sum(struct store_tx *tx, uint64_t user, int64_t *sum)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    struct skey start;
    int rc;

    *sum = 0;
    if ((rc = store_cursor(tx, DB_LEDGER, &cur)))
        return rc;
    skey_make2(&start, user, 0);
    k = skey_val(&start);
    rc = store_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    while (rc == 0 && is_users(&k, user)) {
        struct rg_ledger_entry e;
        if (v.mv_size != sizeof(e)) {
            rc = RG_EIO;
            goto out;
        }
        memcpy(&e, v.mv_data, sizeof(e));
        *sum += e.points;
        rc = store_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    rc = rc == RG_ENOTFOUND ? 0 : rc;
out:
    mdb_cursor_close(cur);
    return rc;
}
