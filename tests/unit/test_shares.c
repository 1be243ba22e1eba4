/* Tests for shares: creation (fields, indexes, expiry fixed at share time, event), the
 * order of API.md's checks with nothing written on refusal, reads and pages. */
#include "domain_fixture.h"
#include "regulars/purchases.h"
#include "regulars/shares.h"

static uint64_t buy(struct fx *f, uint64_t merchant, uint64_t user, int64_t now)
{
    struct rg_purchase p;
    fx_reset_events(f);
    FX_CHECK(purchases_record(&f->tx, merchant, user, 1000, now, &p, &f->ev));
    return p.id;
}

static int share(struct fx *f, uint64_t user, uint64_t purchase, int64_t now, struct rg_share *s)
{
    fx_reset_events(f);
    return shares_create(&f->tx, user, purchase, RG_CH_CHECKIN, "nice", now, s, &f->ev);
}

/* The attribution index entry of s: its expires_at, or -1 when missing. */
static int64_t index_expiry(struct fx *f, const struct rg_share *s)
{
    struct skey k;
    MDB_val v;
    skey_make3(&k, s->merchant_id, s->user_id, s->id);
    int rc = store_get(&f->tx, DB_SHARES_BY_SHARER, &k, &v);
    if (rc == RG_ENOTFOUND || v.mv_size != 8)
        return -1;
    FX_CHECK(rc);
    return (int64_t)store_be64(v.mv_data);
}

TEST(create_writes_share_indexes_purchase_and_event)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 7200, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana");
    uint64_t p = buy(&f, m, a, FX_T0);
    struct rg_share s;
    fx_reset_events(&f);
    ASSERT_EQ(
        shares_create(&f.tx, a, p, RG_CH_POST, "Best flat white in town", FX_T0 + 5, &s, &f.ev), 0);
    ASSERT(s.id > 0);
    ASSERT_EQ(s.user_id, a);
    ASSERT_EQ(s.merchant_id, m);
    ASSERT_EQ(s.purchase_id, p);
    ASSERT_EQ(s.created_at, FX_T0 + 5);
    ASSERT_EQ(s.expires_at, FX_T0 + 5 + 7200 * FX_SEC);
    ASSERT_EQ(s.channel, RG_CH_POST);
    ASSERT_EQ(s.referrals, 0);
    ASSERT_STREQ(s.message, "Best flat white in town");

    struct rg_share stored;
    ASSERT_EQ(shares_get(&f.tx, s.id, &stored), 0);
    ASSERT(memcmp(&stored, &s, sizeof(s)) == 0);
    ASSERT_EQ(index_expiry(&f, &s), s.expires_at);
    struct rg_purchase pp;
    ASSERT_EQ(purchases_get(&f.tx, p, &pp), 0);
    ASSERT_EQ(pp.shared_as, s.id);

    ASSERT_EQ(f.ev.n, 1);
    ASSERT_EQ(f.ev.ev[0].type, EV_SHARE);
    ASSERT_EQ(f.ev.ev[0].recipient, store_recipient(RG_KIND_MERCHANT, m));
    ASSERT_EQ(f.ev.ev[0].share_id, s.id);
    ASSERT_EQ(f.ev.ev[0].user_id, a);
    ASSERT_EQ(f.ev.ev[0].purchase_id, p);
    ASSERT_EQ(f.ev.ev[0].at, FX_T0 + 5);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(message_may_be_absent)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL);
    uint64_t a = fx_user(&f, "Ana");
    struct rg_share s;
    fx_reset_events(&f);
    ASSERT_EQ(shares_create(&f.tx, a, buy(&f, m, a, FX_T0), RG_CH_LINK, NULL, FX_T0, &s, &f.ev), 0);
    ASSERT_STREQ(s.message, "");
    ASSERT_EQ(s.expires_at, FX_T0 + 86400 * FX_SEC); /* the default window */
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* API.md's order: 404, 403, 409 refunded, 409 already_shared; each refusal writes
 * nothing (no id issued, no event, purchase untouched). */
