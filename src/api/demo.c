/*
 * --demo: seeds a small Seoul city and keeps a gentle traffic simulation running (demo.h).
 *
 * Every change goes through the commit pipeline as the server's own write (struct api_write
 * with r = NULL): the seeding is one command, each simulated action another, so live events
 * reach open dashboards and apps exactly as a real purchase's would. Commands take copies of
 * what they need (ids, a random seed) because exec runs on the writer thread, and may run
 * twice when the map grows: it draws its randomness from the copy, never from shared state.
 * What an action produced (a purchase to share later, a share friends can use) comes back to
 * the loop thread in the command's fini and feeds the next actions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/clock.h"
#include "regulars/demo.h"
#include "regulars/error.h"
#include "regulars/friends.h"
#include "regulars/ids.h"
#include "regulars/log.h"
#include "regulars/merchants.h"
#include "regulars/purchases.h"
#include "regulars/redemptions.h"
#include "regulars/rules.h"
#include "regulars/secrets.h"
#include "regulars/server.h"
#include "regulars/shares.h"
#include "regulars/users.h"

#define DEMO_USERS          200
#define DEMO_NEIGHBOURS     3  /* ring lattice: each user knows the 3 next (6 friends) */
#define DEMO_REWIRE_PCT     10 /* Watts-Strogatz rewiring: a small world */
#define DEMO_HISTORY_DAYS   14
#define DEMO_VISITS_PER_DAY 9 /* per store and day, before the store's weight */
#define DEMO_PRINTED        3 /* stores and customers whose links are printed */
#define DEMO_TICK_MIN_MS    800
#define DEMO_TICK_MAX_MS    2400
#define DEMO_MAX_INFLIGHT   4
#define DEMO_RING           64
#define DEMO_SALT_KEY       "demo:salt"
#define DEMO_SALT_LEN       43
#define MIN_MS              (60LL * 1000)
#define HOUR_MS             (60 * MIN_MS)
#define DAY_MS              (24 * HOUR_MS)
#define KST_MS              (9 * HOUR_MS) /* Seoul is UTC+9 all year */

/* ---- the city ----------------------------------------------------------------------- */

enum kind { CAFE, BAKERY, RESTAURANT, BAR, SHOP };

struct kind_info {
    struct rg_rules rules;
    int64_t lo, hi, step; /* amounts in KRW */
};

static const struct kind_info kinds[] = {
    [CAFE] = {{300, 200, 100, 86400, 10}, 4500, 8500, 500},
    [BAKERY] = {{300, 150, 100, 86400, 10}, 3000, 16000, 500},
    [RESTAURANT] = {{200, 400, 200, 2 * 86400, 20}, 9000, 32000, 1000},
    [BAR] = {{150, 300, 150, 12 * 3600, 10}, 15000, 65000, 1000},
    [SHOP] = {{100, 1000, 500, 7 * 86400, 5}, 15000, 120000, 1000},
};

struct demo_store {
    const char *name, *category, *address;
    double lat, lon;
    enum kind kind;
    int weight; /* share of the traffic */
    const char *offer[2];
    int offer_pct[2];
    const char *reward[2];
    int reward_cost[2];
};

/* Fictional stores at the real coordinates of their neighbourhoods. */
/* clang-format off */
static const struct demo_store stores[] = {
    {"Soup Corner", "restaurant", "Yeonnam-dong, Mapo-gu, Seoul", 37.5627, 126.9255, RESTAURANT,
     3, {"Lunch set: soup and bread before noon", "Second bowl for a friend"}, {15, 30},
     {"Free bowl of the day", "Bread basket"}, {2500, 900}},
    {"Hongdae Roasters", "café", "Seogyo-dong, Mapo-gu, Seoul", 37.5550, 126.9229, CAFE, 3,
     {"Filter coffee of the week", "Morning americano before 10"}, {10, 20},
     {"Free americano", "Bag of house beans"}, {1500, 6000}},
    {"Seongsu Brew Lab", "café", "Seongsu-dong 2-ga, Seongdong-gu, Seoul", 37.5446, 127.0557,
     CAFE, 3, {"Cold brew flight", NULL}, {15, 0}, {"Free cold brew", "Lab tumbler"},
     {1800, 8000}},
    {"Mangwon Morning Bakery", "bakery", "Mangwon-dong, Mapo-gu, Seoul", 37.5559, 126.9057,
     BAKERY, 2, {"Salt bread, 3 for 2", NULL}, {33, 0}, {"Free salt bread", "Cake slice"},
     {800, 2000}},
    {"Bukchon Tea House", "café", "Gahoe-dong, Jongno-gu, Seoul", 37.5822, 126.9849, CAFE, 1,
     {"Omija tea with rice cake", NULL}, {10, 0}, {"Pot of green tea", NULL}, {1600, 0}},
    {"Insadong Noodle Bar", "restaurant", "Gwanhun-dong, Jongno-gu, Seoul", 37.5731, 126.9863,
     RESTAURANT, 2, {"Kalguksu lunch special", NULL}, {10, 0},
     {"Free kalguksu", "Dumplings on the side"}, {3000, 1200}},
    {"Euljiro Night Pub", "bar", "Euljiro 3-ga, Jung-gu, Seoul", 37.5662, 126.9918, BAR, 1,
     {"Happy hour until 7 pm", NULL}, {20, 0}, {"Pitcher of makgeolli", NULL}, {4000, 0}},
    {"Itaewon Taco Stand", "restaurant", "Itaewon-dong, Yongsan-gu, Seoul", 37.5347, 126.9942,
     RESTAURANT, 1, {"Taco Tuesday", NULL}, {25, 0}, {"Two free tacos", NULL}, {2200, 0}},
    {"Hannam Books", "bookshop", "Hannam-dong, Yongsan-gu, Seoul", 37.5365, 127.0011, SHOP, 1,
     {"Staff picks", NULL}, {10, 0}, {"Tote bag", "Book voucher"}, {3000, 10000}},
    {"Seongsu Leather Works", "shop", "Seongsu-dong 1-ga, Seongdong-gu, Seoul", 37.5431,
     127.0536, SHOP, 1, {"Free initials on wallets", NULL}, {5, 0}, {"Key ring", NULL},
     {5000, 0}},
    {"Garosu Flowers", "florist", "Sinsa-dong, Gangnam-gu, Seoul", 37.5209, 127.0231, SHOP, 1,
     {"Friday bouquet", NULL}, {15, 0}, {"Single rose", NULL}, {1200, 0}},
    {"Gangnam Kimbap Club", "restaurant", "Yeoksam-dong, Gangnam-gu, Seoul", 37.4985, 127.0281,
     RESTAURANT, 2, {"Kimbap and ramyeon combo", NULL}, {15, 0}, {"Free kimbap roll", NULL},
     {1500, 0}},
};
/* clang-format on */
#define DEMO_STORES (sizeof(stores) / sizeof(stores[0]))

