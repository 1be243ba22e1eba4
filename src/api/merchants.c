/*
 * Merchants: sign-up, public profile and nearby search, and the merchant's self-service
 * (store info, rules, offers, rewards) and purchase list.
 */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/merchants.h"
#include "regulars/rules.h"
#include "regulars/secrets.h"
#include "regulars/server.h"

static const char *rule_names[RULES_NFIELDS] = {"earn_rate_bp", "referral_bonus", "friend_bonus",
                                                "credit_window_s", "max_referrals_per_share"};

/* The fields a create or a PATCH may carry, validated on the loop thread. */
struct merchant_fields {
    int has_name, has_category, has_address, has_lat, has_lon, has_currency, has_offers;
    int has_rule[RULES_NFIELDS];
    char name[RG_NAME_MAX];
    char category[RG_CATEGORY_MAX];
    char address[RG_ADDRESS_MAX];
    double lat, lon;
    char currency[4];
    int64_t rule[RULES_NFIELDS];
    uint32_t noffers;
    struct rg_offer offers[RG_MAX_OFFERS];
};

static int read_str(struct req *r, json_t *body, const char *field, int required, size_t min,
                    size_t max, char *out, size_t outsz, int *has)
{
    const char *s;
    if (api_field_str(r, body, field, required, min, max, &s))
        return -1;
    if (s) {
        snprintf(out, outsz, "%s", s);
        *has = 1;
    }
    return 0;
}

static int read_fields(struct req *r, json_t *body, int create, struct merchant_fields *f)
{
    memset(f, 0, sizeof(*f));
    if (read_str(r, body, "name", create, 1, MERCHANTS_NAME_MAX, f->name, sizeof(f->name),
                 &f->has_name) ||
        read_str(r, body, "category", 0, 0, MERCHANTS_CATEGORY_MAX, f->category,
                 sizeof(f->category), &f->has_category) ||
        read_str(r, body, "address", 0, 0, MERCHANTS_ADDRESS_MAX, f->address,
                 sizeof(f->address), &f->has_address) ||
        api_field_num(r, body, "lat", create, -90, 90, &f->lat, &f->has_lat) ||
        api_field_num(r, body, "lon", create, -180, 180, &f->lon, &f->has_lon) ||
        read_str(r, body, "currency", 0, 3, 3, f->currency, sizeof(f->currency),
                 &f->has_currency))
        return -1;
    if (f->has_currency && !merchants_valid_currency(f->currency, strlen(f->currency)))
        return api_invalid(r, "currency", "must be an ISO 4217 code such as KRW");

    json_t *rules = json_object_get(body, "rules");
    if (rules && !json_is_null(rules)) {
        if (!json_is_object(rules))
            return api_invalid(r, "rules", "must be an object");
        for (int i = 0; i < RULES_NFIELDS; i++) {
            json_t *v = json_object_get(rules, rule_names[i]);
            if (!v)
                continue;
            char field[64];
            snprintf(field, sizeof(field), "rules.%s", rule_names[i]);
            if (!json_is_integer(v))
                return api_invalid(r, field, "must be an integer");
            if (rules_check(rule_names[i], json_integer_value(v))) {
                int64_t lo = 0, hi = 0;
                switch (i) {
                case 0: lo = RULES_EARN_RATE_BP_MIN, hi = RULES_EARN_RATE_BP_MAX; break;
                case 1: lo = RULES_REFERRAL_BONUS_MIN, hi = RULES_REFERRAL_BONUS_MAX; break;
                case 2: lo = RULES_FRIEND_BONUS_MIN, hi = RULES_FRIEND_BONUS_MAX; break;
                case 3: lo = RULES_CREDIT_WINDOW_S_MIN, hi = RULES_CREDIT_WINDOW_S_MAX; break;
                default: lo = RULES_MAX_REFERRALS_MIN, hi = RULES_MAX_REFERRALS_MAX; break;
                }
                char why[80];
                snprintf(why, sizeof(why), "must be between %lld and %lld", (long long)lo,
                         (long long)hi);
                return api_invalid(r, field, why);
            }
            f->has_rule[i] = 1;
            f->rule[i] = json_integer_value(v);
        }
    }

    json_t *offers = json_object_get(body, "offers");
    if (offers && !json_is_null(offers)) {
        if (!json_is_array(offers))
            return api_invalid(r, "offers", "must be an array");
        if (json_array_size(offers) > RG_MAX_OFFERS)
            return api_invalid(r, "offers", "at most 16 offers");
        size_t i;
        json_t *o;
        json_array_foreach(offers, i, o)
        {
            char field[48];
            const char *title;
            int64_t pct, ends = 0;
            if (!json_is_object(o)) {
                snprintf(field, sizeof(field), "offers[%zu]", i);
                return api_invalid(r, field, "must be an object");
            }
            snprintf(field, sizeof(field), "offers[%zu].title", i);
            if (api_field_str(r, o, "title", 1, 1, MERCHANTS_TITLE_MAX, &title))
                return -1;
            if (api_field_int(r, o, "discount_pct", 1, RULES_DISCOUNT_PCT_MIN,
                              RULES_DISCOUNT_PCT_MAX, &pct, NULL) ||
                api_field_int(r, o, "ends_at", 0, 0, INT64_MAX, &ends, NULL))
                return -1;
            struct rg_offer *dst = &f->offers[i];
            snprintf(dst->title, sizeof(dst->title), "%s", title);
            dst->discount_pct = (uint32_t)pct;
            dst->ends_at = ends;
        }
        f->noffers = (uint32_t)json_array_size(offers);
        f->has_offers = 1;
    }
    return 0;
}

