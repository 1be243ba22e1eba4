/* Tests for analytics: the hooks against a temp store, stats over windows (edges to the ms,
 * refunds, new / returning / regulars, referrals, shares, points, cascades and ambassadors), the
 * customers list with its cursor, and a randomized comparison with a brute-force model
 * (REGULARS_BIG=1 makes it a million purchases and prints the stats' timing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "regulars/analytics.h"
#include "regulars/error.h"
#include "regulars/model.h"
#include "regulars/store.h"
#include "test.h"

#define HOUR INT64_C(3600000)
#define DAY  INT64_C(86400000)
#define MIN  INT64_C(60000)
/* 2025-01-01T00:00:00Z, an hour boundary; NOW is deliberately not one. */
#define T_ALIGNED    INT64_C(1735689600000)
#define NOW          (T_ALIGNED + 37 * MIN + 123)
#define CURSOR_CHARS 33 /* a cursor's length today (opaque, but its length is asserted) */

/* ------------------------------------------------------------------------------------------
 * Fixture: a temp store with one write txn; reads go through the same txn.
 * ---------------------------------------------------------------------------------------- */

struct afx {
    char *dir;
    struct store st;
    struct store_tx tx;
    uint64_t merchant;
    uint64_t next_id; /* purchase and share ids */
};

static void afx_die(const char *what, int rc)
{
    fprintf(stderr, "fixture: %s: %s\n", what, rg_strerror(rc));
    exit(2);
}

static void afx_open_size(struct afx *f, size_t map)
{
    int rc;
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    if ((rc = store_open(&f->st, f->dir, map, STORE_SYNC_NONE)))
        afx_die("store_open", rc);
    f->tx.st = &f->st;
    if ((rc = store_err(mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn))))
        afx_die("txn_begin", rc);
    f->merchant = 7;
    f->next_id = 1;
}

static void afx_open(struct afx *f)
{
    afx_open_size(f, 64u << 20);
}

/* Commits and starts a new write txn (the aggregates must survive commits). */
static void afx_commit(struct afx *f)
{
    int rc;
    if ((rc = store_err(mdb_txn_commit(f->tx.txn))))
        afx_die("commit", rc);
    if ((rc = store_err(mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn))))
        afx_die("txn_begin", rc);
}

static void afx_close(struct afx *f)
{
    char path[4096];
    if (f->tx.txn)
        mdb_txn_abort(f->tx.txn);
    store_close(&f->st);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->dir);
}

/* A purchase as the purchases module would record it: 1% earn rate, referral 100 to the sharer and
 * friend bonus 50 to the buyer when referred. */
static struct rg_purchase mkp(struct afx *f, uint64_t user, int64_t at, int64_t amount,
                              uint64_t sharer)
{
    struct rg_purchase p;
    memset(&p, 0, sizeof(p));
    p.id = f->next_id++;
    p.user_id = user;
    p.merchant_id = f->merchant;
    p.amount = amount;
    p.created_at = at;
    if (amount / 100 > 0)
        p.awards[p.nawards++] = (struct rg_award){user, RG_LK_PURCHASE, 0, amount / 100};
    if (sharer) {
        p.share_id = 100000 + sharer;
        p.sharer_id = sharer;
        p.awards[p.nawards++] = (struct rg_award){sharer, RG_LK_REFERRAL, 0, 100};
        p.awards[p.nawards++] = (struct rg_award){user, RG_LK_FRIEND_BONUS, 0, 50};
    }
    return p;
}

static int buy(struct afx *f, uint64_t user, int64_t at, int64_t amount, uint64_t sharer,
               struct rg_purchase *out)
{
    struct rg_purchase p = mkp(f, user, at, amount, sharer);
    if (out)
        *out = p;
    return analytics_on_purchase(&f->tx, &p);
}

static int refund(struct afx *f, struct rg_purchase *p)
{
    p->refunded_at = p->created_at + 1;
    return analytics_on_refund(&f->tx, p);
}

static int share(struct afx *f, uint64_t user, int64_t at)
{
    struct rg_share s;
    memset(&s, 0, sizeof(s));
    s.id = f->next_id++;
    s.user_id = user;
    s.merchant_id = f->merchant;
    s.purchase_id = 1;
    s.created_at = at;
    s.expires_at = at + DAY;
    s.channel = RG_CH_POST;
    return analytics_on_share(&f->tx, &s);
}

static int stats(struct afx *f, int64_t now, int days, struct an_stats *s)
{
    return analytics_stats(&f->tx, f->merchant, now, days, s);
}

/* Finds user's row in a full (one page) customers list. */
static const struct an_customer *find_customer(const struct an_customer *rows, size_t n,
                                               uint64_t user)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].user_id == user)
            return &rows[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Windows, refunds, customers' kinds
 * ---------------------------------------------------------------------------------------- */

TEST(window_includes_first_and_last_ms)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    const int64_t start = NOW - DAY;
    ASSERT_EQ(buy(&f, 1, start - 1, 1, 0, NULL), 0);           /* out, by one ms */
    ASSERT_EQ(buy(&f, 2, start, 10, 0, NULL), 0);              /* first ms, partial hour */
    ASSERT_EQ(buy(&f, 3, start + 20 * MIN, 100, 0, NULL), 0);  /* partial hour */
    ASSERT_EQ(buy(&f, 4, start + 2 * HOUR, 1000, 0, NULL), 0); /* whole hour */
    ASSERT_EQ(buy(&f, 5, NOW, 10000, 0, NULL), 0);             /* last ms */

    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.days, 1);
    ASSERT_EQ(s.purchases, 4);
    ASSERT_EQ(s.revenue, 11110);
    ASSERT_EQ(s.customers, 4);
    ASSERT_EQ(s.new_customers, 4);
    /* One ms later the first ms leaves the window. */
    ASSERT_EQ(stats(&f, NOW + 1, 1, &s), 0);
    ASSERT_EQ(s.purchases, 3);
    ASSERT_EQ(s.revenue, 11100);
    ASSERT_EQ(s.customers, 3);
    ASSERT_EQ(stats(&f, NOW, 2, &s), 0);
    ASSERT_EQ(s.purchases, 5);
    ASSERT_EQ(s.revenue, 11111);

    /* An hour-aligned window has no partial hour: its edges too. */
    f.merchant = 8;
    const int64_t astart = T_ALIGNED - 3 * DAY;
    ASSERT_EQ(buy(&f, 1, astart - 1, 1, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 2, astart, 10, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 3, T_ALIGNED, 100, 0, NULL), 0);
    ASSERT_EQ(stats(&f, T_ALIGNED, 3, &s), 0);
    ASSERT_EQ(s.purchases, 2);
    ASSERT_EQ(s.revenue, 110);
    ASSERT_EQ(stats(&f, T_ALIGNED + 1, 3, &s), 0);
    ASSERT_EQ(s.purchases, 1);
    ASSERT_EQ(s.revenue, 100);

    /* Merchant 7's numbers are its own. */
    f.merchant = 7;
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 4);
    ASSERT_EQ(analytics_stats(&f.tx, 7, NOW, 0, &s), RG_EINVAL);
    ASSERT_EQ(analytics_stats(&f.tx, 7, NOW, 366, &s), RG_EINVAL);
    afx_close(&f);
}

