/* Shares: a buyer tells friends where they bought; the share credits friends for a while. */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/server.h"
#include "regulars/shares.h"
#include "regulars/utf8.h"

#define MESSAGE_MAX 280

struct share_write {
    struct api_write w;
    uint64_t user, purchase;
    uint32_t channel;
    char message[RG_MESSAGE_MAX];
};

static int share_exec(struct store_tx *tx, struct api_write *w)
{
    struct share_write *sw = (struct share_write *)w;
    struct rg_share *s = malloc(sizeof(*s));
    struct dom_events ev = {0};
    int rc;
    if (!s)
        return RG_ENOMEM;
    if (!(rc = shares_create(tx, sw->user, sw->purchase, sw->channel, sw->message, w->now, s,
                             &ev)) &&
        !(rc = api_emit(tx, w, &ev)))
        rc = api_write_answer(w, 201, json_pack("{s:o}", "share", api_share_json(s)));
    free(s);
    return rc;
}

static void share_create(struct req *r)
{
    int kind;
    uint64_t user;
    json_t *body;
    const char *purchase_id, *channel, *message;
    if (api_auth(r, API_USER, 0, &kind, &user) || api_body(r, &body))
        return;
    if (api_field_str(r, body, "purchase_id", 1, 1, 64, &purchase_id) ||
        api_field_str(r, body, "channel", 1, 1, 16, &channel))
        goto out;
    /* A message may hold line breaks; other control characters are refused. */
    json_t *mv = json_object_get(body, "message");
    message = NULL;
    if (mv && !json_is_null(mv)) {
        if (!json_is_string(mv) ||
            !utf8_is_text(json_string_value(mv), json_string_length(mv), 0, MESSAGE_MAX,
                          UTF8_ALLOW_NEWLINE)) {
            api_invalid(r, "message", "must be text of at most 280 characters");
            goto out;
        }
        message = json_string_value(mv);
    }
    uint32_t ch = strcmp(channel, "post") == 0      ? RG_CH_POST
                  : strcmp(channel, "checkin") == 0 ? RG_CH_CHECKIN
                  : strcmp(channel, "link") == 0    ? RG_CH_LINK
                                                    : 0;
    if (!ch) {
        api_invalid(r, "channel", "must be post, checkin or link");
        goto out;
    }
    uint64_t purchase;
    if (ids_parse(IDS_PURCHASE, purchase_id, strlen(purchase_id), &purchase)) {
        req_send_error(r, 404, "not_found", "no such purchase");
        goto out;
    }
    struct share_write *sw = calloc(1, sizeof(*sw));
    if (!sw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&sw->w, r, share_exec);
    sw->user = user;
    sw->purchase = purchase;
    sw->channel = ch;
    snprintf(sw->message, sizeof(sw->message), "%s", message ? message : "");
    api_write_submit(&sw->w);
out:
    json_decref(body);
}

static void my_shares(struct req *r)
{
    int kind;
    uint64_t user, before = 0, next = 0;
    int64_t limit;
    size_t n = 0;
    struct store_tx tx;
    if (api_auth(r, API_USER, 0, &kind, &user) || api_query_int(r, "limit", 50, 1, 200, &limit))
        return;
    char cur[64];
    int cl = http_query_param(r->http, "before", cur, sizeof(cur));
    if (cl >= 0 && ids_parse(IDS_SHARE, cur, (size_t)cl, &before)) {
        api_invalid(r, "before", "is not a cursor of this list");
        return;
    }
    struct rg_share *s = malloc(sizeof(*s) * (size_t)limit);
    if (!s || api_read_begin(r, &tx)) {
        if (!s)
            api_send_rc(r, RG_ENOMEM);
        free(s);
        return;
    }
    int rc = shares_page_by_user(&tx, user, before, (size_t)limit, s, &n, &next);
    store_read_end(&tx);
    if (rc) {
        free(s);
        api_send_rc(r, rc);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, api_share_json(&s[i]));
    free(s);
    api_send_json(r, 200, api_page("shares", items, IDS_SHARE, next));
}

void api_shares_routes(struct server *s)
{
    router_add(&s->router, HTTP_POST, "/v1/shares", share_create);
    router_add(&s->router, HTTP_GET, "/v1/me/shares", my_shares);
}