static void apply_fields(struct rg_merchant *m, const struct merchant_fields *f)
{
    if (f->has_name)
        memcpy(m->name, f->name, sizeof(m->name));
    if (f->has_category)
        memcpy(m->category, f->category, sizeof(m->category));
    if (f->has_address)
        memcpy(m->address, f->address, sizeof(m->address));
    if (f->has_lat)
        m->lat = f->lat;
    if (f->has_lon)
        m->lon = f->lon;
    if (f->has_currency)
        memcpy(m->currency, f->currency, sizeof(m->currency));
    for (int i = 0; i < RULES_NFIELDS; i++)
        if (f->has_rule[i])
            rules_set(&m->rules, rule_names[i], f->rule[i]);
    if (f->has_offers) {
        m->noffers = f->noffers;
        memset(m->offers, 0, sizeof(m->offers));
        memcpy(m->offers, f->offers, sizeof(f->offers[0]) * f->noffers);
    }
}

/* ---- POST /v1/merchants, PATCH /v1/merchants/me ------------------------------------- */

struct merchant_write {
    struct api_write w;
    uint64_t id; /* PATCH: the merchant; create: 0 */
    struct merchant_fields f;
    char key[SECRETS_MAX];
    unsigned char hash[32];
};

static int merchant_exec(struct store_tx *tx, struct api_write *w)
{
    struct merchant_write *mw = (struct merchant_write *)w;
    struct rg_merchant *m = calloc(1, sizeof(*m));
    int rc;
    if (!m)
        return RG_ENOMEM;
    if (mw->id == 0) {
        struct rg_rules rules;
        rules_defaults(&rules);
        for (int i = 0; i < RULES_NFIELDS; i++)
            if (mw->f.has_rule[i])
                rules_set(&rules, rule_names[i], mw->f.rule[i]);
        struct merchants_new in = {mw->f.name,    mw->f.category, mw->f.address,
                                   mw->f.lat,     mw->f.lon,
                                   mw->f.has_currency ? mw->f.currency : NULL,
                                   &rules,        mw->hash};
        if ((rc = merchants_create(tx, &in, w->now, m)))
            goto out;
        if (mw->f.has_offers) {
            apply_fields(m, &mw->f);
            if ((rc = merchants_put(tx, m)))
                goto out;
        }
        rc = api_write_answer(w, 201,
                              json_pack("{s:o,s:s}", "merchant", api_merchant_json(tx, m),
                                        "api_key", mw->key));
    } else {
        if ((rc = merchants_get(tx, mw->id, m)))
            goto out;
        apply_fields(m, &mw->f);
        if ((rc = merchants_put(tx, m)))
            goto out;
        rc = api_write_answer(w, 200, json_pack("{s:o}", "merchant", api_merchant_json(tx, m)));
    }
out:
    free(m);
    return rc;
}

