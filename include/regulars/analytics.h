/*
 * Merchant analytics, kept up to date inside the write txn of every purchase, refund and
 * share (so that reading stats never scans a merchant's whole history). Pure functions over
 * an LMDB txn: no I/O beyond the store. Layouts of the DB_AN_* databases are documented in
 * analytics.c. Refunded purchases count nowhere (refund undoes what the purchase added).
 */
#ifndef REGULARS_ANALYTICS_H
#define REGULARS_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"
#include "regulars/store.h"

/** Records a new purchase p (already stored, awards filled). Writer thread. */
int analytics_on_purchase(struct store_tx *tx, const struct rg_purchase *p);
/** Records the refund of p (p->refunded_at set). Writer thread. */
int analytics_on_refund(struct store_tx *tx, const struct rg_purchase *p);
/** Records a new share s. Writer thread. */
int analytics_on_share(struct store_tx *tx, const struct rg_share *s);

#define ANALYTICS_MAX_AMBASSADORS 10

struct an_ambassador {
    uint64_t user_id;
    uint64_t referrals;       /* credited referred purchases of the period by this sharer */
    int64_t referred_revenue; /* their revenue */
    int64_t cascade_revenue;  /* see API.md */
};

struct an_stats {
    int days;
    uint64_t purchases;
    int64_t revenue;
    uint64_t customers;
    uint64_t new_customers;
    uint64_t returning_customers;
    uint64_t regulars;
    double repeat_rate;
    uint64_t referred_purchases;
    int64_t referred_revenue;
    uint64_t shares;
    double share_conversion;
    int64_t points_issued;
    size_t nambassadors;
    struct an_ambassador ambassadors[ANALYTICS_MAX_AMBASSADORS];
};

/** Stats of merchant over [now - days * 86400000, now] exactly as API.md defines them. */
int analytics_stats(struct store_tx *tx, uint64_t merchant_id, int64_t now, int days,
                    struct an_stats *out);

enum an_sort { AN_SORT_RECENT = 0, AN_SORT_VISITS = 1, AN_SORT_SPEND = 2 };

struct an_customer {
    uint64_t user_id;
    uint64_t visits;      /* non-refunded purchases here */
    int64_t spend;        /* their amounts */
    int64_t first_at;     /* first non-refunded purchase here */
    int64_t last_at;      /* last non-refunded purchase here */
    uint64_t referred_by; /* sharer of the first referred purchase here, 0 when none */
    uint64_t referrals;   /* friends this customer's shares here have credited */
};

/** One page of a merchant's customers, in sort order (descending; ties by user id
 *  descending). cursor is opaque text ("" for the first page); next_cursor is set (NUL-
 *  terminated, at most 64 bytes) when more remain, else "". Returns the count in *n. */
int analytics_customers(struct store_tx *tx, uint64_t merchant_id, enum an_sort sort,
                        const char *cursor, size_t limit, struct an_customer *out, size_t *n,
                        char *next_cursor);

#endif
