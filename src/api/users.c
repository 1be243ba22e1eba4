/*
 * Users: sign-up, the signed-in user's own views (me, ledger, purchases) and public profiles.
 */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/jsontext.h"
#include "regulars/ledger.h"
#include "regulars/purchases.h"
#include "regulars/secrets.h"
#include "regulars/server.h"
#include "regulars/users.h"

#define PAGE_MAX 200
#define PAGE_DEFAULT 50

/* ---- POST /v1/users ----------------------------------------------------------------- */

struct user_create {
    struct api_write w;
    char name[RG_NAME_MAX];
    char handle[RG_HANDLE_MAX];
    char phone[RG_PHONE_MAX];
    char token[SECRETS_MAX];
    unsigned char hash[32];
};

static int user_create_exec(struct store_tx *tx, struct api_write *w)
{
    struct user_create *c = (struct user_create *)w;
    struct users_new in = {c->name, c->handle, c->phone, c->hash};
    struct rg_user u;
    int rc = users_create(tx, &in, w->now, &u);
    if (rc)
        return rc;
    return api_write_answer(w, 201,
                            json_pack("{s:o,s:s}", "user", api_user_json(&u, 1), "token",
                                      c->token));
}

static void user_create(struct req *r)
{
    json_t *body;
    const char *name, *handle, *phone;
    if (api_body(r, &body))
        return;
    if (api_field_str(r, body, "name", 1, 1, 64, &name) ||
        api_field_str(r, body, "handle", 0, 3, 32, &handle) ||
        api_field_str(r, body, "phone", 0, 1, 16, &phone))
        goto out;
    if (handle && !users_valid_handle(handle, strlen(handle))) {
        api_invalid(r, "handle", "must be 3 to 32 of a-z, 0-9 and _");
        goto out;
    }
    if (phone && !users_valid_phone(phone, strlen(phone))) {
        api_invalid(r, "phone", "must be an E.164 number such as +821012345678");
        goto out;
    }
    if (!users_valid_name(name, strlen(name))) {
        api_invalid(r, "name", "must be 1 to 64 characters of text");
        goto out;
    }
    struct user_create *c = calloc(1, sizeof(*c));
    if (!c) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&c->w, r, user_create_exec);
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->handle, sizeof(c->handle), "%s", handle ? handle : "");
    snprintf(c->phone, sizeof(c->phone), "%s", phone ? phone : "");
    if (secrets_generate(SECRETS_PREFIX_USER, c->token, sizeof(c->token))) {
        free(c);
        api_send_rc(r, RG_EIO);
        goto out;
    }
    secrets_hash(c->token, strlen(c->token), c->hash);
    api_write_submit(&c->w);
out:
    json_decref(body);
}

/* ---- reads -------------------------------------------------------------------------- */

static void me(struct req *r)
{
    int kind;
    uint64_t id;
    struct store_tx tx;
    if (api_auth(r, API_USER, 0, &kind, &id) || api_read_begin(r, &tx))
        return;
    struct rg_user u;
    struct rg_account a;
    int rc = users_get(&tx, id, &u);
    if (!rc)
        rc = users_account(&tx, id, &a);
    store_read_end(&tx);
    if (rc) {
        api_send_rc(r, rc);
        return;
    }
    /* The hottest read: written straight as text, without building a jansson tree. */
    struct buf *b = api_scratch();
    buf_puts(b, "{\"user\":");
    api_user_text(b, &u, 1);
    buf_puts(b, ",\"balance\":");
    jsontext_int(b, a.balance);
    buf_puts(b, ",\"friends\":");
    jsontext_int(b, a.friends);
    buf_puts(b, "}");
    api_send_text(r, 200, b);
}

static void user_get(struct req *r)
{
    int kind;
    uint64_t me_id, id;
    struct store_tx tx;
    if (api_auth(r, API_ANY, 0, &kind, &me_id) || api_param_id(r, "id", IDS_USER, &id) ||
        api_read_begin(r, &tx))
        return;
    struct rg_user u;
    int rc = users_get(&tx, id, &u);
    store_read_end(&tx);
    if (rc) {
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, json_pack("{s:o}", "user", api_user_json(&u, 0)));
}

