/* Tests for purchases: points, awards, ledger entries and events of a recorded purchase
 * (referred or not, zero-point awards), refunds (reversals, rule 5, double refund, negative
 * balances), reads and pages. */
#include "domain_fixture.h"
#include "regulars/purchases.h"
#include "regulars/redemptions.h"
#include "regulars/shares.h"

static uint64_t buy(struct fx *f, uint64_t merchant, uint64_t user, int64_t amount, int64_t now,
                    struct rg_purchase *p)
{
    fx_reset_events(f);
    FX_CHECK(purchases_record(&f->tx, merchant, user, amount, now, p, &f->ev));
    return p->id;
}

static struct rg_share make_share(struct fx *f, uint64_t merchant, uint64_t sharer, int64_t now)
{
    struct rg_purchase p;
    struct rg_share s;
    buy(f, merchant, sharer, 1000, now, &p);
    fx_reset_events(f);
    FX_CHECK(shares_create(&f->tx, sharer, p.id, RG_CH_LINK, NULL, now, &s, &f->ev));
    return s;
}

static int refund(struct fx *f, uint64_t merchant, uint64_t purchase, int64_t now,
                  struct rg_purchase *p, struct rg_award *rev, size_t *nrev)
{
    fx_reset_events(f);
    return purchases_refund(&f->tx, merchant, purchase, now, p, rev, nrev, &f->ev);
}

/* Is there a DB_SHARE_CREDITS row (share, buyer), and for which purchase? */
static uint64_t credit_row(struct fx *f, uint64_t share, uint64_t buyer)
{
    struct skey k;
    MDB_val v;
    skey_make2(&k, share, buyer);
    int rc = store_get(&f->tx, DB_SHARE_CREDITS, &k, &v);
    if (rc == RG_ENOTFOUND)
        return 0;
    FX_CHECK(rc);
    return v.mv_size == 8 ? store_be64(v.mv_data) : UINT64_MAX;
}

/* ---- points (rule 1) ---- */

TEST(points_are_floored_and_exact_at_the_limits)
{
    ASSERT_EQ(purchases_points(1999, 100), 19);
    ASSERT_EQ(purchases_points(99, 100), 0);
    ASSERT_EQ(purchases_points(1, 10000), 1);
    ASSERT_EQ(purchases_points(1, 9999), 0);
    ASSERT_EQ(purchases_points(1000000000, 10000), 1000000000);
    ASSERT_EQ(purchases_points(999999999, 3), 299999);
    ASSERT_EQ(purchases_points(12345, 0), 0);
    ASSERT_EQ(purchases_points(0, 100), 0);
    ASSERT_EQ(purchases_points(INT64_MAX, 10000), INT64_MAX);
    ASSERT_EQ(purchases_points(INT64_MAX, 5000), INT64_MAX / 2);
}