TEST(checks_in_api_order_and_write_nothing)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    uint64_t pa = buy(&f, m, a, FX_T0), pb = buy(&f, m, b, FX_T0);
    struct rg_share s;
    struct rg_purchase out;
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev;

    ASSERT_EQ(share(&f, a, pb + 100, FX_T0, &s), RG_ENOTFOUND);
    ASSERT_EQ(share(&f, a, pb, FX_T0, &s), RG_EFORBIDDEN);
    /* Someone else's refunded purchase: 403 comes before 409 refunded. */
    ASSERT_EQ(purchases_refund(&f.tx, m, pb, FX_T0 + 1, &out, rev, &nrev, &f.ev), 0);
    ASSERT_EQ(share(&f, a, pb, FX_T0 + 2, &s), RG_EFORBIDDEN);
    ASSERT_EQ(share(&f, b, pb, FX_T0 + 2, &s), RG_E_REFUNDED);
    ASSERT_EQ(fx_last_id(&f, "share"), 0);
    ASSERT_EQ(f.ev.n, 0);

    ASSERT_EQ(share(&f, a, pa, FX_T0 + 3, &s), 0);
    uint64_t first = s.id;
    ASSERT_EQ(share(&f, a, pa, FX_T0 + 4, &s), RG_E_ALREADY_SHARED);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(fx_last_id(&f, "share"), first);
    /* Shared, then refunded: 409 refunded comes before already_shared. */
    ASSERT_EQ(purchases_refund(&f.tx, m, pa, FX_T0 + 5, &out, rev, &nrev, &f.ev), 0);
    ASSERT_EQ(share(&f, a, pa, FX_T0 + 6, &s), RG_E_REFUNDED);
    ASSERT_EQ(purchases_get(&f.tx, pa, &out), 0);
    ASSERT_EQ(out.shared_as, first);

    ASSERT_EQ(shares_create(&f.tx, b, pb, 0, NULL, FX_T0, &s, &f.ev), RG_EINVAL);
    ASSERT_EQ(shares_create(&f.tx, b, pb, RG_CH_LINK + 1, NULL, FX_T0, &s, &f.ev), RG_EINVAL);
    ASSERT_EQ(fx_last_id(&f, "share"), first);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* expires_at uses the window at share time; changing the rule later changes no share. */
TEST(window_is_read_when_the_share_is_made)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules r = fx_rules(100, 100, 50, 600, 20);
    uint64_t m = fx_merchant(&f, &r);
    uint64_t a = fx_user(&f, "Ana");
    uint64_t p1 = buy(&f, m, a, FX_T0), p2 = buy(&f, m, a, FX_T0);
    struct rg_share s1, s2, check;
    ASSERT_EQ(share(&f, a, p1, FX_T0 + 1, &s1), 0);
    r.credit_window_s = 2592000;
    fx_set_rules(&f, m, &r);
    ASSERT_EQ(share(&f, a, p2, FX_T0 + 2, &s2), 0);
    ASSERT_EQ(s1.expires_at, FX_T0 + 1 + 600 * FX_SEC);
    ASSERT_EQ(s2.expires_at, FX_T0 + 2 + 30 * FX_DAY);
    ASSERT_EQ(shares_get(&f.tx, s1.id, &check), 0);
    ASSERT_EQ(check.expires_at, s1.expires_at);
    ASSERT_EQ(index_expiry(&f, &s1), s1.expires_at);
    ASSERT_EQ(index_expiry(&f, &s2), s2.expires_at);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(page_by_user_newest_first)
{
    struct fx f;
    fx_open(&f);
    uint64_t m = fx_merchant(&f, NULL);
    uint64_t a = fx_user(&f, "Ana"), b = fx_user(&f, "Ben");
    uint64_t ids[5];
    for (int i = 0; i < 5; i++) {
        struct rg_share s;
        ASSERT_EQ(share(&f, a, buy(&f, m, a, FX_T0 + i), FX_T0 + i, &s), 0);
        ids[i] = s.id;
        ASSERT_EQ(share(&f, b, buy(&f, m, b, FX_T0 + i), FX_T0 + i, &s), 0);
    }
    struct rg_share out[2];
    size_t n;
    uint64_t before = 0, next;
    int seen = 0;
    do {
        ASSERT_EQ(shares_page_by_user(&f.tx, a, before, 2, out, &n, &next), 0);
        for (size_t i = 0; i < n; i++, seen++) {
            ASSERT_EQ(out[i].id, ids[4 - seen]);
            ASSERT_EQ(out[i].user_id, a);
        }
        before = next;
    } while (next);
    ASSERT_EQ(seen, 5);
    uint64_t c = fx_user(&f, "Cy");
    ASSERT_EQ(shares_page_by_user(&f.tx, c, 0, 2, out, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    ASSERT_EQ(shares_get(&f.tx, ids[4] + 100, out), RG_ENOTFOUND);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}
