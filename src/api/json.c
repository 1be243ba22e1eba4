/*
 * Shared API helpers: JSON bodies and fields, validation, errors, authentication, and the
 * JSON of records. Each failing helper answers the request itself (see api.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/jsontext.h"
#include "regulars/log.h"
#include "regulars/merchants.h"
#include "regulars/rules.h"
#include "regulars/secrets.h"
#include "regulars/server.h"
#include "regulars/users.h"
#include "regulars/utf8.h"

/* ---- answering ---------------------------------------------------------------------- */

void api_send_json(struct req *r, int status, json_t *body)
{
    struct buf *text = api_scratch();
    if (body)
        jsontext_dump(text, body, 0); /* a failure stays in text->err */
    else
        text->err = RG_ENOMEM; /* the json_pack that built it failed */
    json_decref(body);
    api_send_text(r, status, text);
}

void api_send_text(struct req *r, int status, struct buf *body)
{
    if (body->err) {
        req_send_error(r, 500, "internal", "cannot encode the answer");
        return;
    }
    req_send(r, status, "application/json", body->data, body->len, NULL);
}

struct buf *api_scratch(void)
{
    /* Loop thread only, and req_send copies the bytes before it can reenter: one buffer
     * serves every answer without an allocation each. One rare large answer (a merchant's
     * activity) does not get to keep its memory for good. */
    static struct buf b;
    if (b.cap > ((size_t)1 << 20))
        buf_fini(&b);
    buf_reset(&b);
    return &b;
}

void api_rc_status(int rc, int *status, const char **code, const char **message)
{
    switch (rc) {
    case RG_ENOTFOUND: *status = 404, *code = "not_found", *message = "not found"; break;
    case RG_EFORBIDDEN: *status = 403, *code = "forbidden", *message = "not yours"; break;
    case RG_EUNAUTHORIZED:
        *status = 401, *code = "unauthorized", *message = "a valid secret is required";
        break;
    case RG_E_HANDLE_TAKEN: *status = 409, *code = "handle_taken", *message = "handle is taken"; break;
    case RG_E_PHONE_TAKEN:
        *status = 409, *code = "phone_taken", *message = "phone is registered already";
        break;
    case RG_E_ALREADY_REFUNDED:
        *status = 409, *code = "already_refunded", *message = "purchase was refunded already";
        break;
    case RG_E_REFUNDED: *status = 409, *code = "refunded", *message = "purchase was refunded"; break;
    case RG_E_ALREADY_SHARED:
        *status = 409, *code = "already_shared", *message = "purchase was shared already";
        break;
    case RG_E_INSUFFICIENT:
        *status = 409, *code = "insufficient_points", *message = "not enough points";
        break;
    case RG_E_IDEM_MISMATCH:
        *status = 422, *code = "idempotency_mismatch",
        *message = "Idempotency-Key was used with another request";
        break;
    case RG_E_SELF: *status = 422, *code = "invalid", *message = "user_id: cannot be yourself"; break;
    case RG_EINVAL: *status = 422, *code = "invalid", *message = "invalid request"; break;
    case RG_EBUSY:
        *status = 503, *code = "unavailable", *message = "server busy, retry shortly";
        break;
    case RG_ENOSPC:
        *status = 503, *code = "unavailable", *message = "storage full, retry later";
        break;
    default: *status = 500, *code = "internal", *message = rg_strerror(rc); break;
    }
}

void api_send_rc(struct req *r, int rc)
{
    int status;
    const char *code, *message;
    api_rc_status(rc, &status, &code, &message);
    if (status == 503)
    {
        static const char body[] =
            "{\"error\":{\"code\":\"unavailable\",\"message\":\"server busy, retry shortly\"}}";
        req_send(r, 503, "application/json", body, sizeof(body) - 1, "Retry-After: 1\r\n");
    }
    else
        req_send_error(r, status, code, "%s", message);
}

/* ---- bodies and fields -------------------------------------------------------------- */

/* The key whose value ends at pos in a JSON text (for an out-of-range number), or "body". */
static void number_field(const char *text, size_t pos, char *out, size_t outsz)
{
    snprintf(out, outsz, "body");
    size_t i = pos;
    while (i > 0 && text[i - 1] != ':' && text[i - 1] != '{' && text[i - 1] != ',')
        i--;
    if (i == 0 || text[i - 1] != ':')
        return;
    i--;
    while (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n' ||
                     text[i - 1] == '\r'))
        i--;
    if (i == 0 || text[i - 1] != '"')
        return;
    size_t end = --i;
    while (i > 0 && text[i - 1] != '"')
        i--;
    if (i == 0 || end - i >= outsz || end == i)
        return;
    memcpy(out, text + i, end - i);
    out[end - i] = '\0';
}

