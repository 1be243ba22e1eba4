/* Referral-abuse alerts: see alerts.h. */
#include <stdlib.h>
#include <string.h>

#include "regulars/alerts.h"
#include "regulars/error.h"
#include "regulars/model.h"

struct credit {
    uint64_t sharer, buyer, share;
    int64_t at;
    int refunded;
};

static int by_buyer_time(const void *a, const void *b)
{
    const struct credit *x = a, *y = b;
    if (x->buyer != y->buyer)
        return x->buyer < y->buyer ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static int by_sharer(const void *a, const void *b)
{
    const struct credit *x = a, *y = b;
    if (x->sharer != y->sharer)
        return x->sharer < y->sharer ? -1 : 1;
    if (x->buyer != y->buyer)
        return x->buyer < y->buyer ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

static int by_last(const void *a, const void *b)
{
    const struct alert *x = a, *y = b;
    if (x->last_at != y->last_at)
        return x->last_at > y->last_at ? -1 : 1;
    return x->kind - y->kind;
}

/* Reads the merchant's referred purchases of the period, newest first. */
static int collect(struct store_tx *tx, uint64_t merchant, int64_t start, struct credit **out,
                   size_t *n)
{
    MDB_cursor *cur;
    int rc = store_cursor(tx, DB_MERCHANT_PURCHASES, &cur);
    if (rc)
        return rc;
    size_t cap = 256, len = 0, scanned = 0;
    struct credit *c = malloc(cap * sizeof(*c));
    struct skey k;
    skey_make2(&k, merchant, UINT64_MAX);
    MDB_val key = skey_val(&k), val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    mrc = mrc == 0 ? mdb_cursor_get(cur, &key, &val, MDB_PREV)
                   : mdb_cursor_get(cur, &key, &val, MDB_LAST);
    while (c && mrc == 0 && scanned++ < ALERTS_MAX_SCAN) {
        if (key.mv_size != 16 || store_be64(key.mv_data) != merchant)
            break;
        struct rg_purchase p;
        struct skey pk;
        skey_make1(&pk, store_be64((const char *)key.mv_data + 8));
        if ((rc = store_get_rec(tx, DB_PURCHASES, &pk, &p, sizeof(p))))
            break;
        if (p.created_at < start)
            break;
        if (p.share_id) {
            if (len == cap) {
                struct credit *g = realloc(c, 2 * cap * sizeof(*c));
                if (!g) {
                    rc = RG_ENOMEM;
                    break;
                }
                c = g, cap *= 2;
            }
            c[len++] = (struct credit){p.sharer_id, p.user_id, p.share_id, p.created_at,
                                       p.refunded_at != 0};
        }
        mrc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    }
    mdb_cursor_close(cur);
    if (!c)
        return RG_ENOMEM;
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    *n = len;
    return 0;
}

static void add(struct alert *out, size_t *n, size_t max, const struct alert *a)
{
    if (*n < max)
        out[(*n)++] = *a;
}

int alerts_scan(struct store_tx *tx, uint64_t merchant, int64_t now, int days, struct alert *out,
                size_t max, size_t *n)
{
    struct credit *c = NULL;
    size_t len = 0;
    *n = 0;
    int rc = collect(tx, merchant, now - (int64_t)days * 86400000, &c, &len);
    if (rc)
        return rc;
    size_t cap = ALERTS_MAX;
    struct alert *all = calloc(cap, sizeof(*all));
    size_t na = 0;
    if (!all) {
        free(c);
        return RG_ENOMEM;
    }

    /* One buyer, many crediting shares in a short window (a sliding window per buyer). */
    qsort(c, len, sizeof(*c), by_buyer_time);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && c[j].buyer == c[i].buyer)
            j++;
        size_t lo = i, best = 0, best_lo = i, best_hi = i;
        for (size_t hi = i; hi < j; hi++) {
            while (c[hi].at - c[lo].at > ALERTS_BURST_WINDOW_MS)
                lo++;
            if (hi - lo + 1 > best)
                best = hi - lo + 1, best_lo = lo, best_hi = hi;
        }
        /* Each share credits a buyer once, so credits in the window are distinct shares. */
        if (best >= ALERTS_BURST_SHARES)
            add(all, &na, cap,
                &(struct alert){ALERT_BURST_BUYER, c[i].buyer, 0, best, 0, c[best_lo].at,
                                c[best_hi].at});
        i = j;
    }

    /* Refund rate per sharer, and reciprocal pairs (binary search in sharer order). */
    qsort(c, len, sizeof(*c), by_sharer);
    for (size_t i = 0; i < len;) {
        size_t j = i, refunded = 0;
        while (j < len && c[j].sharer == c[i].sharer)
            refunded += (size_t)c[j++].refunded;
        if (j - i >= ALERTS_REFUND_MIN && (double)refunded >= ALERTS_REFUND_RATE * (double)(j - i))
            add(all, &na, cap,
                &(struct alert){ALERT_REFUND_RATE, c[i].sharer, 0, j - i, refunded, c[i].at,
                                c[j - 1].at});
        for (size_t k = i; k < j;) {
            size_t m = k;
            while (m < j && c[m].buyer == c[k].buyer)
                m++;
            /* Report the pair once, from its smaller id. */
            if (c[k].sharer < c[k].buyer) {
                struct credit key = {c[k].buyer, c[k].sharer, 0, INT64_MIN, 0};
                size_t lo = 0, hi = len;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (by_sharer(&c[mid], &key) < 0)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                size_t back = 0;
                int64_t last = c[m - 1].at;
                for (size_t q = lo; q < len && c[q].sharer == key.sharer && c[q].buyer == key.buyer;
                     q++, back++)
                    last = c[q].at > last ? c[q].at : last;
                if (back)
                    add(all, &na, cap,
                        &(struct alert){ALERT_RECIPROCAL, c[k].sharer, c[k].buyer, m - k, back,
                                        c[k].at < c[lo].at ? c[k].at : c[lo].at, last});
            }
            k = m;
        }
        i = j;
    }
    qsort(all, na, sizeof(*all), by_last);
    *n = na < max ? na : max;
    memcpy(out, all, *n * sizeof(*all));
    free(all);
    free(c);
    return 0;
}
