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

/** Records a new purchase p (already stored, awards filled). Writer thread. About 14..20
 *  LMDB operations. A purchase passed with refunded_at set counts nowhere (returns 0).
 *  Returns 0, RG_EEXIST when p was already recorded (nothing counted twice), or a store
 *  error (the caller aborts its txn). */
int analytics_on_purchase(struct store_tx *tx, const struct rg_purchase *p);
/** Records the refund of p (p->refunded_at set). Writer thread. Only p's merchant, id and
 *  created_at are read: what is subtracted is what analytics_on_purchase stored for it, so
 *  everything it added is undone except the sharer's customer referrals (rule 5: a credit
 *  stays counted). About as many LMDB operations as a purchase. Returns 0 (also when p was
 *  never recorded or is already undone: nothing changes), RG_EIO when the aggregates
 *  disagree, or a store error. */
int analytics_on_refund(struct store_tx *tx, const struct rg_purchase *p);
/** Records a new share s. Writer thread. 3 LMDB operations. Returns 0, RG_EEXIST when s was
 *  already recorded, or a store error. */
int analytics_on_share(struct store_tx *tx, const struct rg_share *s);

#define ANALYTICS_MAX_AMBASSADORS 10

struct an_ambassador {
    uint64_t user_id;
    uint64_t referrals;       /* non-refunded referred purchases of the period they credited */
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

/** Stats of merchant over [now - days * 86400000, now] exactly as API.md defines them
 *  (anything recorded after now, possible only if the clock stepped back, counts too).
 *  Ambassadors are ordered by cascade_revenue, then referrals (both descending), then user
 *  id ascending. Costs O(hours of the period + events of one hour + referred purchases of
 *  the period); no scan of the merchant's history. Any thread with a read txn. Returns 0,
 *  RG_EINVAL when days is outside 1..365, RG_ENOMEM, or a store error. */
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
    uint64_t referrals;   /* friends this customer's shares here have credited, refunded
                             purchases included (rule 5) */
};

#define ANALYTICS_CURSOR_MAX 64 /* bytes of a customers cursor, NUL included */

/** One page of a merchant's customers, in sort order (descending; ties by user id
 *  descending). cursor is opaque text ("" or NULL for the first page); next_cursor is set (NUL-
 *  terminated, at most 64 bytes) when more remain, else "" (it may be the cursor's own
 *  buffer). out holds limit rows. Customers with no non-refunded purchase are not listed;
 *  referred_by is the sharer of their first non-refunded referred purchase. A row that moves
 *  between pages is skipped or repeated, never the others. Returns 0 with the count in *n, or
 *  RG_EINVAL for a malformed cursor, a cursor of another sort, limit 0 or an unknown sort,
 *  or a store error. */
int analytics_customers(struct store_tx *tx, uint64_t merchant_id, enum an_sort sort,
                        const char *cursor, size_t limit, struct an_customer *out, size_t *n,
                        char *next_cursor);

#endif
