/*
 * The load engine of regulars-bench: one libuv loop driving many HTTP/1.1 keep-alive
 * connections and WebSocket clients against one target on the loopback.
 *
 * HTTP load runs in one of three modes:
 *   closed  every connection keeps `pipeline` requests in flight, as fast as the server
 *           answers (wrk's model); latency is measured from each request's send time;
 *   open    requests are scheduled at a fixed rate, t0 + k / rate, and sent on the first idle
 *           connection; latency is measured from the *scheduled* time, so a server that stalls
 *           is charged for every request it delayed (coordinated omission corrected, as wrk2);
 *   jobs    like closed, but the workload decides when the work is finished (set-up steps).
 * What to send and what to do with answers comes from a workload (callbacks). A phase runs
 * the loop until it ends: engine_load() for HTTP, engine_ws_connect() for WebSockets;
 * connections stay open between phases so that a WebSocket crowd can watch an HTTP phase.
 *
 * Ownership: engine_init() on caller storage, engine_fini() closes everything and frees.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <netinet/in.h>
#include <stdint.h>

#include <uv.h>

#include "bbuf.h"
#include "hist.h"
#include "resp.h"
#include "wsproto.h"

#define ENGINE_TAGS     4  /* request kinds a workload may use (read, write, ...) */
#define ENGINE_PIPE_MAX 64 /* deepest pipeline */

enum engine_mode {
    ENGINE_CLOSED, /* as fast as possible on N connections */
    ENGINE_OPEN,   /* a fixed rate, latency from the scheduled send time */
    ENGINE_JOBS,   /* until the workload has nothing more to send */
};

struct bconn;

/* What an HTTP phase sends. Callbacks run on the loop thread. */
struct workload {
    void *ctx; /* passed to the callbacks */
    /* Appends the next request to out and returns its tag (0 .. ENGINE_TAGS-1), or -1 when
     * there is nothing to send now (in jobs mode, more may come after a response). */
    int (*next)(void *ctx, struct bconn *c, struct bbuf *out);
    /* A response arrived for a request of this tag. body is the body when keep_body (else
     * empty); sent is when the request was written, sched when it was due (== sent in closed
     * and jobs modes); measured tells whether it falls in the measured window. */
    void (*done)(void *ctx, struct bconn *c, int tag, int status, const struct bbuf *body,
                 uint64_t sent, uint64_t sched, uint64_t now, int measured);
    /* Optional: appends a few words about progress to line (the engine prints it). */
    void (*progress)(void *ctx, struct bbuf *line);
    int keep_body;                      /* collect bodies for done() */
    const char *tag_names[ENGINE_TAGS]; /* names for the report, NULL for unused tags */
};

/* What a WebSocket crowd does. */
struct ws_workload {
    void *ctx; /* passed to the callbacks */
    /* Appends the request target (path and query) for WebSocket i to out. */
    void (*path)(void *ctx, uint32_t i, struct bbuf *out);
    /* The upgrade succeeded (optional). */
    void (*open)(void *ctx, struct bconn *c, uint64_t now);
    /* A complete text or binary message arrived (optional). */
    void (*message)(void *ctx, struct bconn *c, const char *p, size_t n, uint64_t now);
};

struct engine_opts {
    struct sockaddr_in target; /* 127.0.0.0/8 only */
    char host[64];             /* Host header value, "127.0.0.1:8080" */
    const char *name;          /* phase name on the progress line */
    unsigned conns;            /* HTTP connections */
    unsigned pipeline;         /* requests in flight per connection (closed/jobs), >= 1 */
    double rate;               /* requests/s in open mode */
    double warmup_s;           /* seconds run before measuring */
    double duration_s;         /* seconds measured */
    unsigned timeout_ms;       /* a request unanswered this long is an error (and reconnects) */
    unsigned src_addrs;        /* source addresses 127.0.0.1..k; 0 = as many as needed */
    unsigned ws_window;        /* WebSocket handshakes in flight at once */
    int quiet;                 /* no progress line */
};

/* Counters of one phase. */
struct engine_stats {
    struct hist lat[ENGINE_TAGS]; /* latency of measured 2xx answers, per tag (ns) */
    struct hist all;              /* the same, all tags */
    uint64_t ok[ENGINE_TAGS];     /* measured 2xx answers per tag */
    uint64_t status[6];           /* measured answers by status class (1xx .. 5xx) */
    uint64_t non2xx;              /* measured answers that were not 2xx */
    uint64_t sent;                /* requests written in this phase */
    uint64_t connect_err;         /* failed TCP connects */
    uint64_t io_err;              /* requests lost to a reset or an early close */
    uint64_t parse_err;           /* malformed responses */
    uint64_t timeouts;            /* requests unanswered after timeout_ms */
    uint64_t reconnects;          /* connections re-opened (server closed or errors) */
    uint64_t unsent;              /* open mode: requests due in the window never sent */
    uint64_t bytes_in;            /* bytes read */
    double measured_s;            /* length of the measured window, seconds */
    /* WebSockets (over the engine's life, not per phase) */
    uint64_t ws_open;         /* upgrades that succeeded */
    uint64_t ws_failed;       /* connects or upgrades that failed */
    uint64_t ws_closed;       /* open WebSockets the server closed or lost */
    uint64_t ws_messages;     /* messages received */
    struct hist ws_handshake; /* connect start -> 101 (ns) */
};

