/*
 * GET /v1/stream: the WebSocket of a user or a merchant. The secret is checked before the
 * upgrade (401 without one, no upgrade); then the socket goes to libwebsockets and the hub
 * sends the hello, the replay after `since`, and live events.
 */
#include <stdint.h>
#include <string.h>

#include "regulars/api.h"
#include "regulars/conn.h"
#include "regulars/error.h"
#include "regulars/server.h"

static void stream(struct req *r)
{
    int kind;
    uint64_t id;
    if (api_auth(r, API_ANY, 1, &kind, &id))
        return;
    if (!r->http->upgrade) {
        req_send_error(r, 400, "bad_request", "this endpoint needs Upgrade: websocket");
        return;
    }
    const char *allowed = r->srv->cfg.allowed_origin;
    if (allowed[0]) {
        size_t len;
        const char *origin = http_request_header(r->http, "Origin", &len);
        if (!origin || len != strlen(allowed) || memcmp(origin, allowed, len) != 0) {
            r->srv->metrics.ws_rejected++;
            req_send_error(r, 403, "forbidden", "origin not allowed");
            return;
        }
    }
    if (r->srv->ws && ws_server_count(r->srv->ws) >= r->srv->cfg.max_ws) {
        r->srv->metrics.ws_rejected++;
        api_send_rc(r, RG_EBUSY);
        return;
    }
    int64_t since = -1;
    char v[32];
    if (http_query_param(r->http, "since", v, sizeof(v)) >= 0 &&
        api_query_int(r, "since", -1, 0, INT64_MAX, &since))
        return;
    int rc = req_upgrade(r, store_recipient(kind, id), since);
    if (rc == RG_EPROTO || rc == RG_EINVAL)
        req_send_error(r, 400, "bad_request", "invalid WebSocket handshake");
    else if (rc && rc != RG_EIO)
        api_send_rc(r, RG_EBUSY);
}

void api_stream_routes(struct server *s)
{
    router_add(&s->router, HTTP_GET, "/v1/stream", stream);
}