int api_body(struct req *r, json_t **out)
{
    const struct http_request *h = r->http;
    json_error_t err;
    *out = NULL;
    if (h->body.len == 0) {
        req_send_error(r, 400, "bad_json", "a JSON object body is required");
        return -1;
    }
    json_t *v = json_loadb(h->body.data, h->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!v && strstr(err.text, "too big")) {
        /* Valid JSON with a number beyond 64 bits: out of range, like any other (422). */
        char field[64];
        number_field(h->body.data, (size_t)err.position, field, sizeof(field));
        api_invalid(r, field, "is out of range");
        return -1;
    }
    if (!v) {
        int dup = strstr(err.text, "duplicate") != NULL;
        req_send_error(r, 400, "bad_json", "%s%s", dup ? "duplicate key: " : "invalid JSON: ",
                       err.text);
        return -1;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        req_send_error(r, 400, "bad_json", "the body must be a JSON object");
        return -1;
    }
    *out = v;
    return 0;
}

int api_invalid(struct req *r, const char *field, const char *why)
{
    req_send_error(r, 422, "invalid", "%s: %s", field, why);
    return -1;
}

int api_field_str(struct req *r, json_t *obj, const char *field, int required, size_t min,
                  size_t max, const char **out)
{
    json_t *v = json_object_get(obj, field);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return api_invalid(r, field, "is required");
        return 0;
    }
    if (!json_is_string(v))
        return api_invalid(r, field, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!utf8_is_text(s, len, min, max, 0)) {
        char why[96];
        snprintf(why, sizeof(why), "must be %zu to %zu characters of text", min, max);
        return api_invalid(r, field, why);
    }
    *out = s;
    return 0;
}

int api_field_int(struct req *r, json_t *obj, const char *field, int required, int64_t min,
                  int64_t max, int64_t *out, int *present)
{
    json_t *v = json_object_get(obj, field);
    if (present)
        *present = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return api_invalid(r, field, "is required");
        return 0;
    }
    if (!json_is_integer(v))
        return api_invalid(r, field, "must be an integer");
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be between %lld and %lld", (long long)min,
                 (long long)max);
        return api_invalid(r, field, why);
    }
    *out = n;
    if (present)
        *present = 1;
    return 0;
}

int api_field_num(struct req *r, json_t *obj, const char *field, int required, double min,
                  double max, double *out, int *present)
{
    json_t *v = json_object_get(obj, field);
    if (present)
        *present = 0;
    if (!v || json_is_null(v)) {
        if (required)
            return api_invalid(r, field, "is required");
        return 0;
    }
    if (!json_is_number(v))
        return api_invalid(r, field, "must be a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be between %g and %g", min, max);
        return api_invalid(r, field, why);
    }
    *out = d;
    if (present)
        *present = 1;
    return 0;
}