TEST(plain_purchase_earns_purchase_points)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(250, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t b = fx_user(&f, "Ben");
    struct rg_purchase p;
    buy(&f, m, b, 12345, FX_T0, &p);
    ASSERT(p.id > 0);
    ASSERT_EQ(p.user_id, b);
    ASSERT_EQ(p.merchant_id, m);
    ASSERT_EQ(p.amount, 12345);
    ASSERT_EQ(p.created_at, FX_T0);
    ASSERT_EQ(p.refunded_at, 0);
    ASSERT_EQ(p.share_id, 0);
    ASSERT_EQ(p.sharer_id, 0);
    ASSERT_EQ(p.shared_as, 0);
    ASSERT_EQ(p.nawards, 1);
    ASSERT_EQ(p.awards[0].user_id, b);
    ASSERT_EQ(p.awards[0].kind, RG_LK_PURCHASE);
    ASSERT_EQ(p.awards[0].points, 308); /* floor(12345 * 250 / 10000) */
    ASSERT_EQ(fx_balance(&f, b), 308);

    struct rg_purchase stored;
    ASSERT_EQ(purchases_get(&f.tx, p.id, &stored), 0);
    ASSERT(memcmp(&stored, &p, sizeof(p)) == 0);

    struct rg_ledger_entry e[2];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, b, 0, 2, e, &n, &next), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(e[0].kind, RG_LK_PURCHASE);
    ASSERT_EQ(e[0].points, 308);
    ASSERT_EQ(e[0].purchase_id, p.id);
    ASSERT_EQ(e[0].merchant_id, m);
    ASSERT_EQ(e[0].share_id, 0);
    ASSERT_EQ(e[0].friend_id, 0);
    ASSERT_EQ(e[0].created_at, FX_T0);

    ASSERT_EQ(f.ev.n, 2);
    const struct dom_event *ev = &f.ev.ev[0];
    ASSERT_EQ(ev->type, EV_POINTS_EARNED);
    ASSERT_EQ(ev->recipient, store_recipient(RG_KIND_USER, b));
    ASSERT_EQ(ev->at, FX_T0);
    ASSERT_EQ(ev->kind, RG_LK_PURCHASE);
    ASSERT_EQ(ev->points, 308);
    ASSERT_EQ(ev->balance, 308);
    ASSERT_EQ(ev->purchase_id, p.id);
    ASSERT_EQ(ev->merchant_id, m);
    ASSERT_EQ(ev->friend_id, 0);
    ASSERT_EQ(ev->share_id, 0);
    ev = &f.ev.ev[1];
    ASSERT_EQ(ev->type, EV_PURCHASE);
    ASSERT_EQ(ev->recipient, store_recipient(RG_KIND_MERCHANT, m));
    ASSERT_EQ(ev->purchase_id, p.id);
    ASSERT_EQ(ev->user_id, b);
    ASSERT_EQ(ev->share_id, 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(record_rejects_unknown_principals_and_bad_amounts)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL);
    uint64_t b = fx_user(&f, "Ben");
    uint64_t seq = fx_last_id(&f, "purchase");
    struct rg_purchase p;
    ASSERT_EQ(purchases_record(&f.tx, m + 99, b, 100, FX_T0, &p, &f.ev), RG_ENOTFOUND);
    ASSERT_EQ(purchases_record(&f.tx, m, b + 99, 100, FX_T0, &p, &f.ev), RG_ENOTFOUND);
    ASSERT_EQ(purchases_record(&f.tx, m, b, 0, FX_T0, &p, &f.ev), RG_EINVAL);
    ASSERT_EQ(purchases_record(&f.tx, m, b, -5, FX_T0, &p, &f.ev), RG_EINVAL);
    ASSERT_EQ(purchases_record(&f.tx, m, b, PURCHASES_AMOUNT_MAX + 1, FX_T0, &p, &f.ev), RG_EINVAL);
    ASSERT_EQ(fx_last_id(&f, "purchase"), seq);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(fx_entries(&f, b), 0);
    /* The limits themselves are fine; the default rules earn 1%. */
    ASSERT_EQ(purchases_record(&f.tx, m, b, PURCHASES_AMOUNT_MAX, FX_T0, &p, &f.ev), 0);
    ASSERT_EQ(fx_balance(&f, b), PURCHASES_AMOUNT_MAX / 100);
    fx_reset_events(&f);
    ASSERT_EQ(purchases_record(&f.tx, m, b, 1, FX_T0, &p, &f.ev), 0);
    ASSERT_EQ(p.nawards, 0); /* floor(1 * 100 / 10000) = 0: no entry, no event */
    ASSERT_EQ(f.ev.n, 1);
    ASSERT_EQ(f.ev.ev[0].type, EV_PURCHASE);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* ---- referred purchase: awards, entries, events ---- */

