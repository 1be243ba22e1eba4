/*
 * A fixture for the domain tests (ledger, attribution, purchases, shares, redemptions): a
 * fresh store in a temp dir with one write txn open for the whole test, helpers that make
 * users, merchants and friendships through their own modules, and invariant checks.
 *
 * Everything runs in that one txn: a domain function that fails must leave no trace even
 * without the commit pipeline's nested-txn abort, which is what the "nothing written"
 * checks rely on. Fixture helpers that fail are setup bugs: they print and exit(2).
 */
#ifndef REGULARS_DOMAIN_FIXTURE_H
#define REGULARS_DOMAIN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/error.h"
#include "regulars/events.h"
#include "regulars/friends.h"
#include "regulars/ledger.h"
#include "regulars/merchants.h"
#include "regulars/model.h"
#include "regulars/rules.h"
#include "regulars/store.h"
#include "regulars/users.h"
#include "test.h"

#define FX_T0  INT64_C(1700000000000) /* a fixed "now" in ms: 2023-11-14 */
#define FX_SEC INT64_C(1000)
#define FX_DAY (86400 * FX_SEC)

struct fx {
    char *dir;
    struct store st;
    struct store_tx tx;
    struct dom_events ev; /* events of the commands under test (fx_reset_events clears) */
    unsigned secrets;     /* distinct secret hashes for fixture principals */
};

#define FX_CHECK(expr)                                                                             \
    do {                                                                                           \
        int fx_rc_ = (expr);                                                                       \
        if (fx_rc_) {                                                                              \
            fprintf(stderr, "%s:%d: fixture: %s -> %s\n", __FILE__, __LINE__, #expr,               \
                    rg_strerror(fx_rc_));                                                          \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static inline void fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    FX_CHECK(store_open(&f->st, f->dir, 64u << 20, STORE_SYNC_NONE));
    f->tx.st = &f->st;
    FX_CHECK(store_err(mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn)));
}

static inline void fx_close(struct fx *f)
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
    f->dir = NULL;
}

static inline void fx_reset_events(struct fx *f)
{
    f->ev.n = 0;
}

static inline void fx_hash(struct fx *f, unsigned char hash[32])
{
    memset(hash, 0xa5, 32);
    unsigned n = ++f->secrets;
    memcpy(hash, &n, sizeof(n));
}

static inline uint64_t fx_user(struct fx *f, const char *name)
{
    unsigned char hash[32];
    struct rg_user u;
    fx_hash(f, hash);
    struct users_new nu = {.name = name, .secret_hash = hash};
    FX_CHECK(users_create(&f->tx, &nu, FX_T0 - FX_DAY, &u));
    return u.id;
}

/* A merchant with the given rules (NULL: API.md's defaults). */
static inline uint64_t fx_merchant(struct fx *f, const struct rg_rules *rules)
{
    unsigned char hash[32];
    struct rg_merchant m;
    fx_hash(f, hash);
    struct merchants_new nm = {
        .name = "Cafe", .lat = 37.5665, .lon = 126.9780, .rules = rules, .secret_hash = hash};
    FX_CHECK(merchants_create(&f->tx, &nm, FX_T0 - FX_DAY, &m));
    return m.id;
}

/* Rules with every field given (no defaults), for tests that want exact numbers. */
static inline struct rg_rules fx_rules(uint32_t earn_rate_bp, uint32_t referral_bonus,
                                       uint32_t friend_bonus, uint32_t credit_window_s,
                                       uint32_t max_referrals)
{
    struct rg_rules r = {earn_rate_bp, referral_bonus, friend_bonus, credit_window_s,
                         max_referrals};
    return r;
}

/* Replaces merchant's rules (what PATCH /v1/merchants/me does). */
static inline void fx_set_rules(struct fx *f, uint64_t merchant, const struct rg_rules *r)
{
    static struct rg_merchant m; /* ~9 KB */
    FX_CHECK(merchants_get(&f->tx, merchant, &m));
    m.rules = *r;
    FX_CHECK(merchants_put(&f->tx, &m));
}

