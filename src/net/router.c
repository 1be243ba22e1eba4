/*
 * A linear route table. There are a few dozen routes and each match compares path segments
 * without allocating, which costs less than hashing would; the table is built once at start.
 */
#include <stdio.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/router.h"

void router_init(struct router *rt)
{
    rt->n = 0;
}

int router_add(struct router *rt, enum http_method m, const char *pattern, route_handler h)
{
    if (rt->n == ROUTER_MAX_ROUTES)
        return RG_ETOOBIG;
    struct route *r = &rt->routes[rt->n];
    r->method = m;
    r->pattern = pattern;
    r->handler = h;
    r->index = (unsigned)rt->n;
    rt->n++;
    return 0;
}

/* Matches path against pattern segment by segment, filling params. */
static int match(const char *pat, const char *path, size_t len, struct route_params *params)
{
    const char *p = path, *end = path + len;
    params->n = 0;
    while (*pat && p < end) {
        if (*pat != '/' || *p != '/')
            return 0;
        pat++, p++;
        const char *seg = p;
        while (p < end && *p != '/')
            p++;
        size_t seglen = (size_t)(p - seg);
        if (*pat == '{') {
            const char *close = strchr(pat, '}');
            if (seglen == 0 || params->n == ROUTER_MAX_PARAMS)
                return 0;
            params->p[params->n].name = pat + 1; /* ends at '}': callers compare by length */
            params->p[params->n].value = seg;
            params->p[params->n].len = seglen;
            params->n++;
            pat = close + 1;
        } else {
            const char *pend = strchr(pat, '/');
            size_t plen = pend ? (size_t)(pend - pat) : strlen(pat);
            if (plen != seglen || memcmp(pat, seg, seglen) != 0)
                return 0;
            pat += plen;
        }
    }
    return *pat == '\0' && p == end;
}

static const char *method_str(enum http_method m)
{
    switch (m) {
    case HTTP_GET: return "GET";
    case HTTP_HEAD: return "HEAD";
    case HTTP_POST: return "POST";
    case HTTP_PUT: return "PUT";
    case HTTP_PATCH: return "PATCH";
    case HTTP_DELETE: return "DELETE";
    case HTTP_OPTIONS: return "OPTIONS";
    default: return "";
    }
}

/* Whether the comma-separated list already names method m. */
static int has_method(const char *list, const char *m)
{
    size_t n = strlen(m);
    for (const char *p = list; (p = strstr(p, m)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int router_match(const struct router *rt, enum http_method m, const char *path, size_t len,
                 const struct route **out, struct route_params *params, char *allow,
                 size_t allowsz)
{
    int path_known = 0;
    struct route_params tmp;
    size_t alen = 0;
    if (allowsz)
        allow[0] = '\0';
    for (size_t i = 0; i < rt->n; i++) {
        const struct route *r = &rt->routes[i];
        if (!match(r->pattern, path, len, &tmp))
            continue;
        if (r->method == m || (m == HTTP_HEAD && r->method == HTTP_GET)) {
            *out = r;
            *params = tmp;
            return 0;
        }
        path_known = 1;
        const char *names[2] = {method_str(r->method), r->method == HTTP_GET ? "HEAD" : NULL};
        for (int k = 0; k < 2 && names[k]; k++) {
            if (has_method(allow, names[k]))
                continue; /* two patterns (/me and {id}) may both allow GET */
            int n = snprintf(allow + alen, allowsz - alen, "%s%s", alen ? ", " : "", names[k]);
            if (n > 0 && alen + (size_t)n < allowsz)
                alen += (size_t)n;
        }
    }
    return path_known ? RG_EMETHOD : RG_ENOTFOUND;
}