TEST(refunds_are_excluded_everywhere)
{
    struct afx f;
    struct an_stats s;
    struct rg_purchase pa, pb1, pb2;
    struct an_customer rows[8];
    size_t n;
    char next[ANALYTICS_CURSOR_MAX];
    afx_open(&f);
    /* A (1) buys and shares; B (2) buys twice, once referred by A. */
    ASSERT_EQ(buy(&f, 1, NOW - 5 * HOUR, 1000, 0, &pa), 0);
    ASSERT_EQ(share(&f, 1, NOW - 5 * HOUR + 1), 0);
    ASSERT_EQ(buy(&f, 2, NOW - 4 * HOUR, 2000, 0, &pb1), 0);
    ASSERT_EQ(buy(&f, 2, NOW - 3 * HOUR, 3000, 1, &pb2), 0);
    afx_commit(&f);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 3);
    ASSERT_EQ(s.revenue, 6000);
    ASSERT_EQ(s.referred_purchases, 1);
    ASSERT_EQ(s.referred_revenue, 3000);
    ASSERT_EQ(s.points_issued, 10 + 20 + 30 + 100 + 50);
    ASSERT_EQ(s.returning_customers, 1);
    ASSERT_EQ(s.nambassadors, 1);

    ASSERT_EQ(refund(&f, &pb2), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 2);
    ASSERT_EQ(s.revenue, 3000);
    ASSERT_EQ(s.referred_purchases, 0);
    ASSERT_EQ(s.referred_revenue, 0);
    ASSERT_EQ(s.points_issued, 30);
    ASSERT_EQ(s.customers, 2);
    ASSERT_EQ(s.returning_customers, 0);
    ASSERT_EQ(s.share_conversion, 0.0);
    ASSERT_EQ(s.shares, 1); /* the share itself was made */
    ASSERT_EQ(s.nambassadors, 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, "", 8, rows, &n, next), 0);
    ASSERT_EQ(n, 2);
    const struct an_customer *b = find_customer(rows, n, 2);
    ASSERT(b);
    ASSERT_EQ(b->visits, 1);
    ASSERT_EQ(b->spend, 2000);
    ASSERT_EQ(b->last_at, NOW - 4 * HOUR);
    ASSERT_EQ(b->referred_by, 0);
    /* Rule 5: A's credit stays counted on A. */
    ASSERT_EQ(find_customer(rows, n, 1)->referrals, 1);

    /* A refund twice changes nothing more. */
    ASSERT_EQ(refund(&f, &pb2), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 2);

    /* All of A's purchases refunded: A is no customer and is not listed. */
    ASSERT_EQ(refund(&f, &pa), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 1);
    ASSERT_EQ(s.customers, 1);
    ASSERT_EQ(s.new_customers, 1);
    for (int sort = 0; sort < 3; sort++) {
        ASSERT_EQ(analytics_customers(&f.tx, f.merchant, (enum an_sort)sort, "", 8, rows, &n, next),
                  0);
        ASSERT_EQ(n, 1);
        ASSERT_EQ(rows[0].user_id, 2);
        ASSERT_STREQ(next, "");
    }
    ASSERT_EQ(refund(&f, &pb1), 0);
    ASSERT_EQ(stats(&f, NOW, 365, &s), 0);
    ASSERT_EQ(s.purchases, 0);
    ASSERT_EQ(s.revenue, 0);
    ASSERT_EQ(s.customers, 0);
    ASSERT_EQ(s.points_issued, 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, "", 8, rows, &n, next), 0);
    ASSERT_EQ(n, 0);
    /* Every hour bucket went back to zero and was deleted; only the share's is left. */
    MDB_stat ms;
    ASSERT_EQ(mdb_stat(f.tx.txn, f.st.dbi[DB_AN_HOURS], &ms), 0);
    ASSERT_EQ(ms.ms_entries, 1);
    afx_close(&f);
}

TEST(hooks_count_each_record_once_and_refund_what_was_recorded)
{
    struct afx f;
    struct an_stats s;
    struct rg_purchase p;
    afx_open(&f);
    ASSERT_EQ(buy(&f, 2, NOW - HOUR, 5000, 1, &p), 0);
    ASSERT_EQ(analytics_on_purchase(&f.tx, &p), RG_EEXIST);
    struct rg_share sh = {.id = 900, .user_id = 1, .merchant_id = f.merchant, .created_at = NOW};
    ASSERT_EQ(analytics_on_share(&f.tx, &sh), 0);
    ASSERT_EQ(analytics_on_share(&f.tx, &sh), RG_EEXIST);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 1);
    ASSERT_EQ(s.shares, 1);
    /* A caller's copy that differs from what was recorded: the record wins. */
    p.amount = 1;
    p.sharer_id = 0;
    p.nawards = 0;
    ASSERT_EQ(refund(&f, &p), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 0);
    ASSERT_EQ(s.revenue, 0);
    ASSERT_EQ(s.referred_purchases, 0);
    ASSERT_EQ(s.referred_revenue, 0);
    ASSERT_EQ(s.points_issued, 0);
    ASSERT_EQ(s.customers, 0);
    ASSERT_EQ(s.nambassadors, 0);
    MDB_stat ms;
    ASSERT_EQ(mdb_stat(f.tx.txn, f.st.dbi[DB_AN_REFERRED], &ms), 0);
    ASSERT_EQ(ms.ms_entries, 0);
    ASSERT_EQ(mdb_stat(f.tx.txn, f.st.dbi[DB_AN_MU_PURCH], &ms), 0);
    ASSERT_EQ(ms.ms_entries, 0);
    /* A purchase handed over already refunded counts nowhere. */
    struct rg_purchase q = mkp(&f, 3, NOW, 70, 0);
    q.refunded_at = NOW;
    ASSERT_EQ(analytics_on_purchase(&f.tx, &q), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.purchases, 0);
    afx_close(&f);
}