TEST(referred_purchase_awards_entries_and_events)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 300, 70, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    fx_befriend(&f, a, b, FX_T0 - 1);
    struct rg_share s = make_share(&f, m, a, FX_T0); /* Ana earns 10 */
    struct rg_purchase p;
    buy(&f, m, b, 5000, FX_T0 + 5, &p);

    ASSERT_EQ(p.share_id, s.id);
    ASSERT_EQ(p.sharer_id, a);
    ASSERT_EQ(p.nawards, 3);
    ASSERT_EQ(p.awards[0].user_id, b);
    ASSERT_EQ(p.awards[0].kind, RG_LK_PURCHASE);
    ASSERT_EQ(p.awards[0].points, 50);
    ASSERT_EQ(p.awards[1].user_id, a);
    ASSERT_EQ(p.awards[1].kind, RG_LK_REFERRAL);
    ASSERT_EQ(p.awards[1].points, 300);
    ASSERT_EQ(p.awards[2].user_id, b);
    ASSERT_EQ(p.awards[2].kind, RG_LK_FRIEND_BONUS);
    ASSERT_EQ(p.awards[2].points, 70);
    ASSERT_EQ(fx_balance(&f, a), 310);
    ASSERT_EQ(fx_balance(&f, b), 120);

    /* The share counts the credit; the credit row names the purchase. */
    struct rg_share now;
    ASSERT_EQ(shares_get(&f.tx, s.id, &now), 0);
    ASSERT_EQ(now.referrals, 1);
    ASSERT_EQ(credit_row(&f, s.id, b), p.id);

    /* Ledger entries: references per API.md. */
    struct rg_ledger_entry e[3];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, b, 0, 3, e, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(e[0].kind, RG_LK_FRIEND_BONUS);
    ASSERT_EQ(e[0].friend_id, a);
    ASSERT_EQ(e[0].share_id, s.id);
    ASSERT_EQ(e[0].purchase_id, p.id);
    ASSERT_EQ(e[0].balance_after, 120);
    ASSERT_EQ(e[1].kind, RG_LK_PURCHASE);
    ASSERT_EQ(e[1].friend_id, 0);
    ASSERT_EQ(e[1].balance_after, 50);
    ASSERT_EQ(ledger_page(&f.tx, a, 0, 3, e, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(e[0].kind, RG_LK_REFERRAL);
    ASSERT_EQ(e[0].friend_id, b);
    ASSERT_EQ(e[0].share_id, s.id);
    ASSERT_EQ(e[0].purchase_id, p.id);
    ASSERT_EQ(e[0].merchant_id, m);
    ASSERT_EQ(e[0].points, 300);

    /* Events: buyer purchase, sharer referral, buyer friend_bonus, then the merchant's. */
    ASSERT_EQ(f.ev.n, 4);
    const struct dom_event *ev = f.ev.ev;
    ASSERT_EQ(ev[0].type, EV_POINTS_EARNED);
    ASSERT_EQ(ev[0].recipient, store_recipient(RG_KIND_USER, b));
    ASSERT_EQ(ev[0].kind, RG_LK_PURCHASE);
    ASSERT_EQ(ev[0].points, 50);
    ASSERT_EQ(ev[0].balance, 50);
    ASSERT_EQ(ev[0].friend_id, 0);
    ASSERT_EQ(ev[1].type, EV_POINTS_EARNED);
    ASSERT_EQ(ev[1].recipient, store_recipient(RG_KIND_USER, a));
    ASSERT_EQ(ev[1].kind, RG_LK_REFERRAL);
    ASSERT_EQ(ev[1].points, 300);
    ASSERT_EQ(ev[1].balance, 310);
    ASSERT_EQ(ev[1].friend_id, b);
    ASSERT_EQ(ev[1].share_id, s.id);
    ASSERT_EQ(ev[1].purchase_id, p.id);
    ASSERT_EQ(ev[1].merchant_id, m);
    ASSERT_EQ(ev[2].type, EV_POINTS_EARNED);
    ASSERT_EQ(ev[2].recipient, store_recipient(RG_KIND_USER, b));
    ASSERT_EQ(ev[2].kind, RG_LK_FRIEND_BONUS);
    ASSERT_EQ(ev[2].points, 70);
    ASSERT_EQ(ev[2].balance, 120);
    ASSERT_EQ(ev[2].friend_id, a);
    ASSERT_EQ(ev[2].share_id, s.id);
    ASSERT_EQ(ev[3].type, EV_PURCHASE);
    ASSERT_EQ(ev[3].recipient, store_recipient(RG_KIND_MERCHANT, m));
    ASSERT_EQ(ev[3].user_id, b);
    ASSERT_EQ(ev[3].purchase_id, p.id);
    ASSERT_EQ(ev[3].share_id, s.id);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* ---- rule 4: zero-point awards ---- */

/* Every rule at 0: no entry, no points event, but the referral is recorded and counts
 * toward the cap (1), so the next friend is not credited. */
TEST(zero_point_awards_write_nothing_but_the_referral_counts)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(0, 0, 0, 3600, 1);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben"), c = fx_user(&f, "Cy");
    fx_befriend(&f, a, b, FX_T0 - 1);
    fx_befriend(&f, a, c, FX_T0 - 1);
    struct rg_share s = make_share(&f, m, a, FX_T0);
    uint64_t ledger_seq = fx_last_id(&f, "ledger");
    struct rg_purchase p;
    buy(&f, m, b, 5000, FX_T0 + 1, &p);
    ASSERT_EQ(p.share_id, s.id);
    ASSERT_EQ(p.sharer_id, a);
    ASSERT_EQ(p.nawards, 0);
    ASSERT_EQ(fx_last_id(&f, "ledger"), ledger_seq);
    ASSERT_EQ(fx_entries(&f, a), 0);
    ASSERT_EQ(fx_entries(&f, b), 0);
    ASSERT_EQ(fx_count(&f, EV_POINTS_EARNED), 0);
    ASSERT_EQ(f.ev.n, 1);
    ASSERT_EQ(f.ev.ev[0].type, EV_PURCHASE);
    ASSERT_EQ(f.ev.ev[0].share_id, s.id);
    ASSERT_EQ(credit_row(&f, s.id, b), p.id);
    struct rg_share now;
    ASSERT_EQ(shares_get(&f.tx, s.id, &now), 0);
    ASSERT_EQ(now.referrals, 1);

    struct rg_purchase q;
    buy(&f, m, c, 5000, FX_T0 + 2, &q);
    ASSERT_EQ(q.share_id, 0); /* the cap of 1 is used up by the zero-point referral */
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* Only the zero awards vanish: referral_bonus 0 with friend_bonus 50 gives the buyer both
 * of theirs and the sharer nothing. */
TEST(zero_referral_bonus_keeps_the_other_awards)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 0, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    fx_befriend(&f, a, b, FX_T0 - 1);
    struct rg_share s = make_share(&f, m, a, FX_T0);
    int64_t a0 = fx_balance(&f, a);
    uint64_t a_entries = fx_entries(&f, a);
    struct rg_purchase p;
    buy(&f, m, b, 1000, FX_T0 + 1, &p);
    ASSERT_EQ(p.share_id, s.id);
    ASSERT_EQ(p.nawards, 2);
    ASSERT_EQ(p.awards[0].kind, RG_LK_PURCHASE);
    ASSERT_EQ(p.awards[1].kind, RG_LK_FRIEND_BONUS);
    ASSERT_EQ(p.awards[1].points, 50);
    ASSERT_EQ(fx_balance(&f, a), a0);
    ASSERT_EQ(fx_entries(&f, a), a_entries);
    ASSERT_EQ(fx_count(&f, EV_POINTS_EARNED), 2);
    for (size_t i = 0; i < 2; i++)
        ASSERT_EQ(fx_event(&f, EV_POINTS_EARNED, i)->recipient, store_recipient(RG_KIND_USER, b));
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* ---- refunds ---- */

TEST(refund_reverses_every_award)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 300, 70, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    fx_befriend(&f, a, b, FX_T0 - 1);
    struct rg_share s = make_share(&f, m, a, FX_T0);
    struct rg_purchase p, out;
    buy(&f, m, b, 5000, FX_T0 + 1, &p);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev = 99;
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 9, &out, rev, &nrev), 0);
    ASSERT_EQ(out.refunded_at, FX_T0 + 9);
    ASSERT_EQ(out.id, p.id);
    ASSERT_EQ(out.nawards, 3);
    struct rg_purchase stored;
    ASSERT_EQ(purchases_get(&f.tx, p.id, &stored), 0);
    ASSERT_EQ(stored.refunded_at, FX_T0 + 9);

    ASSERT_EQ(nrev, 3);
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(rev[i].user_id, p.awards[i].user_id);
        ASSERT_EQ(rev[i].kind, RG_LK_REVERSAL);
        ASSERT_EQ(rev[i].points, -p.awards[i].points);
    }
    ASSERT_EQ(fx_balance(&f, a), 10); /* Ana's own purchase points remain */
    ASSERT_EQ(fx_balance(&f, b), 0);

    struct rg_ledger_entry e[4];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, b, 0, 4, e, &n, &next), 0);
    ASSERT_EQ(n, 4);
    ASSERT_EQ(e[0].kind, RG_LK_REVERSAL);
    ASSERT_EQ(e[0].reversed_kind, RG_LK_FRIEND_BONUS);
    ASSERT_EQ(e[0].points, -70);
    ASSERT_EQ(e[0].friend_id, a);
    ASSERT_EQ(e[0].created_at, FX_T0 + 9);
    ASSERT_EQ(e[1].kind, RG_LK_REVERSAL);
    ASSERT_EQ(e[1].reversed_kind, RG_LK_PURCHASE);
    ASSERT_EQ(e[1].points, -50);
    ASSERT_EQ(e[1].purchase_id, p.id);
    ASSERT_EQ(ledger_page(&f.tx, a, 0, 4, e, &n, &next), 0);
    ASSERT_EQ(e[0].kind, RG_LK_REVERSAL);
    ASSERT_EQ(e[0].reversed_kind, RG_LK_REFERRAL);
    ASSERT_EQ(e[0].points, -300);
    ASSERT_EQ(e[0].balance_after, 10);

    /* Events: one per reversal, in award order, then the merchant's refund. */
    ASSERT_EQ(f.ev.n, 4);
    const uint64_t who[3] = {b, a, b};
    const uint32_t kinds[3] = {RG_LK_PURCHASE, RG_LK_REFERRAL, RG_LK_FRIEND_BONUS};
    const int64_t pts[3] = {-50, -300, -70}, bal[3] = {70, 10, 0};
    for (size_t i = 0; i < 3; i++) {
        const struct dom_event *ev = &f.ev.ev[i];
        ASSERT_EQ(ev->type, EV_POINTS_REVERSED);
        ASSERT_EQ(ev->recipient, store_recipient(RG_KIND_USER, who[i]));
        ASSERT_EQ(ev->reversed_kind, kinds[i]);
        ASSERT_EQ(ev->points, pts[i]);
        ASSERT_EQ(ev->balance, bal[i]);
        ASSERT_EQ(ev->purchase_id, p.id);
        ASSERT_EQ(ev->merchant_id, m);
        ASSERT_EQ(ev->at, FX_T0 + 9);
    }
    ASSERT_EQ(f.ev.ev[3].type, EV_REFUND);
    ASSERT_EQ(f.ev.ev[3].recipient, store_recipient(RG_KIND_MERCHANT, m));
    ASSERT_EQ(f.ev.ev[3].purchase_id, p.id);

    /* Rule 5: the credit stays counted. */
    struct rg_share now;
    ASSERT_EQ(shares_get(&f.tx, s.id, &now), 0);
    ASSERT_EQ(now.referrals, 1);
    ASSERT_EQ(credit_row(&f, s.id, b), p.id);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* After a refund the share still never credits that buyer again, and the refunded credit
 * still fills the cap. */
