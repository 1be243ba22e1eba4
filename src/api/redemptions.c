/* Redemptions: points from the one wallet, for a merchant's reward or for cash. */
#include <stdlib.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/ids.h"
#include "regulars/redemptions.h"
#include "regulars/server.h"

struct redemption_write {
    struct api_write w;
    uint64_t user, reward;
    int64_t cash;
};

static int redemption_exec(struct store_tx *tx, struct api_write *w)
{
    struct redemption_write *rw = (struct redemption_write *)w;
    struct rg_redemption d;
    struct dom_events ev = {0};
    int64_t balance = 0;
    int rc;
    if ((rc = redemptions_create(tx, rw->user, rw->reward, rw->cash, w->now, &d, &balance,
                                 &ev)) ||
        (rc = api_emit(tx, w, &ev)))
        return rc;
    json_t *o = json_pack("{s:o,s:s,s:I,s:I}", "id", api_id(IDS_REDEMPTION, d.id), "kind",
                          d.kind == RG_RK_REWARD ? "reward" : "cash", "points",
                          (json_int_t)d.points, "created_at", (json_int_t)d.created_at);
    if (d.reward_id)
        json_object_set_new(o, "reward_id", api_id(IDS_REWARD, d.reward_id));
    return api_write_answer(w, 201,
                            json_pack("{s:o,s:I}", "redemption", o, "balance",
                                      (json_int_t)balance));
}

static void redemption_create(struct req *r)
{
    int kind, has_cash = 0;
    uint64_t user;
    json_t *body;
    const char *reward_id;
    int64_t cash = 0;
    if (api_auth(r, API_USER, 0, &kind, &user) || api_body(r, &body))
        return;
    if (api_field_str(r, body, "reward_id", 0, 1, 64, &reward_id) ||
        api_field_int(r, body, "cash_points", 0, 1, INT64_C(1000000000000000), &cash,
                      &has_cash))
        goto out;
    if (!reward_id && !has_cash) {
        api_invalid(r, "reward_id", "reward_id or cash_points is required");
        goto out;
    }
    if (reward_id && has_cash) {
        api_invalid(r, "cash_points", "give reward_id or cash_points, not both");
        goto out;
    }
    struct redemption_write *rw = calloc(1, sizeof(*rw));
    if (!rw) {
        api_send_rc(r, RG_ENOMEM);
        goto out;
    }
    api_write_init(&rw->w, r, redemption_exec);
    rw->user = user;
    rw->cash = cash;
    if (reward_id && ids_parse(IDS_REWARD, reward_id, strlen(reward_id), &rw->reward)) {
        free(rw);
        req_send_error(r, 404, "not_found", "no such reward");
        goto out;
    }
    if (api_write_idempotency(&rw->w, store_recipient(RG_KIND_USER, user), body)) {
        free(rw);
        goto out;
    }
    api_write_submit(&rw->w);
out:
    json_decref(body);
}

void api_redemptions_routes(struct server *s)
{
    router_add(&s->router, HTTP_POST, "/v1/redemptions", redemption_create);
}
