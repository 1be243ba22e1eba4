/*
 * Routes: (method, pattern) -> handler. Patterns are literal segments and {name} segments,
 * e.g. "/v1/purchases/{id}/refund". Matching is exact on segments; a path that matches a
 * pattern under another method gives 405 with the Allow list.
 */
#ifndef REGULARS_ROUTER_H
#define REGULARS_ROUTER_H

#include <stddef.h>

#include "regulars/http.h"

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_ROUTES 96

struct req;
typedef void (*route_handler)(struct req *r);

struct route_params {
    size_t n;
    struct {
        const char *name;  /* the pattern's name, without braces */
        const char *value; /* points into the request path (not NUL-terminated) */
        size_t len;
    } p[ROUTER_MAX_PARAMS];
};

struct route {
    enum http_method method;
    const char *pattern; /* static string */
    route_handler handler;
    unsigned index;      /* position in the table, for per-route metrics */
};

struct router {
    struct route routes[ROUTER_MAX_ROUTES];
    size_t n;
};

/** Empties the table. */
void router_init(struct router *rt);
/** Adds a route (pattern must outlive the router). Returns 0 or RG_ETOOBIG. A GET route
 *  also answers HEAD. */
int router_add(struct router *rt, enum http_method m, const char *pattern, route_handler h);
/** Finds the route for (m, path). Returns 0 and sets *out and params; RG_ENOTFOUND when no
 *  pattern matches the path; RG_EMETHOD when some do under other methods, with the
 *  comma-separated list written to allow (NUL-terminated, at most allowsz bytes). */
int router_match(const struct router *rt, enum http_method m, const char *path, size_t len,
                 const struct route **out, struct route_params *params, char *allow,
                 size_t allowsz);

#endif