int api_query_int(struct req *r, const char *name, int64_t def, int64_t min, int64_t max,
                  int64_t *out)
{
    char v[32];
    int n = http_query_param(r->http, name, v, sizeof(v));
    if (n < 0) {
        *out = def;
        return 0;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (n == 0 || *end || x < min || x > max) {
        char why[96];
        snprintf(why, sizeof(why), "must be an integer between %lld and %lld", (long long)min,
                 (long long)max);
        return api_invalid(r, name, why);
    }
    *out = x;
    return 0;
}

int api_param_id(struct req *r, const char *name, int kind, uint64_t *id)
{
    size_t len;
    const char *v = req_param(r, name, &len);
    if (!v || ids_parse((enum ids_kind)kind, v, len, id)) {
        req_send_error(r, 404, "not_found", "no such %s", name);
        return -1;
    }
    return 0;
}

/* ---- authentication ----------------------------------------------------------------- */

int api_read_begin(struct req *r, struct store_tx *tx)
{
    int rc = store_read_begin(&r->srv->store, tx);
    if (rc) {
        log_error("read txn: %s", rg_strerror(rc));
        api_send_rc(r, RG_EBUSY);
        return -1;
    }
    return 0;
}

int api_auth(struct req *r, int kinds, int allow_query, int *kind, uint64_t *id)
{
    size_t len = 0;
    char qtok[SECRETS_MAX + 8];
    const char *v = http_request_header(r->http, "Authorization", &len);
    const char *secret = NULL;
    size_t slen = 0;
    if (v && len > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
        secret = v + 7;
        slen = len - 7;
        while (slen && *secret == ' ')
            secret++, slen--;
    } else if (allow_query) {
        int n = http_query_param(r->http, "token", qtok, sizeof(qtok));
        if (n > 0) {
            secret = qtok;
            slen = (size_t)n;
        }
    }
    if (!secret || slen == 0 || slen > SECRETS_MAX) {
        req_send_error(r, 401, "unauthorized", "Authorization: Bearer <secret> is required");
        return -1;
    }
    unsigned char hash[32];
    secrets_hash(secret, slen, hash);
    struct store_tx tx;
    if (api_read_begin(r, &tx))
        return -1;
    struct rg_secret rec;
    int rc = secrets_lookup(&tx, hash, &rec);
    store_read_end(&tx);
    if (rc) {
        req_send_error(r, 401, "unauthorized", "unknown secret");
        return -1;
    }
    unsigned wait = ratelimit_take(&r->srv->rl_secret, hash, sizeof(hash), uv_now(r->srv->loop));
    if (wait) {
        req_send_rate_limited(r, wait);
        return -1;
    }
    int bit = rec.kind == RG_KIND_USER ? API_USER : API_MERCHANT;
    if (!(kinds & bit)) {
        req_send_error(r, 403, "forbidden", "this needs a %s",
                       kinds == API_USER ? "user token" : "merchant key");
        return -1;
    }
    *kind = (int)rec.kind;
    *id = rec.id;
    return 0;
}

/* ---- JSON of records ---------------------------------------------------------------- */

json_t *api_id(int kind, uint64_t id)
{
    char s[IDS_LEN + 1];
    ids_format((enum ids_kind)kind, id, s);
    return json_string(s);
}

json_t *api_id_or_null(int kind, uint64_t id)
{
    return id ? api_id(kind, id) : json_null();
}

json_t *api_user_json(const struct rg_user *u, int full)
{
    json_t *o = json_pack("{s:o,s:s,s:o}", "id", api_id(IDS_USER, u->id), "name", u->name,
                          "handle", u->handle[0] ? json_string(u->handle) : json_null());
    if (full)
        json_object_set_new(o, "created_at", json_integer(u->created_at));
    return o;
}

int api_user_text(struct buf *b, const struct rg_user *u, int full)
{
    char id[IDS_LEN + 1];
    ids_format(IDS_USER, u->id, id);
    buf_puts(b, "{\"id\":\"");
    buf_append(b, id, IDS_LEN);
    buf_puts(b, "\",\"name\":");
    jsontext_string(b, u->name, strnlen(u->name, sizeof(u->name)));
    buf_puts(b, ",\"handle\":");
    if (u->handle[0])
        jsontext_string(b, u->handle, strnlen(u->handle, sizeof(u->handle)));
    else
        buf_puts(b, "null");
    if (full) {
        buf_puts(b, ",\"created_at\":");
        jsontext_int(b, u->created_at);
    }
    buf_puts(b, "}");
    return b->err;
}

json_t *api_user_ref(struct store_tx *tx, uint64_t id)
{
    struct rg_user u;
    if (users_get(tx, id, &u))
        return json_pack("{s:o,s:s}", "id", api_id(IDS_USER, id), "name", "");
    return json_pack("{s:o,s:s}", "id", api_id(IDS_USER, id), "name", u.name);
}

const char *api_ledger_kind(uint32_t kind)
{
    switch (kind) {
    case RG_LK_PURCHASE: return "purchase";
    case RG_LK_REFERRAL: return "referral";
    case RG_LK_FRIEND_BONUS: return "friend_bonus";
    case RG_LK_REDEMPTION: return "redemption";
    case RG_LK_REVERSAL: return "reversal";
    }
    return "unknown";
}

json_t *api_merchant_json(struct store_tx *tx, const struct rg_merchant *m)
{
    json_t *rules = json_pack("{s:I,s:I,s:I,s:I,s:I}", "earn_rate_bp",
                              (json_int_t)m->rules.earn_rate_bp, "referral_bonus",
                              (json_int_t)m->rules.referral_bonus, "friend_bonus",
                              (json_int_t)m->rules.friend_bonus, "credit_window_s",
                              (json_int_t)m->rules.credit_window_s, "max_referrals_per_share",
                              (json_int_t)m->rules.max_referrals_per_share);
    json_t *offers = json_array();
    for (uint32_t i = 0; i < m->noffers && i < RG_MAX_OFFERS; i++) {
        const struct rg_offer *o = &m->offers[i];
        json_t *jo = json_pack("{s:s,s:I}", "title", o->title, "discount_pct",
                               (json_int_t)o->discount_pct);
        if (o->ends_at)
            json_object_set_new(jo, "ends_at", json_integer(o->ends_at));
        json_array_append_new(offers, jo);
    }
    json_t *rewards = json_array();
    if (tx) {
        struct rg_reward *rw = malloc(sizeof(*rw) * API_MAX_REWARDS);
        size_t n = 0;
        if (rw && merchants_rewards(tx, m->id, rw, API_MAX_REWARDS, &n) == 0)
            for (size_t i = 0; i < n; i++)
                json_array_append_new(rewards, json_pack("{s:o,s:s,s:I}", "id",
                                                         api_id(IDS_REWARD, rw[i].id), "title",
                                                         rw[i].title, "cost",
                                                         (json_int_t)rw[i].cost));
        free(rw);
    }
    return json_pack("{s:o,s:s,s:s,s:s,s:f,s:f,s:s,s:o,s:o,s:o,s:I}", "id",
                     api_id(IDS_MERCHANT, m->id), "name", m->name, "category", m->category,
                     "address", m->address, "lat", m->lat, "lon", m->lon, "currency", m->currency,
                     "rules", rules, "offers", offers, "rewards", rewards, "created_at",
                     (json_int_t)m->created_at);
}

json_t *api_awards_json(const struct rg_purchase *p)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < p->nawards && i < RG_MAX_AWARDS; i++)
        json_array_append_new(a, json_pack("{s:o,s:s,s:I}", "user_id",
                                           api_id(IDS_USER, p->awards[i].user_id), "kind",
                                           api_ledger_kind(p->awards[i].kind), "points",
                                           (json_int_t)p->awards[i].points));
    return a;
}

