/*
 * Bench endpoints, registered only with --bench: move the clock (credit-window tests never
 * sleep) and seed a data set for load tests.
 */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/clock.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/seed.h"
#include "regulars/server.h"

static void bench_clock(struct req *r)
{
    json_t *body;
    int64_t adv;
    if (api_body(r, &body))
        return;
    if (api_field_int(r, body, "advance_s", 1, 0, INT64_C(100) * 365 * 86400, &adv, NULL) == 0)
        api_send_json(r, 200, json_pack("{s:I}", "now", (json_int_t)clock_advance(adv)));
    json_decref(body);
}

struct seed_write {
    struct api_write w;
    struct seed_params p;
};

static int seed_line(void *ctx, int kind, uint64_t id, const char *secret)
{
    struct api_write *w = ctx;
    char ids[IDS_LEN + 1];
    ids_format(kind == RG_KIND_USER ? IDS_USER : IDS_MERCHANT, id, ids);
    return buf_printf(&w->body, "{\"kind\":\"%s\",\"id\":\"%s\",\"secret\":\"%s\"}\n",
                      kind == RG_KIND_USER ? "user" : "merchant", ids, secret);
}

static int seed_exec(struct store_tx *tx, struct api_write *w)
{
    struct seed_write *sw = (struct seed_write *)w;
    w->status = 200;
    w->ctype = "application/x-ndjson";
    return seed_run(tx, &sw->p, w->now, seed_line, w);
}

static void bench_seed(struct req *r)
{
    json_t *body;
    /* api_field_int leaves an absent optional field untouched: its default is set here. */
    int64_t users, merchants, fpu = 0, seed = 0;
    if (api_body(r, &body))
        return;
    if (api_field_int(r, body, "users", 1, 0, SEED_MAX_USERS, &users, NULL) ||
        api_field_int(r, body, "merchants", 1, 0, SEED_MAX_MERCHANTS, &merchants, NULL) ||
        api_field_int(r, body, "friends_per_user", 0, 0, SEED_MAX_FRIENDS, &fpu, NULL) ||
        api_field_int(r, body, "seed", 0, 0, INT64_MAX, &seed, NULL))
        goto out;
    struct seed_write *sw = calloc(1, sizeof(*sw));
    if (!sw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&sw->w, r, seed_exec);
    sw->p.users = (uint64_t)users;
    sw->p.merchants = (uint64_t)merchants;
    sw->p.friends_per_user = (uint64_t)fpu;
    sw->p.seed = (uint64_t)seed;
    api_write_submit(&sw->w);
out:
    json_decref(body);
}

void api_bench_routes(struct server *s)
{
    if (!s->cfg.bench)
        return; /* without --bench the bench paths are 404 like any unknown path */
    router_add(&s->router, HTTP_POST, "/bench/clock", bench_clock);
    router_add(&s->router, HTTP_POST, "/bench/seed", bench_seed);
}
