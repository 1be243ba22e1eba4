/*
 * The push hub (see hub.h): recipient -> open WebSockets, hello + outbox replay on open,
 * and live delivery in seq order without duplicates.
 *
 * Each connection keeps two numbers: `target`, the highest seq this client is owed, and
 * `queued`, the highest seq handed to its WebSocket. On open, target is the outbox head read
 * in the same read txn as the hello (so an event committed before is either replayed, when
 * since is given, or covered by hello's last_seq), and queued is since (or target). Then:
 *   - the replay is paced: frames are read from the outbox into the connection's queue until
 *     it is half full, and again each time it drains (on_drain), so a replay of 1000 events
 *     never trips the queue limit that protects us from clients that stop reading;
 *   - a live event with seq <= target is already owed, and skipped; one that arrives while the
 *     client is caught up (queued == target) is queued directly; one that arrives during a
 *     replay only raises target, and the pump reads it from the outbox in order.
 * Everything runs on the loop thread, so nothing can be published between the snapshot and
 * the registration.
 *
 * Client messages are ignored: the stream is server-to-client, and keepalive is the
 * WebSocket ping/pong that libwebsockets answers itself.
 *
 * The registry is a chained hash table of recipients, each with a doubly linked list of its
 * connections; a recipient's entry exists only while it has a connection.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/buf.h"
#include "regulars/clock.h"
#include "regulars/error.h"
#include "regulars/hub.h"
#include "regulars/log.h"
#include "regulars/outbox.h"

struct hub_rcpt;

/* A connection's hub state, stored in its ws_conn data slot. */
struct hub_conn {
    struct hub_rcpt *r;
    struct ws_conn *c;
    uint64_t recipient;
    uint64_t target; /* highest seq this client is owed */
    uint64_t queued; /* highest seq handed to its WebSocket (or covered by hello) */
    struct hub_conn *prev, *next;
};

struct hub_rcpt {
    uint64_t recipient;
    struct hub_conn *conns;
    size_t count;
    struct hub_rcpt *next; /* bucket chain */
};

struct hub {
    struct store *st;
    struct hub_rcpt **buckets;
    size_t nbuckets; /* a power of two */
    size_t nrcpt;
    struct buf scratch; /* the hello frame */
};

#define HUB_MIN_BUCKETS 64

/* ------------------------------------------------------------------------------------- */
/* Registry                                                                              */
/* ------------------------------------------------------------------------------------- */

