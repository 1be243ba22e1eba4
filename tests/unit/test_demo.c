/*
 * --demo (api/demo.c): the seeded city (stores, customers, friend graph, history) and the
 * simulated actions, run directly in one write txn of a fresh store (domain_fixture.h).
 */
#include "api/demo.c"

#include "domain_fixture.h"
#include "regulars/analytics.h"

#define SALT "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG" /* 43 chars, like a real one */

static struct seed_cmd *seeded(struct fx *f, uint64_t rng, int *rc)
{
    struct seed_cmd *c = calloc(1, sizeof(*c));
    snprintf(c->salt, sizeof(c->salt), "%s", SALT);
    c->rng = rng;
    c->w.now = FX_T0;
    *rc = seed_exec(&f->tx, &c->w);
    return c;
}

static size_t merchant_purchases(struct fx *f, uint64_t m, struct rg_purchase *out, size_t max)
{
    size_t n = 0;
    uint64_t next;
    FX_CHECK(purchases_page_by_merchant(&f->tx, m, 0, max, out, &n, &next));
    return n;
}

TEST(secrets_are_derived_and_shaped_like_real_ones)
{
    char a[SECRETS_MAX], b[SECRETS_MAX], c[SECRETS_MAX];
    demo_secret(SALT, 'm', 0, a, sizeof(a));
    demo_secret(SALT, 'm', 0, b, sizeof(b));
    ASSERT_STREQ(a, b);
    ASSERT_EQ(strlen(a), 48);
    ASSERT(strncmp(a, "mk_demo_", 8) == 0);
    ASSERT(strspn(a + 8, "0123456789abcdef") == 40);
    demo_secret(SALT, 'u', 0, c, sizeof(c));
    ASSERT(strncmp(c, "ut_demo_", 8) == 0);
    ASSERT(strcmp(a + 8, c + 8) != 0);
    demo_secret(SALT, 'm', 1, b, sizeof(b));
    ASSERT(strcmp(a, b) != 0);
    demo_secret("another salt", 'm', 0, b, sizeof(b));
    ASSERT(strcmp(a, b) != 0);
}