TEST(new_returning_and_regulars_edges)
{
    struct afx f;
    struct an_stats s;
    struct rg_purchase p7;
    afx_open(&f);
    const int64_t start = NOW - 7 * DAY;
    /* u1: one purchase in the period, inside the leading partial hour. */
    ASSERT_EQ(buy(&f, 1, start + 10 * MIN, 5, 0, NULL), 0);
    /* u2: two in the period, the first on its first ms. */
    ASSERT_EQ(buy(&f, 2, start, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 2, NOW - DAY, 5, 0, NULL), 0);
    /* u3: three in the period, the oldest in the partial hour: a regular. */
    ASSERT_EQ(buy(&f, 3, start + 5 * MIN, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 3, NOW - 2 * DAY, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 3, NOW, 5, 0, NULL), 0);
    /* u4: one just before the period and one in: returning, not new. */
    ASSERT_EQ(buy(&f, 4, start - 1, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 4, NOW - HOUR, 5, 0, NULL), 0);
    /* u5: two before, one in: returning, not a regular (3 purchases, not in the period). */
    ASSERT_EQ(buy(&f, 5, start - 3 * DAY, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 5, start - 2 * DAY, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 5, NOW - 3 * HOUR, 5, 0, NULL), 0);
    /* u6: only before the period: no customer of it. */
    ASSERT_EQ(buy(&f, 6, start - DAY, 5, 0, NULL), 0);
    /* u7: three in the period, one refunded: returning, no regular. */
    ASSERT_EQ(buy(&f, 7, NOW - 6 * DAY, 5, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 7, NOW - 5 * DAY, 5, 0, &p7), 0);
    ASSERT_EQ(buy(&f, 7, NOW - 4 * DAY, 5, 0, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 7, &s), 0);
    ASSERT_EQ(s.regulars, 2);
    ASSERT_EQ(refund(&f, &p7), 0);

    ASSERT_EQ(stats(&f, NOW, 7, &s), 0);
    ASSERT_EQ(s.customers, 6);
    ASSERT_EQ(s.new_customers, 4);       /* u1 u2 u3 u7 */
    ASSERT_EQ(s.returning_customers, 5); /* u2 u3 u4 u5 u7 */
    ASSERT_EQ(s.regulars, 1);            /* u3 */
    ASSERT(fabs(s.repeat_rate - 5.0 / 6.0) < 1e-12);

    /* Six minutes later u2's first and u3's oldest have left the window (u1's has not). */
    ASSERT_EQ(stats(&f, NOW + 6 * MIN, 7, &s), 0);
    ASSERT_EQ(s.customers, 6);
    ASSERT_EQ(s.new_customers, 2); /* u1 u7 */
    ASSERT_EQ(s.regulars, 0);
    ASSERT_EQ(s.returning_customers, 5);
    afx_close(&f);
}

TEST(empty_period_has_zero_rates)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    ASSERT_EQ(stats(&f, NOW, 30, &s), 0);
    ASSERT_EQ(s.days, 30);
    ASSERT_EQ(s.customers, 0);
    ASSERT_EQ(s.repeat_rate, 0.0);
    ASSERT_EQ(s.share_conversion, 0.0);
    ASSERT_EQ(s.nambassadors, 0);
    /* History before the period only. */
    ASSERT_EQ(buy(&f, 1, NOW - 3 * DAY, 100, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 1, NOW - 3 * DAY + 1, 100, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 2, NOW - 3 * DAY, 100, 1, NULL), 0);
    ASSERT_EQ(share(&f, 1, NOW - 3 * DAY), 0);
    ASSERT_EQ(stats(&f, NOW, 2, &s), 0);
    ASSERT_EQ(s.purchases, 0);
    ASSERT_EQ(s.customers, 0);
    ASSERT_EQ(s.returning_customers, 0);
    ASSERT_EQ(s.repeat_rate, 0.0);
    ASSERT_EQ(s.shares, 0);
    ASSERT_EQ(s.share_conversion, 0.0);
    ASSERT_EQ(s.nambassadors, 0);
    ASSERT_EQ(stats(&f, NOW, 3, &s), 0);
    ASSERT_EQ(s.purchases, 3);
    ASSERT_EQ(s.repeat_rate, 0.5);
    afx_close(&f);
}

TEST(referred_counts_and_share_conversion)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    const int64_t start = NOW - DAY;
    ASSERT_EQ(share(&f, 1, start - 1), 0); /* before the period */
    ASSERT_EQ(share(&f, 1, start), 0);     /* partial hour, first ms */
    ASSERT_EQ(share(&f, 2, start + 30 * MIN), 0);
    ASSERT_EQ(share(&f, 3, NOW - 5 * HOUR), 0);
    ASSERT_EQ(share(&f, 4, NOW), 0);
    ASSERT_EQ(buy(&f, 10, start - 1, 700, 1, NULL), 0); /* referred, before */
    ASSERT_EQ(buy(&f, 11, start + MIN, 300, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 12, NOW - HOUR, 500, 2, NULL), 0);
    ASSERT_EQ(buy(&f, 13, NOW - HOUR, 999, 0, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.shares, 4);
    ASSERT_EQ(s.referred_purchases, 2);
    ASSERT_EQ(s.referred_revenue, 800);
    ASSERT_EQ(s.purchases, 3);
    ASSERT(fabs(s.share_conversion - 0.5) < 1e-12);
    ASSERT_EQ(stats(&f, NOW, 2, &s), 0);
    ASSERT_EQ(s.shares, 5);
    ASSERT_EQ(s.referred_purchases, 3);
    ASSERT(fabs(s.share_conversion - 0.6) < 1e-12);
    afx_close(&f);
}

TEST(points_issued_sums_every_award_of_the_period)
{
    struct afx f;
    struct an_stats s;
    struct rg_purchase p;
    afx_open(&f);
    ASSERT_EQ(buy(&f, 1, NOW - 2 * DAY, 100000, 0, NULL), 0); /* 1000, out */
    ASSERT_EQ(buy(&f, 1, NOW - 10 * HOUR, 1234, 0, NULL), 0); /* 12 */
    ASSERT_EQ(buy(&f, 2, NOW - 9 * HOUR, 5000, 1, NULL), 0);  /* 50 + 100 + 50 */
    ASSERT_EQ(buy(&f, 3, NOW - 8 * HOUR, 99, 1, NULL), 0);    /* 0 + 100 + 50 */
    ASSERT_EQ(buy(&f, 4, NOW - 7 * HOUR, 70000, 1, &p), 0);   /* refunded */
    ASSERT_EQ(refund(&f, &p), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.points_issued, 12 + 200 + 150);
    afx_close(&f);
}

