/* The outbox: gap-free per-recipient seqs, exact frame bytes, pruning to OUTBOX_KEEP. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/buf.h"
#include "regulars/error.h"
#include "regulars/model.h"
#include "regulars/outbox.h"
#include "regulars/store.h"
#include "test.h"

static struct store st;
static char *dir;

static int open_store(void)
{
    dir = test_tmpdir();
    return store_open(&st, dir, 64u << 20, STORE_SYNC_NONE);
}

static void close_store(void)
{
    char path[4200];
    store_close(&st);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    free(dir);
}

/* A write txn on the store, as the writer thread would hand a command. */
static int begin_write(struct store_tx *tx)
{
    memset(tx, 0, sizeof(*tx));
    tx->st = &st;
    return mdb_txn_begin(st.env, NULL, 0, &tx->txn);
}

/* Appends with data {"n":i}; returns the rg_err and the seq. */
static int append_n(struct store_tx *tx, uint64_t r, int i, struct buf *frame, uint64_t *seq)
{
    char data[32];
    int n = snprintf(data, sizeof(data), "{\"n\":%d}", i);
    return outbox_append(tx, r, "test.event", 1000 + i, data, (size_t)n, frame, seq);
}

/* Number of stored events of r, and the lowest and highest stored seq. */
static size_t stored(struct store_tx *tx, uint64_t r, uint64_t *lo, uint64_t *hi)
{
    MDB_cursor *cur;
    struct skey k;
    size_t count = 0;
    *lo = *hi = 0;
    if (store_cursor(tx, DB_OUTBOX, &cur))
        return (size_t)-1;
    skey_make2(&k, r, 0);
    MDB_val key = skey_val(&k), val;
    int rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size == 16 && store_be64(key.mv_data) == r) {
        uint64_t s = store_be64((const char *)key.mv_data + 8);
        if (!count)
            *lo = s;
        *hi = s;
        count++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return count;
}

TEST(frame_bytes_exact)
{
    struct store_tx tx;
    struct buf frame;
    uint64_t seq = 99;
    buf_init(&frame);
    ASSERT_EQ(open_store(), 0);
    ASSERT_EQ(begin_write(&tx), 0);
    uint64_t r = store_recipient(RG_KIND_USER, 7);
    const char *data = "{\"kind\":\"purchase\",\"points\":12}";
    ASSERT_EQ(outbox_append(&tx, r, "points.earned", INT64_C(1700000000123), data, strlen(data),
                            &frame, &seq),
              0);
    ASSERT_EQ(seq, 1);
    const char *want = "{\"seq\":1,\"type\":\"points.earned\",\"at\":1700000000123,"
                       "\"data\":{\"kind\":\"purchase\",\"points\":12}}";
    ASSERT_MEMEQ(frame.data, frame.len, want, strlen(want));

    /* The stored value is the same bytes. */
    struct skey k;
    MDB_val val;
    skey_make2(&k, r, 1);
    ASSERT_EQ(store_get(&tx, DB_OUTBOX, &k, &val), 0);
    ASSERT_MEMEQ(val.mv_data, val.mv_size, want, strlen(want));

    /* The frame buffer is reset, not appended to. */
    ASSERT_EQ(outbox_append(&tx, r, "friend.request", -5, "{}", 2, &frame, &seq), 0);
    ASSERT_EQ(seq, 2);
    ASSERT_STREQ(frame.data, "{\"seq\":2,\"type\":\"friend.request\",\"at\":-5,\"data\":{}}");

    mdb_txn_abort(tx.txn);
    buf_fini(&frame);
    close_store();
}

TEST(seqs_gap_free_and_independent)
{
    struct store_tx tx;
    struct buf frame;
    uint64_t seq, last;
    buf_init(&frame);
    ASSERT_EQ(open_store(), 0);
    uint64_t a = store_recipient(RG_KIND_USER, 1), b = store_recipient(RG_KIND_MERCHANT, 1);

    ASSERT_EQ(begin_write(&tx), 0);
    ASSERT_EQ(outbox_last_seq(&tx, a, &last), 0);
    ASSERT_EQ(last, 0);
    for (int i = 1; i <= 10; i++) {
        ASSERT_EQ(append_n(&tx, a, i, &frame, &seq), 0);
        ASSERT_EQ(seq, i);
        if (i % 2 == 0) {
            ASSERT_EQ(append_n(&tx, b, i, &frame, &seq), 0);
            ASSERT_EQ(seq, i / 2);
        }
    }
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    /* Across txns, numbering continues; an aborted txn issues nothing. */
    ASSERT_EQ(begin_write(&tx), 0);
    ASSERT_EQ(append_n(&tx, a, 11, &frame, &seq), 0);
    ASSERT_EQ(seq, 11);
    mdb_txn_abort(tx.txn);
    ASSERT_EQ(begin_write(&tx), 0);
    ASSERT_EQ(append_n(&tx, a, 11, &frame, &seq), 0);
    ASSERT_EQ(seq, 11);
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    ASSERT_EQ(store_read_begin(&st, &tx), 0);
    ASSERT_EQ(outbox_last_seq(&tx, a, &last), 0);
    ASSERT_EQ(last, 11);
    ASSERT_EQ(outbox_last_seq(&tx, b, &last), 0);
    ASSERT_EQ(last, 5);
    ASSERT_EQ(outbox_last_seq(&tx, store_recipient(RG_KIND_USER, 2), &last), 0);
    ASSERT_EQ(last, 0);
    uint64_t lo, hi;
    ASSERT_EQ(stored(&tx, a, &lo, &hi), 11);
    ASSERT_EQ(lo, 1);
    ASSERT_EQ(hi, 11);
    ASSERT_EQ(stored(&tx, b, &lo, &hi), 5);
    /* Each stored frame carries its own seq. */
    struct skey k;
    MDB_val val;
    skey_make2(&k, b, 3);
    ASSERT_EQ(store_get(&tx, DB_OUTBOX, &k, &val), 0);
    const char *want = "{\"seq\":3,\"type\":\"test.event\",\"at\":1006,\"data\":{\"n\":6}}";
    ASSERT_MEMEQ(val.mv_data, val.mv_size, want, strlen(want));
    store_read_end(&tx);

    buf_fini(&frame);
    close_store();
}

