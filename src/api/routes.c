/* The whole route table, resource by resource: start here to find any request's handler. */
#include "regulars/api.h"
#include "regulars/server.h"

void api_register_routes(struct server *s)
{
    api_ops_routes(s);
    api_users_routes(s);
    api_friends_routes(s);
    api_merchants_routes(s);
    api_purchases_routes(s);
    api_shares_routes(s);
    api_redemptions_routes(s);
    api_stats_routes(s);
    api_stream_routes(s);
    api_bench_routes(s);
    api_web_routes(s);
}
