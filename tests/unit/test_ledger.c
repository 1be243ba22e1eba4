/* Tests for ledger: append (ids, times, balance_after, account), pages newest first with a
 * cursor, sums, and the invariant balance == sum of entries. */
#include "domain_fixture.h"

static struct rg_ledger_entry entry(uint32_t kind, int64_t points)
{
    struct rg_ledger_entry e = {0};
    e.kind = kind;
    e.points = points;
    return e;
}

TEST(append_fills_id_time_balance_and_account)
{
    struct fx f;
    fx_open(&f);
    uint64_t a = fx_user(&f, "Ana");

    struct rg_ledger_entry e1 = entry(RG_LK_PURCHASE, 100);
    e1.purchase_id = 7;
    e1.merchant_id = 3;
    ASSERT_EQ(ledger_append(&f.tx, a, FX_T0, &e1), 0);
    ASSERT(e1.id > 0);
    ASSERT_EQ(e1.created_at, FX_T0);
    ASSERT_EQ(e1.balance_after, 100);

    struct rg_ledger_entry e2 = entry(RG_LK_REDEMPTION, -30);
    ASSERT_EQ(ledger_append(&f.tx, a, FX_T0 + 5, &e2), 0);
    ASSERT(e2.id > e1.id);
    ASSERT_EQ(e2.created_at, FX_T0 + 5);
    ASSERT_EQ(e2.balance_after, 70);

    ASSERT_EQ(fx_balance(&f, a), 70);
    ASSERT_EQ(fx_entries(&f, a), 2);

    /* The stored entry is what append returned, references included. */
    struct rg_ledger_entry page[4];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, a, 0, 4, page, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(next, 0);
    ASSERT(memcmp(&page[0], &e2, sizeof(e2)) == 0);
    ASSERT(memcmp(&page[1], &e1, sizeof(e1)) == 0);
    ASSERT_EQ(page[1].purchase_id, 7);
    ASSERT_EQ(page[1].merchant_id, 3);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(append_unknown_user_is_not_found_and_writes_nothing)
{
    struct fx f;
    fx_open(&f);
    uint64_t a = fx_user(&f, "Ana");
    uint64_t seq = fx_last_id(&f, "ledger");
    struct rg_ledger_entry e = entry(RG_LK_PURCHASE, 10);
    ASSERT_EQ(ledger_append(&f.tx, a + 100, FX_T0, &e), RG_ENOTFOUND);
    ASSERT_EQ(fx_last_id(&f, "ledger"), seq);
    int64_t sum = -1;
    ASSERT_EQ(ledger_sum(&f.tx, a + 100, &sum), 0);
    ASSERT_EQ(sum, 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(balance_may_go_negative)
{
    struct fx f;
    fx_open(&f);
    uint64_t a = fx_user(&f, "Ana");
    struct rg_ledger_entry e = entry(RG_LK_PURCHASE, 5);
    ASSERT_EQ(ledger_append(&f.tx, a, FX_T0, &e), 0);
    e = entry(RG_LK_REVERSAL, -12);
    e.reversed_kind = RG_LK_REFERRAL;
    ASSERT_EQ(ledger_append(&f.tx, a, FX_T0, &e), 0);
    ASSERT_EQ(e.balance_after, -7);
    ASSERT_EQ(fx_balance(&f, a), -7);
    int64_t sum;
    ASSERT_EQ(ledger_sum(&f.tx, a, &sum), 0);
    ASSERT_EQ(sum, -7);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* Three users' entries interleaved; each user's pages hold only theirs, newest first, and
 * the cursor walks them without gaps or repeats, for the first and the last user in key
 * order (the scan starts differently when no later key exists). */
TEST(page_newest_first_with_cursor)
{
    struct fx f;
    fx_open(&f);
    uint64_t u[3] = {fx_user(&f, "A"), fx_user(&f, "B"), fx_user(&f, "C")};
    uint64_t ids[3][5];
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 3; j++) {
            struct rg_ledger_entry e = entry(RG_LK_PURCHASE, (j + 1) * 10 + i);
            ASSERT_EQ(ledger_append(&f.tx, u[j], FX_T0 + i, &e), 0);
            ids[j][i] = e.id;
        }
    }
    for (int j = 0; j < 3; j += 2) {
        struct rg_ledger_entry page[2];
        size_t n;
        uint64_t before = 0, next;
        int seen = 0;
        do {
            ASSERT_EQ(ledger_page(&f.tx, u[j], before, 2, page, &n, &next), 0);
            for (size_t i = 0; i < n; i++, seen++) {
                ASSERT_EQ(page[i].id, ids[j][4 - seen]);
                ASSERT_EQ(page[i].points, (j + 1) * 10 + (4 - seen));
            }
            if (next)
                ASSERT_EQ(next, page[n - 1].id);
            before = next;
        } while (next);
        ASSERT_EQ(seen, 5);
    }
    /* A page that ends exactly at the oldest entry has no next. */
    struct rg_ledger_entry page[5];
    size_t n;
    uint64_t next;
    ASSERT_EQ(ledger_page(&f.tx, u[1], 0, 5, page, &n, &next), 0);
    ASSERT_EQ(n, 5);
    ASSERT_EQ(next, 0);
    ASSERT_EQ(ledger_page(&f.tx, u[1], ids[1][2], 5, page, &n, &next), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(page[0].id, ids[1][1]);
    ASSERT_EQ(page[1].id, ids[1][0]);
    ASSERT_EQ(next, 0);
    /* limit 0 returns nothing and no cursor. */
    ASSERT_EQ(ledger_page(&f.tx, u[1], 0, 0, page, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    /* before = the oldest id: nothing older. */
    ASSERT_EQ(ledger_page(&f.tx, u[1], ids[1][0], 5, page, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

TEST(page_of_user_without_entries_is_empty)
{
    struct fx f;
    fx_open(&f);
    uint64_t a = fx_user(&f, "A"), b = fx_user(&f, "B");
    struct rg_ledger_entry page[3];
    size_t n = 9;
    uint64_t next = 9;
    ASSERT_EQ(ledger_page(&f.tx, b, 0, 3, page, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    struct rg_ledger_entry e = entry(RG_LK_PURCHASE, 1);
    ASSERT_EQ(ledger_append(&f.tx, b, FX_T0, &e), 0);
    ASSERT_EQ(ledger_page(&f.tx, a, 0, 3, page, &n, &next), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(next, 0);
    ASSERT(fx_ledger_ok(&f));
    fx_close(&f);
}

/* The invariant checker itself must catch a balance that disagrees with the entries. */
TEST(invariant_check_detects_a_drifted_balance)
{
    struct fx f;
    fx_open(&f);
    uint64_t a = fx_user(&f, "A");
    struct rg_ledger_entry e = entry(RG_LK_PURCHASE, 40);
    ASSERT_EQ(ledger_append(&f.tx, a, FX_T0, &e), 0);
    ASSERT(fx_ledger_ok(&f));
    struct rg_account acc;
    ASSERT_EQ(users_account(&f.tx, a, &acc), 0);
    acc.balance += 1;
    ASSERT_EQ(users_put_account(&f.tx, a, &acc), 0);
    ASSERT(!fx_ledger_ok(&f));
    fx_close(&f);
}
