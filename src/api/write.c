/*
 * Writes through the commit pipeline (commit.h), with idempotency keys and events.
 *
 * A write request becomes one command. On the writer thread, inside the command's nested
 * txn: prune a few expired idempotency records; if the request carries a key already stored
 * under its scope, replay the stored answer (same body hash) or refuse it
 * (idempotency_mismatch) with no effect; otherwise run the resource's exec (domain call,
 * answer, events to the outbox) and store the answer under the key in the same txn. Two
 * requests with one key in one batch therefore have one effect: the second sees the first's
 * record in the batch txn. Back on the loop, once the batch is durable, the answer is sent
 * and the events are published to the hub.
 *
 * Idempotency record (DB_IDEM value): struct idem_rec followed by the answer's body bytes.
 * DB_IDEM_TIME orders records by creation for pruning; records live at least IDEM_KEEP_MS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/clock.h"
#include "regulars/error.h"
#include "regulars/hub.h"
#include "regulars/ids.h"
#include "regulars/jsontext.h"
#include "regulars/log.h"
#include "regulars/merchants.h"
#include "regulars/outbox.h"
#include "regulars/purchases.h"
#include "regulars/shares.h"
#include "regulars/secrets.h"
#include "regulars/server.h"
#include "regulars/users.h"

#define IDEM_KEEP_MS (25LL * 3600 * 1000) /* promised: at least 24 hours */
#define IDEM_PRUNE_PER_WRITE 8

struct idem_rec {
    unsigned char hash[32];
    int64_t created_at;
    int32_t status;
    uint32_t body_len;
};

void api_write_init(struct api_write *w, struct req *r,
                    int (*exec)(struct store_tx *, struct api_write *))
{
    memset(w, 0, sizeof(*w));
    w->r = r;
    w->srv = r ? r->srv : NULL;
    w->exec = exec;
    w->now = clock_now_ms();
    buf_init(&w->body);
}

int api_write_idempotency(struct api_write *w, uint64_t scope, json_t *body)
{
    size_t len;
    const char *key = http_request_header(w->r->http, "Idempotency-Key", &len);
    if (!key)
        return 0;
    if (len < 1 || len > 64) {
        req_send_error(w->r, 400, "bad_request", "Idempotency-Key must be 1 to 64 characters");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e) {
            req_send_error(w->r, 400, "bad_request",
                           "Idempotency-Key must be printable ASCII without spaces");
            return -1;
        }
    /* Equal bodies, whatever their spacing or key order, hash the same. */
    struct buf canon;
    buf_init(&canon);
    if (jsontext_dump(&canon, body, JSONTEXT_SORT_KEYS)) {
        buf_fini(&canon);
        req_send_error(w->r, 500, "internal", "cannot encode the request");
        return -1;
    }
    secrets_hash(canon.data, canon.len, w->idem_hash);
    buf_fini(&canon);
    memcpy(w->idem_key, key, len);
    w->idem_key[len] = '\0';
    w->idem_scope = scope;
    return 0;
}

static void idem_key(struct skey *k, uint64_t scope, const char *key)
{
    skey_make1(k, scope);
    skey_bytes(k, key, strlen(key));
}

