/*
 * What a handler sees: the parsed request, its route parameters, the server, and the way to
 * answer. A handler answers at once (reads) or later (writes: after the commit pipeline's
 * done callback); either way exactly one req_send* per request. Responses on a connection
 * go out in request order; the connection reads no further request until this one is
 * answered. If the client goes away first, the answer is dropped but the req stays valid
 * until it is answered, so a commit's done callback never touches freed memory.
 */
#ifndef REGULARS_REQUEST_H
#define REGULARS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/http.h"
#include "regulars/router.h"

struct server;
struct conn;

struct req {
    struct server *srv;
    struct conn *conn;              /* owned by the server; opaque here */
    const struct http_request *http;
    const struct route *route;      /* NULL for 404/405 */
    struct route_params params;
    uint64_t start_ns;              /* uv_hrtime() when the request was complete */
    const char *client_addr;        /* peer IP, NUL-terminated */
    int answered;
};

/** Sends a response with body (copied). extra: CRLF-terminated header lines or NULL. */
void req_send(struct req *r, int status, const char *ctype, const char *body, size_t len,
              const char *extra);
/** Sends {"error":{"code","message"}} with status; message is printf-formatted. */
void req_send_error(struct req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Sends 429 rate_limited with Retry-After: retry_after seconds. */
void req_send_rate_limited(struct req *r, unsigned retry_after);
/** Finds a route parameter by name; returns its value (len in *len) or NULL. */
const char *req_param(const struct req *r, const char *name, size_t *len);

#endif
