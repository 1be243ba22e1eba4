/*
 * The LMDB store: one environment, named databases, big-endian key codecs, and read
 * transactions for the loop thread. Writes happen only on the commit pipeline's writer thread
 * (commit.h), which hands each command a struct store_tx wrapping its (nested) write txn.
 *
 * Databases and their layouts (u64 = 8 bytes big-endian, so byte order is numeric order;
 * values are the packed structs of model.h unless stated):
 *
 *   DB_META              "seq:<name>" -> u64 last id issued (store_next_id)
 *   DB_SECRETS           sha256(secret)[32] -> rg_secret
 *   DB_USERS             u64 user -> rg_user
 *   DB_USER_HANDLE       handle bytes -> u64 user
 *   DB_USER_PHONE        phone bytes -> u64 user
 *   DB_ACCOUNTS          u64 user -> rg_account
 *   DB_FRIENDS           (u64 a, u64 b) -> rg_friend_edge, both (a,b) and (b,a)
 *   DB_FRIEND_REQS       (u64 a, u64 b) -> rg_friend_req, both ways, dir from a's side
 *   DB_MERCHANTS         u64 merchant -> rg_merchant
 *   DB_MERCHANT_GEO      (u64 lat band, i64 lon x 1e7, u64 merchant) -> {double lat, lon}
 *   DB_REWARDS           u64 reward -> rg_reward
 *   DB_MERCHANT_REWARDS  (u64 merchant, u64 reward) -> empty
 *   DB_PURCHASES         u64 purchase -> rg_purchase
 *   DB_USER_PURCHASES    (u64 user, u64 purchase) -> empty
 *   DB_MERCHANT_PURCHASES (u64 merchant, u64 purchase) -> empty
 *   DB_SHARES            u64 share -> rg_share
 *   DB_USER_SHARES       (u64 user, u64 share) -> empty
 *   DB_SHARES_BY_SHARER  (u64 merchant, u64 sharer, u64 share) -> u64 expires_at
 *   DB_SHARE_CREDITS     (u64 share, u64 friend) -> u64 purchase
 *   DB_LEDGER            (u64 user, u64 entry) -> rg_ledger_entry
 *   DB_REDEMPTIONS       u64 redemption -> rg_redemption
 *   DB_OUTBOX            (u64 recipient, u64 seq) -> event frame (JSON text); a
 *                        recipient's last seq is its last key (outbox.c)
 *   DB_IDEM              (u64 recipient, key bytes) -> idempotency record (api/idem.c)
 *   DB_IDEM_TIME         (u64 created_at, u64 recipient, key bytes) -> empty, for pruning
 *   DB_AN_*              analytics aggregates, layouts in domain/analytics.c
 *
 * Ids are u64 < 2^56; a recipient (outbox, idempotency scope) is (kind << 56) | id.
 */
#ifndef REGULARS_STORE_H
#define REGULARS_STORE_H

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum store_db {
    DB_META,
    DB_SECRETS,
    DB_USERS,
    DB_USER_HANDLE,
    DB_USER_PHONE,
    DB_ACCOUNTS,
    DB_FRIENDS,
    DB_FRIEND_REQS,
    DB_MERCHANTS,
    DB_REWARDS,
    DB_MERCHANT_REWARDS,
    DB_PURCHASES,
    DB_USER_PURCHASES,
    DB_MERCHANT_PURCHASES,
    DB_SHARES,
    DB_USER_SHARES,
    DB_SHARES_BY_SHARER,
    DB_SHARE_CREDITS,
    DB_LEDGER,
    DB_REDEMPTIONS,
    DB_OUTBOX,
    DB_IDEM,
    DB_IDEM_TIME,
    DB_AN_HOURS,      /* analytics: per merchant per hour counters */
    DB_AN_CUSTOMERS,  /* analytics: per (merchant, user) aggregate */
    DB_AN_BY_RECENT,  /* analytics: customers index by last visit */
    DB_AN_BY_VISITS,  /* analytics: customers index by visits */
    DB_AN_BY_SPEND,   /* analytics: customers index by spend */
    DB_AN_REFERRED,   /* analytics: referred purchases by (merchant, time) */
    DB_AN_PURCH_TIME, /* analytics: purchases by (merchant, time) */
    DB_AN_MU_PURCH,   /* analytics: purchases by (merchant, user, time) */
    DB_MERCHANT_GEO,  /* nearby search: (band, lon, merchant) -> position, see merchants.h */
    DB__COUNT
};

/* --sync modes. Only STORE_SYNC_FULL is durable; the others exist for measurement. */
enum store_sync { STORE_SYNC_FULL = 0, STORE_SYNC_NOMETA = 1, STORE_SYNC_NONE = 2 };

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB__COUNT];
    size_t map_size;           /* current map size in bytes */
    pthread_rwlock_t resize;   /* read txns hold it shared; store_grow holds it exclusive */
    MDB_txn *reader;           /* the loop thread's reusable read txn (reset when idle) */
    int reader_active;         /* non-zero between store_read_begin and store_read_end */
    int reader_open;           /* renewed, not reset: holds `resize` shared */
    int reader_keep;           /* store_read_keep: reuse an open reader until released */
    uint64_t commits;          /* commits made visible to the loop (store_read_commit) */
    uint64_t reader_commits;   /* `commits` when the open reader was renewed */
};

/* A transaction as the domain sees it: the LMDB txn plus the store it belongs to. */
struct store_tx {
    MDB_txn *txn;
    struct store *st;
    int map_full; /* set by a write that hit MDB_MAP_FULL: the commit pipeline then grows the
                     map and reruns the batch instead of failing the command */
};