static int idem_prune(struct store_tx *tx, int64_t now)
{
    MDB_cursor *cur;
    int rc = store_cursor(tx, DB_IDEM_TIME, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    int n = 0;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == 0 && n < IDEM_PRUNE_PER_WRITE && k.mv_size > 16) {
        int64_t at = store_bei64(k.mv_data);
        if (at >= now - IDEM_KEEP_MS)
            break;
        struct skey ik;
        skey_reset(&ik);
        skey_bytes(&ik, (const char *)k.mv_data + 8, k.mv_size - 8);
        /* Only the record of that time: the key may have been used again since. */
        MDB_val iv;
        if (store_get(tx, DB_IDEM, &ik, &iv) == 0 && iv.mv_size >= sizeof(struct idem_rec)) {
            struct idem_rec rec;
            memcpy(&rec, iv.mv_data, sizeof(rec));
            if (rec.created_at == at && (rc = store_del(tx, DB_IDEM, &ik)))
                break;
        }
        if ((rc = store_tx_err(tx, mdb_cursor_del(cur, 0))))
            break;
        n++;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (mrc == MDB_NOTFOUND || mrc == EINVAL)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    mdb_cursor_close(cur);
    return rc;
}

static void reset_outputs(struct api_write *w)
{
    for (size_t i = 0; i < w->nframes; i++)
        free(w->frames[i].frame);
    w->nframes = 0;
    w->status = 0;
    w->replayed = 0;
    w->ctype = NULL;
    w->err_field = NULL;
    w->err_why = NULL;
    buf_reset(&w->body);
}

static int write_run(struct store_tx *tx, struct commit_cmd *cmd)
{
    struct api_write *w = (struct api_write *)cmd;
    int rc;
    reset_outputs(w);
    if ((rc = idem_prune(tx, w->now)))
        return rc;
    struct skey ik;
    if (w->idem_scope) {
        MDB_val v;
        idem_key(&ik, w->idem_scope, w->idem_key);
        rc = store_get(tx, DB_IDEM, &ik, &v);
        if (rc == 0 && v.mv_size >= sizeof(struct idem_rec)) {
            struct idem_rec rec;
            memcpy(&rec, v.mv_data, sizeof(rec));
            if (memcmp(rec.hash, w->idem_hash, 32) != 0)
                return RG_E_IDEM_MISMATCH;
            w->status = rec.status;
            w->replayed = 1;
            return buf_append(&w->body, (const char *)v.mv_data + sizeof(rec), rec.body_len);
        }
        if (rc && rc != RG_ENOTFOUND)
            return rc;
    }
    if ((rc = w->exec(tx, w)))
        return rc;
    if (w->idem_scope) {
        size_t n = sizeof(struct idem_rec) + w->body.len;
        char *val = malloc(n);
        if (!val)
            return RG_ENOMEM;
        struct idem_rec rec;
        memcpy(rec.hash, w->idem_hash, 32);
        rec.created_at = w->now;
        rec.status = w->status;
        rec.body_len = (uint32_t)w->body.len;
        memcpy(val, &rec, sizeof(rec));
        memcpy(val + sizeof(rec), w->body.data, w->body.len);
        rc = store_put(tx, DB_IDEM, &ik, val, n, 0);
        free(val);
        if (rc)
            return rc;
        struct skey tk;
        skey_reset(&tk);
        skey_i64(&tk, w->now);
        skey_bytes(&tk, ik.b, ik.len);
        if ((rc = store_put(tx, DB_IDEM_TIME, &tk, "", 0, 0)))
            return rc;
    }
    return 0;
}

static void write_free(struct api_write *w)
{
    reset_outputs(w);
    buf_fini(&w->body);
    if (w->fini)
        w->fini(w);
    free(w);
}

static void write_done(struct commit_cmd *cmd, int status)
{
    struct api_write *w = (struct api_write *)cmd;
    struct req *r = w->r;
    if (status == 0) {
        if (r)
            req_send(r, w->status,
                     w->status == 204 ? NULL : w->ctype ? w->ctype : "application/json",
                     w->body.data,
                     w->body.len, NULL);
        for (size_t i = 0; i < w->nframes; i++)
            hub_publish(w->srv->hub, w->frames[i].recipient, w->frames[i].seq,
                        w->frames[i].frame, w->frames[i].len);
    } else if (!r) {
        log_warn("internal write failed: %s", rg_strerror(status));
    } else if (status == RG_EINVAL && w->err_field) {
        api_invalid(r, w->err_field, w->err_why ? w->err_why : "is invalid");
    } else {
        if (status == RG_EIO || status == RG_ENOSPC)
            log_error("write failed: %s", rg_strerror(status));
        api_send_rc(r, status);
    }
    write_free(w);
}

void api_write_submit(struct api_write *w)
{
    w->cmd.run = write_run;
    w->cmd.done = write_done;
    int rc = commit_submit(w->srv->commit, &w->cmd);
    if (rc) {
        if (w->r)
            api_send_rc(w->r, RG_EBUSY);
        write_free(w);
    }
}

int api_write_answer(struct api_write *w, int status, json_t *v)
{
    buf_reset(&w->body);
    int rc = v ? jsontext_dump(&w->body, v, 0) : RG_ENOMEM;
    json_decref(v);
    w->status = status;
    return rc;
}

/* ---- events ------------------------------------------------------------------------- */

static json_t *merchant_ref(struct store_tx *tx, uint64_t id)
{
    struct rg_merchant *m = malloc(sizeof(*m));
    json_t *o;
    if (m && merchants_get(tx, id, m) == 0)
        o = json_pack("{s:o,s:s}", "id", api_id(IDS_MERCHANT, id), "name", m->name);
    else
        o = json_pack("{s:o,s:s}", "id", api_id(IDS_MERCHANT, id), "name", "");
    free(m);
    return o;
}

static json_t *event_data(struct store_tx *tx, const struct dom_event *e, const char **type)
{
    switch (e->type) {
    case EV_POINTS_EARNED:
        *type = "points.earned";
        return json_pack("{s:s,s:I,s:I,s:o,s:o,s:o,s:o}", "kind", api_ledger_kind(e->kind),
                         "points", (json_int_t)e->points, "balance", (json_int_t)e->balance,
                         "purchase_id", api_id_or_null(IDS_PURCHASE, e->purchase_id), "merchant",
                         merchant_ref(tx, e->merchant_id), "friend",
                         e->friend_id ? api_user_ref(tx, e->friend_id) : json_null(), "share_id",
                         api_id_or_null(IDS_SHARE, e->share_id));
    case EV_POINTS_REVERSED:
        *type = "points.reversed";
        return json_pack("{s:I,s:I,s:o,s:o,s:s}", "points", (json_int_t)e->points, "balance",
                         (json_int_t)e->balance, "purchase_id",
                         api_id_or_null(IDS_PURCHASE, e->purchase_id), "merchant",
                         merchant_ref(tx, e->merchant_id), "reversed_kind",
                         api_ledger_kind(e->reversed_kind));
    case EV_POINTS_REDEEMED: {
        *type = "points.redeemed";
        json_t *reward = json_null();
        struct rg_reward rw;
        if (e->reward_id && merchants_get_reward(tx, e->reward_id, &rw) == 0)
            reward = json_pack("{s:o,s:s}", "id", api_id(IDS_REWARD, rw.id), "title", rw.title);
        return json_pack("{s:I,s:I,s:o,s:s,s:o}", "points", (json_int_t)e->points, "balance",
                         (json_int_t)e->balance, "redemption_id",
                         api_id_or_null(IDS_REDEMPTION, e->redemption_id), "kind",
                         e->kind == RG_RK_REWARD ? "reward" : "cash", "reward", reward);
    }
    case EV_FRIEND_REQUEST:
        *type = "friend.request";
        return json_pack("{s:o}", "from", api_user_ref(tx, e->friend_id));
    case EV_FRIEND_ACCEPTED:
        *type = "friend.accepted";
        return json_pack("{s:o}", "friend", api_user_ref(tx, e->friend_id));
    case EV_PURCHASE:
    case EV_REFUND: {
        struct rg_purchase p;
        if (purchases_get(tx, e->purchase_id, &p))
            return NULL;
        if (e->type == EV_REFUND) {
            *type = "refund";
            json_t *rev = json_array();
            for (uint32_t i = 0; i < p.nawards && i < RG_MAX_AWARDS; i++)
                json_array_append_new(rev, json_pack("{s:o,s:s,s:I}", "user_id",
                                                     api_id(IDS_USER, p.awards[i].user_id),
                                                     "kind", "reversal", "points",
                                                     (json_int_t)-p.awards[i].points));
            return json_pack("{s:o,s:o}", "purchase", api_purchase_json(tx, &p), "reversals",
                             rev);
        }
        *type = "purchase";
        json_t *d = json_pack("{s:o,s:o,s:o}", "purchase", api_purchase_json(tx, &p), "buyer",
                              api_user_ref(tx, p.user_id), "awards", api_awards_json(&p));
        /* For the dashboard's feed: who brought the buyer, and with what words. */
        if (p.share_id) {
            struct rg_share *sh = malloc(sizeof(*sh));
            if (sh && shares_get(tx, p.share_id, sh) == 0)
                json_object_set_new(d, "share", api_share_json(sh));
            free(sh);
            json_object_set_new(d, "sharer", api_user_ref(tx, p.sharer_id));
        } else {
            json_object_set_new(d, "share", json_null());
            json_object_set_new(d, "sharer", json_null());
        }
        return d;
    }
    case EV_SHARE: {
        *type = "share";
        struct rg_share *sh = malloc(sizeof(*sh));
        json_t *d = NULL;
        if (sh && shares_get(tx, e->share_id, sh) == 0)
            d = json_pack("{s:o,s:o}", "share", api_share_json(sh), "user",
                          api_user_ref(tx, sh->user_id));
        free(sh);
        return d;
    }
    }
    return NULL;
}

int api_emit(struct store_tx *tx, struct api_write *w, const struct dom_events *ev)
{
    struct buf frame, text;
    buf_init(&frame);
    buf_init(&text);
    int rc = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const struct dom_event *e = &ev->ev[i];
        const char *type = NULL;
        json_t *data = event_data(tx, e, &type);
        if (!data) {
            rc = RG_EIO;
            break;
        }
        buf_reset(&text);
        rc = jsontext_dump(&text, data, 0);
        json_decref(data);
        if (rc)
            break;
        uint64_t seq;
        if ((rc = outbox_append(tx, e->recipient, type, e->at, text.data, text.len, &frame, &seq)))
            break;
        if (w->nframes == API_MAX_FRAMES) {
            rc = RG_ETOOBIG;
            break;
        }
        struct api_frame *f = &w->frames[w->nframes++];
        f->recipient = e->recipient;
        f->seq = seq;
        f->frame = buf_steal(&frame, &f->len);
    }
    buf_fini(&frame);
    buf_fini(&text);
    return rc;
}
