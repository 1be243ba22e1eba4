/* Tests for merchants: create/get/put, rewards, the nearby search and validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/error.h"
#include "regulars/merchants.h"
#include "regulars/rules.h"
#include "regulars/secrets.h"
#include "regulars/store.h"
#include "test.h"

/* A fresh store with one open write txn, as the writer thread would hand it to a command. */
struct fx {
    char *dir;
    struct store st;
    struct store_tx tx;
};

static int fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    if (store_open(&f->st, f->dir, (size_t)32 << 20, STORE_SYNC_NONE))
        return -1;
    f->tx.st = &f->st;
    return mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn) ? -1 : 0;
}

static void fx_close(struct fx *f)
{
    char path[4096];
    if (f->tx.txn)
        mdb_txn_abort(f->tx.txn);
    f->tx.txn = NULL;
    store_close(&f->st);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->dir);
}

/* Meters per degree of latitude on the haversine sphere. */
#define M_PER_DEG (MERCHANTS_EARTH_RADIUS_M * M_PI / 180.0)

static int add_merchant(struct fx *f, const char *name, double lat, double lon,
                        struct rg_merchant *out)
{
    unsigned char h[32];
    char key[64];
    snprintf(key, sizeof(key), "mk_%s_%f_%f", name, lat, lon);
    secrets_hash(key, strlen(key), h);
    struct merchants_new m = {.name = name, .lat = lat, .lon = lon, .secret_hash = h};
    struct rg_merchant tmp;
    return merchants_create(&f->tx, &m, 1000, out ? out : &tmp);
}

TEST(merchant_create_and_get)
{
    struct fx f;
    struct rg_merchant m, got;
    struct rg_secret s;
    struct rg_rules rules;
    unsigned char h[32];

    ASSERT_EQ(fx_open(&f), 0);
    secrets_hash("mk_cafe", 7, h);
    struct merchants_new n = {.name = "Café Mori",
                              .category = "cafe",
                              .address = "12 Yulgok-ro, Seoul",
                              .lat = 37.5665,
                              .lon = 126.978,
                              .secret_hash = h};
    ASSERT_EQ(merchants_create(&f.tx, &n, 5000, &m), 0);
    ASSERT_EQ(m.id, 1);
    ASSERT_EQ(m.created_at, 5000);
    ASSERT_STREQ(m.name, "Café Mori");
    ASSERT_STREQ(m.category, "cafe");
    ASSERT_STREQ(m.address, "12 Yulgok-ro, Seoul");
    ASSERT_STREQ(m.currency, "KRW");
    ASSERT(m.lat == 37.5665 && m.lon == 126.978);
    ASSERT_EQ(m.noffers, 0);
    rules_defaults(&rules);
    ASSERT_MEMEQ(&m.rules, sizeof(rules), &rules, sizeof(rules));

    ASSERT_EQ(merchants_get(&f.tx, 1, &got), 0);
    ASSERT_MEMEQ(&got, sizeof(got), &m, sizeof(m));
    ASSERT_EQ(merchants_exists(&f.tx, 1), 0);
    ASSERT_EQ(merchants_get(&f.tx, 2, &got), RG_ENOTFOUND);
    ASSERT_EQ(merchants_exists(&f.tx, 2), RG_ENOTFOUND);
    ASSERT_EQ(secrets_lookup(&f.tx, h, &s), 0);
    ASSERT_EQ(s.kind, RG_KIND_MERCHANT);
    ASSERT_EQ(s.id, 1);

    /* Given rules and currency; no category or address. */
    rules.earn_rate_bp = 250;
    rules.credit_window_s = 60;
    secrets_hash("mk_two", 6, h);
    struct merchants_new n2 = {.name = "Two",
                               .lat = -33.9,
                               .lon = 151.2,
                               .currency = "AUD",
                               .rules = &rules,
                               .secret_hash = h};
    ASSERT_EQ(merchants_create(&f.tx, &n2, 6000, &m), 0);
    ASSERT_EQ(m.id, 2);
    ASSERT_STREQ(m.currency, "AUD");
    ASSERT_STREQ(m.category, "");
    ASSERT_STREQ(m.address, "");
    ASSERT_EQ(m.rules.earn_rate_bp, 250);
    ASSERT_EQ(m.rules.credit_window_s, 60);

    /* Refused before an id is issued. */
    n2.lat = 91;
    ASSERT_EQ(merchants_create(&f.tx, &n2, 7000, &m), RG_EINVAL);
    n2.lat = 0;
    n2.lon = NAN;
    ASSERT_EQ(merchants_create(&f.tx, &n2, 7000, &m), RG_EINVAL);
    n2.lon = 0;
    n2.currency = "usd";
    ASSERT_EQ(merchants_create(&f.tx, &n2, 7000, &m), RG_EINVAL);
    n2.currency = NULL;
    n2.name = "";
    ASSERT_EQ(merchants_create(&f.tx, &n2, 7000, &m), RG_EINVAL);
    n2.name = "Three";
    secrets_hash("mk_three", 8, h);
    ASSERT_EQ(merchants_create(&f.tx, &n2, 7000, &m), 0);
    ASSERT_EQ(m.id, 3);
    fx_close(&f);
}