json_t *api_purchase_json(struct store_tx *tx, const struct rg_purchase *p)
{
    (void)tx;
    const char *currency = p->currency;
    json_t *referral = p->share_id ? json_pack("{s:o,s:o}", "share_id",
                                               api_id(IDS_SHARE, p->share_id), "sharer_id",
                                               api_id(IDS_USER, p->sharer_id))
                                   : json_null();
    json_t *o = json_pack("{s:o,s:o,s:o,s:I,s:s,s:I,s:o}", "id", api_id(IDS_PURCHASE, p->id),
                          "user_id", api_id(IDS_USER, p->user_id), "merchant_id",
                          api_id(IDS_MERCHANT, p->merchant_id), "amount", (json_int_t)p->amount,
                          "currency", currency, "created_at", (json_int_t)p->created_at,
                          "referral", referral);
    if (p->refunded_at)
        json_object_set_new(o, "refunded_at", json_integer(p->refunded_at));
    json_object_set_new(o, "shared", json_boolean(p->shared_as != 0));
    return o;
}

json_t *api_share_json(const struct rg_share *s)
{
    static const char *channels[] = {"", "post", "checkin", "link"};
    return json_pack("{s:o,s:o,s:o,s:o,s:s,s:s,s:I,s:I,s:I}", "id", api_id(IDS_SHARE, s->id),
                     "user_id", api_id(IDS_USER, s->user_id), "merchant_id",
                     api_id(IDS_MERCHANT, s->merchant_id), "purchase_id",
                     api_id(IDS_PURCHASE, s->purchase_id), "channel",
                     s->channel <= 3 ? channels[s->channel] : "", "message", s->message,
                     "created_at", (json_int_t)s->created_at, "expires_at",
                     (json_int_t)s->expires_at, "referrals", (json_int_t)s->referrals);
}

json_t *api_page(const char *name, json_t *items, int kind, uint64_t next)
{
    return json_pack("{s:o,s:o}", name, items, "next", api_id_or_null(kind, next));
}