/* A composite key under construction: fields are appended big-endian. */
#define STORE_KEY_MAX 511
struct skey {
    size_t len;
    unsigned char b[STORE_KEY_MAX];
};

/** Opens (creating) the environment in directory path with every named database; runs
 *  mdb_reader_check to clear readers left by a dead process. st is caller storage.
 *  Returns 0, RG_EIO (message logged) or RG_ENOMEM. */
int store_open(struct store *st, const char *path, size_t map_size, enum store_sync sync);
/** Closes the environment. No transaction may be open. */
void store_close(struct store *st);

/** Starts (renews) the loop thread's read txn. Not reentrant: one read txn at a time. */
int store_read_begin(struct store *st, struct store_tx *tx);
/** Ends the read txn started by store_read_begin: resets it, or with store_read_keep on,
 *  leaves it open for the next store_read_begin. */
void store_read_end(struct store_tx *tx);
/** Lets requests share one read txn: after store_read_end the txn stays open, and the next
 *  store_read_begin reuses it unless a commit was made visible since (store_read_commit),
 *  so every read still sees every write that was answered. The loop must call
 *  store_read_release before it blocks (a uv_prepare handle does) and before it waits for
 *  the writer (commit_stop), since an open txn pins old pages and holds off store_grow.
 *  Why: renewing a txn and LMDB's re-lookup of each named database in a fresh txn were a
 *  fifth of the instructions of GET /v1/me. */
void store_read_keep(struct store *st, int on);
/** Resets an open read txn kept by store_read_keep (no-op when none, or while active). */
void store_read_release(struct store *st);
/** Notes that a commit is about to be made visible (answered, published): the next
 *  store_read_begin takes a new snapshot. Loop thread, before the commit's callbacks. */
void store_read_commit(struct store *st);

/** Doubles the map (writer thread, between batches, no write txn open). Waits for the
 *  loop's read txn to end. Returns 0 or RG_EIO. */
int store_grow(struct store *st);
/** Bytes of the map in use (last page number x page size), for /metrics. */
size_t store_used_bytes(struct store *st);

/** Maps an LMDB return code to an rg_err (MDB_NOTFOUND -> RG_ENOTFOUND, MDB_KEYEXIST ->
 *  RG_EEXIST, MDB_MAP_FULL -> RG_ENOSPC is *not* done here: see commit.c; ENOSPC/EDQUOT ->
 *  RG_ENOSPC, ENOMEM -> RG_ENOMEM, anything else -> RG_EIO). */
int store_err(int mdb_rc);
/** Like store_err, for a write made directly with mdb_* (e.g. mdb_cursor_put) in tx: also maps
 *  MDB_MAP_FULL -> RG_ENOSPC and sets tx->map_full, so the pipeline grows the map. */
int store_tx_err(struct store_tx *tx, int mdb_rc);

/** Point read. val points into the map and is valid until the txn ends (copy it out).
 *  Returns 0, RG_ENOTFOUND or another rg_err. */
int store_get(struct store_tx *tx, enum store_db db, const struct skey *k, MDB_val *val);
/** Point read of a fixed-size record into out; RG_EIO when the stored size differs. */
int store_get_rec(struct store_tx *tx, enum store_db db, const struct skey *k, void *out,
                  size_t size);
/** Writes key -> (p, n). flags are LMDB's (MDB_NOOVERWRITE -> RG_EEXIST when present). */
int store_put(struct store_tx *tx, enum store_db db, const struct skey *k, const void *p,
              size_t n, unsigned flags);
/** Deletes key. Returns 0 or RG_ENOTFOUND. */
int store_del(struct store_tx *tx, enum store_db db, const struct skey *k);
/** Opens a cursor on db (closed with mdb_cursor_close, or by the end of a write txn). */
int store_cursor(struct store_tx *tx, enum store_db db, MDB_cursor **cur);
/** Issues the next id of sequence name ("user", "purchase", ...): 1, 2, 3, ... */
int store_next_id(struct store_tx *tx, const char *name, uint64_t *id);

/* ---- key codecs ---- */
static inline void skey_reset(struct skey *k)
{
    k->len = 0;
}
static inline void skey_u64(struct skey *k, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        k->b[k->len++] = (unsigned char)(v >> (i * 8));
}
/** Appends a signed time as u64 with the sign bit flipped, so negatives sort first. */
static inline void skey_i64(struct skey *k, int64_t v)
{
    skey_u64(k, (uint64_t)v ^ (UINT64_C(1) << 63));
}
/** Appends raw bytes; the caller keeps the total within STORE_KEY_MAX. */
void skey_bytes(struct skey *k, const void *p, size_t n);
/** Builds the key (a) / (a, b) / (a, b, c) of u64s. */
void skey_make1(struct skey *k, uint64_t a);
void skey_make2(struct skey *k, uint64_t a, uint64_t b);
void skey_make3(struct skey *k, uint64_t a, uint64_t b, uint64_t c);
/** Reads the big-endian u64 at p. */
uint64_t store_be64(const void *p);
/** Reads back an skey_i64 field. */
static inline int64_t store_bei64(const void *p)
{
    return (int64_t)(store_be64(p) ^ (UINT64_C(1) << 63));
}
static inline MDB_val skey_val(const struct skey *k)
{
    MDB_val v = {k->len, (void *)k->b};
    return v;
}
/** The recipient key of a principal: (kind << 56) | id. */
static inline uint64_t store_recipient(int kind, uint64_t id)
{
    return ((uint64_t)kind << 56) | id;
}

#endif