/* a asks b at `at`, b accepts at `at`: friends since `at`. Their events are dropped. */
static inline void fx_befriend(struct fx *f, uint64_t a, uint64_t b, int64_t at)
{
    struct dom_events ev = {0};
    int status = 0;
    FX_CHECK(friends_put(&f->tx, a, b, at, &status, &ev));
    FX_CHECK(friends_put(&f->tx, b, a, at, &status, &ev));
    if (status != FRIENDS_FRIENDS) {
        fprintf(stderr, "fixture: befriend: status %d\n", status);
        exit(2);
    }
}

static inline int64_t fx_balance(struct fx *f, uint64_t user)
{
    int64_t b = 0;
    FX_CHECK(ledger_balance(&f->tx, user, &b));
    return b;
}

/* Entries in user's ledger (from the account's counter). */
static inline uint64_t fx_entries(struct fx *f, uint64_t user)
{
    struct rg_account a;
    FX_CHECK(users_account(&f->tx, user, &a));
    return a.entries;
}

/* The last id issued by sequence name (0 when none), read without issuing one. */
static inline uint64_t fx_last_id(struct fx *f, const char *name)
{
    struct skey k;
    MDB_val v;
    skey_reset(&k);
    skey_bytes(&k, "seq:", 4);
    skey_bytes(&k, name, strlen(name));
    int rc = store_get(&f->tx, DB_META, &k, &v);
    if (rc == RG_ENOTFOUND)
        return 0;
    FX_CHECK(rc);
    return store_be64(v.mv_data);
}

/* The ledger invariant for every account in the store: balance == sum of the entries,
 * entries == the number of entries, and each entry's balance_after is the running sum in
 * id order. Prints the first violation; returns 1 when all hold. */
static inline int fx_ledger_ok(struct fx *f)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int ok = 1;
    FX_CHECK(store_cursor(&f->tx, DB_ACCOUNTS, &cur));
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && ok;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t user = store_be64(k.mv_data);
        struct rg_account acc;
        memcpy(&acc, v.mv_data, sizeof(acc));
        int64_t sum = 0;
        FX_CHECK(ledger_sum(&f->tx, user, &sum));
        if (sum != acc.balance) {
            fprintf(stderr, "ledger: user %llu balance %lld != sum %lld\n",
                    (unsigned long long)user, (long long)acc.balance, (long long)sum);
            ok = 0;
        }
        /* Walk the pages oldest-last and check the running balance. */
        struct rg_ledger_entry page[7];
        size_t n;
        uint64_t before = 0, next, count = 0;
        int64_t after = acc.balance;
        do {
            FX_CHECK(ledger_page(&f->tx, user, before, 7, page, &n, &next));
            for (size_t i = 0; i < n && ok; i++, count++) {
                if (page[i].balance_after != after) {
                    fprintf(stderr, "ledger: user %llu entry %llu balance_after %lld != %lld\n",
                            (unsigned long long)user, (unsigned long long)page[i].id,
                            (long long)page[i].balance_after, (long long)after);
                    ok = 0;
                }
                after -= page[i].points;
            }
            before = next;
        } while (next && ok);
        if (ok && (after != 0 || count != acc.entries)) {
            fprintf(stderr, "ledger: user %llu starts at %lld, %llu entries (account %llu)\n",
                    (unsigned long long)user, (long long)after, (unsigned long long)count,
                    (unsigned long long)acc.entries);
            ok = 0;
        }
    }
    mdb_cursor_close(cur);
    return ok;
}

/* The i-th event of type in f->ev (0-based among that type), or NULL. */
static inline const struct dom_event *fx_event(struct fx *f, enum ev_type type, size_t i)
{
    for (size_t j = 0; j < f->ev.n; j++)
        if (f->ev.ev[j].type == type && i-- == 0)
            return &f->ev.ev[j];
    return NULL;
}

/* How many events of type are in f->ev. */
static inline size_t fx_count(struct fx *f, enum ev_type type)
{
    size_t c = 0;
    for (size_t j = 0; j < f->ev.n; j++)
        c += f->ev.ev[j].type == type;
    return c;
}

#endif
