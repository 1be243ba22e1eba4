#include "regulars/error.h"
#include "regulars/router.h"
#include "test.h"

static void h1(struct req *r)
{
    (void)r;
}
static void h2(struct req *r)
{
    (void)r;
}

static void setup(struct router *rt)
{
    router_init(rt);
    router_add(rt, HTTP_GET, "/v1/merchants/me", h1);
    router_add(rt, HTTP_PATCH, "/v1/merchants/me", h1);
    router_add(rt, HTTP_GET, "/v1/merchants/{id}", h2);
    router_add(rt, HTTP_POST, "/v1/purchases/{id}/refund", h2);
    router_add(rt, HTTP_GET, "/healthz", h1);
}

#define MATCH(m, path) router_match(&rt, m, path, strlen(path), &route, &params, allow, sizeof(allow))

TEST(literal_and_params)
{
    struct router rt;
    const struct route *route;
    struct route_params params;
    char allow[64];
    setup(&rt);
    ASSERT_EQ(MATCH(HTTP_GET, "/healthz"), 0);
    ASSERT_STREQ(route->pattern, "/healthz");
    ASSERT_EQ(params.n, 0);
    ASSERT_EQ(MATCH(HTTP_GET, "/v1/merchants/m_123"), 0);
    ASSERT(route->handler == h2);
    ASSERT_EQ(params.n, 1);
    ASSERT_MEMEQ(params.p[0].value, params.p[0].len, "m_123", 5);
    ASSERT_EQ(MATCH(HTTP_POST, "/v1/purchases/p_9/refund"), 0);
    ASSERT_MEMEQ(params.p[0].value, params.p[0].len, "p_9", 3);
}

TEST(first_match_wins)
{
    struct router rt;
    const struct route *route;
    struct route_params params;
    char allow[64];
    setup(&rt);
    ASSERT_EQ(MATCH(HTTP_GET, "/v1/merchants/me"), 0);
    ASSERT(route->handler == h1);
}

TEST(head_matches_get)
{
    struct router rt;
    const struct route *route;
    struct route_params params;
    char allow[64];
    setup(&rt);
    ASSERT_EQ(MATCH(HTTP_HEAD, "/healthz"), 0);
    ASSERT_STREQ(route->pattern, "/healthz");
}

TEST(not_found)
{
    struct router rt;
    const struct route *route;
    struct route_params params;
    char allow[64];
    setup(&rt);
    ASSERT_EQ(MATCH(HTTP_GET, "/nope"), RG_ENOTFOUND);
    ASSERT_EQ(MATCH(HTTP_GET, "/healthz/"), RG_ENOTFOUND);
    ASSERT_EQ(MATCH(HTTP_GET, "/v1/merchants/"), RG_ENOTFOUND);
    ASSERT_EQ(MATCH(HTTP_GET, "/v1/merchants/a/b"), RG_ENOTFOUND);
    ASSERT_EQ(MATCH(HTTP_GET, ""), RG_ENOTFOUND);
}

TEST(method_not_allowed_lists_each_method_once)
{
    struct router rt;
    const struct route *route;
    struct route_params params;
    char allow[64];
    setup(&rt);
    ASSERT_EQ(MATCH(HTTP_DELETE, "/v1/merchants/me"), RG_EMETHOD);
    ASSERT_STREQ(allow, "GET, HEAD, PATCH");
    ASSERT_EQ(MATCH(HTTP_GET, "/v1/purchases/p_1/refund"), RG_EMETHOD);
    ASSERT_STREQ(allow, "POST");
}
