/*
 * The loop: listener, signals, the timeout sweep, and the order of shutdown.
 *
 * Shutdown (SIGINT/SIGTERM): stop accepting; let the commit pipeline finish the batch in
 * flight and everything queued (their answers are written); close WebSockets with 1001; close
 * HTTP connections once their last answer is out; after a short grace period for those
 * writes, stop the loop and tear down lws, the pipeline and the store.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "regulars/conn.h"
#include "regulars/error.h"
#include "regulars/log.h"
#include "regulars/server.h"

#define SWEEP_MS 250
#define GRACE_MS 300

static void on_connection(uv_stream_t *l, int status)
{
    struct server *s = l->data;
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    conn_accept(s);
}

static void on_sweep(uv_timer_t *t)
{
    struct server *s = t->data;
    if (s->stopping) {
        uv_stop(s->loop);
        return;
    }
    conn_sweep(s, uv_now(s->loop));
}

/* Runs once per loop turn, before it blocks for I/O: the read txn that this turn's requests
 * shared (store_read_keep) must not pin old pages while nothing happens. */
static void on_idle(uv_prepare_t *h)
{
    struct server *s = h->data;
    store_read_release(&s->store);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    log_info("signal %d: shutting down", signum);
    server_stop(s);
}

void server_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    store_read_keep(&s->store, 0); /* a kept read txn would hold off a map grow we wait for */
    commit_stop(s->commit);        /* answers of the batch in flight go out below */
    if (s->ws)
        ws_server_close_all(s->ws);
    conn_close_all(s);
    /* The sweep timer becomes the grace timer: when it fires, the loop stops. */
    uv_timer_start(&s->sweep, on_sweep, GRACE_MS, 0);
}

static int listen_on(struct server *s)
{
    struct sockaddr_storage sa;
    int rc;
    if (strchr(s->cfg.host, ':'))
        rc = uv_ip6_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in6 *)&sa);
    else
        rc = uv_ip4_addr(s->cfg.host, s->cfg.port, (struct sockaddr_in *)&sa);
    if (rc) {
        log_error("listen: bad address %s", s->cfg.host);
        return RG_EINVAL;
    }
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0)) ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection))) {
        log_error("listen on %s:%d: %s", s->cfg.host, s->cfg.port, uv_strerror(rc));
        return RG_EIO;
    }
    int len = sizeof(sa);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa, &len);
    char ip[64] = "";
    int port;
    if (sa.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
        snprintf(s->bound, sizeof(s->bound), "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
        snprintf(s->bound, sizeof(s->bound), "%s:%d", ip, port);
    }
    return 0;
}

/* Everything but the listener, signals and timers: store, pipeline, hub, WebSockets, routes. */
static int server_open(struct server *s, const struct config *cfg)
{
    int rc;
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->loop = uv_default_loop();
    metrics_init(&s->metrics);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = ratelimit_init(&s->rl_addr, cfg->rate_limit)) ||
        (rc = ratelimit_init(&s->rl_secret, cfg->rate_limit)))
        return rc;
    if ((rc = store_open(&s->store, cfg->data, cfg->map_size, cfg->sync)))
        return rc;
    if (!(s->commit = commit_new(s->loop, &s->store, cfg->queue_depth)))
        return RG_ENOMEM;
    if (!(s->hub = hub_new(&s->store)))
        return RG_ENOMEM;
    struct ws_callbacks cb;
    hub_ws_callbacks(s->hub, &cb);
    struct ws_config wc = {cfg->ws_queue_bytes, 30, 64 * 1024};
    if (!(s->ws = ws_server_new(s->loop, &wc, &cb)))
        return RG_EIO;
    router_init(&s->router);
    api_register_routes(s);
    return 0;
}

int server_init(struct server *s, const struct config *cfg)
{
    int rc;
    if ((rc = server_open(s, cfg)))
        return rc;
    if ((rc = listen_on(s)))
        return rc;

    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_init(s->loop, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_prepare_init(s->loop, &s->idle);
    s->idle.data = s;
    uv_prepare_start(&s->idle, on_idle);
    store_read_keep(&s->store, 1);
    return 0;
}

/* Test/fuzz hook (conn_feed_detached): no socket, no signal, no timer ever starts. */
int server_init_detached(struct server *s, const struct config *cfg)
{
    int rc;
    if ((rc = server_open(s, cfg)))
        return rc;
    uv_tcp_init(s->loop, &s->listener);
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    uv_timer_init(s->loop, &s->sweep);
    uv_prepare_init(s->loop, &s->idle);
    return 0;
}

int server_run(struct server *s)
{
    printf("regularsd listening on http://%s\n", s->bound);
    fflush(stdout);
    log_info("regularsd %s listening on %s, data %s, sync %s", REGULARS_VERSION, s->bound,
             s->cfg.data,
             s->cfg.sync == STORE_SYNC_FULL ? "full"
                                            : s->cfg.sync == STORE_SYNC_NOMETA ? "nometa" : "none");
    uv_run(s->loop, UV_RUN_DEFAULT);
    return 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void server_fini(struct server *s)
{
    if (s->ws) {
        ws_server_free(s->ws); /* runs the loop as lws needs */
        s->ws = NULL;
    }
    if (s->commit) {
        store_read_keep(&s->store, 0);
        commit_stop(s->commit);
        commit_free(s->commit);
        s->commit = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&s->sigint))
        uv_close((uv_handle_t *)&s->sigint, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->sigterm))
        uv_close((uv_handle_t *)&s->sigterm, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->sweep))
        uv_close((uv_handle_t *)&s->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->idle))
        uv_close((uv_handle_t *)&s->idle, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, NULL);
    /* Connections still open (lingering, or a client that never reads) close now. */
    conn_abort_all(s);
    uv_walk(s->loop, close_walk, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(s->loop))
        log_warn("loop closed with handles still open");
    if (s->hub) {
        hub_free(s->hub);
        s->hub = NULL;
    }
    store_close(&s->store);
    ratelimit_fini(&s->rl_addr);
    ratelimit_fini(&s->rl_secret);
    log_info("stopped");
}
