/* Operations: /healthz and /metrics. */
#include <string.h>

#include "regulars/api.h"
#include "regulars/server.h"

static void healthz(struct req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    req_send(r, 200, "application/json", body, sizeof(body) - 1, NULL);
}

static void metrics(struct req *r)
{
    struct buf b;
    buf_init(&b);
    metrics_render(r->srv, &b);
    req_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    buf_fini(&b);
}

void api_ops_routes(struct server *s)
{
    router_add(&s->router, HTTP_GET, "/healthz", healthz);
    router_add(&s->router, HTTP_GET, "/metrics", metrics);
}
