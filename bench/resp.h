/*
 * An incremental HTTP/1.1 response parser for the load generator: bytes in, "need more" or
 * "one response complete" out, no sockets. It understands the status line, Content-Length,
 * Transfer-Encoding: chunked, a body delimited by the end of the connection, Connection:
 * close/keep-alive, interim 1xx answers, and 101 Switching Protocols (it stops right after
 * the headers so the caller can take the rest of the bytes as WebSocket frames). The body is
 * kept only when asked (keep_body), so a fast benchmark pays nothing for bodies it ignores.
 * resp_init() on caller storage, resp_fini() frees the body buffer.
 */
#ifndef BENCH_RESP_H
#define BENCH_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bbuf.h"

#define RESP_LINE_MAX 8192  /* longest header line kept; longer ones are skipped */
#define RESP_HEAD_MAX 65536 /* status line + headers larger than this is an error */

enum resp_state {
    RESP_ST_STATUS,     /* reading the status line */
    RESP_ST_HEADER,     /* reading header lines */
    RESP_ST_BODY,       /* reading a Content-Length body */
    RESP_ST_BODY_EOF,   /* reading a body that ends with the connection */
    RESP_ST_CHUNK_SIZE, /* reading a chunk-size line */
    RESP_ST_CHUNK_DATA, /* reading chunk data */
    RESP_ST_CHUNK_END,  /* reading the CRLF after chunk data */
    RESP_ST_TRAILER,    /* reading trailer lines after the last chunk */
    RESP_ST_DONE,       /* a response is complete; resp_reset() before the next */
};

struct resp {
    enum resp_state state;    /* where the parser is */
    int status;               /* status code, once the status line is read */
    int http_minor;           /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    int keep_alive;           /* 0 when the server will close after this response */
    int chunked;              /* Transfer-Encoding ends with chunked */
    int64_t content_length;   /* -1 when absent */
    uint64_t remaining;       /* body or chunk bytes still expected */
    int head_request;         /* set by the caller: the request was HEAD (no body follows) */
    int keep_body;            /* set by the caller: collect the body into body */
    int upgraded;             /* the response was 101 Switching Protocols */
    struct bbuf body;         /* the body when keep_body, de-chunked */
    const char *want_header;  /* set by the caller: a header name to capture (lower case) */
    char header_value[256];   /* the captured value of want_header, trimmed, "" if absent */
    char line[RESP_LINE_MAX]; /* the line being read */
    size_t line_len;          /* bytes in line */
    int line_overflow;        /* the current line was longer than RESP_LINE_MAX */
    size_t head_bytes;        /* bytes of status line + headers so far */
};

/** Prepares r for the first response. */
void resp_init(struct resp *r);
/** Frees r's body buffer. */
void resp_fini(struct resp *r);
/** Prepares r for the next response on the same connection (keeps keep_body, want_header,
 *  head_request and the body's storage). */
void resp_reset(struct resp *r);
/** Feeds n bytes. Returns the number of bytes used (less than n when a response completed
 *  inside them: the rest belongs to the next response or, after a 101, to the new protocol),
 *  or -1 on a malformed response. r->state == RESP_ST_DONE tells that a response completed. */
ssize_t resp_feed(struct resp *r, const char *p, size_t n);
/** Tells r that the connection ended. Returns 0 when that completes the response (a body
 *  delimited by the close), -1 when the response was cut short. */
int resp_eof(struct resp *r);

#endif