TEST(keeps_at_least_the_last_1000)
{
    struct store_tx tx;
    struct buf frame;
    uint64_t seq, lo, hi;
    buf_init(&frame);
    ASSERT_EQ(open_store(), 0);
    uint64_t a = store_recipient(RG_KIND_USER, 42), b = store_recipient(RG_KIND_USER, 43);

    ASSERT_EQ(begin_write(&tx), 0);
    ASSERT_EQ(append_n(&tx, b, 0, &frame, &seq), 0);
    for (int i = 1; i <= 1500; i++) {
        ASSERT_EQ(append_n(&tx, a, i, &frame, &seq), 0);
        ASSERT_EQ(seq, i);
        /* After every append: the newest events, none missing, at least KEEP of them (or all
         * there are) and fewer than KEEP + PRUNE. */
        uint64_t n = stored(&tx, a, &lo, &hi);
        ASSERT_EQ(hi, i);
        ASSERT_EQ(n, hi - lo + 1);
        ASSERT(n >= (i < OUTBOX_KEEP ? (uint64_t)i : OUTBOX_KEEP));
        ASSERT(n < OUTBOX_KEEP + OUTBOX_PRUNE);
        /* The old end is pruned in runs, not one event per append. */
        if (i == OUTBOX_KEEP + OUTBOX_PRUNE - 1)
            ASSERT_EQ(lo, 1);
        if (i == OUTBOX_KEEP + OUTBOX_PRUNE)
            ASSERT_EQ(lo, OUTBOX_PRUNE + 1);
    }
    ASSERT_EQ(mdb_txn_commit(tx.txn), 0);

    ASSERT_EQ(store_read_begin(&st, &tx), 0);
    /* The last prune was at 1448 (1000 + 7 x 64): it deleted up to 448. */
    ASSERT_EQ(stored(&tx, a, &lo, &hi), 1052);
    ASSERT_EQ(lo, 449);
    ASSERT_EQ(hi, 1500);
    /* Another recipient's events are untouched by a's pruning. */
    ASSERT_EQ(stored(&tx, b, &lo, &hi), 1);
    ASSERT_EQ(outbox_last_seq(&tx, a, &seq), 0);
    ASSERT_EQ(seq, 1500);
    ASSERT_EQ(outbox_last_seq(&tx, b, &seq), 0);
    ASSERT_EQ(seq, 1);
    store_read_end(&tx);

    buf_fini(&frame);
    close_store();
}

TEST(rejects_bad_input)
{
    struct store_tx tx;
    struct buf frame;
    uint64_t seq = 0, last;
    buf_init(&frame);
    ASSERT_EQ(open_store(), 0);
    ASSERT_EQ(begin_write(&tx), 0);
    uint64_t a = store_recipient(RG_KIND_USER, 1);
    ASSERT_EQ(outbox_append(&tx, a, "bad\"type", 1, "{}", 2, &frame, &seq), RG_EINVAL);
    ASSERT_EQ(outbox_append(&tx, a, "", 1, "{}", 2, &frame, &seq), RG_EINVAL);
    ASSERT_EQ(outbox_append(&tx, a, "ok", 1, "[]", 2, &frame, &seq), RG_EINVAL);
    ASSERT_EQ(outbox_append(&tx, a, "ok", 1, "", 0, &frame, &seq), RG_EINVAL);
    /* Nothing was issued by the failures. */
    ASSERT_EQ(outbox_last_seq(&tx, a, &last), 0);
    ASSERT_EQ(last, 0);
    ASSERT_EQ(outbox_append(&tx, a, "ok", 1, "{}", 2, &frame, &seq), 0);
    ASSERT_EQ(seq, 1);
    mdb_txn_abort(tx.txn);
    buf_fini(&frame);
    close_store();
}