TEST(merchant_put_replaces_and_moves)
{
    struct fx f;
    struct rg_merchant m, got;
    struct merchants_hit hits[4];
    size_t n;

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(add_merchant(&f, "A", 37.5, 127.0, &m), 0);
    ASSERT_EQ(merchants_nearby(&f.tx, 37.5, 127.0, 100, 4, hits, &n), 0);
    ASSERT_EQ(n, 1);

    strcpy(m.name, "A renamed");
    m.rules.friend_bonus = 0;
    m.noffers = 1;
    strcpy(m.offers[0].title, "2 for 1");
    m.offers[0].discount_pct = 50;
    m.offers[0].ends_at = 99999;
    m.lat = 37.6; /* about 11 km north */
    ASSERT_EQ(merchants_put(&f.tx, &m), 0);
    ASSERT_EQ(merchants_get(&f.tx, m.id, &got), 0);
    ASSERT_MEMEQ(&got, sizeof(got), &m, sizeof(m));

    /* The index followed: gone from the old place, found at the new one, once. */
    ASSERT_EQ(merchants_nearby(&f.tx, 37.5, 127.0, 100, 4, hits, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(merchants_nearby(&f.tx, 37.6, 127.0, 100, 4, hits, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].id, m.id);
    ASSERT_EQ(merchants_nearby(&f.tx, 37.55, 127.0, 50000, 4, hits, &n), 0);
    ASSERT_EQ(n, 1);

    /* Put without a move keeps the index as is. */
    strcpy(m.name, "A again");
    ASSERT_EQ(merchants_put(&f.tx, &m), 0);
    ASSERT_EQ(merchants_nearby(&f.tx, 37.6, 127.0, 100, 4, hits, &n), 0);
    ASSERT_EQ(n, 1);

    struct rg_merchant bad = m;
    bad.created_at++;
    ASSERT_EQ(merchants_put(&f.tx, &bad), RG_EINVAL);
    bad = m;
    bad.noffers = RG_MAX_OFFERS + 1;
    ASSERT_EQ(merchants_put(&f.tx, &bad), RG_EINVAL);
    bad = m;
    bad.lon = 180.5;
    ASSERT_EQ(merchants_put(&f.tx, &bad), RG_EINVAL);
    bad = m;
    bad.id = 42;
    ASSERT_EQ(merchants_put(&f.tx, &bad), RG_ENOTFOUND);
    ASSERT_EQ(merchants_get(&f.tx, m.id, &got), 0);
    ASSERT_STREQ(got.name, "A again");
    fx_close(&f);
}

TEST(rewards_newest_first)
{
    struct fx f;
    struct rg_reward r, list[8];
    size_t n = 99;

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(add_merchant(&f, "A", 1, 1, NULL), 0);
    ASSERT_EQ(add_merchant(&f, "B", 2, 2, NULL), 0);
    ASSERT_EQ(add_merchant(&f, "C", 3, 3, NULL), 0);
    ASSERT_EQ(merchants_rewards(&f.tx, 1, list, 8, &n), 0);
    ASSERT_EQ(n, 0); /* none yet, and nothing in the db at all */

    ASSERT_EQ(merchants_add_reward(&f.tx, 2, "Free coffee", 500, 10, &r), 0);
    ASSERT_EQ(r.id, 1);
    ASSERT_EQ(r.merchant_id, 2);
    ASSERT_EQ(r.cost, 500);
    ASSERT_EQ(r.created_at, 10);
    ASSERT_STREQ(r.title, "Free coffee");
    ASSERT_EQ(merchants_add_reward(&f.tx, 1, "Cookie", 100, 11, &r), 0);
    ASSERT_EQ(merchants_add_reward(&f.tx, 2, "Cake", 900, 12, &r), 0);
    ASSERT_EQ(merchants_add_reward(&f.tx, 2, "Tea", 300, 13, &r), 0);
    ASSERT_EQ(merchants_add_reward(&f.tx, 3, "Bagel", 200, 14, &r), 0);

    ASSERT_EQ(merchants_rewards(&f.tx, 2, list, 8, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(list[0].title, "Tea");
    ASSERT_STREQ(list[1].title, "Cake");
    ASSERT_STREQ(list[2].title, "Free coffee");
    ASSERT_EQ(list[2].id, 1);
    ASSERT_EQ(merchants_rewards(&f.tx, 2, list, 2, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[1].title, "Cake");
    ASSERT_EQ(merchants_rewards(&f.tx, 3, list, 8, &n), 0); /* the last merchant's keys */
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(list[0].title, "Bagel");
    ASSERT_EQ(merchants_rewards(&f.tx, 1, list, 8, &n), 0); /* the first merchant's keys */
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(list[0].title, "Cookie");
    ASSERT_EQ(merchants_rewards(&f.tx, 9, list, 8, &n), 0);
    ASSERT_EQ(n, 0);

    ASSERT_EQ(merchants_get_reward(&f.tx, 3, &r), 0);
    ASSERT_STREQ(r.title, "Cake");
    ASSERT_EQ(r.merchant_id, 2);
    ASSERT_EQ(merchants_get_reward(&f.tx, 6, &r), RG_ENOTFOUND);

    ASSERT_EQ(merchants_add_reward(&f.tx, 9, "Ghost", 1, 15, &r), RG_ENOTFOUND);
    ASSERT_EQ(merchants_add_reward(&f.tx, 1, "Free", 0, 15, &r), RG_EINVAL);
    ASSERT_EQ(merchants_add_reward(&f.tx, 1, "Owed", -5, 15, &r), RG_EINVAL);
    ASSERT_EQ(merchants_add_reward(&f.tx, 1, "", 5, 15, &r), RG_EINVAL);
    ASSERT_EQ(merchants_add_reward(&f.tx, 1, "Ok", 1, 16, &r), 0);
    ASSERT_EQ(r.id, 6); /* refusals issued no id */
    fx_close(&f);
}

TEST(nearby_orders_by_distance_then_id_within_radius)
{
    struct fx f;
    struct merchants_hit hits[8];
    size_t n;
    const double lat = 37.5665, lon = 126.9780;
    const double m_lon = M_PER_DEG * cos(lat * M_PI / 180.0); /* meters per degree east */

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(add_merchant(&f, "north500", lat + 500 / M_PER_DEG, lon, NULL), 0);   /* 1 */
    ASSERT_EQ(add_merchant(&f, "east100", lat, lon + 100 / m_lon, NULL), 0);        /* 2 */
    ASSERT_EQ(add_merchant(&f, "south1500", lat - 1500 / M_PER_DEG, lon, NULL), 0); /* 3 */
    ASSERT_EQ(add_merchant(&f, "north3000", lat + 3000 / M_PER_DEG, lon, NULL), 0); /* 4 */
    ASSERT_EQ(add_merchant(&f, "twinB", lat, lon - 800 / m_lon, NULL), 0);          /* 5 */
    ASSERT_EQ(add_merchant(&f, "twinA", lat, lon - 800 / m_lon, NULL), 0);          /* 6 */
    ASSERT_EQ(add_merchant(&f, "far", 35.1796, 129.0756, NULL), 0);                 /* 7 */

    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 2000, 8, hits, &n), 0);
    ASSERT_EQ(n, 5);
    const uint64_t order[] = {2, 1, 5, 6, 3};
    const double dist[] = {100, 500, 800, 800, 1500};
    for (size_t i = 0; i < 5; i++) {
        if (hits[i].id != order[i])
            TEST_FAIL_("hit %zu: id %llu != %llu", i, (unsigned long long)hits[i].id,
                       (unsigned long long)order[i]);
        if (fabs(hits[i].distance_m - dist[i]) > 0.5)
            TEST_FAIL_("hit %zu: distance %f != %f", i, hits[i].distance_m, dist[i]);
    }

    /* limit keeps the nearest. */
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 2000, 3, hits, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(hits[0].id, 2);
    ASSERT_EQ(hits[1].id, 1);
    ASSERT_EQ(hits[2].id, 5);
    /* The radius is inclusive up to the exact distance and tight around it. */
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 499, 8, hits, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 501, 8, hits, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 3001, 8, hits, &n), 0);
    ASSERT_EQ(n, 6);
    ASSERT_EQ(hits[5].id, 4);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 50, 8, hits, &n), 0);
    ASSERT_EQ(n, 0);
    /* Seoul to Busan is about 325 km. */
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 400000, 8, hits, &n), 0);
    ASSERT_EQ(n, 7);
    ASSERT_EQ(hits[6].id, 7);
    ASSERT(hits[6].distance_m > 320000 && hits[6].distance_m < 330000);

    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 2000, 0, hits, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(merchants_nearby(&f.tx, 91, lon, 2000, 8, hits, &n), RG_EINVAL);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, -181, 2000, 8, hits, &n), RG_EINVAL);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, 0, 8, hits, &n), RG_EINVAL);
    ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, NAN, 8, hits, &n), RG_EINVAL);
    fx_close(&f);
}

