/* Friends: ask / accept (PUT), end or withdraw (DELETE), and the lists (GET). */
#include <stdlib.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/friends.h"
#include "regulars/ids.h"
#include "regulars/server.h"
#include "regulars/users.h"

struct friend_write {
    struct api_write w;
    uint64_t me, other;
    int del;
};

static int friend_exec(struct store_tx *tx, struct api_write *w)
{
    struct friend_write *f = (struct friend_write *)w;
    if (f->del) {
        int rc = users_exists(tx, f->other);
        if (rc)
            return rc;
        rc = friends_delete(tx, f->me, f->other);
        if (rc && rc != RG_ENOTFOUND)
            return rc;
        w->status = 204;
        return 0;
    }
    struct dom_events ev = {0};
    int status = 0;
    int rc = friends_put(tx, f->me, f->other, w->now, &status, &ev);
    if (rc)
        return rc;
    if ((rc = api_emit(tx, w, &ev)))
        return rc;
    return api_write_answer(w, 200,
                            json_pack("{s:s}", "status",
                                      status == FRIENDS_FRIENDS ? "friends" : "pending"));
}

static void friend_change(struct req *r, int del)
{
    int kind;
    uint64_t me, other;
    if (api_auth(r, API_USER, 0, &kind, &me) || api_param_id(r, "user_id", IDS_USER, &other))
        return;
    if (other == me) {
        api_invalid(r, "user_id", "cannot be yourself");
        return;
    }
    struct friend_write *f = calloc(1, sizeof(*f));
    if (!f) {
        api_send_rc(r, RG_ENOMEM);
        return;
    }
    api_write_init(&f->w, r, friend_exec);
    f->me = me;
    f->other = other;
    f->del = del;
    api_write_submit(&f->w);
}

static void friend_put(struct req *r)
{
    friend_change(r, 0);
}

static void friend_delete(struct req *r)
{
    friend_change(r, 1);
}

struct list_ctx {
    struct store_tx *tx;
    json_t *lists[3];
};

static int list_one(void *ctx, int which, uint64_t user_id, int64_t at)
{
    struct list_ctx *l = ctx;
    struct rg_user u;
    if (which < 0 || which > 2 || users_get(l->tx, user_id, &u))
        return 0;
    json_array_append_new(l->lists[which],
                          json_pack("{s:o,s:I}", "user", api_user_json(&u, 0),
                                    which == FRIENDS_LIST_FRIEND ? "since" : "at",
                                    (json_int_t)at));
    return 0;
}

static void friend_list(struct req *r)
{
    int kind;
    uint64_t me;
    struct store_tx tx;
    if (api_auth(r, API_USER, 0, &kind, &me) || api_read_begin(r, &tx))
        return;
    struct list_ctx l = {&tx, {json_array(), json_array(), json_array()}};
    int rc = friends_list(&tx, me, list_one, &l);
    store_read_end(&tx);
    json_t *body = json_pack("{s:o,s:o,s:o}", "friends", l.lists[0], "incoming", l.lists[1],
                             "outgoing", l.lists[2]);
    if (rc) {
        json_decref(body);
        api_send_rc(r, rc);
        return;
    }
    api_send_json(r, 200, body);
}

void api_friends_routes(struct server *s)
{
    router_add(&s->router, HTTP_GET, "/v1/friends", friend_list);
    router_add(&s->router, HTTP_PUT, "/v1/friends/{user_id}", friend_put);
    router_add(&s->router, HTTP_DELETE, "/v1/friends/{user_id}", friend_delete);
}