/* ------------------------------------------------------------------------------------------
 * Cascades and ambassadors
 * ---------------------------------------------------------------------------------------- */

static void assert_amb(const struct an_stats *s, size_t i, uint64_t user, uint64_t referrals,
                       int64_t referred_revenue, int64_t cascade)
{
    ASSERT(i < s->nambassadors);
    ASSERT_EQ(s->ambassadors[i].user_id, user);
    ASSERT_EQ(s->ambassadors[i].referrals, referrals);
    ASSERT_EQ(s->ambassadors[i].referred_revenue, referred_revenue);
    ASSERT_EQ(s->ambassadors[i].cascade_revenue, cascade);
}

#define CHECK_AMB(...)                                                                             \
    do {                                                                                           \
        assert_amb(__VA_ARGS__);                                                                   \
        if (test_failed)                                                                           \
            return;                                                                                \
    } while (0)

TEST(cascade_follows_a_chain)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    /* A(1) -> B(2) -> C(3) -> D(4), and an old B -> E(5) outside the period. */
    ASSERT_EQ(buy(&f, 5, NOW - 3 * DAY, 5000, 2, NULL), 0);
    ASSERT_EQ(buy(&f, 2, NOW - 5 * HOUR, 100, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 3, NOW - 4 * HOUR, 10, 2, NULL), 0);
    ASSERT_EQ(buy(&f, 4, NOW - 3 * HOUR, 1, 3, NULL), 0);
    /* Another merchant's referrals (before and after 7 in key order) are not 7's. */
    f.merchant = 6;
    ASSERT_EQ(buy(&f, 2, NOW - 2 * HOUR, 70000, 1, NULL), 0);
    f.merchant = 8;
    ASSERT_EQ(buy(&f, 3, NOW - 2 * HOUR, 80000, 2, NULL), 0);
    f.merchant = 7;
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.nambassadors, 3);
    CHECK_AMB(&s, 0, 1, 1, 100, 111);
    CHECK_AMB(&s, 1, 2, 1, 10, 11);
    CHECK_AMB(&s, 2, 3, 1, 1, 1);
    afx_close(&f);
}

TEST(cascade_counts_a_diamond_once)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    /* A(1) -> B(2), A -> C(3), B -> D(4), C -> D, D -> E(5): D's purchase is reached by two paths
     * and must count once. */
    ASSERT_EQ(buy(&f, 2, NOW - 9 * HOUR, 50, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 3, NOW - 8 * HOUR, 60, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 4, NOW - 7 * HOUR, 7, 2, NULL), 0);
    ASSERT_EQ(buy(&f, 4, NOW - 6 * HOUR, 8, 3, NULL), 0);
    ASSERT_EQ(buy(&f, 5, NOW - 5 * HOUR, 1000, 4, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.nambassadors, 4);
    CHECK_AMB(&s, 0, 1, 2, 110, 1125);
    CHECK_AMB(&s, 1, 3, 1, 8, 1008);
    CHECK_AMB(&s, 2, 2, 1, 7, 1007);
    CHECK_AMB(&s, 3, 4, 1, 1000, 1000);
    afx_close(&f);
}

TEST(cascade_ignores_cycles)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    /* A(1) -> B(2) -> A, twice A -> B (two shares), and C(3) -> A. */
    ASSERT_EQ(buy(&f, 2, NOW - 9 * HOUR, 100, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 1, NOW - 8 * HOUR, 10, 2, NULL), 0);
    ASSERT_EQ(buy(&f, 2, NOW - 7 * HOUR, 1000, 1, NULL), 0);
    ASSERT_EQ(buy(&f, 1, NOW - 6 * HOUR, 5, 3, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.nambassadors, 3);
    CHECK_AMB(&s, 0, 3, 1, 5, 1115);
    CHECK_AMB(&s, 1, 1, 2, 1100, 1110);
    CHECK_AMB(&s, 2, 2, 1, 10, 1110);
    afx_close(&f);
}

TEST(ambassadors_order_and_cap)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    uint64_t buyer = 1000;
    /* Sharers 1..6: one purchase each of 990, 980, ... 940. */
    for (uint64_t a = 1; a <= 6; a++)
        ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 1000 - 10 * (int64_t)a, a, NULL), 0);
    /* 8 and 7: cascade 600 each, one referral each: by user id. */
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 600, 8, NULL), 0);
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 600, 7, NULL), 0);
    /* 9: 500 in one referral; 10: 500 in two: 10 first. */
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 500, 9, NULL), 0);
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 250, 10, NULL), 0);
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 250, 10, NULL), 0);
    /* 11, 12, 13: below the cut. */
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 300, 11, NULL), 0);
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 100, 12, NULL), 0);
    ASSERT_EQ(buy(&f, buyer++, NOW - HOUR, 499, 13, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.nambassadors, ANALYTICS_MAX_AMBASSADORS);
    for (uint64_t a = 1; a <= 6; a++)
        CHECK_AMB(&s, a - 1, a, 1, 1000 - 10 * (int64_t)a, 1000 - 10 * (int64_t)a);
    CHECK_AMB(&s, 6, 7, 1, 600, 600);
    CHECK_AMB(&s, 7, 8, 1, 600, 600);
    CHECK_AMB(&s, 8, 10, 2, 500, 500);
    CHECK_AMB(&s, 9, 9, 1, 500, 500);
    afx_close(&f);
}

TEST(ambassadors_tie_at_the_cut_is_decided_by_referrals)
{
    struct afx f;
    struct an_stats s;
    afx_open(&f);
    /* Eleven sharers at 500 each; the last one read has two referrals and must lead. */
    for (uint64_t a = 1; a <= 10; a++)
        ASSERT_EQ(buy(&f, 100 + a, NOW - 2 * HOUR, 500, a, NULL), 0);
    ASSERT_EQ(buy(&f, 200, NOW - HOUR, 250, 11, NULL), 0);
    ASSERT_EQ(buy(&f, 201, NOW - HOUR, 250, 11, NULL), 0);
    ASSERT_EQ(stats(&f, NOW, 1, &s), 0);
    ASSERT_EQ(s.nambassadors, ANALYTICS_MAX_AMBASSADORS);
    CHECK_AMB(&s, 0, 11, 2, 500, 500);
    for (uint64_t a = 1; a <= 9; a++)
        CHECK_AMB(&s, a, a, 1, 500, 500);
    afx_close(&f);
}

