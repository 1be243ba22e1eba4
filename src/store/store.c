/*
 * The LMDB environment and its named databases. See store.h for the layouts.
 *
 * Read transactions belong to the loop thread: one MDB_NOTLS txn, renewed rather than begun,
 * which avoids the reader-slot allocation of mdb_txn_begin; with store_read_keep the requests
 * of one loop turn share it until a commit is made visible. The writer thread grows the map
 * between batches; since mdb_env_set_mapsize needs every txn of this process closed, read
 * txns hold a shared lock that the grower takes exclusively.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "regulars/error.h"
#include "regulars/log.h"
#include "regulars/model.h"
#include "regulars/store.h"

static const char *db_names[DB__COUNT] = {
    [DB_META] = "meta",
    [DB_SECRETS] = "secrets",
    [DB_USERS] = "users",
    [DB_USER_HANDLE] = "user_handle",
    [DB_USER_PHONE] = "user_phone",
    [DB_ACCOUNTS] = "accounts",
    [DB_FRIENDS] = "friends",
    [DB_FRIEND_REQS] = "friend_reqs",
    [DB_MERCHANTS] = "merchants",
    [DB_REWARDS] = "rewards",
    [DB_MERCHANT_REWARDS] = "merchant_rewards",
    [DB_PURCHASES] = "purchases",
    [DB_USER_PURCHASES] = "user_purchases",
    [DB_MERCHANT_PURCHASES] = "merchant_purchases",
    [DB_SHARES] = "shares",
    [DB_USER_SHARES] = "user_shares",
    [DB_SHARES_BY_SHARER] = "shares_by_sharer",
    [DB_SHARE_CREDITS] = "share_credits",
    [DB_LEDGER] = "ledger",
    [DB_REDEMPTIONS] = "redemptions",
    [DB_OUTBOX] = "outbox",
    [DB_IDEM] = "idem",
    [DB_IDEM_TIME] = "idem_time",
    [DB_AN_HOURS] = "an_hours",
    [DB_AN_CUSTOMERS] = "an_customers",
    [DB_AN_BY_RECENT] = "an_by_recent",
    [DB_AN_BY_VISITS] = "an_by_visits",
    [DB_AN_BY_SPEND] = "an_by_spend",
    [DB_AN_REFERRED] = "an_referred",
    [DB_AN_PURCH_TIME] = "an_purch_time",
    [DB_AN_MU_PURCH] = "an_mu_purch",
    [DB_MERCHANT_GEO] = "merchant_geo",
};

int store_err(int rc)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return RG_ENOTFOUND;
    case MDB_KEYEXIST: return RG_EEXIST;
    case ENOMEM: return RG_ENOMEM;
    case ENOSPC:
    case EDQUOT: return RG_ENOSPC;
    default: return RG_EIO;
    }
}

int store_tx_err(struct store_tx *tx, int rc)
{
    if (rc == MDB_MAP_FULL) {
        tx->map_full = 1;
        return RG_ENOSPC;
    }
    return store_err(rc);
}

int store_open(struct store *st, const char *path, size_t map_size, enum store_sync sync)
{
    int rc;
    MDB_txn *txn = NULL;
    memset(st, 0, sizeof(*st));
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        log_error("store: cannot create %s: %s", path, strerror(errno));
        return RG_EIO;
    }
    if ((rc = mdb_env_create(&st->env)))
        goto fail;
    mdb_env_set_maxdbs(st->env, DB__COUNT + 4);
    mdb_env_set_maxreaders(st->env, 126);
    unsigned flags = MDB_NOTLS;
    if (sync == STORE_SYNC_NOMETA)
        flags |= MDB_NOMETASYNC;
    else if (sync == STORE_SYNC_NONE)
        flags |= MDB_NOSYNC;
    /* A new environment starts at the size asked, even below LMDB's 1 MiB default (which
     * it would otherwise take, silently ignoring a smaller --map-size). */
    char file[4096];
    struct stat sb;
    snprintf(file, sizeof(file), "%s/data.mdb", path);
    if (stat(file, &sb) != 0 && errno == ENOENT && (rc = mdb_env_set_mapsize(st->env, map_size)))
        goto fail;
    if ((rc = mdb_env_open(st->env, path, flags, 0600)))
        goto fail;
    /* The map may already be larger than asked (it grew in an earlier run): keep it. */
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    if (map_size > info.me_mapsize && (rc = mdb_env_set_mapsize(st->env, map_size)))
        goto fail;
    mdb_env_info(st->env, &info);
    st->map_size = info.me_mapsize;

    int dead = 0;
    mdb_reader_check(st->env, &dead);
    if (dead)
        log_warn("store: cleared %d stale reader slot(s) left by a dead process", dead);

    /* Creating the named databases may not fit a tiny new map: grow it as the pipeline would. */
    for (;;) {
        if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)))
            goto fail;
        for (int i = 0; i < DB__COUNT && !rc; i++)
            rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &st->dbi[i]);
        if (rc) {
            mdb_txn_abort(txn);
        } else {
            rc = mdb_txn_commit(txn);
        }
        txn = NULL;
        if (rc != MDB_MAP_FULL)
            break;
        if ((rc = mdb_env_set_mapsize(st->env, st->map_size * 2)))
            goto fail;
        mdb_env_info(st->env, &info);
        st->map_size = info.me_mapsize;
    }
    if (rc)
        goto fail;
    pthread_rwlock_init(&st->resize, NULL);
    return 0;

fail:
    log_error("store: cannot open %s: %s", path, mdb_strerror(rc));
    if (txn)
        mdb_txn_abort(txn);
    if (st->env)
        mdb_env_close(st->env);
    st->env = NULL;
    return store_err(rc) == RG_ENOMEM ? RG_ENOMEM : RG_EIO;
}

