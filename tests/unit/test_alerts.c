/* Referral-abuse alerts over real domain writes (purchases, shares, refunds). */
#include "domain_fixture.h"
#include "regulars/alerts.h"
#include "regulars/purchases.h"
#include "regulars/shares.h"

static uint64_t buy(struct fx *f, uint64_t m, uint64_t u, int64_t now, struct rg_purchase *p)
{
    fx_reset_events(f);
    FX_CHECK(purchases_record(&f->tx, m, u, 1000, now, p, &f->ev));
    return p->id;
}

static void share(struct fx *f, uint64_t m, uint64_t u, int64_t now)
{
    struct rg_purchase p;
    struct rg_share s;
    buy(f, m, u, now, &p);
    fx_reset_events(f);
    FX_CHECK(shares_create(&f->tx, u, p.id, RG_CH_POST, NULL, now, &s, &f->ev));
}

static size_t scan(struct fx *f, uint64_t m, int64_t now, struct alert *out)
{
    size_t n = 0;
    FX_CHECK(alerts_scan(&f->tx, m, now, 30, out, ALERTS_MAX, &n));
    return n;
}

static const struct alert *find(const struct alert *a, size_t n, enum alert_kind k)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].kind == k)
            return &a[i];
    return NULL;
}

TEST(quiet_merchant_has_no_alerts)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 86400, 20);
    uint64_t m = fx_merchant(&f, &r), a = fx_user(&f, "A"), b = fx_user(&f, "B");
    fx_befriend(&f, a, b, FX_T0);
    share(&f, m, a, FX_T0 + 1);
    struct rg_purchase p;
    buy(&f, m, b, FX_T0 + 2, &p);
    struct alert al[ALERTS_MAX];
    ASSERT_EQ(scan(&f, m, FX_T0 + 3, al), 0);
    fx_close(&f);
}

TEST(one_buyer_credited_by_many_shares_in_a_day)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 86400, 20);
    uint64_t m = fx_merchant(&f, &r), b = fx_user(&f, "Buyer");
    uint64_t s[3] = {fx_user(&f, "S1"), fx_user(&f, "S2"), fx_user(&f, "S3")};
    for (int i = 0; i < 3; i++)
        fx_befriend(&f, s[i], b, FX_T0);
    struct rg_purchase p;
    for (int i = 0; i < 3; i++) {
        share(&f, m, s[i], FX_T0 + 10 + i);
        buy(&f, m, b, FX_T0 + 100 + i, &p);
        ASSERT_EQ(p.sharer_id, s[i]);
    }
    struct alert al[ALERTS_MAX];
    size_t n = scan(&f, m, FX_T0 + 1000, al);
    const struct alert *a = find(al, n, ALERT_BURST_BUYER);
    ASSERT(a != NULL);
    ASSERT_EQ(a->user, b);
    ASSERT_EQ(a->count, 3);
    fx_close(&f);
}

TEST(spread_over_days_is_not_a_burst)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 2592000, 20);
    uint64_t m = fx_merchant(&f, &r), b = fx_user(&f, "Buyer");
    uint64_t s[3] = {fx_user(&f, "S1"), fx_user(&f, "S2"), fx_user(&f, "S3")};
    struct rg_purchase p;
    for (int i = 0; i < 3; i++) {
        fx_befriend(&f, s[i], b, FX_T0);
        share(&f, m, s[i], FX_T0 + i * 2 * FX_DAY);
        buy(&f, m, b, FX_T0 + i * 2 * FX_DAY + 5, &p);
        ASSERT_EQ(p.sharer_id, s[i]);
    }
    struct alert al[ALERTS_MAX];
    size_t n = scan(&f, m, FX_T0 + 6 * FX_DAY, al);
    ASSERT(find(al, n, ALERT_BURST_BUYER) == NULL);
    fx_close(&f);
}

TEST(sharer_whose_referred_purchases_get_refunded)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 86400, 20);
    uint64_t m = fx_merchant(&f, &r), a = fx_user(&f, "A");
    share(&f, m, a, FX_T0);
    struct rg_purchase p, out;
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;
    for (int i = 0; i < 4; i++) {
        char name[8] = {'F', (char)('0' + i), 0};
        uint64_t fr = fx_user(&f, name);
        fx_befriend(&f, a, fr, FX_T0);
        buy(&f, m, fr, FX_T0 + 10 + i, &p);
        ASSERT_EQ(p.sharer_id, a);
        if (i < 2) {
            fx_reset_events(&f);
            FX_CHECK(purchases_refund(&f.tx, m, p.id, FX_T0 + 20 + i, &out, rev, &nrev, &f.ev));
        }
    }
    struct alert al[ALERTS_MAX];
    size_t n = scan(&f, m, FX_T0 + 100, al);
    const struct alert *al1 = find(al, n, ALERT_REFUND_RATE);
    ASSERT(al1 != NULL);
    ASSERT_EQ(al1->user, a);
    ASSERT_EQ(al1->count, 4);
    ASSERT_EQ(al1->count2, 2);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(reciprocal_pair_reported_once)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 86400, 20);
    uint64_t m = fx_merchant(&f, &r), a = fx_user(&f, "A"), b = fx_user(&f, "B");
    fx_befriend(&f, a, b, FX_T0);
    struct rg_purchase p;
    share(&f, m, a, FX_T0 + 1);
    buy(&f, m, b, FX_T0 + 2, &p); /* A's share credits B */
    ASSERT_EQ(p.sharer_id, a);
    share(&f, m, b, FX_T0 + 3);
    buy(&f, m, a, FX_T0 + 4, &p); /* B's share credits A */
    ASSERT_EQ(p.sharer_id, b);
    struct alert al[ALERTS_MAX];
    size_t n = scan(&f, m, FX_T0 + 10, al);
    size_t pairs = 0;
    for (size_t i = 0; i < n; i++)
        if (al[i].kind == ALERT_RECIPROCAL) {
            pairs++;
            ASSERT((al[i].user == a && al[i].other == b) || (al[i].user == b && al[i].other == a));
            ASSERT_EQ(al[i].count, 1);
            ASSERT_EQ(al[i].count2, 1);
        }
    ASSERT_EQ(pairs, 1);
    fx_close(&f);
}

TEST(older_than_the_period_is_ignored)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 86400, 20);
    uint64_t m = fx_merchant(&f, &r), a = fx_user(&f, "A"), b = fx_user(&f, "B");
    fx_befriend(&f, a, b, FX_T0);
    struct rg_purchase p;
    share(&f, m, a, FX_T0 + 1);
    buy(&f, m, b, FX_T0 + 2, &p);
    share(&f, m, b, FX_T0 + 3);
    buy(&f, m, a, FX_T0 + 4, &p);
    struct alert al[ALERTS_MAX];
    ASSERT_EQ(scan(&f, m, FX_T0 + 31 * FX_DAY, al), 0);
    fx_close(&f);
}