/* ------------------------------------------------------------------------------------------
 * Customers list
 * ---------------------------------------------------------------------------------------- */

TEST(customers_fields_and_referred_by_first_referred_purchase)
{
    struct afx f;
    struct an_customer rows[8];
    size_t n;
    char next[ANALYTICS_CURSOR_MAX];
    struct rg_purchase p2, p3;
    afx_open(&f);
    ASSERT_EQ(buy(&f, 1, NOW - 10 * DAY, 100, 0, NULL), 0); /* sharer A */
    ASSERT_EQ(buy(&f, 2, NOW - 10 * DAY, 100, 0, NULL), 0); /* sharer B */
    ASSERT_EQ(buy(&f, 5, NOW - 9 * DAY, 10, 0, NULL), 0);
    ASSERT_EQ(buy(&f, 5, NOW - 8 * DAY, 20, 1, &p2), 0);
    ASSERT_EQ(buy(&f, 5, NOW - 7 * DAY, 30, 2, &p3), 0);
    ASSERT_EQ(buy(&f, 5, NOW - 6 * DAY, 40, 1, NULL), 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, "", 8, rows, &n, next), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(rows[0].user_id, 5);
    ASSERT_EQ(rows[0].visits, 4);
    ASSERT_EQ(rows[0].spend, 100);
    ASSERT_EQ(rows[0].first_at, NOW - 9 * DAY);
    ASSERT_EQ(rows[0].last_at, NOW - 6 * DAY);
    ASSERT_EQ(rows[0].referred_by, 1);
    ASSERT_EQ(rows[0].referrals, 0);
    ASSERT_EQ(find_customer(rows, n, 1)->referrals, 2);
    ASSERT_EQ(find_customer(rows, n, 2)->referrals, 1);
    ASSERT_EQ(find_customer(rows, n, 1)->referred_by, 0);

    /* Refunding the first referred purchase hands referred_by to the next one; the credit stays on
     * A's referrals. */
    ASSERT_EQ(refund(&f, &p2), 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, "", 8, rows, &n, next), 0);
    ASSERT_EQ(rows[0].referred_by, 2);
    ASSERT_EQ(rows[0].visits, 3);
    ASSERT_EQ(rows[0].spend, 80);
    ASSERT_EQ(find_customer(rows, n, 1)->referrals, 2);
    ASSERT_EQ(refund(&f, &p3), 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, "", 8, rows, &n, next), 0);
    ASSERT_EQ(rows[0].referred_by, 1); /* the last one, by A again */
    afx_close(&f);
}

/* The customers of the paging test: visits, spend and last visit chosen with ties. */
struct cust_spec {
    uint64_t user;
    uint64_t visits;
    int64_t spend;
    int64_t last_at;
};

static int spec_before(const struct cust_spec *a, const struct cust_spec *b, enum an_sort sort)
{
    int64_t x = sort == AN_SORT_RECENT   ? a->last_at
                : sort == AN_SORT_VISITS ? (int64_t)a->visits
                                         : a->spend;
    int64_t y = sort == AN_SORT_RECENT   ? b->last_at
                : sort == AN_SORT_VISITS ? (int64_t)b->visits
                                         : b->spend;
    if (x != y)
        return x > y;
    return a->user > b->user;
}

TEST(customers_sort_and_paginate_without_gaps_or_duplicates)
{
    struct afx f;
    enum { NCUST = 25 };
    struct cust_spec spec[NCUST];
    afx_open(&f);
    for (int i = 0; i < NCUST; i++) {
        uint64_t user = 100 + (uint64_t)((i * 7) % NCUST); /* not in id order */
        uint64_t visits = 1 + (uint64_t)(i % 4);           /* many ties */
        int64_t last = NOW - (i % 5) * HOUR;               /* ties too */
        int64_t spend = 0;
        for (uint64_t v = 0; v < visits; v++) {
            int64_t amount = 10 * (1 + (i % 3)) + (int64_t)v;
            int64_t at = last - (int64_t)(visits - 1 - v) * DAY;
            ASSERT_EQ(buy(&f, user, at, amount, 0, NULL), 0);
            spend += amount;
        }
        spec[i] = (struct cust_spec){user, visits, spend, last};
    }
    /* A customer whose only purchase is refunded is never listed. */
    struct rg_purchase gone;
    ASSERT_EQ(buy(&f, 999, NOW, 1000000, 0, &gone), 0);
    ASSERT_EQ(refund(&f, &gone), 0);
    afx_commit(&f);

    for (int sort = 0; sort < 3; sort++) {
        /* Expected order: a selection sort of the specs. */
        struct cust_spec want[NCUST];
        memcpy(want, spec, sizeof(want));
        for (int i = 0; i < NCUST; i++)
            for (int j = i + 1; j < NCUST; j++)
                if (spec_before(&want[j], &want[i], (enum an_sort)sort)) {
                    struct cust_spec t = want[i];
                    want[i] = want[j];
                    want[j] = t;
                }
        char cursor[ANALYTICS_CURSOR_MAX] = "";
        char next[ANALYTICS_CURSOR_MAX];
        struct an_customer rows[7];
        size_t n, got = 0;
        int pages = 0;
        do {
            ASSERT_EQ(analytics_customers(&f.tx, f.merchant, (enum an_sort)sort, cursor, 7, rows,
                                          &n, next),
                      0);
            pages++;
            for (size_t i = 0; i < n; i++, got++) {
                ASSERT(got < NCUST);
                ASSERT_EQ(rows[i].user_id, want[got].user);
                ASSERT_EQ(rows[i].visits, want[got].visits);
                ASSERT_EQ(rows[i].spend, want[got].spend);
                ASSERT_EQ(rows[i].last_at, want[got].last_at);
                ASSERT_EQ(rows[i].first_at,
                          want[got].last_at - (int64_t)(want[got].visits - 1) * DAY);
            }
            ASSERT(next[0] == '\0' || n == 7);
            strcpy(cursor, next);
        } while (cursor[0]);
        ASSERT_EQ(got, NCUST);
        ASSERT_EQ(pages, 4); /* 7 + 7 + 7 + 4 */
    }

    /* An exact multiple of the page size ends without an empty page. */
    struct an_customer all[NCUST];
    size_t n;
    char next[ANALYTICS_CURSOR_MAX];
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, "", NCUST, all, &n, next), 0);
    ASSERT_EQ(n, NCUST);
    ASSERT_STREQ(next, "");
    /* Cursors are checked: garbage and another sort's cursor are invalid. */
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, "", 5, all, &n, next), 0);
    ASSERT_EQ(strlen(next), CURSOR_CHARS);
    char bad[CURSOR_CHARS + 1];
    memcpy(bad, next, sizeof(bad));
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_VISITS, next, 5, all, &n, next),
              RG_EINVAL);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, "zz", 5, all, &n, next),
              RG_EINVAL);
    bad[5] = 'G'; /* right length and tag, not hex */
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, bad, 5, all, &n, next),
              RG_EINVAL);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_SPEND, "", 0, all, &n, next),
              RG_EINVAL);
    /* Another merchant has no customers. */
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant + 1, AN_SORT_RECENT, "", 5, all, &n, next), 0);
    ASSERT_EQ(n, 0);
    afx_close(&f);
}