TEST(seed_builds_the_city)
{
    struct fx f;
    fx_open(&f);
    int rc;
    struct seed_cmd *c = seeded(&f, 42, &rc);
    ASSERT_EQ(rc, 0);
    ASSERT(c->ran);
    ASSERT_EQ(fx_last_id(&f, "merchant"), DEMO_STORES);
    ASSERT_EQ(fx_last_id(&f, "user"), DEMO_USERS);

    /* Every store answers to its derived key, with its name, rules, offers and rewards. */
    struct rg_merchant *m = malloc(sizeof(*m));
    char secret[SECRETS_MAX];
    unsigned char hash[32];
    struct rg_secret rec;
    for (size_t i = 0; i < DEMO_STORES; i++) {
        demo_secret(SALT, 'm', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        ASSERT_EQ(secrets_lookup(&f.tx, hash, &rec), 0);
        ASSERT_EQ(rec.kind, RG_KIND_MERCHANT);
        ASSERT_EQ(rec.id, c->merchants[i]);
        ASSERT_EQ(merchants_get(&f.tx, rec.id, m), 0);
        ASSERT_STREQ(m->name, stores[i].name);
        ASSERT(memcmp(&m->rules, &kinds[stores[i].kind].rules, sizeof(m->rules)) == 0);
        ASSERT(m->noffers >= 1);
        struct rg_reward rw[4];
        size_t n;
        ASSERT_EQ(merchants_rewards(&f.tx, rec.id, rw, 4, &n), 0);
        ASSERT(n >= 1);
    }
    free(m);
    for (size_t i = 0; i < DEMO_USERS; i += 37) {
        demo_secret(SALT, 'u', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        ASSERT_EQ(secrets_lookup(&f.tx, hash, &rec), 0);
        ASSERT_EQ(rec.kind, RG_KIND_USER);
        ASSERT_EQ(rec.id, c->users[i]);
    }

    /* No two customers share a name (the dashboard shows names, not ids). */
    {
        static char names[DEMO_USERS][RG_NAME_MAX];
        struct rg_user nu;
        for (size_t i = 0; i < DEMO_USERS; i++) {
            ASSERT_EQ(users_get(&f.tx, c->users[i], &nu), 0);
            for (size_t j = 0; j < i; j++)
                if (strcmp(names[j], nu.name) == 0)
                    TEST_FAIL_("customers %zu and %zu are both \"%s\"", j, i, nu.name);
            snprintf(names[i], sizeof(names[i]), "%s", nu.name);
        }
    }

    /* The printed customers: named, findable by handle, friends, with asks waiting. */
    struct rg_user u;
    uint64_t id;
    ASSERT_EQ(users_get(&f.tx, c->users[0], &u), 0);
    ASSERT_STREQ(u.name, "Annika Lindqvist");
    ASSERT_EQ(users_by_handle(&f.tx, "minji", &id), 0);
    ASSERT_EQ(id, c->users[1]);
    ASSERT_EQ(friends_are(&f.tx, c->users[0], c->users[1], NULL), 0);
    ASSERT_EQ(friends_are(&f.tx, c->users[0], c->users[2], NULL), 0);
    struct rg_account a;
    for (size_t i = 0; i < DEMO_PRINTED; i++) {
        ASSERT_EQ(users_account(&f.tx, c->users[i], &a), 0);
        ASSERT(a.friends >= 6);
    }
    struct skey k;
    MDB_val v;
    skey_make2(&k, c->users[0], c->users[20 + 3 * 5]);
    ASSERT_EQ(store_get(&f.tx, DB_FRIEND_REQS, &k, &v), 0); /* an ask for Annika to answer */

    /* Two weeks of history, in the past, some of it brought by friends' shares. */
    struct rg_purchase *p = malloc(sizeof(*p) * 200);
    size_t n = merchant_purchases(&f, c->merchants[0], p, 200);
    ASSERT(n >= 100);
    size_t referred = 0;
    for (size_t i = 0; i < n; i++) {
        ASSERT(p[i].created_at < FX_T0);
        ASSERT(p[i].created_at >= FX_T0 - DEMO_HISTORY_DAYS * FX_DAY);
        ASSERT(i == 0 || p[i].created_at <= p[i - 1].created_at);
        referred += p[i].share_id != 0;
    }
    ASSERT(referred > 0);
    ASSERT(referred < n / 2);
    free(p);
    struct an_stats st;
    ASSERT_EQ(analytics_stats(&f.tx, c->merchants[0], FX_T0, 30, &st), 0);
    ASSERT(st.purchases >= 100);
    ASSERT(st.shares > 0);
    ASSERT(st.nambassadors > 0);
    ASSERT(st.regulars > 0);
    ASSERT(fx_ledger_ok(&f));

    /* Seeding twice does nothing. */
    int rc2;
    struct seed_cmd *again = seeded(&f, 42, &rc2);
    ASSERT_EQ(rc2, RG_EEXIST);
    ASSERT_EQ(fx_last_id(&f, "merchant"), DEMO_STORES);
    free(again);
    free(c);
    fx_close(&f);
}

TEST(seed_is_deterministic_for_its_seed)
{
    struct rg_purchase p1[50], p2[50];
    size_t n1, n2;
    int rc;
    struct fx f;
    fx_open(&f);
    struct seed_cmd *c = seeded(&f, 7, &rc);
    ASSERT_EQ(rc, 0);
    n1 = merchant_purchases(&f, c->merchants[1], p1, 50);
    free(c);
    fx_close(&f);
    fx_open(&f);
    c = seeded(&f, 7, &rc);
    ASSERT_EQ(rc, 0);
    n2 = merchant_purchases(&f, c->merchants[1], p2, 50);
    free(c);
    fx_close(&f);
    ASSERT_EQ(n1, n2);
    for (size_t i = 0; i < n1; i++) {
        ASSERT_EQ(p1[i].amount, p2[i].amount);
        ASSERT_EQ(p1[i].user_id, p2[i].user_id);
        ASSERT_EQ(p1[i].created_at, p2[i].created_at);
    }
}

TEST(seed_leaves_a_folder_with_stores_alone)
{
    struct fx f;
    fx_open(&f);
    fx_merchant(&f, NULL);
    int rc;
    struct seed_cmd *c = seeded(&f, 1, &rc);
    ASSERT_EQ(rc, RG_EEXIST);
    ASSERT(!c->ran);
    ASSERT_EQ(fx_last_id(&f, "user"), 0);
    free(c);
    fx_close(&f);
}

static void act_free(struct act_cmd *c)
{
    for (size_t i = 0; i < c->w.nframes; i++)
        free(c->w.frames[i].frame);
    buf_fini(&c->w.body);
    free(c);
}

static struct act_cmd *act(struct seed_cmd *s, enum act kind, int64_t now)
{
    struct act_cmd *c = calloc(1, sizeof(*c));
    c->act = kind;
    c->rng = 99;
    c->w.now = now;
    memcpy(c->store_ids, s->merchants, sizeof(c->store_ids));
    return c;
}

TEST(a_referral_action_is_a_friend_buying_within_the_window)
{
    struct fx f;
    fx_open(&f);
    int rc;
    struct seed_cmd *s = seeded(&f, 3, &rc);
    ASSERT_EQ(rc, 0);
    uint64_t annika = s->users[0], soup = s->merchants[0];
    struct rg_purchase p;
    struct rg_share sh;
    fx_reset_events(&f);
    ASSERT_EQ(purchases_record(&f.tx, soup, annika, 9000, FX_T0 + 1000, &p, &f.ev), 0);
    ASSERT_EQ(shares_create(&f.tx, annika, p.id, RG_CH_POST, "great soup", FX_T0 + 2000, &sh,
                            &f.ev),
              0);

    struct act_cmd *c = act(s, ACT_REFERRAL, FX_T0 + 3000);
    c->share = sh.id;
    c->store = 1;
    c->merchant = s->merchants[1];
    c->user = s->users[5];
    ASSERT_EQ(act_exec(&f.tx, &c->w), 0);
    ASSERT(c->ran);
    struct rg_purchase q;
    ASSERT_EQ(purchases_get(&f.tx, c->out_purchase.id, &q), 0);
    ASSERT_EQ(q.merchant_id, soup); /* at the share's store, not the one drawn */
    ASSERT_EQ(q.share_id, sh.id);   /* credited to Annika's share */
    ASSERT_EQ(q.sharer_id, annika);
    ASSERT_EQ(friends_are(&f.tx, annika, q.user_id, NULL), 0);
    /* Events for the live pages: the buyer's points (2), Annika's referral, the merchant. */
    ASSERT_EQ(c->w.nframes, 4);
    act_free(c);

    /* Once the window has closed, the same action is an ordinary purchase. */
    c = act(s, ACT_REFERRAL, sh.expires_at + 1);
    c->share = sh.id;
    c->store = 1;
    c->merchant = s->merchants[1];
    c->user = s->users[5];
    ASSERT_EQ(act_exec(&f.tx, &c->w), 0);
    ASSERT_EQ(purchases_get(&f.tx, c->out_purchase.id, &q), 0);
    ASSERT_EQ(q.merchant_id, s->merchants[1]);
    ASSERT_EQ(q.user_id, s->users[5]);
    act_free(c);
    ASSERT(fx_ledger_ok(&f));
    free(s);
    fx_close(&f);
}

TEST(actions_that_cannot_happen_write_nothing)
{
    struct fx f;
    fx_open(&f);
    int rc;
    struct seed_cmd *s = seeded(&f, 5, &rc);
    ASSERT_EQ(rc, 0);
    struct rg_purchase p;
    struct rg_share sh;
    fx_reset_events(&f);
    ASSERT_EQ(purchases_record(&f.tx, s->merchants[2], s->users[1], 6000, FX_T0, &p, &f.ev), 0);
    ASSERT_EQ(shares_create(&f.tx, s->users[1], p.id, RG_CH_LINK, "", FX_T0 + 1, &sh, &f.ev), 0);
    uint64_t shares = fx_last_id(&f, "share");

    struct act_cmd *c = act(s, ACT_SHARE, FX_T0 + 2); /* shared already */
    c->user = s->users[1];
    c->purchase = p.id;
    c->store = 2;
    ASSERT_EQ(act_exec(&f.tx, &c->w), 0);
    ASSERT(!c->ran);
    ASSERT_EQ(c->w.nframes, 0);
    ASSERT_EQ(fx_last_id(&f, "share"), shares);
    act_free(c);

    for (int i = 0; i < 2; i++) { /* the second refund of the same purchase is skipped */
        c = act(s, ACT_REFUND, FX_T0 + 3 + i);
        c->merchant = s->merchants[2];
        c->purchase = p.id;
        ASSERT_EQ(act_exec(&f.tx, &c->w), 0);
        ASSERT_EQ(c->ran, i == 0);
        act_free(c);
    }

    c = act(s, ACT_ASK, FX_T0 + 10); /* friends already: nothing to ask */
    c->user = s->users[0];
    c->other = s->users[1];
    ASSERT_EQ(act_exec(&f.tx, &c->w), 0);
    ASSERT(!c->ran);
    act_free(c);
    ASSERT(fx_ledger_ok(&f));
    free(s);
    fx_close(&f);
}