TEST(credit_stays_counted_after_refund)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 3600, 1);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben"), c = fx_user(&f, "Cy");
    fx_befriend(&f, a, b, FX_T0 - 1);
    fx_befriend(&f, a, c, FX_T0 - 1);
    struct rg_share s = make_share(&f, m, a, FX_T0);
    struct rg_purchase p, out, q;
    buy(&f, m, b, 1000, FX_T0 + 1, &p);
    ASSERT_EQ(p.share_id, s.id);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 2, &out, rev, &nrev), 0);
    buy(&f, m, b, 1000, FX_T0 + 3, &q);
    ASSERT_EQ(q.share_id, 0);
    buy(&f, m, c, 1000, FX_T0 + 4, &q);
    ASSERT_EQ(q.share_id, 0);
    /* With room under the cap, b is still excluded while c is credited. */
    r.max_referrals_per_share = 5;
    fx_set_rules(&f, m, &r);
    buy(&f, m, b, 1000, FX_T0 + 5, &q);
    ASSERT_EQ(q.share_id, 0);
    buy(&f, m, c, 1000, FX_T0 + 6, &q);
    ASSERT_EQ(q.share_id, s.id);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(double_refund_is_refused_and_writes_nothing)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL);
    uint64_t b = fx_user(&f, "Ben");
    struct rg_purchase p, out;
    buy(&f, m, b, 5000, FX_T0, &p);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 1, &out, rev, &nrev), 0);
    uint64_t seq = fx_last_id(&f, "ledger");
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 2, &out, rev, &nrev), RG_E_ALREADY_REFUNDED);
    ASSERT_EQ(nrev, 0);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(fx_last_id(&f, "ledger"), seq);
    ASSERT_EQ(fx_balance(&f, b), 0);
    ASSERT_EQ(purchases_get(&f.tx, p.id, &out), 0);
    ASSERT_EQ(out.refunded_at, FX_T0 + 1);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(refund_of_another_merchants_or_unknown_purchase_is_not_found)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL), m2 = fx_merchant(&f, NULL);
    uint64_t b = fx_user(&f, "Ben");
    struct rg_purchase p, out;
    buy(&f, m, b, 5000, FX_T0, &p);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;
    ASSERT_EQ(refund(&f, m2, p.id, FX_T0 + 1, &out, rev, &nrev), RG_ENOTFOUND);
    ASSERT_EQ(refund(&f, m, p.id + 1000, FX_T0 + 1, &out, rev, &nrev), RG_ENOTFOUND);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(purchases_get(&f.tx, p.id, &out), 0);
    ASSERT_EQ(out.refunded_at, 0);
    ASSERT_EQ(fx_balance(&f, b), 50);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* Points spent before the refund: the reversal takes the balance below zero. */