TEST(nearby_across_bands_antimeridian_and_poles)
{
    struct fx f;
    struct merchants_hit hits[8];
    size_t n;

    ASSERT_EQ(fx_open(&f), 0);
    /* Either side of a band edge (37.55 is one: (37.55 + 90) / 0.05 = 2551). */
    ASSERT_EQ(add_merchant(&f, "below", 37.55 - 100 / M_PER_DEG, 10, NULL), 0); /* 1 */
    ASSERT_EQ(add_merchant(&f, "above", 37.55 + 100 / M_PER_DEG, 10, NULL), 0); /* 2 */
    /* Either side of the antimeridian, ~222 m apart. */
    ASSERT_EQ(add_merchant(&f, "east", 0, 179.999, NULL), 0);  /* 3 */
    ASSERT_EQ(add_merchant(&f, "west", 0, -179.999, NULL), 0); /* 4 */
    ASSERT_EQ(add_merchant(&f, "dateline", 0, 180, NULL), 0);  /* 5 */
    /* Near the north pole, on opposite meridians, ~2.2 km apart; and at the pole. */
    ASSERT_EQ(add_merchant(&f, "pole0", 89.99, 0, NULL), 0);                      /* 6 */
    ASSERT_EQ(add_merchant(&f, "pole180", 89.99, 180, NULL), 0);                  /* 7 */
    ASSERT_EQ(add_merchant(&f, "pole", 90, 45, NULL), 0);                         /* 8 */
    ASSERT_EQ(add_merchant(&f, "south", -90, 0, NULL), 0);                        /* 9 */
    ASSERT_EQ(add_merchant(&f, "justbelow", 37.55 - 5 / M_PER_DEG, 20, NULL), 0); /* 10 */

    ASSERT_EQ(merchants_nearby(&f.tx, 37.55, 10, 150, 8, hits, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(hits[0].id, 1); /* equal distances to within rounding; both found */
    ASSERT(hits[1].id == 2 || hits[0].id == 2);
    /* 100 m due south, across the band edge that lies 95 m south: the search must read the
     * band below even though most of the circle is above it. */
    ASSERT_EQ(merchants_nearby(&f.tx, 37.55 + 95 / M_PER_DEG, 20, 100.01, 8, hits, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].id, 10);
    ASSERT_EQ(merchants_nearby(&f.tx, 37.55 + 95 / M_PER_DEG, 20, 99.99, 8, hits, &n), 0);
    ASSERT_EQ(n, 0);

    /* west 33 m, dateline 78 m, east 189 m */
    ASSERT_EQ(merchants_nearby(&f.tx, 0, -179.9993, 1000, 8, hits, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(hits[0].id, 4);
    ASSERT_EQ(hits[1].id, 5);
    ASSERT_EQ(hits[2].id, 3);
    ASSERT(fabs(hits[2].distance_m - 0.0017 * M_PER_DEG) < 0.01);
    ASSERT_EQ(merchants_nearby(&f.tx, 0, 179.9993, 100, 8, hits, &n), 0);
    ASSERT_EQ(n, 2); /* east 33 m and dateline 78 m, not west (189 m) */
    ASSERT_EQ(hits[0].id, 3);
    ASSERT_EQ(hits[1].id, 5);

    ASSERT_EQ(merchants_nearby(&f.tx, 89.99, 0, 3000, 8, hits, &n), 0);
    ASSERT_EQ(n, 3);
    ASSERT_EQ(hits[0].id, 6);
    ASSERT_EQ(hits[1].id, 8);
    ASSERT_EQ(hits[2].id, 7);
    ASSERT(fabs(hits[2].distance_m - 0.02 * M_PER_DEG) < 1);
    ASSERT_EQ(merchants_nearby(&f.tx, -89.999, 123, 200, 8, hits, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].id, 9);
    fx_close(&f);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int hit_cmp(const void *pa, const void *pb)
{
    const struct merchants_hit *a = pa, *b = pb;
    if (a->distance_m != b->distance_m)
        return a->distance_m < b->distance_m ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The index is a filter only: results must equal a brute-force scan. */
TEST(nearby_matches_brute_force)
{
    enum { NM = 600, NQ = 60, LIMIT = 200 };
    static double plat[NM], plon[NM];
    static struct merchants_hit hits[LIMIT], all[NM];
    struct fx f;
    size_t n;

    ASSERT_EQ(fx_open(&f), 0);
    for (int i = 0; i < NM; i++) {
        /* A city ~30 km across, plus some spread worldwide. */
        if (i % 5) {
            plat[i] = 37.4 + rnd() * 0.3;
            plon[i] = 126.8 + rnd() * 0.35;
        } else {
            plat[i] = -89 + rnd() * 178;
            plon[i] = -180 + rnd() * 360;
        }
        ASSERT_EQ(add_merchant(&f, "m", plat[i], plon[i], NULL), 0);
    }
    for (int q = 0; q < NQ; q++) {
        double lat = 37.4 + rnd() * 0.3, lon = 126.8 + rnd() * 0.35;
        double radius = q % 3 == 0 ? 50000 : 1 + rnd() * 5000;
        size_t nw = 0;
        for (int i = 0; i < NM; i++) {
            double d = merchants_distance_m(lat, lon, plat[i], plon[i]);
            if (d <= radius)
                all[nw++] = (struct merchants_hit){.id = (uint64_t)i + 1, .distance_m = d};
        }
        qsort(all, nw, sizeof(all[0]), hit_cmp);
        if (nw > LIMIT)
            nw = LIMIT;
        const struct merchants_hit *want = all;
        ASSERT_EQ(merchants_nearby(&f.tx, lat, lon, radius, LIMIT, hits, &n), 0);
        if (n != nw)
            TEST_FAIL_("query %d (r=%f): %zu hits, brute force %zu", q, radius, n, nw);
        for (size_t i = 0; i < n; i++)
            if (hits[i].id != want[i].id || hits[i].distance_m != want[i].distance_m)
                TEST_FAIL_("query %d hit %zu: %llu != %llu", q, i, (unsigned long long)hits[i].id,
                           (unsigned long long)want[i].id);
    }
    fx_close(&f);
}

TEST(distance_and_validation)
{
    ASSERT(fabs(merchants_distance_m(0, 0, 0, 1) - M_PER_DEG) < 1e-6);
    ASSERT(fabs(merchants_distance_m(0, 0, 1, 0) - M_PER_DEG) < 1e-6);
    ASSERT_EQ(merchants_distance_m(12.5, 100, 12.5, 100), 0);
    ASSERT(fabs(merchants_distance_m(0, 0, 0, 180) - M_PI * MERCHANTS_EARTH_RADIUS_M) < 1e-3);
    ASSERT(fabs(merchants_distance_m(0, 179.5, 0, -179.5) - M_PER_DEG) < 1e-6);

    ASSERT(merchants_valid_currency("KRW", 3));
    ASSERT(merchants_valid_currency("USD", 3));
    ASSERT(!merchants_valid_currency("usd", 3));
    ASSERT(!merchants_valid_currency("US", 2));
    ASSERT(!merchants_valid_currency("USDT", 4));
    ASSERT(!merchants_valid_currency("U1D", 3));
    ASSERT(!merchants_valid_currency("U\0D", 3));
    ASSERT(!merchants_valid_currency("", 0));

    ASSERT(merchants_valid_lat(-90) && merchants_valid_lat(90) && merchants_valid_lat(0));
    ASSERT(!merchants_valid_lat(-90.0000001) && !merchants_valid_lat(90.0000001));
    ASSERT(!merchants_valid_lat(NAN) && !merchants_valid_lat(INFINITY));
    ASSERT(merchants_valid_lon(-180) && merchants_valid_lon(180));
    ASSERT(!merchants_valid_lon(-180.0000001) && !merchants_valid_lon(180.0000001));
    ASSERT(!merchants_valid_lon(NAN) && !merchants_valid_lon(-INFINITY));
}
