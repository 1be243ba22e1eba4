/*
 * HTTP/1.1 request framing over llhttp (which only http.c includes). The parser takes bytes
 * and says: need more, a request is complete, an upgrade was asked for, or an error with the
 * status to answer. It never touches a socket, so tests feed it bytes split anywhere.
 *
 * Before trusting llhttp's view of the headers, the raw header block is scanned for the
 * request-smuggling shapes Debian's llhttp 8.1 lets through (see DESIGN.md): a bare CR,
 * obs-fold (a line starting with SP/HT), white space before a colon, and for HTTP/1.1 a
 * missing or repeated Host. Each is a 400, and the connection must then be closed.
 *
 * Ownership: the parser owns the request it exposes (target, headers, body); they stay valid
 * until http_parser_next() or http_parser_free().
 */
#ifndef REGULARS_HTTP_H
#define REGULARS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"

enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
};

#define HTTP_MAX_HEADERS 64

struct http_header {
    const char *name; /* as received; compare case-insensitively */
    size_t name_len;
    const char *value; /* leading/trailing white space removed */
    size_t value_len;
};

struct http_request {
    enum http_method method;
    const char *method_name; /* e.g. "GET"; for HTTP_OTHER the method as sent ("TRACE") */
    const char *target;      /* request-target as received, NUL-terminated */
    size_t target_len;
    const char *path; /* target up to '?', NUL-terminated (a copy) */
    size_t path_len;
    const char *query; /* after '?', NUL-terminated, "" when none */
    size_t query_len;
    int http_major, http_minor;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    struct buf body;       /* the decoded body (chunked framing removed) */
    int keep_alive;        /* llhttp's verdict: 0 when the connection must close after */
    int upgrade;           /* Upgrade: websocket with Connection: upgrade was asked */
    int expect_continue;   /* Expect: 100-continue was sent */
    int64_t content_length; /* -1 when absent */
    size_t head_bytes;     /* bytes of request line + headers */
};

struct http_limits {
    size_t max_header_bytes; /* request line + headers; over -> 431 */
    size_t max_body_bytes;   /* decoded body; over -> 413 (as soon as it is known) */
};

enum http_parse_result {
    HTTP_NEED_MORE = 0,  /* all bytes consumed, request not complete */
    HTTP_DONE = 1,       /* a request is complete; *consumed may be < len (pipelining) */
    HTTP_UPGRADE = 2,    /* headers of an upgrade request are complete; the bytes after
                            the head (*consumed marks them) belong to the new protocol */
};

struct http_parser;

/** Allocates a parser with the given limits. NULL on allocation failure. */
struct http_parser *http_parser_new(const struct http_limits *limits);
/** Frees the parser and its request. */
void http_parser_free(struct http_parser *p);

/** Feeds len bytes. Returns an http_parse_result (>= 0) and sets *consumed to the bytes
 *  used, or a negative rg_err on a bad request: http_parser_error() then gives the status
 *  (400, 413, 431, ...), an API error code and a message, and the connection must close
 *  after answering. After HTTP_DONE, call http_parser_next() before feeding more.
 *  Errors are sticky: every later feed returns the same error (http_parser_next() does not
 *  clear it), so nothing sent after a bad request is ever parsed. RG_EPROTO is a 400,
 *  RG_ETOOBIG a 413 or 431 (431 as soon as the head passes the limit, 413 from the
 *  Content-Length or the chunk sizes, before the body is read), RG_ENOMEM a 500. */
int http_parser_feed(struct http_parser *p, const char *data, size_t len, size_t *consumed);
/** Returns non-zero once per request when the client waits for "100 Continue": the headers
 *  are complete, Expect: 100-continue was sent, and the body is within limits. */
int http_parser_take_continue(struct http_parser *p);
/** Non-zero when a request has started (some bytes of it were fed) but is not complete:
 *  the server uses it to choose between the header-read and the idle timeout. */
int http_parser_in_request(const struct http_parser *p);
/** Non-zero when the headers of the current request are complete (body may be pending). */
int http_parser_headers_done(const struct http_parser *p);
/** The request after HTTP_DONE or HTTP_UPGRADE. */
const struct http_request *http_parser_request(const struct http_parser *p);
/** The current request's head as received, from the request line through the blank line
 *  (head_bytes long once the head is complete; *len set). Valid until http_parser_next(). */
const char *http_parser_raw_head(const struct http_parser *p, size_t *len);
/** After an error: the HTTP status, API code (e.g. "bad_request") and message. */
void http_parser_error(const struct http_parser *p, int *status, const char **code,
                       const char **message);
/** Resets for the next request on the same connection. */
void http_parser_next(struct http_parser *p);

/** Finds a header by case-insensitive name; returns its value (len in *len) or NULL. */
const char *http_request_header(const struct http_request *req, const char *name,
                                size_t *len);
/** Finds a query parameter (decoded into out, NUL-terminated, at most outsz-1 bytes).
 *  Returns the decoded length, or -1 when absent or too long. */
int http_query_param(const struct http_request *req, const char *name, char *out,
                     size_t outsz);

/** The reason phrase of a status ("OK", "Not Found", ...). */
const char *http_status_reason(int status);
/** Appends a response head: status line, Date, Server, Content-Type (when ctype),
 *  Content-Length, Connection: keep-alive/close, then extra (CRLF-terminated lines, may be
 *  NULL), then the blank line. A 204 has no Content-Length; a 1xx is only the status line
 *  and extra. Returns 0 or RG_ENOMEM. */
int http_write_head(struct buf *out, int status, const char *ctype, size_t content_length,
                    int keep_alive, const char *extra);

#endif
