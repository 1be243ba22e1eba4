/*
 * The API layer: JSON <-> structs for every resource (src/api/<resource>.c), on top of the
 * domain. Helpers shared by the resource files live in api/json.c (parsing, validation,
 * errors, auth) and api/write.c (writes through the commit pipeline, idempotency, events).
 *
 * Every helper that can fail answers the request itself (the right status and JSON error)
 * and returns a negative value; the handler then just returns.
 */
#ifndef REGULARS_API_H
#define REGULARS_API_H

#include <jansson.h>
#include <stdint.h>

#include "regulars/buf.h"
#include "regulars/commit.h"
#include "regulars/events.h"
#include "regulars/model.h"
#include "regulars/request.h"
#include "regulars/store.h"

struct server;

/* ---- answering ---- */

/** Sends body as compact JSON with status; steals body. */
void api_send_json(struct req *r, int status, json_t *body);
/** Sends body's bytes (JSON text the caller wrote) with status, or a 500 when writing it
 *  failed (body->err). body is only read. */
void api_send_text(struct req *r, int status, struct buf *body);
/** An empty buffer for an answer's text, reused by every answer (loop thread only; valid
 *  until the next call). */
struct buf *api_scratch(void);
/** Sends the JSON error for an rg_err from the domain or the store (404, 409 codes, 503 ...). */
void api_send_rc(struct req *r, int rc);
/** Maps an rg_err to (status, code, message). */
void api_rc_status(int rc, int *status, const char **code, const char **message);

/* ---- request bodies and fields ---- */

/** Parses the body as a JSON object (duplicate keys rejected). On failure answers 400
 *  bad_json and returns -1. Caller decrefs *out. */
int api_body(struct req *r, json_t **out);
/** Reads a string field. required: absent -> 422. Length in code points within
 *  [min, max], valid UTF-8 without control characters. *out NULL when absent. */
int api_field_str(struct req *r, json_t *obj, const char *field, int required, size_t min,
                  size_t max, const char **out);
/** Reads an integer field (JSON integers only: 1.0 or "1" are 422) within [min, max].
 *  *present (may be NULL) says whether it was given. */
int api_field_int(struct req *r, json_t *obj, const char *field, int required, int64_t min,
                  int64_t max, int64_t *out, int *present);
/** Reads a number field (integer or real) within [min, max]. */
int api_field_num(struct req *r, json_t *obj, const char *field, int required, double min,
                  double max, double *out, int *present);
/** Answers 422 invalid naming field. Returns -1. */
int api_invalid(struct req *r, const char *field, const char *why);
/** Reads an integer query parameter within [min, max] (absent: def). 422 otherwise. */
int api_query_int(struct req *r, const char *name, int64_t def, int64_t min, int64_t max,
                  int64_t *out);
/** Parses the route parameter name as an id of kind; 404 when malformed. */
int api_param_id(struct req *r, const char *name, int kind, uint64_t *id);

/* ---- authentication ---- */

#define API_USER 1
#define API_MERCHANT 2
#define API_ANY 3

/** Authenticates the Authorization: Bearer secret (or, when allow_query, ?token=). kinds is
 *  a mask of API_USER / API_MERCHANT: a valid secret of another kind -> 403; missing or
 *  unknown -> 401. Sets *kind (RG_KIND_*) and *id. */
int api_auth(struct req *r, int kinds, int allow_query, int *kind, uint64_t *id);

/** Starts the loop thread's read txn; answers 503 on failure. */
int api_read_begin(struct req *r, struct store_tx *tx);

/* ---- JSON of records ---- */

#define API_MAX_REWARDS 256 /* rewards in a merchant's catalogue */