TEST(refund_may_take_balances_below_zero)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 300, 70, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    fx_befriend(&f, a, b, FX_T0 - 1);
    make_share(&f, m, a, FX_T0);
    struct rg_purchase p, out;
    buy(&f, m, b, 5000, FX_T0 + 1, &p);
    struct rg_redemption red;
    int64_t bal;
    fx_reset_events(&f);
    ASSERT_EQ(redemptions_create(&f.tx, a, 0, 310, FX_T0 + 2, &red, &bal, &f.ev), 0);
    ASSERT_EQ(bal, 0);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 3, &out, rev, &nrev), 0);
    ASSERT_EQ(fx_balance(&f, a), -300);
    ASSERT_EQ(fx_event(&f, EV_POINTS_REVERSED, 1)->balance, -300);
    ASSERT_EQ(fx_balance(&f, b), 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* A purchase without awards refunds with no reversal but still a refund event. */
TEST(refund_without_awards_has_no_reversals)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(0, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t b = fx_user(&f, "Ben");
    struct rg_purchase p, out;
    buy(&f, m, b, 5000, FX_T0, &p);
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev = 7;
    ASSERT_EQ(refund(&f, m, p.id, FX_T0 + 1, &out, rev, &nrev), 0);
    ASSERT_EQ(nrev, 0);
    ASSERT_EQ(f.ev.n, 1);
    ASSERT_EQ(f.ev.ev[0].type, EV_REFUND);
    ASSERT_EQ(fx_entries(&f, b), 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* ---- reads ---- */

TEST(pages_by_user_and_by_merchant_newest_first)
{
    struct fx f;
    fx_open(&f);
    uint64_t m1 = fx_merchant(&f, NULL), m2 = fx_merchant(&f, NULL);
    uint64_t u1 = fx_user(&f, "U1"), u2 = fx_user(&f, "U2");
    uint64_t ids[8];
    for (int i = 0; i < 8; i++) {
        struct rg_purchase p;
        ids[i] = buy(&f, i % 2 ? m2 : m1, i < 4 ? u1 : u2, 100 + i, FX_T0 + i, &p);
    }
    struct rg_purchase out[3];
    size_t n;
    uint64_t next;
    /* u1 bought ids[0..3]; pages of 3 then 1. */
    ASSERT_EQ(purchases_page_by_user(&f.tx, u1, 0, 3, out, &n, &next), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(out[0].id, ids[3]);
    ASSERT_EQ(out[1].id, ids[2]);
    ASSERT_EQ(out[2].id, ids[1]);
    ASSERT_EQ(out[2].amount, 101);
    ASSERT_EQ(next, ids[1]);
    ASSERT_EQ(purchases_page_by_user(&f.tx, u1, next, 3, out, &n, &next), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(out[0].id, ids[0]);
    ASSERT_EQ(next, 0);
    /* m2 (the last merchant in key order) got ids 1, 3, 5, 7. */
    ASSERT_EQ(purchases_page_by_merchant(&f.tx, m2, 0, 2, out, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(out[0].id, ids[7]);
    ASSERT_EQ(out[1].id, ids[5]);
    ASSERT_EQ(next, ids[5]);
    ASSERT_EQ(purchases_page_by_merchant(&f.tx, m2, next, 2, out, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(out[0].id, ids[3]);
    ASSERT_EQ(out[1].id, ids[1]);
    ASSERT_EQ(next, 0);
    ASSERT_EQ(purchases_page_by_merchant(&f.tx, m1, 0, 3, out, &n, &next), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(out[0].id, ids[6]);
    ASSERT_EQ(out[0].merchant_id, m1);
    ASSERT_EQ(next, ids[2]);
    /* Nobody's purchases. */
    uint64_t u3 = fx_user(&f, "U3");
    ASSERT_EQ(purchases_page_by_user(&f.tx, u3, 0, 3, out, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    ASSERT_EQ(purchases_get(&f.tx, ids[7] + 1, out), RG_ENOTFOUND);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}