/* The first customers, whose links are printed: the example of the product brief. */
static const char *const named[DEMO_PRINTED][2] = {
    {"Annika Lindqvist", "annika"}, {"Minji Kim", "minji"}, {"Joon Park", "joon"}};
static const char *const first_names[] = {
    "Seoyeon", "Jiwoo",  "Hayoon", "Jimin",   "Yuna",    "Sora",   "Eunji",   "Dahye",
    "Hyejin",  "Sujin",  "Minho",  "Jihoon",  "Hyunwoo", "Dohyun", "Sungmin", "Taeyang",
    "Jaewon",  "Woojin", "Yejin",  "Chaewon", "Seojun",  "Haneul", "Nari",    "Bora",
    "Kyung",   "Emma",   "Lucas",  "Noah",    "Mia",     "Leo",    "Sofia",   "Daniel",
    "Chloe",   "Ethan",  "Hana",   "Yui",     "Ren",     "Amelie", "Mateo",   "Zoe"};
static const char *const last_names[] = {"Kim",  "Lee",  "Park", "Choi", "Jung",  "Kang", "Cho",
                                         "Yoon", "Jang", "Lim",  "Han",  "Oh",    "Seo",  "Shin",
                                         "Kwon", "Song", "Baek", "Moon", "Hwang", "Ahn"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const messages[][6] = {
    [CAFE] = {"Best flat white in the neighbourhood", "Go for the hand drip, trust me",
              "Quiet corner upstairs, perfect for working", "Their cold brew is dangerous",
              "The barista remembers your order", ""},
    [BAKERY] = {"Salt bread fresh at 9, go early", "The croissants sell out by noon",
                "Bought too much again, no regrets", "Best bread in Mangwon", "Get the cream bun",
                ""},
    [RESTAURANT] = {"great soup", "The kimchi stew is unreal", "Lunch set is a steal",
                    "Go before noon, it gets busy", "Bring friends and share everything", ""},
    [BAR] = {"Makgeolli flight was so good", "Cosy place after work", "Come for happy hour",
             "Best pajeon in Euljiro", "Ask for the seasonal makgeolli", ""},
    [SHOP] = {"Found the perfect gift here", "Lovely staff, great picks",
              "Worth the trip across the river", "They wrap everything beautifully",
              "My new favourite shop", ""},
};

/* Customer activity by hour of the day (Seoul time), 0 = closed. */
static const int hour_weight[24] = {0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 3, 4,
                                    8, 7, 3, 3, 3, 4, 7, 8, 6, 4, 2, 1};

/* ---- randomness --------------------------------------------------------------------- */

/* splitmix64: small, and every run of a command draws the same sequence from its seed. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
    return n ? rnd(s) % n : 0;
}

static int chance(uint64_t *s, int pct)
{
    return (int)below(s, 100) < pct;
}

static size_t pick_store(uint64_t *s)
{
    int total = 0;
    for (size_t i = 0; i < DEMO_STORES; i++)
        total += stores[i].weight;
    int x = (int)below(s, (uint64_t)total);
    for (size_t i = 0; i < DEMO_STORES; i++)
        if ((x -= stores[i].weight) < 0)
            return i;
    return 0;
}

static int64_t pick_amount(uint64_t *s, size_t store)
{
    const struct kind_info *k = &kinds[stores[store].kind];
    return k->lo + (int64_t)below(s, (uint64_t)((k->hi - k->lo) / k->step + 1)) * k->step;
}

static const char *pick_message(uint64_t *s, size_t store)
{
    return messages[stores[store].kind][below(s, 6)];
}

/* Each store has a pool of 24 regulars, spread over the friend ring (37 is prime to the
 * number of users) so that a store's regulars are not all each other's friends; pools
 * overlap, as people visit several stores. */
static size_t pick_regular(uint64_t *s, size_t store, size_t nusers)
{
    return (store * 16 + below(s, 24) * 37) % nusers;
}

/* ---- state on the loop thread ------------------------------------------------------- */

struct recent {
    uint64_t id, user, merchant; /* a purchase (to share or refund) */
};

struct live_share {
    uint64_t id, sharer;
    int64_t expires_at;
};

struct ask {
    uint64_t from, to;
};

struct demo {
    struct server *s;
    uv_timer_t timer;
    int timer_on; /* the timer handle is initialised (and must be closed) */
    int running;  /* the simulation is ticking */
    int stopping; /* demo_stop was called */
    int closed;   /* the timer handle is closed */
    unsigned inflight;
    uint64_t rng;
    char salt[DEMO_SALT_LEN + 1];
    size_t nmerchants, nusers;
    uint64_t merchants[DEMO_STORES]; /* by index in stores[]; 0 when missing */
    uint64_t users[DEMO_USERS];
    struct recent recent[DEMO_RING];
    size_t nrecent;
    struct live_share shares[DEMO_RING];
    size_t nshares;
    struct ask asks[DEMO_RING];
    size_t nasks;
};

/* Adds to a ring of n entries at most DEMO_RING, overwriting a random old one when full. */
#define RING_PUSH(d, arr, cnt, v)                                                                  \
    do {                                                                                           \
        if ((d)->cnt < DEMO_RING)                                                                  \
            (d)->arr[(d)->cnt++] = (v);                                                            \
        else                                                                                       \
            (d)->arr[below(&(d)->rng, DEMO_RING)] = (v);                                           \
    } while (0)
#define RING_TAKE(d, arr, cnt, i)                                                                  \
    do {                                                                                           \
        (d)->arr[i] = (d)->arr[--(d)->cnt];                                                        \
    } while (0)

/* ---- secrets ------------------------------------------------------------------------ */

/* "mk_demo_<40 hex>" / "ut_demo_<40 hex>": SHA-256 of (salt, kind, index). */
static void demo_secret(const char *salt, char kind, size_t i, char *out, size_t outsz)
{
    char in[DEMO_SALT_LEN + 32];
    int n = snprintf(in, sizeof(in), "%s|%c|%zu", salt, kind, i);
    unsigned char h[32];
    secrets_hash(in, (size_t)n, h);
    int w = snprintf(out, outsz, "%s", kind == 'm' ? "mk_demo_" : "ut_demo_");
    for (int k = 0; k < 20 && (size_t)w + 2 < outsz; k++)
        w += snprintf(out + w, outsz - (size_t)w, "%02x", h[k]);
}

static void salt_key(struct skey *k)
{
    skey_reset(k);
    skey_bytes(k, DEMO_SALT_KEY, strlen(DEMO_SALT_KEY));
}

/* ---- seeding (writer thread) -------------------------------------------------------- */

struct seed_cmd {
    struct api_write w;
    struct demo *d; /* touched only in fini, on the loop thread */
    char salt[DEMO_SALT_LEN + 1];
    uint64_t rng;
    int ran;
    uint64_t merchants[DEMO_STORES];
    uint64_t users[DEMO_USERS];
};

/* Something to do a little after a visit, kept in time order. */
enum later_kind { LATER_SHARE, LATER_REFUND, LATER_REDEEM };
struct later {
    int64_t at;
    enum later_kind kind;
    uint64_t purchase, user, merchant;
    size_t store;
};
#define LATER_MAX 256

struct history {
    struct store_tx *tx;
    struct seed_cmd *c;
    uint64_t *rng;
    struct later later[LATER_MAX];
    size_t nlater;
    struct live_share shares[512];
    size_t nshares;
    size_t share_next; /* ring position once full */
    struct dom_events ev;
};

static int later_add(struct history *h, const struct later *l)
{
    if (h->nlater == LATER_MAX)
        return 0; /* dropped: the history just has one share fewer */
    size_t i = h->nlater++;
    while (i > 0 && h->later[i - 1].at > l->at) {
        h->later[i] = h->later[i - 1];
        i--;
    }
    h->later[i] = *l;
    return 0;
}

/* A random friend of user (reservoir sampling over the friend list). */
static int random_friend(struct store_tx *tx, uint64_t user, uint64_t *rng, uint64_t *out)
{
    struct friends_iter it;
    int rc = friends_iter_begin(tx, user, &it);
    if (rc)
        return rc;
    uint64_t f, n = 0;
    *out = 0;
    while ((rc = friends_iter_next(&it, &f, NULL)) == 0)
        if (below(rng, ++n) == 0)
            *out = f;
    friends_iter_end(&it);
    return rc == RG_ENOTFOUND ? 0 : rc;
}

/* A reward of the merchant that balance pays for, or 0. */
static int affordable_reward(struct store_tx *tx, uint64_t merchant, int64_t balance, uint64_t *rng,
                             uint64_t *out)
{
    struct rg_reward rw[8];
    size_t n = 0;
    int rc = merchants_rewards(tx, merchant, rw, 8, &n);
    *out = 0;
    if (rc)
        return rc;
    for (size_t i = 0, seen = 0; i < n; i++)
        if (rw[i].cost <= balance && below(rng, ++seen) == 0)
            *out = rw[i].id;
    return 0;
}

static int history_later(struct history *h, const struct later *l)
{
    struct store_tx *tx = h->tx;
    int rc = 0;
    h->ev.n = 0;
    if (l->kind == LATER_SHARE) {
        struct rg_share sh;
        uint32_t ch = (uint32_t)(1 + below(h->rng, 3));
        rc = shares_create(tx, l->user, l->purchase, ch, pick_message(h->rng, l->store), l->at, &sh,
                           &h->ev);
        if (rc == RG_E_REFUNDED || rc == RG_E_ALREADY_SHARED)
            return 0; /* refunded in the meantime: nothing was written */
        if (rc)
            return rc;
        struct live_share ls = {sh.id, sh.user_id, sh.expires_at};
        if (h->nshares < NELEM(h->shares))
            h->shares[h->nshares++] = ls;
        else
            h->shares[h->share_next++ % NELEM(h->shares)] = ls;
    } else if (l->kind == LATER_REFUND) {
        struct rg_purchase p;
        struct rg_award rev[RG_MAX_AWARDS];
        size_t nrev;
        rc = purchases_refund(tx, l->merchant, l->purchase, l->at, &p, rev, &nrev, &h->ev);
        if (rc == RG_E_ALREADY_REFUNDED)
            return 0;
    } else {
        struct rg_account a;
        struct rg_redemption red;
        int64_t bal;
        uint64_t reward;
        if ((rc = users_account(tx, l->user, &a)) ||
            (rc = affordable_reward(tx, l->merchant, a.balance, h->rng, &reward)))
            return rc;
        if (!reward && a.balance < 2000)
            return 0;
        rc = redemptions_create(tx, l->user, reward, reward ? 0 : 1000, l->at, &red, &bal, &h->ev);
        if (rc == RG_E_INSUFFICIENT)
            return 0;
    }
    return rc;
}

/* Chooses who buys at store at time t: often a friend of someone whose share is live there
 * (so that shares bring friends, as they do in life), else one of the store's regulars or
 * anyone. */
static int history_buyer(struct history *h, size_t store, int64_t t, uint64_t *buyer)
{
    uint64_t m = h->c->merchants[store];
    if (h->nshares && chance(h->rng, 18)) {
        size_t start = below(h->rng, h->nshares);
        for (size_t k = 0; k < h->nshares && k < 64; k++) {
            const struct live_share *ls = &h->shares[(start + k) % h->nshares];
            struct rg_share sh;
            if (ls->expires_at <= t)
                continue;
            int rc = shares_get(h->tx, ls->id, &sh);
            if (rc)
                return rc;
            if (sh.merchant_id != m)
                continue;
            if ((rc = random_friend(h->tx, ls->sharer, h->rng, buyer)))
                return rc;
            if (*buyer)
                return 0;
        }
    }
    size_t i =
        chance(h->rng, 70) ? pick_regular(h->rng, store, DEMO_USERS) : below(h->rng, DEMO_USERS);
    *buyer = h->c->users[i];
    return 0;
}

struct visit {
    int64_t at;
    size_t store;
};

static int visit_cmp(const void *a, const void *b)
{
    const struct visit *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static int seed_history(struct store_tx *tx, struct seed_cmd *c, int64_t now, uint64_t *rng)
{
    size_t cap = DEMO_HISTORY_DAYS * DEMO_STORES * DEMO_VISITS_PER_DAY * 3, nv = 0;
    struct visit *v = malloc(sizeof(*v) * cap);
    struct history *h = calloc(1, sizeof(*h));
    int rc = 0;
    if (!v || !h) {
        rc = RG_ENOMEM;
        goto out;
    }
    h->tx = tx;
    h->c = c;
    h->rng = rng;
    int hw_total = 0;
    for (int i = 0; i < 24; i++)
        hw_total += hour_weight[i];
    /* Midnight in Seoul, DEMO_HISTORY_DAYS - 1 days ago, then day by day up to now. */
    int64_t today = now - (now + KST_MS) % DAY_MS;
    for (int d = DEMO_HISTORY_DAYS - 1; d >= 0; d--) {
        int64_t day = today - d * DAY_MS;
        for (size_t s = 0; s < DEMO_STORES; s++) {
            int n = DEMO_VISITS_PER_DAY * stores[s].weight / 2 + (int)below(rng, 5);
            for (int k = 0; k < n && nv < cap; k++) {
                int x = (int)below(rng, (uint64_t)hw_total), hour = 0;
                while ((x -= hour_weight[hour]) >= 0)
                    hour++;
                int64_t at = day + hour * HOUR_MS + (int64_t)below(rng, HOUR_MS);
                if (at < now - MIN_MS)
                    v[nv++] = (struct visit){at, s};
            }
        }
    }
    qsort(v, nv, sizeof(*v), visit_cmp);

    for (size_t i = 0; i < nv && !rc; i++) {
        /* What was planned for before this visit happens first, in time order. */
        while (!rc && h->nlater && h->later[0].at < v[i].at) {
            struct later l = h->later[0];
            memmove(h->later, h->later + 1, sizeof(h->later[0]) * --h->nlater);
            rc = history_later(h, &l);
        }
        if (rc)
            break;
        size_t s = v[i].store;
        uint64_t buyer;
        if ((rc = history_buyer(h, s, v[i].at, &buyer)))
            break;
        struct rg_purchase p;
        h->ev.n = 0;
        rc = purchases_record(tx, c->merchants[s], buyer, pick_amount(rng, s), v[i].at, &p, &h->ev);
        if (rc)
            break;
        struct later l = {0, LATER_SHARE, p.id, buyer, c->merchants[s], s};
        if (chance(rng, 16)) {
            l.at = v[i].at + (int64_t)(2 + below(rng, 40)) * MIN_MS;
            later_add(h, &l);
        }
        if (below(rng, 1000) < 12) {
            l.kind = LATER_REFUND;
            l.at = v[i].at + (int64_t)(5 + below(rng, 120)) * MIN_MS;
            later_add(h, &l);
        }
        if (chance(rng, 4)) {
            l.kind = LATER_REDEEM;
            l.at = v[i].at + (int64_t)(1 + below(rng, 10)) * MIN_MS;
            later_add(h, &l);
        }
    }
    while (!rc && h->nlater && h->later[0].at < now) {
        struct later l = h->later[0];
        memmove(h->later, h->later + 1, sizeof(h->later[0]) * --h->nlater);
        rc = history_later(h, &l);
    }
out:
    free(v);
    free(h);
    return rc;
}

static int seed_city(struct store_tx *tx, struct seed_cmd *c, int64_t now)
{
    uint64_t rng = c->rng;
    struct dom_events *ev = calloc(1, sizeof(*ev));
    struct rg_merchant *m = calloc(1, sizeof(*m));
    char secret[SECRETS_MAX], name[RG_NAME_MAX], handle[RG_HANDLE_MAX], phone[RG_PHONE_MAX];
    unsigned char hash[32];
    int rc = 0;
    if (!ev || !m) {
        rc = RG_ENOMEM;
        goto out;
    }
    /* Everyone joined a few weeks before the history starts. */
    int64_t joined = now - (DEMO_HISTORY_DAYS + 30) * DAY_MS;

    for (size_t i = 0; i < DEMO_STORES; i++) {
        const struct demo_store *st = &stores[i];
        demo_secret(c->salt, 'm', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        struct merchants_new in = {st->name, st->category,           st->address, st->lat, st->lon,
                                   "KRW",    &kinds[st->kind].rules, hash};
        if ((rc = merchants_create(tx, &in, joined, m)))
            goto out;
        c->merchants[i] = m->id;
        for (int k = 0; k < 2 && st->offer[k]; k++) {
            snprintf(m->offers[k].title, sizeof(m->offers[k].title), "%s", st->offer[k]);
            m->offers[k].discount_pct = (uint32_t)st->offer_pct[k];
            m->noffers = (uint32_t)k + 1;
        }
        if ((rc = merchants_put(tx, m)))
            goto out;
        for (int k = 0; k < 2 && st->reward[k]; k++) {
            struct rg_reward rw;
            if ((rc = merchants_add_reward(tx, m->id, st->reward[k], st->reward_cost[k], joined,
                                           &rw)))
                goto out;
        }
    }

    /* Every first x last name once, in a shuffled order: no two customers share a name on
     * the dashboard. */
    uint16_t names[NELEM(first_names) * NELEM(last_names)];
    _Static_assert(DEMO_USERS <= NELEM(names), "names to go round");
    for (size_t i = 0; i < NELEM(names); i++)
        names[i] = (uint16_t)i;
    for (size_t i = NELEM(names) - 1; i > 0; i--) {
        size_t j = below(&rng, i + 1);
        uint16_t t = names[i];
        names[i] = names[j];
        names[j] = t;
    }
    for (size_t i = 0; i < DEMO_USERS; i++) {
        struct rg_user u;
        if (i < DEMO_PRINTED) {
            snprintf(name, sizeof(name), "%s", named[i][0]);
            snprintf(handle, sizeof(handle), "%s", named[i][1]);
        } else {
            size_t combo = names[i];
            const char *f = first_names[combo % NELEM(first_names)];
            const char *l = last_names[combo / NELEM(first_names)];
            snprintf(name, sizeof(name), "%s %s", f, l);
            int n = snprintf(handle, sizeof(handle), "%s_%s", f, l);
            for (int k = 0; k < n; k++)
                handle[k] =
                    (char)(handle[k] >= 'A' && handle[k] <= 'Z' ? handle[k] + 32 : handle[k]);
            uint64_t other;
            if (users_by_handle(tx, handle, &other) == 0)
                snprintf(handle + n, sizeof(handle) - (size_t)n, "%zu", i);
        }
        snprintf(phone, sizeof(phone), "+82105550%04zu", i);
        demo_secret(c->salt, 'u', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        struct users_new in = {name, handle, phone, hash};
        if ((rc = users_create(tx, &in, joined + (int64_t)i * MIN_MS, &u)))
            goto out;
        c->users[i] = u.id;
    }

    /* A small world: a ring lattice, each edge rewired to a random user now and then.
     * Friendships are made by asking and accepting, as the app does. */
    int status;
    int64_t t = joined + DAY_MS;
    for (size_t i = 0; i < DEMO_USERS; i++) {
        for (size_t k = 1; k <= DEMO_NEIGHBOURS; k++) {
            size_t j = (i + k) % DEMO_USERS;
            if (i >= DEMO_PRINTED && chance(&rng, DEMO_REWIRE_PCT))
                j = below(&rng, DEMO_USERS);
            if (j == i)
                continue;
            ev->n = 0;
            if ((rc = friends_put(tx, c->users[i], c->users[j], t, &status, ev)))
                goto out;
            ev->n = 0;
            if (status == FRIENDS_PENDING &&
                (rc = friends_put(tx, c->users[j], c->users[i], t + MIN_MS, &status, ev)))
                goto out;
            t += 7 * MIN_MS;
        }
    }
    /* The printed customers know a few more people, some of whom wait for an answer. */
    for (size_t i = 0; i < DEMO_PRINTED; i++) {
        for (size_t k = 0; k < 4; k++) {
            size_t j = 20 + i * 17 + k * 5;
            ev->n = 0;
            if ((rc = friends_put(tx, c->users[j], c->users[i], t, &status, ev)))
                goto out;
            ev->n = 0;
            if (k < 2 && (rc = friends_put(tx, c->users[i], c->users[j], t + MIN_MS, &status, ev)))
                goto out;
            t += 3 * MIN_MS;
        }
    }
    rc = seed_history(tx, c, now, &rng);
out:
    free(ev);
    free(m);
    return rc;
}

static int seed_exec(struct store_tx *tx, struct api_write *w)
{
    struct seed_cmd *c = (struct seed_cmd *)w;
    struct skey k;
    MDB_val v;
    MDB_cursor *cur;
    c->ran = 0;
    /* Checked again here: a merchant may have signed up since demo_start looked. */
    salt_key(&k);
    int rc = store_get(tx, DB_META, &k, &v);
    if (rc != RG_ENOTFOUND)
        return rc ? rc : RG_EEXIST;
    if ((rc = store_cursor(tx, DB_MERCHANTS, &cur)))
        return rc;
    MDB_val mk, mv;
    int any = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST) == 0;
    mdb_cursor_close(cur);
    if (any)
        return RG_EEXIST;
    if ((rc = store_put(tx, DB_META, &k, c->salt, strlen(c->salt), 0)) ||
        (rc = seed_city(tx, c, w->now)))
        return rc;
    c->ran = 1;
    return 0;
}

/* ---- simulated actions (writer thread) ---------------------------------------------- */

enum act {
    ACT_PURCHASE, /* user buys at merchant */
    ACT_REFERRAL, /* a friend of share's sharer buys at its store (else ACT_PURCHASE) */
    ACT_SHARE,    /* user shares purchase */
    ACT_ASK,      /* user asks other to be friends */
    ACT_ACCEPT,   /* other accepts user's ask */
    ACT_REFUND,   /* merchant refunds purchase */
    ACT_REDEEM,   /* user redeems a reward of merchant, or cash */
};

struct act_cmd {
    struct api_write w;
    struct demo *d; /* touched only in fini, on the loop thread */
    enum act act;
    uint64_t rng;
    size_t store; /* index of merchant in stores[] */
    uint64_t merchant, user, other, purchase, share;
    uint64_t store_ids[DEMO_STORES]; /* to find a share's store kind */
    /* results, read by fini */
    int ran;
    struct recent out_purchase;
    struct live_share out_share;
    struct ask out_ask;
};

static int act_purchase(struct store_tx *tx, struct act_cmd *c, struct dom_events *ev)
{
    struct rg_purchase p;
    int rc = purchases_record(tx, c->merchant, c->user, pick_amount(&c->rng, c->store), c->w.now,
                              &p, ev);
    if (rc)
        return rc;
    c->out_purchase = (struct recent){p.id, p.user_id, p.merchant_id};
    return 0;
}

static int act_exec(struct store_tx *tx, struct api_write *w)
{
    struct act_cmd *c = (struct act_cmd *)w;
    struct dom_events ev;
    int rc = 0;
    ev.n = 0;
    c->ran = 0;
    memset(&c->out_purchase, 0, sizeof(c->out_purchase));
    memset(&c->out_share, 0, sizeof(c->out_share));
    memset(&c->out_ask, 0, sizeof(c->out_ask));
    uint64_t seed = c->rng; /* a rerun after the map grows draws the same numbers */
    switch (c->act) {
    case ACT_REFERRAL: {
        struct rg_share sh;
        uint64_t friend = 0;
        rc = shares_get(tx, c->share, &sh);
        if (rc == 0 && sh.expires_at > w->now &&
            (rc = random_friend(tx, sh.user_id, &c->rng, &friend)) == 0 && friend) {
            c->user = friend;
            c->merchant = sh.merchant_id;
            for (size_t i = 0; i < DEMO_STORES; i++)
                if (c->store_ids[i] == sh.merchant_id)
                    c->store = i;
        }
        if (rc && rc != RG_ENOTFOUND)
            break;
        rc = act_purchase(tx, c, &ev);
        break;
    }
    case ACT_PURCHASE:
        rc = act_purchase(tx, c, &ev);
        break;
    case ACT_SHARE: {
        struct rg_share sh;
        uint32_t ch = (uint32_t)(1 + below(&c->rng, 3));
        rc = shares_create(tx, c->user, c->purchase, ch, pick_message(&c->rng, c->store), w->now,
                           &sh, &ev);
        if (rc == RG_E_REFUNDED || rc == RG_E_ALREADY_SHARED || rc == RG_ENOTFOUND)
            goto skip; /* nothing was written */
        if (!rc)
            c->out_share = (struct live_share){sh.id, sh.user_id, sh.expires_at};
        break;
    }
    case ACT_ASK:
    case ACT_ACCEPT: {
        int status;
        uint64_t a = c->act == ACT_ASK ? c->user : c->other;
        uint64_t b = c->act == ACT_ASK ? c->other : c->user;
        if (a == b || friends_are(tx, a, b, NULL) == 0)
            goto skip;
        rc = friends_put(tx, a, b, w->now, &status, &ev);
        if (!rc && c->act == ACT_ASK && status == FRIENDS_PENDING)
            c->out_ask = (struct ask){a, b};
        break;
    }
    case ACT_REFUND: {
        struct rg_purchase p;
        struct rg_award rev[RG_MAX_AWARDS];
        size_t nrev;
        rc = purchases_refund(tx, c->merchant, c->purchase, w->now, &p, rev, &nrev, &ev);
        if (rc == RG_E_ALREADY_REFUNDED || rc == RG_ENOTFOUND)
            goto skip;
        break;
    }
    case ACT_REDEEM: {
        struct rg_account a;
        struct rg_redemption red;
        int64_t bal;
        uint64_t reward;
        if ((rc = users_account(tx, c->user, &a)) ||
            (rc = affordable_reward(tx, c->merchant, a.balance, &c->rng, &reward)))
            break;
        if (!reward && a.balance < 3000)
            goto skip;
        rc = redemptions_create(tx, c->user, reward, reward ? 0 : 1000, w->now, &red, &bal, &ev);
        if (rc == RG_E_INSUFFICIENT)
            goto skip;
        break;
    }
    }
    c->rng = seed;
    if (rc)
        return rc;
    if ((rc = api_emit(tx, w, &ev)))
        return rc;
    c->ran = 1;
    return 0;
skip:
    c->rng = seed;
    return 0;
}

/* ---- the loop side ------------------------------------------------------------------ */

static void demo_free_if_done(struct demo *d)
{
    if (d->stopping && (!d->timer_on || d->closed) && d->inflight == 0)
        free(d);
}

static void act_fini(struct api_write *w)
{
    struct act_cmd *c = (struct act_cmd *)w;
    struct demo *d = c->d;
    d->inflight--;
    if (c->ran && w->cmd.status == 0 && !d->stopping) {
        if (c->out_purchase.id)
            RING_PUSH(d, recent, nrecent, c->out_purchase);
        if (c->out_share.id)
            RING_PUSH(d, shares, nshares, c->out_share);
        if (c->out_ask.from)
            RING_PUSH(d, asks, nasks, c->out_ask);
    }
    demo_free_if_done(d);
}

static uint64_t pick_user(struct demo *d, size_t store)
{
    int x = (int)below(&d->rng, 100);
    size_t i = x < 15   ? below(&d->rng, DEMO_PRINTED)
               : x < 70 ? pick_regular(&d->rng, store, d->nusers)
                        : below(&d->rng, d->nusers);
    return d->users[i];
}

static int printed_user(const struct demo *d, uint64_t id)
{
    for (size_t i = 0; i < DEMO_PRINTED && i < d->nusers; i++)
        if (d->users[i] == id)
            return 1;
    return 0;
}

/* Fills c with one action chosen at random among those the state allows. */
static void choose(struct demo *d, struct act_cmd *c)
{
    int64_t now = clock_now_ms();
    int x = (int)below(&d->rng, 100);
    size_t store = pick_store(&d->rng);
    while (!d->merchants[store])
        store = (store + 1) % DEMO_STORES;
    c->act = ACT_PURCHASE;
    c->store = store;
    c->merchant = d->merchants[store];
    c->user = pick_user(d, store);

    /* Drop shares whose window has closed. */
    for (size_t i = 0; i < d->nshares;)
        if (d->shares[i].expires_at <= now)
            RING_TAKE(d, shares, nshares, i);
        else
            i++;

    if (x < 50) {
        return;
    } else if (x < 63) {
        if (!d->nshares)
            return;
        /* The printed customers' shares are used more, so their apps light up. */
        size_t i = below(&d->rng, d->nshares);
        for (size_t k = 0; k < d->nshares && chance(&d->rng, 50); k++)
            if (printed_user(d, d->shares[(i + k) % d->nshares].sharer)) {
                i = (i + k) % d->nshares;
                break;
            }
        c->act = ACT_REFERRAL;
        c->share = d->shares[i].id;
    } else if (x < 78) {
        if (!d->nrecent)
            return;
        size_t i = below(&d->rng, d->nrecent);
        for (size_t k = 0; k < d->nrecent && chance(&d->rng, 40); k++)
            if (printed_user(d, d->recent[(i + k) % d->nrecent].user)) {
                i = (i + k) % d->nrecent;
                break;
            }
        c->act = ACT_SHARE;
        c->purchase = d->recent[i].id;
        c->user = d->recent[i].user;
        for (size_t s = 0; s < DEMO_STORES; s++)
            if (d->merchants[s] == d->recent[i].merchant)
                c->store = s;
        RING_TAKE(d, recent, nrecent, i);
    } else if (x < 86) {
        c->act = ACT_ASK;
        c->other = d->users[chance(&d->rng, 30) ? below(&d->rng, DEMO_PRINTED)
                                                : below(&d->rng, d->nusers)];
    } else if (x < 92) {
        if (!d->nasks)
            return;
        size_t i = below(&d->rng, d->nasks);
        c->act = ACT_ACCEPT;
        c->user = d->asks[i].from;
        c->other = d->asks[i].to;
        RING_TAKE(d, asks, nasks, i);
    } else if (x < 94) {
        if (!d->nrecent)
            return;
        size_t i = below(&d->rng, d->nrecent);
        c->act = ACT_REFUND;
        c->purchase = d->recent[i].id;
        c->merchant = d->recent[i].merchant;
        RING_TAKE(d, recent, nrecent, i);
    } else {
        c->act = ACT_REDEEM;
    }
}

static void schedule(struct demo *d);

static void on_tick(uv_timer_t *t)
{
    struct demo *d = t->data;
    if (d->stopping || d->s->stopping)
        return;
    if (d->inflight < DEMO_MAX_INFLIGHT) {
        struct act_cmd *c = calloc(1, sizeof(*c));
        if (c) {
            api_write_init(&c->w, NULL, act_exec);
            c->w.srv = d->s;
            c->w.fini = act_fini;
            c->d = d;
            c->rng = rnd(&d->rng);
            memcpy(c->store_ids, d->merchants, sizeof(c->store_ids));
            choose(d, c);
            d->inflight++;
            api_write_submit(&c->w); /* on failure it calls fini and frees c */
        }
    }
    schedule(d);
}

static void schedule(struct demo *d)
{
    uint64_t ms = DEMO_TICK_MIN_MS + below(&d->rng, DEMO_TICK_MAX_MS - DEMO_TICK_MIN_MS);
    uv_timer_start(&d->timer, on_tick, ms, 0);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct demo *d = h->data;
    d->closed = 1;
    demo_free_if_done(d);
}

/* The address to print: a wildcard listener is reached through the loopback. */
static void base_url(const struct server *s, char *out, size_t n)
{
    const char *b = s->bound;
    if (strncmp(b, "0.0.0.0:", 8) == 0)
        snprintf(out, n, "http://127.0.0.1:%s", b + 8);
    else if (strncmp(b, "[::]:", 5) == 0)
        snprintf(out, n, "http://[::1]:%s", b + 5);
    else
        snprintf(out, n, "http://%s", b);
}

static void print_links(struct demo *d)
{
    char base[128], secret[SECRETS_MAX];
    struct store_tx tx;
    struct rg_merchant *m = malloc(sizeof(*m));
    if (!m || store_read_begin(&d->s->store, &tx)) {
        free(m);
        return;
    }
    base_url(d->s, base, sizeof(base));
    printf("regularsd demo: %zu stores and %zu customers in Seoul, with traffic every second "
           "or two. Open:\n",
           d->nmerchants, d->nusers);
    for (size_t i = 0, shown = 0; i < DEMO_STORES && shown < DEMO_PRINTED; i++) {
        if (!d->merchants[i] || merchants_get(&tx, d->merchants[i], m))
            continue;
        demo_secret(d->salt, 'm', i, secret, sizeof(secret));
        printf("  dashboard  %-22s %s/dashboard#key=%s\n", m->name, base, secret);
        shown++;
    }
    for (size_t i = 0; i < DEMO_PRINTED && i < d->nusers; i++) {
        struct rg_user u;
        if (!d->users[i] || users_get(&tx, d->users[i], &u))
            continue;
        demo_secret(d->salt, 'u', i, secret, sizeof(secret));
        printf("  app        %-22s %s/app#token=%s\n", u.name, base, secret);
    }
    fflush(stdout);
    store_read_end(&tx);
    free(m);
}

static void run(struct demo *d)
{
    print_links(d);
    d->running = 1;
    schedule(d);
}

static void seed_fini(struct api_write *w)
{
    struct seed_cmd *c = (struct seed_cmd *)w;
    struct demo *d = c->d;
    d->inflight--;
    if (c->ran && w->cmd.status == 0 && !d->stopping) {
        memcpy(d->merchants, c->merchants, sizeof(d->merchants));
        memcpy(d->users, c->users, sizeof(d->users));
        d->nmerchants = DEMO_STORES;
        d->nusers = DEMO_USERS;
        log_info("demo: seeded %zu stores, %d customers and %d days of history", DEMO_STORES,
                 DEMO_USERS, DEMO_HISTORY_DAYS);
        run(d);
    } else if (!d->stopping) {
        log_warn("demo: seeding failed (%s); no simulation",
                 rg_strerror(w->cmd.status ? w->cmd.status : RG_EEXIST));
    }
    demo_free_if_done(d);
}

/* The first tick on a restarted demo only prints: the loop is running by then, so the links
 * come after the "listening" line. */
static void on_first_tick(uv_timer_t *t)
{
    run(t->data);
}

/* Finds the demo city of an earlier run from its salt: every secret is derived again and
 * looked up. Returns 0 (found, or nothing to find) or a store error. */
static int find_city(struct demo *d, struct store_tx *tx)
{
    char secret[SECRETS_MAX];
    unsigned char hash[32];
    struct rg_secret rec;
    for (size_t i = 0; i < DEMO_STORES; i++) {
        demo_secret(d->salt, 'm', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        if (secrets_lookup(tx, hash, &rec) == 0 && rec.kind == RG_KIND_MERCHANT) {
            d->merchants[i] = rec.id;
            d->nmerchants++;
        }
    }
    for (size_t i = 0; i < DEMO_USERS; i++) {
        demo_secret(d->salt, 'u', i, secret, sizeof(secret));
        secrets_hash(secret, strlen(secret), hash);
        if (secrets_lookup(tx, hash, &rec) == 0 && rec.kind == RG_KIND_USER)
            d->users[d->nusers++] = rec.id;
    }
    return 0;
}

int demo_start(struct server *s)
{
    struct demo *d = calloc(1, sizeof(*d));
    if (!d)
        return RG_ENOMEM;
    d->s = s;
    d->rng = (uint64_t)clock_now_ms() ^ (uint64_t)(uintptr_t)d;
    uv_timer_init(s->loop, &d->timer);
    d->timer.data = d;
    d->timer_on = 1;
    s->demo = d;

    struct store_tx tx;
    int rc = store_read_begin(&s->store, &tx);
    if (rc)
        return rc; /* demo_stop frees d */
    struct skey k;
    MDB_val v;
    salt_key(&k);
    rc = store_get(&tx, DB_META, &k, &v);
    if (rc == 0 && v.mv_size == DEMO_SALT_LEN) {
        memcpy(d->salt, v.mv_data, DEMO_SALT_LEN);
        rc = find_city(d, &tx);
        store_read_end(&tx);
        if (rc)
            return rc;
        if (d->nmerchants == 0 || d->nusers < DEMO_PRINTED) {
            log_warn("demo: the demo city of this data folder is gone; no simulation");
            return 0;
        }
        uv_timer_start(&d->timer, on_first_tick, 0, 0);
        return 0;
    }
    if (rc && rc != RG_ENOTFOUND) {
        store_read_end(&tx);
        return rc;
    }
    MDB_cursor *cur;
    if ((rc = store_cursor(&tx, DB_MERCHANTS, &cur))) {
        store_read_end(&tx);
        return rc;
    }
    MDB_val mk, mv;
    int any = mdb_cursor_get(cur, &mk, &mv, MDB_FIRST) == 0;
    mdb_cursor_close(cur);
    store_read_end(&tx);
    if (any) {
        log_warn("demo: the data folder already holds stores that are not a demo city; "
                 "--demo seeds only an empty folder, so there is no simulation");
        return 0;
    }

    struct seed_cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return RG_ENOMEM;
    if ((rc = secrets_generate("", c->salt, sizeof(c->salt)))) {
        free(c);
        return rc;
    }
    memcpy(d->salt, c->salt, sizeof(d->salt));
    api_write_init(&c->w, NULL, seed_exec);
    c->w.srv = s;
    c->w.fini = seed_fini;
    c->d = d;
    c->rng = rnd(&d->rng);
    d->inflight++;
    log_info("demo: seeding a small city (%zu stores, %d customers)", DEMO_STORES, DEMO_USERS);
    api_write_submit(&c->w);
    return 0;
}

void demo_stop(struct server *s)
{
    struct demo *d = s->demo;
    if (!d)
        return;
    s->demo = NULL;
    d->stopping = 1;
    if (d->timer_on) {
        uv_timer_stop(&d->timer);
        if (!uv_is_closing((uv_handle_t *)&d->timer))
            uv_close((uv_handle_t *)&d->timer, on_timer_closed);
        /* freed in on_timer_closed (or by the last fini), when the loop runs again */
        return;
    }
    demo_free_if_done(d);
}
