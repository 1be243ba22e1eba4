/*
 * Flags and their REGULARS_* environment fallbacks. One table describes every option, so the
 * parser, the environment and --help cannot disagree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regulars/config.h"
#include "regulars/error.h"
#include "regulars/log.h"

enum opt_type { OPT_LISTEN, OPT_STR, OPT_SIZE, OPT_UINT, OPT_SYNC, OPT_LEVEL, OPT_FLAG };

struct opt {
    const char *name; /* flag without "--"; env is REGULARS_ + upper(name with - -> _) */
    enum opt_type type;
    size_t off;
    size_t size; /* for strings: buffer size; for uints: sizeof the field */
    const char *help;
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct opt opts[] = {
    {"listen", OPT_LISTEN, 0, 0, "HOST:PORT to listen on (port 0 picks a free port) [127.0.0.1:8080]"},
    {"data", OPT_STR, F(data), "LMDB data folder [./regulars-data]"},
    {"map-size", OPT_SIZE, F(map_size), "initial LMDB map size in bytes, grows when full [64M]"},
    {"sync", OPT_SYNC, F(sync),
     "full | nometa | none: durability of commits; nometa and none are UNSAFE (for measurement) [full]"},
    {"max-header-bytes", OPT_SIZE, F(max_header_bytes), "request line + headers limit, over -> 431 [8192]"},
    {"max-body-bytes", OPT_SIZE, F(max_body_bytes), "request body limit, over -> 413 [65536]"},
    {"header-timeout-ms", OPT_UINT, F(header_timeout_ms), "time to receive a whole request, over -> 408 [10000]"},
    {"idle-timeout-ms", OPT_UINT, F(idle_timeout_ms), "idle keep-alive connections are closed after [60000]"},
    {"max-conns", OPT_UINT, F(max_conns), "open HTTP connections, over -> 503 and close [10000]"},
    {"max-ws", OPT_UINT, F(max_ws), "open WebSockets, over -> 503 [200000]"},
    {"queue-depth", OPT_SIZE, F(queue_depth), "writes waiting for the commit thread, over -> 503 [4096]"},
    {"ws-queue-bytes", OPT_SIZE, F(ws_queue_bytes), "unsent bytes per WebSocket, over -> close 1008 [1M]"},
    {"rate-limit", OPT_UINT, F(rate_limit), "requests per second per secret and per address, over -> 429; 0 = off [0]"},
    {"log-level", OPT_LEVEL, F(log_level), "error | warn | info | debug [info]"},
    {"allowed-origin", OPT_STR, F(allowed_origin), "only this Origin may open WebSockets (default: any)"},
    {"bench", OPT_FLAG, F(bench), "enable /bench/* (clock and seed); never in production"},
    {"demo", OPT_FLAG, F(demo), "seed a small city when the data folder is empty and simulate traffic"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = 8080;
    snprintf(c->data, sizeof(c->data), "./regulars-data");
    c->map_size = (size_t)64 << 20;
    c->sync = STORE_SYNC_FULL;
    c->max_header_bytes = 8192;
    c->max_body_bytes = 65536;
    c->header_timeout_ms = 10000;
    c->idle_timeout_ms = 60000;
    c->max_conns = 10000;
    c->max_ws = 200000;
    c->queue_depth = 4096;
    c->ws_queue_bytes = (size_t)1 << 20;
    c->rate_limit = 0;
    c->log_level = LOG_INFO;
}

/* Parses "123", "64K", "64M", "1G". */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return RG_EINVAL;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return RG_EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

static int set_opt(struct config *c, const struct opt *o, const char *v)
{
    char *field = (char *)c + o->off;
    uint64_t n;
    switch (o->type) {
    case OPT_LISTEN: {
        const char *colon = strrchr(v, ':');
        if (!colon || colon == v || (size_t)(colon - v) >= sizeof(c->host))
            return RG_EINVAL;
        if (parse_size(colon + 1, &n) || n > 65535)
            return RG_EINVAL;
        memcpy(c->host, v, (size_t)(colon - v));
        c->host[colon - v] = '\0';
        c->port = (int)n;
        return 0;
    }
    case OPT_STR:
        if (strlen(v) >= o->size)
            return RG_EINVAL;
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case OPT_SIZE:
        if (parse_size(v, &n) || n == 0)
            return RG_EINVAL;
        *(size_t *)field = (size_t)n;
        return 0;
    case OPT_UINT:
        if (parse_size(v, &n) || n > UINT32_MAX)
            return RG_EINVAL;
        *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_SYNC:
        if (strcmp(v, "full") == 0)
            c->sync = STORE_SYNC_FULL;
        else if (strcmp(v, "nometa") == 0)
            c->sync = STORE_SYNC_NOMETA;
        else if (strcmp(v, "none") == 0)
            c->sync = STORE_SYNC_NONE;
        else
            return RG_EINVAL;
        return 0;
    case OPT_LEVEL: {
        int l = log_parse_level(v);
        if (l < 0)
            return RG_EINVAL;
        c->log_level = l;
        return 0;
    }
    case OPT_FLAG:
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
            *(int *)field = 1;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
            *(int *)field = 0;
        else
            return RG_EINVAL;
        return 0;
    }
    return RG_EINVAL;
}

void config_usage(void *fp)
{
    FILE *f = fp;
    fprintf(f, "usage: regularsd [options]\n\n"
               "The regulars loyalty server: HTTP/1.1 and WebSockets on one port, LMDB storage.\n\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64] = "REGULARS_";
        size_t k = strlen(env);
        for (const char *p = opts[i].name; *p && k < sizeof(env) - 1; p++)
            env[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[k] = '\0';
        fprintf(f, "  --%-20s %s%s\n  %-22s (env %s)\n", opts[i].name,
                opts[i].type == OPT_FLAG ? "" : "VALUE  ", opts[i].help, "", env);
    }
    fprintf(f, "  --%-20s %s\n  --%-20s %s\n", "help", "this text", "version", "print the version");
}

int config_parse(struct config *c, int argc, char **argv)
{
    /* Environment first, so that flags win. */
    for (size_t i = 0; i < NOPTS; i++) {
        char env[64] = "REGULARS_";
        size_t k = strlen(env);
        for (const char *p = opts[i].name; *p && k < sizeof(env) - 1; p++)
            env[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[k] = '\0';
        const char *v = getenv(env);
        if (v && *v && set_opt(c, &opts[i], v)) {
            fprintf(stderr, "regularsd: invalid value for %s: %s\n", env, v);
            return RG_EINVAL;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("regularsd %s\n", REGULARS_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "regularsd: unexpected argument %s (see --help)\n", a);
            return RG_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = NULL;
        for (size_t j = 0; j < NOPTS; j++)
            if (strlen(opts[j].name) == nlen && strncmp(opts[j].name, name, nlen) == 0)
                o = &opts[j];
        if (!o) {
            fprintf(stderr, "regularsd: unknown option %s (see --help)\n", a);
            return RG_EINVAL;
        }
        const char *v;
        if (eq)
            v = eq + 1;
        else if (o->type == OPT_FLAG)
            v = "1";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            fprintf(stderr, "regularsd: %s needs a value\n", a);
            return RG_EINVAL;
        }
        if (set_opt(c, o, v)) {
            fprintf(stderr, "regularsd: invalid value for --%s: %s\n", o->name, v);
            return RG_EINVAL;
        }
    }
    return 0;
}