/* One connection, HTTP or WebSocket. */
struct bconn {
    uv_tcp_t tcp;        /* the socket; must stay first */
    struct engine *e;    /* owner */
    uint32_t idx;        /* index among the engine's HTTP or WebSocket connections */
    uint8_t is_ws;       /* a WebSocket client */
    uint8_t state;       /* enum conn_state in engine.c */
    uint8_t graceful;    /* closing because the server asked (not an error) */
    uint8_t idle_listed; /* on the open-mode idle stack */
    uint64_t t_connect;  /* when the connect started (ns) */
    struct conn_http *h; /* HTTP state: parser and in-flight queue (also during the upgrade) */
    struct wsrx *rx;     /* WebSocket frame reader, once upgraded */
    struct bbuf *msg;    /* a fragmented WebSocket message being assembled */
};

struct engine {
    uv_loop_t *loop;               /* the loop everything runs on */
    struct engine_opts o;          /* options (copied) */
    struct engine_stats st;        /* counters */
    struct sockaddr_in *src;       /* source addresses, nsrc of them; NULL = kernel's choice */
    unsigned nsrc;                 /* number of source addresses */
    struct bconn *http;            /* HTTP connections */
    unsigned nhttp;                /* number of HTTP connections */
    struct bconn *ws;              /* WebSocket connections */
    unsigned nws;                  /* number of WebSocket connections */
    const struct workload *wl;     /* the HTTP phase's workload */
    const struct ws_workload *wwl; /* the WebSocket crowd's workload */
    enum engine_mode mode;         /* the HTTP phase's mode */
    int active;                    /* an HTTP phase is running */
    int stopping;                  /* the phase's window is over: send nothing new */
    int closing_all;               /* engine_fini: do not reconnect */
    int handles_closing;           /* engine_fini: timer and poll handles not yet closed */
    uint64_t t0;                   /* phase start (ns) */
    uint64_t t_measure;            /* measured window start (ns) */
    uint64_t t_end;                /* measured window end (ns) */
    uint64_t t_deadline;           /* the phase gives up waiting for stragglers (ns) */
    uint64_t next_k;               /* open mode: index of the next scheduled request */
    double interval_ns;            /* open mode: 1e9 / rate */
    uint32_t *idle;                /* open mode: stack of idle connections */
    unsigned nidle;                /* entries on the idle stack */
    int timerfd;                   /* open mode: fires at the next scheduled send */
    uv_poll_t tpoll;               /* watches timerfd */
    uv_timer_t tick;               /* 50 ms: timeouts, reconnects, progress, phase end */
    uint64_t last_progress;        /* when the progress line was last printed (ns) */
    uint64_t iv_done;              /* answers since the last progress line */
    struct hist iv;                /* latencies since the last progress line */
    int tty;                       /* stderr is a terminal: redraw the progress line */
    unsigned ws_next;              /* next WebSocket to start connecting */
    unsigned ws_inflight;          /* WebSocket handshakes in flight */
    unsigned ws_target;            /* WebSockets wanted in this crowd */
    int ws_phase;                  /* engine_ws_connect is waiting */
    uint64_t ws_settled;           /* upgrades open or failed when last counted */
    uint64_t ws_moved;             /* when that count last changed (ns) */
    struct bbuf wbuf;              /* scratch for building requests */
    char rbuf[256 * 1024];         /* read buffer shared by every connection */
};

/** Prepares e on loop with options o (validated: target on 127.0.0.0/8). Returns 0 or -1
 *  with a message on stderr. */
int engine_init(struct engine *e, uv_loop_t *loop, const struct engine_opts *o);
/** Closes every connection, runs the loop until they are gone, frees everything. */
void engine_fini(struct engine *e);
/** Runs one HTTP phase with wl in mode, on e->o.conns connections (opened on first use and
 *  kept). Resets e->st's per-phase counters first. Returns 0, or -1 when nothing could be
 *  done (no connection could be made). */
int engine_load(struct engine *e, const struct workload *wl, enum engine_mode mode);
/** Opens n WebSockets (e->o.ws_window at a time) with wwl and waits until every one is open
 *  or failed, or timeout_s passed. Returns the number open. */
unsigned engine_ws_connect(struct engine *e, unsigned n, const struct ws_workload *wwl,
                           double timeout_s);
/** Runs the loop for s seconds (WebSockets keep receiving), printing progress via line_fn
 *  every second when given. */
void engine_idle(struct engine *e, double s, void (*line_fn)(void *ctx, struct bbuf *line),
                 void *ctx);
/** WebSockets currently open. */
unsigned engine_ws_open_count(const struct engine *e);
/** Source addresses needed for n connections to one destination, from the kernel's
 *  ephemeral port range. */
unsigned engine_addrs_needed(uint64_t n);
/** Raises RLIMIT_NOFILE to at least want (root may raise the hard limit too). Returns the
 *  soft limit now in force; prints what it did, or why it could not, to stderr. */
uint64_t engine_raise_nofile(uint64_t want);
/** Seconds since an arbitrary point (monotonic, ns resolution). */
uint64_t engine_now(void);

#endif