/** {"id","name","handle"} (handle null when none); with created_at when full. */
json_t *api_user_json(const struct rg_user *u, int full);
/** The same object as api_user_json, written as JSON text to b. Returns 0 or b->err. */
int api_user_text(struct buf *b, const struct rg_user *u, int full);
/** {"id","name"} of user id, read from tx; a placeholder when missing. */
json_t *api_user_ref(struct store_tx *tx, uint64_t id);
json_t *api_id(int kind, uint64_t id);
/** null for 0, else the id string. */
json_t *api_id_or_null(int kind, uint64_t id);
const char *api_ledger_kind(uint32_t kind);
json_t *api_merchant_json(struct store_tx *tx, const struct rg_merchant *m);
/** The purchase as API.md shows it (currency read from its merchant in tx). */
json_t *api_purchase_json(struct store_tx *tx, const struct rg_purchase *p);
json_t *api_awards_json(const struct rg_purchase *p);
json_t *api_share_json(const struct rg_share *s);
/** A list reply: {"<name>": items, "next": cursor id string or null}. Steals items. */
json_t *api_page(const char *name, json_t *items, int kind, uint64_t next);

/* ---- writes (api/write.c) ---- */

struct api_frame {
    uint64_t recipient;
    uint64_t seq;
    char *frame;
    size_t len;
};

#define API_MAX_FRAMES 16

/*
 * One write request: embed it first in a resource-specific struct. exec runs on the writer
 * thread inside the command's nested txn: it calls the domain, then sets status and body
 * (JSON text) and emits events (api_emit). It may run more than once (after the map grows):
 * api_write resets the outputs before each run.
 */
struct api_write {
    struct commit_cmd cmd;
    struct req *r;       /* NULL for the server's own writes (demo): nothing is answered */
    struct server *srv;  /* set from r by api_write_init; set it yourself when r is NULL */
    int (*exec)(struct store_tx *tx, struct api_write *w);
    void (*fini)(struct api_write *w); /* frees the resource struct's own inputs; may be NULL */
    int64_t now;
    /* idempotency (scope 0 = none) */
    uint64_t idem_scope;
    char idem_key[65];
    unsigned char idem_hash[32];
    int replayed;
    /* outputs */
    int status;
    const char *ctype; /* NULL: application/json */
    struct buf body;
    const char *err_field; /* for 422 from exec (RG_EINVAL): the field named in the message */
    const char *err_why;   /* and what is wrong with it (NULL: "is invalid") */
    size_t nframes;
    struct api_frame frames[API_MAX_FRAMES];
};

/** Initialises w for request r (or NULL: then set w->srv) with exec. */
void api_write_init(struct api_write *w, struct req *r,
                    int (*exec)(struct store_tx *, struct api_write *));
/** Reads the Idempotency-Key header (1..64 chars, else 400) and hashes the canonical form of
 *  body under scope. Returns 0 (also when absent) or -1 after answering. */
int api_write_idempotency(struct api_write *w, uint64_t scope, json_t *body);
/** Submits w (which must be heap memory; freed with free() after answering, after calling
 *  fini). Answers 503 when the queue is full. */
void api_write_submit(struct api_write *w);
/** Serialises a JSON value as the answer of w (steals v). */
int api_write_answer(struct api_write *w, int status, json_t *v);
/** Turns domain events into outbox frames (in w's txn) for publication after commit. */
int api_emit(struct store_tx *tx, struct api_write *w, const struct dom_events *ev);

/** GET /v1/me/purchases (by_merchant 0) and GET /v1/merchants/me/purchases (1). */
void api_purchase_list(struct req *r, int by_merchant);

/* ---- routes of each resource ---- */
void api_ops_routes(struct server *s);
void api_users_routes(struct server *s);
void api_friends_routes(struct server *s);
void api_merchants_routes(struct server *s);
void api_purchases_routes(struct server *s);
void api_shares_routes(struct server *s);
void api_redemptions_routes(struct server *s);
void api_stream_routes(struct server *s);
void api_stats_routes(struct server *s);
void api_bench_routes(struct server *s);
void api_web_routes(struct server *s);

#endif
