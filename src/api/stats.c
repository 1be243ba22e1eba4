/* Merchant analytics: stats over a period and the customer list (domain/analytics.c). */
#include <stdlib.h>
#include <string.h>

#include "regulars/alerts.h"
#include "regulars/analytics.h"
#include "regulars/api.h"
#include "regulars/clock.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/server.h"

static void stats(struct req *r)
{
    int kind;
    uint64_t m;
    int64_t days;
    struct store_tx tx;
    if (api_auth(r, API_MERCHANT, 0, &kind, &m) || api_query_int(r, "days", 30, 1, 365, &days) ||
        api_read_begin(r, &tx))
        return;
    struct an_stats st;
    int rc = analytics_stats(&tx, m, clock_now_ms(), (int)days, &st);
    json_t *amb = json_array();
    for (size_t i = 0; !rc && i < st.nambassadors; i++) {
        const struct an_ambassador *a = &st.ambassadors[i];
        json_array_append_new(amb, json_pack("{s:o,s:I,s:I,s:I}", "user",
                                             api_user_ref(&tx, a->user_id), "referrals",
                                             (json_int_t)a->referrals, "referred_revenue",
                                             (json_int_t)a->referred_revenue, "cascade_revenue",
                                             (json_int_t)a->cascade_revenue));
    }
    store_read_end(&tx);
    if (rc) {
        json_decref(amb);
        api_send_rc(r, rc);
        return;
    }
    json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:f,s:I,s:o}", "days",
                          (json_int_t)st.days, "purchases", (json_int_t)st.purchases, "revenue",
                          (json_int_t)st.revenue, "customers", (json_int_t)st.customers,
                          "new_customers", (json_int_t)st.new_customers, "returning_customers",
                          (json_int_t)st.returning_customers, "regulars",
                          (json_int_t)st.regulars, "repeat_rate", st.repeat_rate,
                          "referred_purchases", (json_int_t)st.referred_purchases,
                          "referred_revenue", (json_int_t)st.referred_revenue, "shares",
                          (json_int_t)st.shares, "share_conversion", st.share_conversion,
                          "points_issued", (json_int_t)st.points_issued, "top_ambassadors", amb);
    api_send_json(r, 200, o);
}

static void customers(struct req *r)
{
    int kind;
    uint64_t m;
    int64_t limit;
    struct store_tx tx;
    if (api_auth(r, API_MERCHANT, 0, &kind, &m) || api_query_int(r, "limit", 50, 1, 200, &limit))
        return;
    char sortv[16], cursor[80] = "";
    enum an_sort sort = AN_SORT_RECENT;
    int n = http_query_param(r->http, "sort", sortv, sizeof(sortv));
    if (n >= 0) {
        if (strcmp(sortv, "recent") == 0)
            sort = AN_SORT_RECENT;
        else if (strcmp(sortv, "visits") == 0)
            sort = AN_SORT_VISITS;
        else if (strcmp(sortv, "spend") == 0)
            sort = AN_SORT_SPEND;
        else {
            api_invalid(r, "sort", "must be recent, visits or spend");
            return;
        }
    }
    if (http_query_param(r->http, "before", cursor, sizeof(cursor)) < -1) {
        api_invalid(r, "before", "is not a cursor of this list");
        return;
    }
    struct an_customer *c = malloc(sizeof(*c) * (size_t)limit);
    if (!c || api_read_begin(r, &tx)) {
        if (!c)
            api_send_rc(r, RG_ENOMEM);
        free(c);
        return;
    }
    size_t count = 0;
    char next[80] = "";
    int rc = analytics_customers(&tx, m, sort, cursor, (size_t)limit, c, &count, next);
    json_t *items = json_array();
    for (size_t i = 0; !rc && i < count; i++)
        json_array_append_new(items,
                              json_pack("{s:o,s:I,s:I,s:I,s:I,s:o,s:I}", "user",
                                        api_user_ref(&tx, c[i].user_id), "visits",
                                        (json_int_t)c[i].visits, "spend", (json_int_t)c[i].spend,
                                        "first_at", (json_int_t)c[i].first_at, "last_at",
                                        (json_int_t)c[i].last_at, "referred_by",
                                        api_id_or_null(IDS_USER, c[i].referred_by), "referrals",
                                        (json_int_t)c[i].referrals));
    store_read_end(&tx);
    free(c);
    if (rc) {
        json_decref(items);
        if (rc == RG_EINVAL)
            api_invalid(r, "before", "is not a cursor of this list");
        else
            api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200,
                  json_pack("{s:o,s:o}", "customers", items, "next",
                            next[0] ? json_string(next) : json_null()));
}

static void alerts(struct req *r)
{
    int kind;
    uint64_t m;
    int64_t days;
    struct store_tx tx;
    if (api_auth(r, API_MERCHANT, 0, &kind, &m) || api_query_int(r, "days", 30, 1, 365, &days))
        return;
    struct alert *al = malloc(sizeof(*al) * ALERTS_MAX);
    if (!al || api_read_begin(r, &tx)) {
        if (!al)
            api_send_rc(r, RG_ENOMEM);
        free(al);
        return;
    }
    size_t n = 0;
    int rc = alerts_scan(&tx, m, clock_now_ms(), (int)days, al, ALERTS_MAX, &n);
    json_t *list = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        const struct alert *a = &al[i];
        json_t *o;
        if (a->kind == ALERT_BURST_BUYER)
            o = json_pack("{s:s,s:o,s:I,s:I}", "kind", "burst_buyer", "user",
                          api_user_ref(&tx, a->user), "shares", (json_int_t)a->count, "window_s",
                          (json_int_t)(ALERTS_BURST_WINDOW_MS / 1000));
        else if (a->kind == ALERT_REFUND_RATE)
            o = json_pack("{s:s,s:o,s:I,s:I,s:f}", "kind", "refund_rate", "user",
                          api_user_ref(&tx, a->user), "referred_purchases", (json_int_t)a->count,
                          "refunded", (json_int_t)a->count2, "rate",
                          (double)a->count2 / (double)a->count);
        else
            o = json_pack("{s:s,s:[o,o],s:[I,I]}", "kind", "reciprocal_pair", "users",
                          api_user_ref(&tx, a->user), api_user_ref(&tx, a->other), "credits",
                          (json_int_t)a->count, (json_int_t)a->count2);
        json_object_set_new(o, "first_at", json_integer(a->first_at));
        json_object_set_new(o, "last_at", json_integer(a->last_at));
        json_array_append_new(list, o);
    }
    store_read_end(&tx);
    free(al);
    if (rc) {
        json_decref(list);
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, json_pack("{s:I,s:o}", "days", (json_int_t)days, "alerts", list));
}

void api_stats_routes(struct server *s)
{
    router_add(&s->router, HTTP_GET, "/v1/merchants/me/alerts", alerts);
    router_add(&s->router, HTTP_GET, "/v1/merchants/me/stats", stats);
    router_add(&s->router, HTTP_GET, "/v1/merchants/me/customers", customers);
}
