/*
 * The outbox: per-recipient event numbering and the replay window (see outbox.h).
 *
 * Layout (store.h): DB_OUTBOX maps (recipient, seq) to the complete frame text. It is written
 * in the caller's write txn, so an event exists exactly when the change that caused it does,
 * and its seq is only "used" if that txn commits: numbering stays gap-free across aborts. A
 * recipient's last seq is its last key, found with one cursor seek; no separate counter is
 * kept, because a counter record per recipient was one more B-tree leaf for every commit to
 * write and sync (a purchase went from 19.0 to 18.1 pages without it).
 *
 * Pruning is incremental and stateless: once a recipient holds OUTBOX_KEEP + OUTBOX_PRUNE
 * events, the append deletes the oldest OUTBOX_PRUNE of them in one cursor run. So each
 * recipient keeps between OUTBOX_KEEP and OUTBOX_KEEP + OUTBOX_PRUNE - 1 events, and the old
 * end of its range is touched once per OUTBOX_PRUNE appends instead of on every one.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/outbox.h"

/* An event type goes into the frame verbatim between quotes, so it must need no JSON
 * escaping. Types are fixed identifiers ("points.earned"); anything else is a bug. */
static int type_valid(const char *type)
{
    if (!type || !*type)
        return 0;
    for (const unsigned char *p = (const unsigned char *)type; *p; p++)
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p >= 0x7f)
            return 0;
    return 1;
}

/* Whether key k (16 bytes: recipient, seq) is one of recipient's events; sets *seq if so. */
static int key_of(const MDB_val *k, uint64_t recipient, uint64_t *seq)
{
    if (k->mv_size != 16 || store_be64(k->mv_data) != recipient)
        return 0;
    *seq = store_be64((const unsigned char *)k->mv_data + 8);
    return 1;
}

int outbox_last_seq(struct store_tx *tx, uint64_t recipient, uint64_t *seq)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct skey past;
    int rc = store_cursor(tx, DB_OUTBOX, &cur);
    if (rc)
        return rc;
    /* The last key below (recipient, max) is the recipient's newest event, if it is theirs. */
    skey_make2(&past, recipient, UINT64_MAX);
    k = skey_val(&past);
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    mrc = mdb_cursor_get(cur, &k, &v, mrc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
    *seq = 0;
    if (mrc == 0)
        key_of(&k, recipient, seq);
    else if (mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

/* Deletes recipient's events first..last (those that exist). */
static int prune(struct store_tx *tx, uint64_t recipient, uint64_t first, uint64_t last)
{
    MDB_cursor *cur;
    MDB_val k, v;
    struct skey start;
    uint64_t seq;
    int rc = store_cursor(tx, DB_OUTBOX, &cur);
    if (rc)
        return rc;
    skey_make2(&start, recipient, first);
    k = skey_val(&start);
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0 && key_of(&k, recipient, &seq) && seq <= last) {
        if ((rc = store_tx_err(tx, mdb_cursor_del(cur, 0))))
            break;
        /* After a delete the cursor stands on the next key (or past the end). */
        mrc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
    }
    if (!rc && mrc != 0 && mrc != MDB_NOTFOUND && mrc != EINVAL)
        rc = store_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

int outbox_append(struct store_tx *tx, uint64_t recipient, const char *type, int64_t at,
                  const char *data_json, size_t data_len, struct buf *frame, uint64_t *seq)
{
    int rc;
    uint64_t last;
    struct skey k;

    /* A cheap shape check only: the caller built data_json with jansson. */
    if (!type_valid(type) || !data_json || data_len < 2 || data_json[0] != '{' ||
        data_json[data_len - 1] != '}')
        return RG_EINVAL;
    if ((rc = outbox_last_seq(tx, recipient, &last)))
        return rc;
    uint64_t next = last + 1;

    buf_reset(frame);
    if (buf_printf(frame, "{\"seq\":%" PRIu64 ",\"type\":\"%s\",\"at\":%" PRId64 ",\"data\":", next,
                   type, at) ||
        buf_append(frame, data_json, data_len) || buf_append(frame, "}", 1))
        return RG_ENOMEM;

    skey_make2(&k, recipient, next);
    if ((rc = store_put(tx, DB_OUTBOX, &k, frame->data, frame->len, 0)))
        return rc;
    if (next >= OUTBOX_KEEP + OUTBOX_PRUNE && (next - OUTBOX_KEEP) % OUTBOX_PRUNE == 0 &&
        (rc = prune(tx, recipient, next - OUTBOX_KEEP - OUTBOX_PRUNE + 1, next - OUTBOX_KEEP)))
        return rc;
    *seq = next;
    return 0;
}