/* Reads ?limit= and ?before= (an id of kind). */
static int page_args(struct req *r, int kind, size_t *limit, uint64_t *before)
{
    int64_t l;
    if (api_query_int(r, "limit", PAGE_DEFAULT, 1, PAGE_MAX, &l))
        return -1;
    *limit = (size_t)l;
    *before = 0;
    char cur[64];
    int n = http_query_param(r->http, "before", cur, sizeof(cur));
    if (n >= 0 && ids_parse((enum ids_kind)kind, cur, (size_t)n, before))
        return api_invalid(r, "before", "is not a cursor of this list");
    return 0;
}

static void my_ledger(struct req *r)
{
    int kind;
    uint64_t id, before, next = 0;
    size_t limit, n = 0;
    struct store_tx tx;
    if (api_auth(r, API_USER, 0, &kind, &id) || page_args(r, IDS_LEDGER, &limit, &before))
        return;
    struct rg_ledger_entry *e = malloc(sizeof(*e) * limit);
    if (!e || api_read_begin(r, &tx)) {
        if (!e)
            api_send_rc(r, RG_ENOMEM);
        free(e);
        return;
    }
    int rc = ledger_page(&tx, id, before, limit, e, &n, &next);
    store_read_end(&tx);
    if (rc) {
        free(e);
        api_send_rc(r, rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:o,s:s,s:I,s:I,s:I}", "id", api_id(IDS_LEDGER, e[i].id), "kind",
                              api_ledger_kind(e[i].kind), "points", (json_int_t)e[i].points,
                              "balance_after", (json_int_t)e[i].balance_after, "created_at",
                              (json_int_t)e[i].created_at);
        if (e[i].purchase_id)
            json_object_set_new(o, "purchase_id", api_id(IDS_PURCHASE, e[i].purchase_id));
        if (e[i].merchant_id)
            json_object_set_new(o, "merchant_id", api_id(IDS_MERCHANT, e[i].merchant_id));
        if (e[i].share_id)
            json_object_set_new(o, "share_id", api_id(IDS_SHARE, e[i].share_id));
        if (e[i].friend_id)
            json_object_set_new(o, "friend_id", api_id(IDS_USER, e[i].friend_id));
        if (e[i].redemption_id)
            json_object_set_new(o, "redemption_id", api_id(IDS_REDEMPTION, e[i].redemption_id));
        if (e[i].kind == RG_LK_REVERSAL)
            json_object_set_new(o, "reversed_kind",
                                json_string(api_ledger_kind(e[i].reversed_kind)));
        json_array_append_new(items, o);
    }
    free(e);
    api_send_json(r, 200, api_page("entries", items, IDS_LEDGER, next));
}

void api_purchase_list(struct req *r, int by_merchant)
{
    int kind;
    uint64_t id, before, next = 0;
    size_t limit, n = 0;
    struct store_tx tx;
    if (api_auth(r, by_merchant ? API_MERCHANT : API_USER, 0, &kind, &id) ||
        page_args(r, IDS_PURCHASE, &limit, &before))
        return;
    struct rg_purchase *p = malloc(sizeof(*p) * limit);
    if (!p || api_read_begin(r, &tx)) {
        if (!p)
            api_send_rc(r, RG_ENOMEM);
        free(p);
        return;
    }
    int rc = by_merchant ? purchases_page_by_merchant(&tx, id, before, limit, p, &n, &next)
                         : purchases_page_by_user(&tx, id, before, limit, p, &n, &next);
    json_t *items = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        json_t *o = api_purchase_json(&tx, &p[i]);
        json_object_set_new(o, "awards", api_awards_json(&p[i]));
        if (by_merchant)
            json_object_set_new(o, "buyer", api_user_ref(&tx, p[i].user_id));
        json_array_append_new(items, o);
    }
    store_read_end(&tx);
    free(p);
    if (rc) {
        json_decref(items);
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, api_page("purchases", items, IDS_PURCHASE, next));
}

static void my_purchases(struct req *r)
{
    api_purchase_list(r, 0);
}

void api_users_routes(struct server *s)
{
    router_add(&s->router, HTTP_POST, "/v1/users", user_create);
    router_add(&s->router, HTTP_GET, "/v1/me", me);
    router_add(&s->router, HTTP_GET, "/v1/me/ledger", my_ledger);
    router_add(&s->router, HTTP_GET, "/v1/me/purchases", my_purchases);
    router_add(&s->router, HTTP_GET, "/v1/users/{id}", user_get);
}
