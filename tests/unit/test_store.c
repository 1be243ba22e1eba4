/* Tests for store: key codecs, open/put/get/del, ids, read txn renewal, map growth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/error.h"
#include "regulars/store.h"
#include "test.h"

/* Removes the environment's files and its directory, then frees dir. */
static void rm_store_dir(char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* Begins a top-level write txn on st, wrapped as the domain sees it. */
static int write_begin(struct store *st, struct store_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    tx->st = st;
    return mdb_txn_begin(st->env, NULL, 0, &tx->txn);
}

static int key_cmp(const struct skey *a, const struct skey *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->b, b->b, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* ---- key codecs ---- */

TEST(skey_u64_is_big_endian_and_sorts_numerically)
{
    struct skey k;
    skey_reset(&k);
    skey_u64(&k, UINT64_C(0x0102030405060708));
    ASSERT_EQ(k.len, 8);
    ASSERT_MEMEQ(k.b, 8, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    ASSERT_EQ(store_be64(k.b), UINT64_C(0x0102030405060708));

    const uint64_t top = UINT64_MAX, id_max = (UINT64_C(1) << 56) - 1;
    const uint64_t vals[] = {0, 1, 255, 256, 65535, 65536, 1ull << 32, id_max, top - 1, top};
    size_t n = sizeof(vals) / sizeof(vals[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        struct skey a, b;
        skey_make1(&a, vals[i]);
        skey_make1(&b, vals[i + 1]);
        ASSERT(key_cmp(&a, &b) < 0);
        ASSERT_EQ(store_be64(a.b), vals[i]);
    }
}

TEST(skey_i64_negative_times_sort_first)
{
    const int64_t vals[] = {INT64_MIN, -86400, -2, -1, 0, 1, 2, 1700000000, INT64_MAX};
    size_t n = sizeof(vals) / sizeof(vals[0]);
    for (size_t i = 0; i < n; i++) {
        struct skey a;
        skey_reset(&a);
        skey_i64(&a, vals[i]);
        ASSERT_EQ(a.len, 8);
        ASSERT_EQ(store_bei64(a.b), vals[i]);
        if (i + 1 < n) {
            struct skey b;
            skey_reset(&b);
            skey_i64(&b, vals[i + 1]);
            ASSERT(key_cmp(&a, &b) < 0);
        }
    }
    /* Zero is the midpoint: 0x80 00 .. 00. */
    struct skey z;
    skey_reset(&z);
    skey_i64(&z, 0);
    ASSERT_MEMEQ(z.b, 8, "\x80\0\0\0\0\0\0\0", 8);
}

TEST(skey_make2_make3_compose_fields)
{
    struct skey k;
    skey_make2(&k, 7, UINT64_C(0xAABBCCDD));
    ASSERT_EQ(k.len, 16);
    ASSERT_EQ(store_be64(k.b), 7);
    ASSERT_EQ(store_be64(k.b + 8), UINT64_C(0xAABBCCDD));

    skey_make3(&k, 1, 2, 3);
    ASSERT_EQ(k.len, 24);
    ASSERT_EQ(store_be64(k.b), 1);
    ASSERT_EQ(store_be64(k.b + 8), 2);
    ASSERT_EQ(store_be64(k.b + 16), 3);

    /* Composite order is field by field: (1, 9) < (2, 0) and (2, 0) < (2, 1). */
    struct skey a, b, c;
    skey_make2(&a, 1, 9);
    skey_make2(&b, 2, 0);
    skey_make2(&c, 2, 1);
    ASSERT(key_cmp(&a, &b) < 0);
    ASSERT(key_cmp(&b, &c) < 0);

    /* make resets: a second make does not append. */
    skey_make1(&k, 5);
    ASSERT_EQ(k.len, 8);

    /* skey_bytes appends raw bytes and never overflows the buffer. */
    skey_make1(&k, 1);
    skey_bytes(&k, "abc", 3);
    ASSERT_EQ(k.len, 11);
    ASSERT_MEMEQ(k.b + 8, 3, "abc", 3);
    char big[600];
    memset(big, 'x', sizeof(big));
    skey_bytes(&k, big, sizeof(big));
    ASSERT_EQ(k.len, STORE_KEY_MAX);
}

TEST(store_recipient_packs_kind)
{
    ASSERT_EQ(store_recipient(2, 5), (UINT64_C(2) << 56) | 5);
}

/* ---- environment ---- */

TEST(store_put_get_del)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_NONE), 0);

    struct store_tx tx;
    ASSERT_EQ(write_begin(&st, &tx), 0);
    struct skey k;
    skey_make1(&k, 42);
    ASSERT_EQ(store_put(&tx, DB_USERS, &k, "hello", 5, 0), 0);
    ASSERT_EQ(store_put(&tx, DB_USERS, &k, "again", 5, MDB_NOOVERWRITE), RG_EEXIST);
    /* The same key in another db is independent. */
    ASSERT_EQ(store_put(&tx, DB_MERCHANTS, &k, "m", 1, 0), 0);
    ASSERT_EQ(tx.map_full, 0);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    struct store_tx rd;
    ASSERT_EQ(store_read_begin(&st, &rd), 0);
    MDB_val v;
    ASSERT_EQ(store_get(&rd, DB_USERS, &k, &v), 0);
    ASSERT_MEMEQ(v.mv_data, v.mv_size, "hello", 5);
    ASSERT_EQ(store_get(&rd, DB_MERCHANTS, &k, &v), 0);
    ASSERT_MEMEQ(v.mv_data, v.mv_size, "m", 1);
    struct skey missing;
    skey_make1(&missing, 43);
    ASSERT_EQ(store_get(&rd, DB_USERS, &missing, &v), RG_ENOTFOUND);

    char out5[5];
    ASSERT_EQ(store_get_rec(&rd, DB_USERS, &k, out5, 5), 0);
    ASSERT_MEMEQ(out5, 5, "hello", 5);
    char out8[8];
    ASSERT_EQ(store_get_rec(&rd, DB_USERS, &k, out8, 8), RG_EIO);
    ASSERT_EQ(store_get_rec(&rd, DB_USERS, &missing, out8, 8), RG_ENOTFOUND);
    store_read_end(&rd);

    ASSERT_EQ(write_begin(&st, &tx), 0);
    ASSERT_EQ(store_del(&tx, DB_USERS, &k), 0);
    ASSERT_EQ(store_del(&tx, DB_USERS, &k), RG_ENOTFOUND);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    ASSERT_EQ(store_read_begin(&st, &rd), 0);
    ASSERT_EQ(store_get(&rd, DB_USERS, &k, &v), RG_ENOTFOUND);
    ASSERT_EQ(store_get(&rd, DB_MERCHANTS, &k, &v), 0);
    store_read_end(&rd);

    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_cursor_scans_in_key_order)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_NONE), 0);
    struct store_tx tx;
    ASSERT_EQ(write_begin(&st, &tx), 0);
    /* A user's ledger: (user, entry), inserted out of order, two users interleaved. */
    const uint64_t entries[] = {300, 2, 70000, 1, 256};
    for (size_t i = 0; i < 5; i++) {
        struct skey k;
        skey_make2(&k, 9, entries[i]);
        ASSERT_EQ(store_put(&tx, DB_LEDGER, &k, "x", 1, 0), 0);
        skey_make2(&k, 8, entries[i]);
        ASSERT_EQ(store_put(&tx, DB_LEDGER, &k, "y", 1, 0), 0);
    }
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    struct store_tx rd;
    ASSERT_EQ(store_read_begin(&st, &rd), 0);
    MDB_cursor *cur;
    ASSERT_EQ(store_cursor(&rd, DB_LEDGER, &cur), 0);
    struct skey start;
    skey_make1(&start, 9);
    MDB_val key = skey_val(&start), val;
    const uint64_t want[] = {1, 2, 256, 300, 70000};
    int n = 0;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        ASSERT_EQ(key.mv_size, 16);
        ASSERT_EQ(store_be64(key.mv_data), 9);
        ASSERT(n < 5);
        ASSERT_EQ(store_be64((char *)key.mv_data + 8), want[n]);
        n++;
    }
    ASSERT_EQ(rc, MDB_NOTFOUND);
    ASSERT_EQ(n, 5);
    mdb_cursor_close(cur);
    store_read_end(&rd);
    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_next_id_sequence_persists)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_FULL), 0);
    struct store_tx tx;
    uint64_t id = 0;
    ASSERT_EQ(write_begin(&st, &tx), 0);
    ASSERT_EQ(store_next_id(&tx, "user", &id), 0);
    ASSERT_EQ(id, 1);
    ASSERT_EQ(store_next_id(&tx, "user", &id), 0);
    ASSERT_EQ(id, 2);
    /* Sequences are independent by name. */
    ASSERT_EQ(store_next_id(&tx, "purchase", &id), 0);
    ASSERT_EQ(id, 1);
    ASSERT_EQ(store_next_id(&tx, "user", &id), 0);
    ASSERT_EQ(id, 3);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    /* An aborted txn issues nothing. */
    ASSERT_EQ(write_begin(&st, &tx), 0);
    ASSERT_EQ(store_next_id(&tx, "user", &id), 0);
    ASSERT_EQ(id, 4);
    mdb_txn_abort(tx.txn);
    store_close(&st);

    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_FULL), 0);
    ASSERT_EQ(write_begin(&st, &tx), 0);
    ASSERT_EQ(store_next_id(&tx, "user", &id), 0);
    ASSERT_EQ(id, 4);
    ASSERT_EQ(store_next_id(&tx, "purchase", &id), 0);
    ASSERT_EQ(id, 2);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);
    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_read_txn_renews_many_times)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_NONE), 0);
    struct skey k;
    skey_make1(&k, 1);
    for (uint64_t i = 0; i < 2000; i++) {
        /* Each round writes a new value, then a renewed read txn must see it (a stale
         * snapshot would show the previous one). */
        struct store_tx tx;
        ASSERT_EQ(write_begin(&st, &tx), 0);
        struct skey v;
        skey_make1(&v, i);
        ASSERT_EQ(store_put(&tx, DB_META, &k, v.b, 8, 0), 0);
        ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

        struct store_tx rd;
        ASSERT_EQ(store_read_begin(&st, &rd), 0);
        ASSERT_EQ(st.reader_active, 1);
        MDB_txn *reader = st.reader;
        unsigned char got[8];
        ASSERT_EQ(store_get_rec(&rd, DB_META, &k, got, 8), 0);
        ASSERT_EQ(store_be64(got), i);
        store_read_end(&rd);
        ASSERT_EQ(st.reader_active, 0);
        /* Renewed, not re-created. */
        ASSERT(st.reader == reader);
    }
    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_grow_doubles_and_keeps_data)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 4 << 20, STORE_SYNC_NONE), 0);
    size_t before = st.map_size;
    ASSERT(before >= (size_t)4 << 20);

    struct store_tx tx;
    ASSERT_EQ(write_begin(&st, &tx), 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct skey k;
        skey_make1(&k, i);
        ASSERT_EQ(store_put(&tx, DB_PURCHASES, &k, &i, sizeof(i), 0), 0);
    }
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    /* A reset reader exists: grow must drop it and the next read must still work. */
    struct store_tx rd;
    ASSERT_EQ(store_read_begin(&st, &rd), 0);
    store_read_end(&rd);

    ASSERT_EQ(store_grow(&st), 0);
    ASSERT_EQ(st.map_size, before * 2);
    MDB_envinfo info;
    mdb_env_info(st.env, &info);
    ASSERT_EQ(info.me_mapsize, before * 2);
    ASSERT_EQ(store_grow(&st), 0);
    ASSERT_EQ(st.map_size, before * 4);

    ASSERT_EQ(store_read_begin(&st, &rd), 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct skey k;
        skey_make1(&k, i);
        uint64_t got = 0;
        ASSERT_EQ(store_get_rec(&rd, DB_PURCHASES, &k, &got, sizeof(got)), 0);
        ASSERT_EQ(got, i);
    }
    store_read_end(&rd);
    ASSERT(store_used_bytes(&st) > 0);
    ASSERT(store_used_bytes(&st) <= st.map_size);

    /* LMDB records the map size in the meta page of the next commit. */
    ASSERT_EQ(write_begin(&st, &tx), 0);
    struct skey k;
    skey_make1(&k, 1000);
    ASSERT_EQ(store_put(&tx, DB_PURCHASES, &k, "z", 1, 0), 0);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);
    store_close(&st);

    /* The grown size survives a reopen that asks for less. */
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_NONE), 0);
    ASSERT_EQ(st.map_size, before * 4);
    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_put_flags_map_full)
{
    char *dir = test_tmpdir();
    struct store st;
    ASSERT_EQ(store_open(&st, dir, 1 << 20, STORE_SYNC_NONE), 0);
    struct store_tx tx;
    ASSERT_EQ(write_begin(&st, &tx), 0);
    static char big[64 << 10];
    int rc = 0;
    for (uint64_t i = 0; i < 1000 && rc == 0; i++) {
        struct skey k;
        skey_make1(&k, i);
        rc = store_put(&tx, DB_OUTBOX, &k, big, sizeof(big), 0);
    }
    /* 64 MB of values cannot fit a 1 MiB map: the put says so and flags the txn. */
    ASSERT_EQ(rc, RG_ENOSPC);
    ASSERT_EQ(tx.map_full, 1);
    mdb_txn_abort(tx.txn);
    store_close(&st);
    rm_store_dir(dir);
}

TEST(store_err_maps_codes)
{
    ASSERT_EQ(store_err(0), 0);
    ASSERT_EQ(store_err(MDB_NOTFOUND), RG_ENOTFOUND);
    ASSERT_EQ(store_err(MDB_KEYEXIST), RG_EEXIST);
    ASSERT_EQ(store_err(ENOSPC), RG_ENOSPC);
    ASSERT_EQ(store_err(ENOMEM), RG_ENOMEM);
    ASSERT_EQ(store_err(MDB_CORRUPTED), RG_EIO);
    struct store_tx tx = {0};
    ASSERT_EQ(store_tx_err(&tx, MDB_MAP_FULL), RG_ENOSPC);
    ASSERT_EQ(tx.map_full, 1);
    tx.map_full = 0;
    ASSERT_EQ(store_tx_err(&tx, MDB_NOTFOUND), RG_ENOTFOUND);
    ASSERT_EQ(tx.map_full, 0);
}
