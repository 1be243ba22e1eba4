/*
 * Purchases, recorded by the merchant at the counter, and their refunds. Attribution and the
 * ledger run in the writer (domain/purchases.c); this file validates and shapes JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/purchases.h"
#include "regulars/server.h"
#include "regulars/users.h"

#define AMOUNT_MAX 1000000000

struct purchase_write {
    struct api_write w;
    uint64_t merchant;
    uint64_t user;             /* by user_id, or 0 when by phone */
    char phone[RG_PHONE_MAX];  /* by phone */
    int64_t amount;
    uint64_t purchase;         /* refund: the purchase */
};

static int purchase_exec(struct store_tx *tx, struct api_write *w)
{
    struct purchase_write *pw = (struct purchase_write *)w;
    uint64_t buyer = pw->user;
    int rc;
    if (!buyer && (rc = users_by_phone(tx, pw->phone, &buyer)))
        return rc;
    struct rg_purchase p;
    struct dom_events ev = {0};
    if ((rc = purchases_record(tx, pw->merchant, buyer, pw->amount, w->now, &p, &ev)) ||
        (rc = api_emit(tx, w, &ev)))
        return rc;
    return api_write_answer(w, 201,
                            json_pack("{s:o,s:o}", "purchase", api_purchase_json(tx, &p),
                                      "awards", api_awards_json(&p)));
}

static void purchase_create(struct req *r)
{
    int kind;
    uint64_t merchant;
    json_t *body;
    const char *user_id, *phone;
    int64_t amount;
    if (api_auth(r, API_MERCHANT, 0, &kind, &merchant) || api_body(r, &body))
        return;
    if (api_field_str(r, body, "user_id", 0, 1, 64, &user_id) ||
        api_field_str(r, body, "phone", 0, 1, 16, &phone) ||
        api_field_int(r, body, "amount", 1, 1, AMOUNT_MAX, &amount, NULL))
        goto out;
    if (!user_id && !phone) {
        api_invalid(r, "user_id", "user_id or phone is required");
        goto out;
    }
    if (user_id && phone) {
        api_invalid(r, "phone", "give user_id or phone, not both");
        goto out;
    }
    if (phone && !users_valid_phone(phone, strlen(phone))) {
        api_invalid(r, "phone", "must be an E.164 number such as +821012345678");
        goto out;
    }
    struct purchase_write *pw = calloc(1, sizeof(*pw));
    if (!pw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&pw->w, r, purchase_exec);
    pw->merchant = merchant;
    pw->amount = amount;
    if (user_id && ids_parse(IDS_USER, user_id, strlen(user_id), &pw->user)) {
        free(pw);
        req_send_error(r, 404, "not_found", "no such user");
        goto out;
    }
    if (phone)
        snprintf(pw->phone, sizeof(pw->phone), "%s", phone);
    if (api_write_idempotency(&pw->w, store_recipient(RG_KIND_MERCHANT, merchant), body)) {
        free(pw);
        goto out;
    }
    api_write_submit(&pw->w);
out:
    json_decref(body);
}

static int refund_exec(struct store_tx *tx, struct api_write *w)
{
    struct purchase_write *pw = (struct purchase_write *)w;
    struct rg_purchase p;
    struct rg_award rev[RG_MAX_AWARDS];
    size_t nrev = 0;
    struct dom_events ev = {0};
    int rc;
    if ((rc = purchases_refund(tx, pw->merchant, pw->purchase, w->now, &p, rev, &nrev, &ev)) ||
        (rc = api_emit(tx, w, &ev)))
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < nrev; i++)
        json_array_append_new(list, json_pack("{s:o,s:s,s:I}", "user_id",
                                              api_id(IDS_USER, rev[i].user_id), "kind",
                                              "reversal", "points", (json_int_t)rev[i].points));
    return api_write_answer(w, 200,
                            json_pack("{s:o,s:o}", "purchase", api_purchase_json(tx, &p),
                                      "reversals", list));
}

static void purchase_refund(struct req *r)
{
    int kind;
    uint64_t merchant, id;
    if (api_auth(r, API_MERCHANT, 0, &kind, &merchant) ||
        api_param_id(r, "id", IDS_PURCHASE, &id))
        return;
    struct purchase_write *pw = calloc(1, sizeof(*pw));
    if (!pw) {
        api_send_rc(r, RG_ENOMEM);
        return;
    }
    api_write_init(&pw->w, r, refund_exec);
    pw->merchant = merchant;
    pw->purchase = id;
    api_write_submit(&pw->w);
}

static void purchase_get(struct req *r)
{
    int kind;
    uint64_t who, id;
    struct store_tx tx;
    if (api_auth(r, API_ANY, 0, &kind, &who) || api_param_id(r, "id", IDS_PURCHASE, &id) ||
        api_read_begin(r, &tx))
        return;
    struct rg_purchase p;
    int rc = purchases_get(&tx, id, &p);
    /* Someone else's purchase is "not found": a 403 would say that it exists. */
    if (!rc && !(kind == RG_KIND_USER ? p.user_id == who : p.merchant_id == who))
        rc = RG_ENOTFOUND;
    json_t *body = NULL;
    if (!rc) {
        json_t *o = api_purchase_json(&tx, &p);
        json_object_set_new(o, "awards", api_awards_json(&p));
        body = json_pack("{s:o}", "purchase", o);
    }
    store_read_end(&tx);
    if (rc)
        api_send_rc(r, rc);
    else
        api_send_json(r, 200, body);
}

void api_purchases_routes(struct server *s)
{
    router_add(&s->router, HTTP_POST, "/v1/purchases", purchase_create);
    router_add(&s->router, HTTP_GET, "/v1/purchases/{id}", purchase_get);
    router_add(&s->router, HTTP_POST, "/v1/purchases/{id}/refund", purchase_refund);
}
