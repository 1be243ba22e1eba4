/* Tests for redemptions: cash and reward redemptions (ledger entry, balance, event), and
 * refusals that write nothing. */
#include "domain_fixture.h"
#include "regulars/purchases.h"
#include "regulars/redemptions.h"

/* A user with `points` earned from one purchase at merchant m (earn rate 100%). */
static uint64_t rich_user(struct fx *f, uint64_t m, int64_t points)
{
    uint64_t u = fx_user(f, "Rich");
    struct rg_purchase p;
    struct dom_events ev = {0};
    FX_CHECK(purchases_record(&f->tx, m, u, points, FX_T0, &p, &ev));
    return u;
}

static int redeem(struct fx *f, uint64_t user, uint64_t reward, int64_t cash, int64_t now,
                  struct rg_redemption *r, int64_t *balance)
{
    fx_reset_events(f);
    return redemptions_create(&f->tx, user, reward, cash, now, r, balance, &f->ev);
}

TEST(cash_redemption_takes_points_through_the_ledger)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules rules = fx_rules(10000, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &rules);
    uint64_t u = rich_user(&f, m, 500);
    struct rg_redemption r;
    int64_t bal = 0;
    ASSERT_EQ(redeem(&f, u, 0, 120, FX_T0 + 1, &r, &bal), 0);
    ASSERT(r.id > 0);
    ASSERT_EQ(r.user_id, u);
    ASSERT_EQ(r.kind, RG_RK_CASH);
    ASSERT_EQ(r.points, 120);
    ASSERT_EQ(r.reward_id, 0);
    ASSERT_EQ(r.created_at, FX_T0 + 1);
    ASSERT_EQ(bal, 380);
    ASSERT_EQ(fx_balance(&f, u), 380);
    struct rg_redemption stored;
    ASSERT_EQ(redemptions_get(&f.tx, r.id, &stored), 0);
    ASSERT(memcmp(&stored, &r, sizeof(r)) == 0);

    struct rg_ledger_entry e[1];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, u, 0, 1, e, &n, &next), 0);
    ASSERT_EQ(e[0].kind, RG_LK_REDEMPTION);
    ASSERT_EQ(e[0].points, -120);
    ASSERT_EQ(e[0].redemption_id, r.id);
    ASSERT_EQ(e[0].merchant_id, 0);
    ASSERT_EQ(e[0].balance_after, 380);

    ASSERT_EQ(f.ev.n, 1);
    const struct dom_event *ev = &f.ev.ev[0];
    ASSERT_EQ(ev->type, EV_POINTS_REDEEMED);
    ASSERT_EQ(ev->recipient, store_recipient(RG_KIND_USER, u));
    ASSERT_EQ(ev->points, -120);
    ASSERT_EQ(ev->balance, 380);
    ASSERT_EQ(ev->redemption_id, r.id);
    ASSERT_EQ(ev->kind, RG_RK_CASH);
    ASSERT_EQ(ev->reward_id, 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(reward_redemption_costs_the_reward)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules rules = fx_rules(10000, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &rules);
    struct rg_reward rw;
    ASSERT_EQ(merchants_add_reward(&f.tx, m, "Free cookie", 300, FX_T0, &rw), 0);
    uint64_t u = rich_user(&f, m, 300);
    struct rg_redemption r;
    int64_t bal = -1;
    ASSERT_EQ(redeem(&f, u, rw.id, 0, FX_T0 + 1, &r, &bal), 0); /* exactly the balance */
    ASSERT_EQ(r.kind, RG_RK_REWARD);
    ASSERT_EQ(r.points, 300);
    ASSERT_EQ(r.reward_id, rw.id);
    ASSERT_EQ(bal, 0);
    struct rg_ledger_entry e[1];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, u, 0, 1, e, &n, &next), 0);
    ASSERT_EQ(e[0].points, -300);
    ASSERT_EQ(e[0].merchant_id, m);
    ASSERT_EQ(f.ev.ev[0].kind, RG_RK_REWARD);
    ASSERT_EQ(f.ev.ev[0].reward_id, rw.id);
    ASSERT_EQ(f.ev.ev[0].merchant_id, m);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* Not enough points: 409 and nothing written — no id, no entry, no event, same balance. */
TEST(insufficient_points_write_nothing)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules rules = fx_rules(10000, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &rules);
    struct rg_reward rw;
    ASSERT_EQ(merchants_add_reward(&f.tx, m, "Cake", 1000, FX_T0, &rw), 0);
    uint64_t u = rich_user(&f, m, 999);
    uint64_t entries = fx_entries(&f, u), seq = fx_last_id(&f, "ledger");
    struct rg_redemption r;
    int64_t bal = 12345;
    ASSERT_EQ(redeem(&f, u, rw.id, 0, FX_T0 + 1, &r, &bal), RG_E_INSUFFICIENT);
    ASSERT_EQ(redeem(&f, u, 0, 1000, FX_T0 + 1, &r, &bal), RG_E_INSUFFICIENT);
    ASSERT_EQ(bal, 12345);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(fx_last_id(&f, "redemption"), 0);
    ASSERT_EQ(fx_last_id(&f, "ledger"), seq);
    ASSERT_EQ(fx_entries(&f, u), entries);
    ASSERT_EQ(fx_balance(&f, u), 999);
    /* A user with a negative balance cannot redeem anything either. */
    uint64_t poor = fx_user(&f, "Poor");
    struct rg_ledger_entry neg = {.kind = RG_LK_REVERSAL, .points = -5};
    ASSERT_EQ(ledger_append(&f.tx, poor, FX_T0, &neg), 0);
    ASSERT_EQ(redeem(&f, poor, 0, 1, FX_T0 + 2, &r, &bal), RG_E_INSUFFICIENT);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(bad_requests_write_nothing)
{
    struct fx f;
    fx_open(&f);
    struct rg_rules rules = fx_rules(10000, 100, 50, 3600, 20);
    uint64_t m = fx_merchant(&f, &rules);
    uint64_t u = rich_user(&f, m, 100);
    struct rg_redemption r;
    int64_t bal;
    ASSERT_EQ(redeem(&f, u, 4242, 0, FX_T0, &r, &bal), RG_ENOTFOUND); /* unknown reward */
    ASSERT_EQ(redeem(&f, u, 0, 0, FX_T0, &r, &bal), RG_EINVAL);
    ASSERT_EQ(redeem(&f, u, 0, -3, FX_T0, &r, &bal), RG_EINVAL);
    ASSERT_EQ(redeem(&f, u + 100, 0, 1, FX_T0, &r, &bal), RG_ENOTFOUND); /* unknown user */
    ASSERT_EQ(fx_last_id(&f, "redemption"), 0);
    ASSERT_EQ(f.ev.n, 0);
    ASSERT_EQ(fx_balance(&f, u), 100);
    ASSERT_EQ(redemptions_get(&f.tx, 1, &r), RG_ENOTFOUND);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}