void store_close(struct store *st)
{
    if (!st->env)
        return;
    store_read_keep(st, 0); /* releases a kept txn and its lock */
    if (st->reader)
        mdb_txn_abort(st->reader);
    st->reader = NULL;
    mdb_env_close(st->env);
    st->env = NULL;
    pthread_rwlock_destroy(&st->resize);
}

int store_read_begin(struct store *st, struct store_tx *tx)
{
    int rc;
    if (st->reader_open && st->reader_commits != st->commits)
        store_read_release(st); /* a newer commit is visible: take a new snapshot */
    if (!st->reader_open) {
        pthread_rwlock_rdlock(&st->resize);
        if (st->reader)
            rc = mdb_txn_renew(st->reader);
        else
            rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &st->reader);
        if (rc) {
            pthread_rwlock_unlock(&st->resize);
            return store_err(rc);
        }
        st->reader_open = 1;
        st->reader_commits = st->commits;
    }
    st->reader_active = 1;
    tx->txn = st->reader;
    tx->st = st;
    tx->map_full = 0;
    return 0;
}

void store_read_end(struct store_tx *tx)
{
    struct store *st = tx->st;
    if (!st || !st->reader_active)
        return;
    st->reader_active = 0;
    tx->txn = NULL;
    if (!st->reader_keep)
        store_read_release(st);
}

void store_read_keep(struct store *st, int on)
{
    st->reader_keep = on;
    if (!on)
        store_read_release(st);
}

void store_read_release(struct store *st)
{
    if (!st->reader_open || st->reader_active)
        return;
    mdb_txn_reset(st->reader);
    st->reader_open = 0;
    pthread_rwlock_unlock(&st->resize);
}

void store_read_commit(struct store *st)
{
    st->commits++;
}

int store_grow(struct store *st)
{
    pthread_rwlock_wrlock(&st->resize);
    /* A reset read txn still pins the old map size; drop it and start afresh later. */
    if (st->reader) {
        mdb_txn_abort(st->reader);
        st->reader = NULL;
    }
    size_t next = st->map_size * 2;
    int rc = mdb_env_set_mapsize(st->env, next);
    if (rc == 0) {
        MDB_envinfo info;
        mdb_env_info(st->env, &info);
        st->map_size = info.me_mapsize;
        log_info("store: map grown to %zu KiB", st->map_size >> 10);
    } else {
        log_error("store: cannot grow map: %s", mdb_strerror(rc));
    }
    pthread_rwlock_unlock(&st->resize);
    return rc ? store_err(rc) : 0;
}

size_t store_used_bytes(struct store *st)
{
    MDB_envinfo info;
    MDB_stat stat;
    if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &stat))
        return 0;
    return (info.me_last_pgno + 1) * (size_t)stat.ms_psize;
}

int store_get(struct store_tx *tx, enum store_db db, const struct skey *k, MDB_val *val)
{
    MDB_val key = skey_val(k);
    return store_err(mdb_get(tx->txn, tx->st->dbi[db], &key, val));
}

int store_get_rec(struct store_tx *tx, enum store_db db, const struct skey *k, void *out,
                  size_t size)
{
    MDB_val val;
    int rc = store_get(tx, db, k, &val);
    if (rc)
        return rc;
    if (val.mv_size != size)
        return RG_EIO;
    memcpy(out, val.mv_data, size);
    return 0;
}

int store_put(struct store_tx *tx, enum store_db db, const struct skey *k, const void *p,
              size_t n, unsigned flags)
{
    MDB_val key = skey_val(k), val = {n, (void *)p};
    return store_tx_err(tx, mdb_put(tx->txn, tx->st->dbi[db], &key, &val, flags));
}

int store_del(struct store_tx *tx, enum store_db db, const struct skey *k)
{
    MDB_val key = skey_val(k);
    /* A delete copies pages on write too, so it can hit MDB_MAP_FULL. */
    return store_tx_err(tx, mdb_del(tx->txn, tx->st->dbi[db], &key, NULL));
}

int store_cursor(struct store_tx *tx, enum store_db db, MDB_cursor **cur)
{
    return store_err(mdb_cursor_open(tx->txn, tx->st->dbi[db], cur));
}

int store_next_id(struct store_tx *tx, const char *name, uint64_t *id)
{
    struct skey k;
    skey_reset(&k);
    skey_bytes(&k, "seq:", 4);
    skey_bytes(&k, name, strlen(name));
    MDB_val val;
    uint64_t last = 0;
    int rc = store_get(tx, DB_META, &k, &val);
    if (rc == 0 && val.mv_size == 8)
        last = store_be64(val.mv_data);
    else if (rc && rc != RG_ENOTFOUND)
        return rc;
    struct skey v;
    skey_reset(&v);
    skey_u64(&v, last + 1);
    if ((rc = store_put(tx, DB_META, &k, v.b, 8, 0)))
        return rc;
    *id = last + 1;
    return 0;
}

void skey_bytes(struct skey *k, const void *p, size_t n)
{
    if (n > STORE_KEY_MAX - k->len)
        n = STORE_KEY_MAX - k->len;
    memcpy(k->b + k->len, p, n);
    k->len += n;
}

void skey_make1(struct skey *k, uint64_t a)
{
    skey_reset(k);
    skey_u64(k, a);
}

void skey_make2(struct skey *k, uint64_t a, uint64_t b)
{
    skey_make1(k, a);
    skey_u64(k, b);
}

void skey_make3(struct skey *k, uint64_t a, uint64_t b, uint64_t c)
{
    skey_make2(k, a, b);
    skey_u64(k, c);
}

uint64_t store_be64(const void *p)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}