static void merchant_write(struct req *r, uint64_t id)
{
    json_t *body;
    if (api_body(r, &body))
        return;
    struct merchant_write *mw = calloc(1, sizeof(*mw));
    if (!mw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    if (read_fields(r, body, id == 0, &mw->f)) {
        free(mw);
        goto out;
    }
    api_write_init(&mw->w, r, merchant_exec);
    mw->id = id;
    if (id == 0) {
        if (secrets_generate(SECRETS_PREFIX_MERCHANT, mw->key, sizeof(mw->key))) {
            free(mw);
            api_send_rc(r, RG_EIO);
            goto out;
        }
        secrets_hash(mw->key, strlen(mw->key), mw->hash);
    }
    api_write_submit(&mw->w);
out:
    json_decref(body);
}

static void merchant_create(struct req *r)
{
    merchant_write(r, 0);
}

static void merchant_patch(struct req *r)
{
    int kind;
    uint64_t id;
    if (api_auth(r, API_MERCHANT, 0, &kind, &id))
        return;
    merchant_write(r, id);
}

/* ---- rewards ------------------------------------------------------------------------ */

struct reward_write {
    struct api_write w;
    uint64_t merchant;
    char title[RG_TITLE_MAX];
    int64_t cost;
};

static int reward_exec(struct store_tx *tx, struct api_write *w)
{
    struct reward_write *rw = (struct reward_write *)w;
    struct rg_reward out;
    size_t n = 0;
    struct rg_reward *all = malloc(sizeof(*all) * API_MAX_REWARDS);
    int rc = all ? merchants_rewards(tx, rw->merchant, all, API_MAX_REWARDS, &n) : RG_ENOMEM;
    free(all);
    if (rc)
        return rc;
    if (n >= API_MAX_REWARDS) {
        w->err_field = "rewards";
        w->err_why = "a merchant has at most 256 rewards";
        return RG_EINVAL;
    }
    rc = merchants_add_reward(tx, rw->merchant, rw->title, rw->cost, w->now, &out);
    if (rc)
        return rc;
    return api_write_answer(w, 201,
                            json_pack("{s:{s:o,s:s,s:I}}", "reward", "id",
                                      api_id(IDS_REWARD, out.id), "title", out.title, "cost",
                                      (json_int_t)out.cost));
}

static void reward_create(struct req *r)
{
    int kind;
    uint64_t id;
    json_t *body;
    const char *title;
    int64_t cost;
    if (api_auth(r, API_MERCHANT, 0, &kind, &id) || api_body(r, &body))
        return;
    if (api_field_str(r, body, "title", 1, 1, MERCHANTS_TITLE_MAX, &title) ||
        api_field_int(r, body, "cost", 1, 1, INT64_C(1000000000000), &cost, NULL))
        goto out;
    struct reward_write *rw = calloc(1, sizeof(*rw));
    if (!rw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&rw->w, r, reward_exec);
    rw->merchant = id;
    snprintf(rw->title, sizeof(rw->title), "%s", title);
    rw->cost = cost;
    api_write_submit(&rw->w);
out:
    json_decref(body);
}

/* ---- reads -------------------------------------------------------------------------- */

static void merchant_show(struct req *r, uint64_t id)
{
    struct store_tx tx;
    if (api_read_begin(r, &tx))
        return;
    struct rg_merchant *m = malloc(sizeof(*m));
    int rc = m ? merchants_get(&tx, id, m) : RG_ENOMEM;
    json_t *body = rc ? NULL : json_pack("{s:o}", "merchant", api_merchant_json(&tx, m));
    store_read_end(&tx);
    free(m);
    if (rc)
        api_send_rc(r, rc);
    else
        api_send_json(r, 200, body);
}

static void merchant_get(struct req *r)
{
    uint64_t id;
    if (api_param_id(r, "id", IDS_MERCHANT, &id))
        return;
    merchant_show(r, id);
}

static void merchant_me(struct req *r)
{
    int kind;
    uint64_t id;
    if (api_auth(r, API_MERCHANT, 0, &kind, &id))
        return;
    merchant_show(r, id);
}

static void merchant_nearby(struct req *r)
{
    char v[64];
    double pt[2];
    const char *names[2] = {"lat", "lon"};
    for (int i = 0; i < 2; i++) {
        int n = http_query_param(r->http, names[i], v, sizeof(v));
        char *end;
        if (n <= 0) {
            api_invalid(r, names[i], "is required");
            return;
        }
        pt[i] = strtod(v, &end);
        if (*end || !(i == 0 ? merchants_valid_lat(pt[i]) : merchants_valid_lon(pt[i]))) {
            api_invalid(r, names[i], i == 0 ? "must be between -90 and 90"
                                            : "must be between -180 and 180");
            return;
        }
    }
    int64_t radius, limit;
    if (api_query_int(r, "radius_m", MERCHANTS_RADIUS_DEFAULT, MERCHANTS_RADIUS_MIN,
                      MERCHANTS_RADIUS_MAX, &radius) ||
        api_query_int(r, "limit", 50, 1, 200, &limit))
        return;
    struct merchants_hit *hits = malloc(sizeof(*hits) * (size_t)limit);
    struct rg_merchant *m = malloc(sizeof(*m));
    struct store_tx tx;
    if (!hits || !m || api_read_begin(r, &tx)) {
        if (!hits || !m)
            api_send_rc(r, RG_ENOMEM);
        free(hits);
        free(m);
        return;
    }
    size_t n = 0;
    int rc = merchants_nearby(&tx, pt[0], pt[1], (double)radius, (size_t)limit, hits, &n);
    json_t *list = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        if (merchants_get(&tx, hits[i].id, m))
            continue;
        json_t *o = api_merchant_json(&tx, m);
        json_object_set_new(o, "distance_m", json_real(hits[i].distance_m));
        json_array_append_new(list, o);
    }
    store_read_end(&tx);
    free(hits);
    free(m);
    if (rc) {
        json_decref(list);
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, json_pack("{s:o}", "merchants", list));
}

static void merchant_purchases(struct req *r)
{
    api_purchase_list(r, 1);
}

void api_merchants_routes(struct server *s)
{
    /* /me routes first: the router takes the first match, and {id} would match "me". */
    router_add(&s->router, HTTP_GET, "/v1/merchants/me", merchant_me);
    router_add(&s->router, HTTP_PATCH, "/v1/merchants/me", merchant_patch);
    router_add(&s->router, HTTP_POST, "/v1/merchants/me/rewards", reward_create);
    router_add(&s->router, HTTP_GET, "/v1/merchants/me/purchases", merchant_purchases);
    router_add(&s->router, HTTP_POST, "/v1/merchants", merchant_create);
    router_add(&s->router, HTTP_GET, "/v1/merchants", merchant_nearby);
    router_add(&s->router, HTTP_GET, "/v1/merchants/{id}", merchant_get);
}