static size_t bucket_of(const struct hub *h, uint64_t recipient)
{
    /* Fibonacci hashing: recipients are (kind << 56) | sequential id. */
    return (size_t)((recipient * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (h->nbuckets - 1);
}

static struct hub_rcpt *rcpt_find(const struct hub *h, uint64_t recipient)
{
    struct hub_rcpt *r = h->buckets[bucket_of(h, recipient)];
    while (r && r->recipient != recipient)
        r = r->next;
    return r;
}

static void grow(struct hub *h)
{
    size_t n = h->nbuckets * 2;
    struct hub_rcpt **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* chains just get longer */
    struct hub_rcpt **old = h->buckets;
    size_t oldn = h->nbuckets;
    h->buckets = b;
    h->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        struct hub_rcpt *r = old[i];
        while (r) {
            struct hub_rcpt *next = r->next;
            size_t k = bucket_of(h, r->recipient);
            r->next = b[k];
            b[k] = r;
            r = next;
        }
    }
    free(old);
}

static struct hub_rcpt *rcpt_get(struct hub *h, uint64_t recipient)
{
    struct hub_rcpt *r = rcpt_find(h, recipient);
    if (r)
        return r;
    if (!(r = calloc(1, sizeof(*r))))
        return NULL;
    if (h->nrcpt >= h->nbuckets)
        grow(h);
    size_t k = bucket_of(h, recipient);
    r->recipient = recipient;
    r->next = h->buckets[k];
    h->buckets[k] = r;
    h->nrcpt++;
    return r;
}

static void rcpt_drop(struct hub *h, struct hub_rcpt *r)
{
    struct hub_rcpt **pp = &h->buckets[bucket_of(h, r->recipient)];
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    h->nrcpt--;
    free(r);
}

static void conn_link(struct hub_rcpt *r, struct hub_conn *hc)
{
    hc->r = r;
    hc->prev = NULL;
    hc->next = r->conns;
    if (r->conns)
        r->conns->prev = hc;
    r->conns = hc;
    r->count++;
}

static void conn_unlink(struct hub *h, struct hub_conn *hc)
{
    struct hub_rcpt *r = hc->r;
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        r->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    if (--r->count == 0)
        rcpt_drop(h, r);
}

/* ------------------------------------------------------------------------------------- */
/* WebSocket callbacks                                                                   */
/* ------------------------------------------------------------------------------------- */

/* Queues stored events queued < seq <= target, in order, until the connection's queue is
 * half full (the rest follows on drain). Reads in the loop's read txn, or in the one already
 * open (an upgrade is handed over from inside an HTTP handler). */
static int pump(struct hub *h, struct hub_conn *hc)
{
    struct store_tx tx;
    int rc = 0, own_txn = 0;
    if (hc->queued >= hc->target)
        return 0;
    if (h->st->reader_active) {
        tx.txn = h->st->reader;
        tx.st = h->st;
    } else {
        if ((rc = store_read_begin(h->st, &tx)))
            return rc;
        own_txn = 1;
    }
    MDB_cursor *cur;
    struct skey k;
    if ((rc = store_cursor(&tx, DB_OUTBOX, &cur)))
        goto out;
    skey_make2(&k, hc->recipient, hc->queued + 1);
    MDB_val key = skey_val(&k), val;
    size_t budget = ws_conn_limit(hc->c) / 2;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size == 16 && store_be64(key.mv_data) == hc->recipient) {
        uint64_t seq = store_be64((const char *)key.mv_data + 8);
        if (seq > hc->target || ws_conn_queued(hc->c) + val.mv_size > budget)
            break;
        if (ws_conn_send(hc->c, val.mv_data, val.mv_size))
            break; /* closing */
        hc->queued = seq;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    /* Events pruned from the outbox or past its end: nothing more to read for now. */
    if (mrc == MDB_NOTFOUND || (mrc == 0 && (key.mv_size != 16 ||
                                             store_be64(key.mv_data) != hc->recipient)))
        hc->queued = hc->target;
    mdb_cursor_close(cur);
    if (mrc && mrc != MDB_NOTFOUND)
        rc = store_err(mrc);
out:
    if (own_txn)
        store_read_end(&tx);
    return rc;
}

static int hub_on_open(void *ctx, struct ws_conn *c, uint64_t recipient, int64_t since)
{
    struct hub *h = ctx;
    struct store_tx tx;
    uint64_t last = 0;
    int rc, own_txn = 0;

    struct hub_conn *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return RG_ENOMEM;
    memset(&tx, 0, sizeof(tx));
    /* The loop thread has one read txn and it is not reentrant. An upgrade is normally
     * handed over after the HTTP handler ended its txn; if one is still open, read in it
     * (same thread, and nothing was published since it began). */
    if (h->st->reader_active) {
        tx.txn = h->st->reader;
        tx.st = h->st;
    } else {
        if ((rc = store_read_begin(h->st, &tx)))
            goto fail;
        own_txn = 1;
    }
    if ((rc = outbox_last_seq(&tx, recipient, &last)))
        goto fail;
    if (own_txn)
        store_read_end(&tx);
    own_txn = 0;

    buf_reset(&h->scratch);
    if (buf_printf(&h->scratch,
                   "{\"seq\":0,\"type\":\"hello\",\"at\":%" PRId64
                   ",\"data\":{\"last_seq\":%" PRIu64 "}}",
                   clock_now_ms(), last)) {
        rc = RG_ENOMEM;
        goto fail;
    }
    struct hub_rcpt *r = rcpt_get(h, recipient);
    if (!r) {
        rc = RG_ENOMEM;
        goto fail;
    }
    hc->c = c;
    hc->recipient = recipient;
    hc->target = last;
    hc->queued = since >= 0 && (uint64_t)since < last ? (uint64_t)since : last;
    conn_link(r, hc);
    ws_conn_set_data(c, hc);
    /* A failed send means the connection is already closing (queue limit); it stays
     * registered so that on_close finds it. */
    if (ws_conn_send(c, h->scratch.data, h->scratch.len) == 0)
        pump(h, hc);
    return 0;

fail:
    if (own_txn)
        store_read_end(&tx);
    log_warn("hub: cannot open stream of recipient %" PRIu64 ": %s", recipient, rg_strerror(rc));
    free(hc);
    return rc;
}

static void hub_on_drain(void *ctx, struct ws_conn *c)
{
    struct hub_conn *hc = ws_conn_get_data(c);
    if (hc)
        pump(ctx, hc);
}

static void hub_on_message(void *ctx, struct ws_conn *c, const char *data, size_t len)
{
    /* Nothing to do: see the file comment. */
    (void)ctx;
    (void)c;
    (void)data;
    (void)len;
}

static void hub_on_close(void *ctx, struct ws_conn *c)
{
    struct hub *h = ctx;
    struct hub_conn *hc = ws_conn_get_data(c);
    if (!hc)
        return;
    ws_conn_set_data(c, NULL);
    conn_unlink(h, hc);
    free(hc);
}

/* ------------------------------------------------------------------------------------- */
/* Public API                                                                            */
/* ------------------------------------------------------------------------------------- */

struct hub *hub_new(struct store *st)
{
    struct hub *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->st = st;
    h->nbuckets = HUB_MIN_BUCKETS;
    if (!(h->buckets = calloc(h->nbuckets, sizeof(*h->buckets)))) {
        free(h);
        return NULL;
    }
    buf_init(&h->scratch);
    return h;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    /* Normally empty: ws_server_free has closed every connection by now. */
    for (size_t i = 0; i < h->nbuckets; i++) {
        struct hub_rcpt *r = h->buckets[i];
        while (r) {
            struct hub_rcpt *next = r->next;
            struct hub_conn *hc = r->conns;
            while (hc) {
                struct hub_conn *hn = hc->next;
                free(hc);
                hc = hn;
            }
            free(r);
            r = next;
        }
    }
    free(h->buckets);
    buf_fini(&h->scratch);
    free(h);
}

void hub_ws_callbacks(struct hub *h, struct ws_callbacks *cb)
{
    cb->on_open = hub_on_open;
    cb->on_message = hub_on_message;
    cb->on_drain = hub_on_drain;
    cb->on_close = hub_on_close;
    cb->ctx = h;
}

void hub_publish(struct hub *h, uint64_t recipient, uint64_t seq, const char *frame, size_t len)
{
    struct hub_rcpt *r = rcpt_find(h, recipient);
    if (!r)
        return;
    /* ws_conn_send never closes synchronously, so the list is stable while we walk it. */
    for (struct hub_conn *hc = r->conns; hc; hc = hc->next) {
        if (seq <= hc->target)
            continue; /* owed already: replayed or about to be */
        if (hc->queued == hc->target && seq == hc->target + 1) {
            hc->target = hc->queued = seq;
            ws_conn_send(hc->c, frame, len);
        } else {
            hc->target = seq; /* mid-replay: the pump reads it from the outbox, in order */
            pump(h, hc);
        }
    }
}

size_t hub_count(const struct hub *h, uint64_t recipient)
{
    const struct hub_rcpt *r = rcpt_find(h, recipient);
    return r ? r->count : 0;
}