TEST(customers_page_survives_a_moved_row)
{
    struct afx f;
    struct an_customer rows[2];
    size_t n;
    char next[ANALYTICS_CURSOR_MAX];
    afx_open(&f);
    for (uint64_t u = 1; u <= 4; u++)
        ASSERT_EQ(buy(&f, u, NOW - (int64_t)u * HOUR, 10, 0, NULL), 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, "", 2, rows, &n, next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(rows[1].user_id, 2);
    /* User 2 buys again and moves to the top; the next page still starts below its old place. */
    ASSERT_EQ(buy(&f, 2, NOW, 10, 0, NULL), 0);
    ASSERT_EQ(analytics_customers(&f.tx, f.merchant, AN_SORT_RECENT, next, 2, rows, &n, next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(rows[0].user_id, 3);
    ASSERT_EQ(rows[1].user_id, 4);
    ASSERT_STREQ(next, "");
    afx_close(&f);
}

/* ------------------------------------------------------------------------------------------
 * Randomized comparison with a brute-force model
 * ---------------------------------------------------------------------------------------- */

struct mp {
    uint64_t id, user, sharer;
    int64_t at, amount, points;
    int refunded;
};

struct model {
    struct mp *p;
    size_t n;
    int64_t *share_at;
    size_t nshares;
    uint64_t nusers; /* users are 1..nusers */
};

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
    return test_xorshift(&rng_state);
}

static struct rg_purchase mp_purchase(const struct mp *m, uint64_t merchant)
{
    struct rg_purchase p;
    memset(&p, 0, sizeof(p));
    p.id = m->id;
    p.user_id = m->user;
    p.merchant_id = merchant;
    p.amount = m->amount;
    p.created_at = m->at;
    p.sharer_id = m->sharer;
    p.share_id = m->sharer ? m->sharer + 500000 : 0;
    p.nawards = 1;
    p.awards[0] = (struct rg_award){m->user, RG_LK_PURCHASE, 0, m->points};
    p.refunded_at = m->refunded ? m->at + 1 : 0;
    return p;
}

/* The stats by definition, from the model. Cascades only when with_cascade (quadratic). */
static int oracle_stats(const struct model *md, int64_t now, int days, int with_cascade,
                        struct an_stats *o, int64_t *sharer_rev, uint64_t *sharer_refs)
{
    const int64_t start = now - days * DAY;
    size_t nu = md->nusers + 1;
    uint64_t *in = calloc(nu, sizeof(*in)), *visits = calloc(nu, sizeof(*visits));
    int64_t *first = malloc(nu * sizeof(*first));
    memset(o, 0, sizeof(*o));
    memset(sharer_rev, 0, nu * sizeof(*sharer_rev));
    memset(sharer_refs, 0, nu * sizeof(*sharer_refs));
    if (!in || !visits || !first)
        return -1;
    for (size_t u = 0; u < nu; u++)
        first[u] = INT64_MAX;
    o->days = days;
    for (size_t i = 0; i < md->n; i++) {
        const struct mp *p = &md->p[i];
        if (p->refunded)
            continue;
        visits[p->user]++;
        if (p->at < first[p->user])
            first[p->user] = p->at;
        if (p->at < start)
            continue;
        in[p->user]++;
        o->purchases++;
        o->revenue += p->amount;
        o->points_issued += p->points;
        if (p->sharer) {
            o->referred_purchases++;
            o->referred_revenue += p->amount;
            sharer_rev[p->sharer] += p->amount;
            sharer_refs[p->sharer]++;
        }
    }
    for (size_t u = 1; u < nu; u++) {
        if (!in[u])
            continue;
        o->customers++;
        o->new_customers += first[u] >= start;
        o->returning_customers += visits[u] >= 2;
        o->regulars += in[u] >= 3;
    }
    o->repeat_rate = o->customers ? (double)o->returning_customers / (double)o->customers : 0;
    for (size_t i = 0; i < md->nshares; i++)
        o->shares += md->share_at[i] >= start;
    o->share_conversion = o->shares ? (double)o->referred_purchases / (double)o->shares : 0;

    if (with_cascade) {
        /* The period's edges by sharer (CSR), then a BFS from every sharer. */
        uint64_t *deg = calloc(nu + 1, sizeof(*deg)), *adj = malloc((md->n + 1) * 8);
        unsigned char *seen = malloc(nu);
        uint64_t *queue = malloc(nu * sizeof(*queue));
        if (!deg || !adj || !seen || !queue)
            return -1;
        for (size_t i = 0; i < md->n; i++)
            if (!md->p[i].refunded && md->p[i].at >= start && md->p[i].sharer)
                deg[md->p[i].sharer + 1]++;
        for (size_t u = 0; u < nu; u++)
            deg[u + 1] += deg[u];
        uint64_t *pos = malloc((nu + 1) * sizeof(*pos));
        memcpy(pos, deg, (nu + 1) * sizeof(*pos));
        for (size_t i = 0; i < md->n; i++)
            if (!md->p[i].refunded && md->p[i].at >= start && md->p[i].sharer)
                adj[pos[md->p[i].sharer]++] = md->p[i].user;
        free(pos);
        for (uint64_t a = 1; a < nu; a++) {
            if (!sharer_refs[a])
                continue;
            memset(seen, 0, nu);
            size_t qh = 0, qt = 0;
            int64_t cascade = 0;
            queue[qt++] = a;
            seen[a] = 1;
            while (qh < qt) {
                uint64_t x = queue[qh++];
                cascade += sharer_rev[x];
                for (uint64_t e = deg[x]; e < deg[x + 1]; e++) {
                    if (!seen[adj[e]]) {
                        seen[adj[e]] = 1;
                        queue[qt++] = adj[e];
                    }
                }
            }
            struct an_ambassador c = {a, sharer_refs[a], sharer_rev[a], cascade};
            /* insertion into the top 10 */
            size_t k = o->nambassadors < ANALYTICS_MAX_AMBASSADORS ? o->nambassadors++
                                                                   : ANALYTICS_MAX_AMBASSADORS;
            while (k > 0) {
                const struct an_ambassador *b = &o->ambassadors[k - 1];
                int before = c.cascade_revenue != b->cascade_revenue
                                 ? c.cascade_revenue > b->cascade_revenue
                             : c.referrals != b->referrals ? c.referrals > b->referrals
                                                           : c.user_id < b->user_id;
                if (!before)
                    break;
                if (k < ANALYTICS_MAX_AMBASSADORS)
                    o->ambassadors[k] = *b;
                k--;
            }
            if (k < ANALYTICS_MAX_AMBASSADORS)
                o->ambassadors[k] = c;
        }
        free(deg);
        free(adj);
        free(seen);
        free(queue);
    }
    free(in);
    free(visits);
    free(first);
    return 0;
}

static void check_stats(struct afx *f, const struct model *md, int64_t now, int days,
                        int with_cascade, double *ms)
{
    struct an_stats got, want;
    size_t nu = md->nusers + 1;
    int64_t *rev = malloc(nu * sizeof(*rev));
    uint64_t *refs = malloc(nu * sizeof(*refs));
    struct timespec t0, t1;
    ASSERT(rev && refs);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = analytics_stats(&f->tx, f->merchant, now, days, &got);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ms)
        *ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(oracle_stats(md, now, days, with_cascade, &want, rev, refs), 0);
    ASSERT_EQ(got.days, want.days);
    ASSERT_EQ(got.purchases, want.purchases);
    ASSERT_EQ(got.revenue, want.revenue);
    ASSERT_EQ(got.customers, want.customers);
    ASSERT_EQ(got.new_customers, want.new_customers);
    ASSERT_EQ(got.returning_customers, want.returning_customers);
    ASSERT_EQ(got.regulars, want.regulars);
    ASSERT(fabs(got.repeat_rate - want.repeat_rate) < 1e-12);
    ASSERT_EQ(got.referred_purchases, want.referred_purchases);
    ASSERT_EQ(got.referred_revenue, want.referred_revenue);
    ASSERT_EQ(got.shares, want.shares);
    ASSERT(fabs(got.share_conversion - want.share_conversion) < 1e-12);
    ASSERT_EQ(got.points_issued, want.points_issued);
    if (with_cascade) {
        ASSERT_EQ(got.nambassadors, want.nambassadors);
        for (size_t i = 0; i < got.nambassadors; i++) {
            ASSERT_EQ(got.ambassadors[i].user_id, want.ambassadors[i].user_id);
            ASSERT_EQ(got.ambassadors[i].referrals, want.ambassadors[i].referrals);
            ASSERT_EQ(got.ambassadors[i].referred_revenue, want.ambassadors[i].referred_revenue);
            ASSERT_EQ(got.ambassadors[i].cascade_revenue, want.ambassadors[i].cascade_revenue);
        }
    } else {
        /* Without the quadratic oracle: each listed sharer's own numbers are right, the order
         * holds, and a cascade is at least the sharer's own revenue. */
        ASSERT(got.nambassadors == ANALYTICS_MAX_AMBASSADORS || got.referred_purchases < 10);
        for (size_t i = 0; i < got.nambassadors; i++) {
            const struct an_ambassador *a = &got.ambassadors[i];
            ASSERT_EQ(a->referrals, refs[a->user_id]);
            ASSERT_EQ(a->referred_revenue, rev[a->user_id]);
            ASSERT(a->cascade_revenue >= a->referred_revenue);
            ASSERT(a->cascade_revenue <= got.referred_revenue);
            if (i > 0)
                ASSERT(got.ambassadors[i - 1].cascade_revenue >= a->cascade_revenue);
        }
    }
    free(rev);
    free(refs);
}

struct mcust {
    uint64_t user, visits, referred_by, referrals;
    int64_t spend, first_at, last_at, ref_at;
    uint64_t ref_id;
};

static int64_t mcust_key(const struct mcust *c, enum an_sort sort)
{
    return sort == AN_SORT_RECENT   ? c->last_at
           : sort == AN_SORT_VISITS ? (int64_t)c->visits
                                    : c->spend;
}

static enum an_sort qsort_by;
static int mcust_cmp(const void *a, const void *b)
{
    const struct mcust *x = a, *y = b;
    int64_t kx = mcust_key(x, qsort_by), ky = mcust_key(y, qsort_by);
    if (kx != ky)
        return kx > ky ? -1 : 1;
    return x->user > y->user ? -1 : x->user < y->user;
}

/* Pages through every sort with page size `page` and compares with the model. */
static void check_customers(struct afx *f, const struct model *md, size_t page)
{
    size_t nu = md->nusers + 1, ncust = 0;
    struct mcust *c = calloc(nu, sizeof(*c));
    struct an_customer *rows = malloc(page * sizeof(*rows));
    ASSERT(c && rows);
    for (size_t i = 0; i < md->n; i++) {
        const struct mp *p = &md->p[i];
        if (p->sharer)
            c[p->sharer].referrals++; /* credits stay (rule 5) */
        if (p->refunded)
            continue;
        struct mcust *x = &c[p->user];
        if (x->visits == 0 || p->at < x->first_at)
            x->first_at = p->at;
        if (x->visits == 0 || p->at > x->last_at)
            x->last_at = p->at;
        x->visits++;
        x->spend += p->amount;
        if (p->sharer &&
            (x->ref_id == 0 || p->at < x->ref_at || (p->at == x->ref_at && p->id < x->ref_id))) {
            x->ref_at = p->at;
            x->ref_id = p->id;
            x->referred_by = p->sharer;
        }
    }
    for (size_t u = 1; u < nu; u++) {
        c[u].user = u;
        if (c[u].visits)
            c[ncust++] = c[u];
    }
    for (int sort = 0; sort < 3; sort++) {
        qsort_by = (enum an_sort)sort;
        qsort(c, ncust, sizeof(*c), mcust_cmp);
        char cursor[ANALYTICS_CURSOR_MAX] = "", next[ANALYTICS_CURSOR_MAX];
        size_t got = 0, n;
        do {
            ASSERT_EQ(analytics_customers(&f->tx, f->merchant, (enum an_sort)sort, cursor, page,
                                          rows, &n, next),
                      0);
            for (size_t i = 0; i < n; i++, got++) {
                ASSERT(got < ncust);
                const struct mcust *w = &c[got];
                ASSERT_EQ(rows[i].user_id, w->user);
                ASSERT_EQ(rows[i].visits, w->visits);
                ASSERT_EQ(rows[i].spend, w->spend);
                ASSERT_EQ(rows[i].first_at, w->first_at);
                ASSERT_EQ(rows[i].last_at, w->last_at);
                ASSERT_EQ(rows[i].referred_by, w->referred_by);
                ASSERT_EQ(rows[i].referrals, w->referrals);
            }
            strcpy(cursor, next);
        } while (cursor[0]);
        ASSERT_EQ(got, ncust);
    }
    free(c);
    free(rows);
}

/* Loads n purchases of nusers customers over `days` days ending at end (in time order when ordered,
 * else shuffled), shares, then refunds about 1 in refund_every, committing every batch purchases.
 * Sharers are drawn from the first nsharers users so that chains form. */
static int load_model(struct afx *f, struct model *md, size_t n, uint64_t nusers, uint64_t nsharers,
                      int64_t end, int days, int ordered, size_t batch, unsigned refund_every)
{
    int rc;
    memset(md, 0, sizeof(*md));
    md->nusers = nusers;
    md->n = n;
    md->p = calloc(n, sizeof(*md->p));
    md->nshares = n / 20;
    md->share_at = malloc((md->nshares ? md->nshares : 1) * sizeof(*md->share_at));
    if (!md->p || !md->share_at)
        return RG_ENOMEM;
    const int64_t span = days * DAY;
    for (size_t i = 0; i < n; i++) {
        struct mp *p = &md->p[i];
        p->id = i + 1;
        /* a skewed customer mix: a quarter of purchases come from 1% of users */
        p->user = (rnd() % 4 == 0) ? 1 + rnd() % (nusers / 100 + 1) : 1 + rnd() % nusers;
        p->at = ordered ? end - span + (int64_t)((__int128)span * (int64_t)i / (int64_t)n)
                        : end - (int64_t)(rnd() % (uint64_t)span);
        if (rnd() % 5 == 0) {
            do
                p->sharer = 1 + rnd() % nsharers;
            while (p->sharer == p->user);
        }
        p->amount = 1 + (int64_t)(rnd() % 50000);
        p->points = p->amount / 100 + (p->sharer ? 150 : 0);
    }
    for (size_t i = 0; i < md->nshares; i++)
        md->share_at[i] = end - (int64_t)(rnd() % (uint64_t)(span + DAY));
    for (size_t i = 0; i < n; i++) {
        struct rg_purchase p = mp_purchase(&md->p[i], f->merchant);
        if ((rc = analytics_on_purchase(&f->tx, &p)))
            return rc;
        if (i < md->nshares) {
            struct rg_share s = {.id = i + 1,
                                 .user_id = 1 + i % nusers,
                                 .merchant_id = f->merchant,
                                 .created_at = md->share_at[i]};
            if ((rc = analytics_on_share(&f->tx, &s)))
                return rc;
        }
        if ((i + 1) % batch == 0)
            afx_commit(f);
    }
    afx_commit(f);
    for (size_t i = 0; i < n; i++) {
        if (rnd() % refund_every)
            continue;
        md->p[i].refunded = 1;
        struct rg_purchase p = mp_purchase(&md->p[i], f->merchant);
        if ((rc = analytics_on_refund(&f->tx, &p)))
            return rc;
    }
    afx_commit(f);
    return 0;
}

static void model_free(struct model *md)
{
    free(md->p);
    free(md->share_at);
}

TEST(random_history_matches_brute_force)
{
    struct afx f;
    struct model md;
    afx_open(&f);
    rng_state = 0x9E3779B97F4A7C15ull;
    /* Shuffled times, 4,000 purchases of 150 users over 12 days, 30 sharers. */
    ASSERT_EQ(load_model(&f, &md, 4000, 150, 30, NOW, 12, 0, 500, 10), 0);
    static const int days[] = {1, 2, 3, 7, 11, 12, 30};
    const int64_t nows[] = {NOW, NOW + 17 * MIN + 5, T_ALIGNED + 2 * HOUR};
    for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
        for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
            check_stats(&f, &md, nows[i], days[d], 1, NULL);
            if (test_failed) {
                fprintf(stderr, "  at now=%lld days=%d\n", (long long)nows[i], days[d]);
                return;
            }
        }
    check_customers(&f, &md, 13);
    if (test_failed)
        return;
    check_customers(&f, &md, 200);
    model_free(&md);
    afx_close(&f);
}

