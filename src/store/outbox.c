/*
 * The outbox: per-recipient event numbering and the replay window (see outbox.h).
 *
 * Layout (store.h): DB_OUTBOX_HEAD maps a recipient to the last seq it was issued, and
 * DB_OUTBOX maps (recipient, seq) to the complete frame text. Both are written in the
 * caller's write txn, so an event exists exactly when the change that caused it does, and
 * its seq is only "used" if that txn commits: numbering stays gap-free across aborts.
 *
 * Pruning is incremental: appending seq N deletes seq N - OUTBOX_KEEP, so each recipient
 * holds exactly its last OUTBOX_KEEP events without any sweep.
 */
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

int outbox_last_seq(struct store_tx *tx, uint64_t recipient, uint64_t *seq)
{
    struct skey k;
    MDB_val val;
    skey_make1(&k, recipient);
    int rc = store_get(tx, DB_OUTBOX_HEAD, &k, &val);
    if (rc == RG_ENOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (val.mv_size != 8)
        return RG_EIO;
    *seq = store_be64(val.mv_data);
    return 0;
}

int outbox_append(struct store_tx *tx, uint64_t recipient, const char *type, int64_t at,
                  const char *data_json, size_t data_len, struct buf *frame, uint64_t *seq)
{
    int rc;
    uint64_t last;
    struct skey k, v;

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

    skey_make1(&k, recipient);
    skey_make1(&v, next);
    if ((rc = store_put(tx, DB_OUTBOX_HEAD, &k, v.b, 8, 0)))
        return rc;
    skey_make2(&k, recipient, next);
    if ((rc = store_put(tx, DB_OUTBOX, &k, frame->data, frame->len, 0)))
        return rc;
    if (next > OUTBOX_KEEP) {
        skey_make2(&k, recipient, next - OUTBOX_KEEP);
        rc = store_del(tx, DB_OUTBOX, &k);
        if (rc && rc != RG_ENOTFOUND)
            return rc;
    }
    *seq = next;
    return 0;
}