/* 1,000,000 purchases of 50,000 customers over 30 days with REGULARS_BIG=1 (prints how long the
 * stats take); otherwise the same shape at 1/50 scale, still checked against the model. */
TEST(many_purchases_stats_are_fast_and_right)
{
    struct afx f;
    struct model md;
    const int big = getenv("REGULARS_BIG") && strcmp(getenv("REGULARS_BIG"), "1") == 0;
    const size_t n = big ? 1000000 : 20000;
    const uint64_t users = big ? 50000 : 1000;
    struct timespec t0, t1;
    if (!big)
        fprintf(stderr,
                "skip: the 1,000,000-purchase load runs with REGULARS_BIG=1; "
                "checking %zu purchases instead\n",
                n);
    afx_open_size(&f, big ? (size_t)4 << 30 : (size_t)256 << 20);
    rng_state = 0x2545F4914F6CDD1Dull;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_EQ(load_model(&f, &md, n, users, users / 10, NOW, 30, 1, 10000, 50), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "loaded %zu purchases (%llu customers) in %.1f s\n", n,
            (unsigned long long)users,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    /* Timed in a read txn, as the server would. */
    mdb_txn_abort(f.tx.txn);
    f.tx.txn = NULL;
    struct store_tx rtx;
    ASSERT_EQ(store_read_begin(&f.st, &rtx), 0);
    f.tx = rtx;
    static const int days[] = {30, 7, 1};
    for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
        double ms = 0, best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            check_stats(&f, &md, NOW, days[d], !big, &ms);
            if (test_failed)
                return;
            if (ms < best)
                best = ms;
        }
        fprintf(stderr, "analytics_stats days=%d: %.2f ms (best of 3)\n", days[d], best);
    }
    check_customers(&f, &md, 200);
    store_read_end(&f.tx);
    f.tx.txn = NULL;
    model_free(&md);
    afx_close(&f);
}
