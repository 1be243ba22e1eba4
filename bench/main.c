/*
 * regulars-bench: load generator and push-latency meter for regularsd (and, for baselines,
 * any HTTP server on the loopback). `regulars-bench --help` lists scenarios and flags;
 * bench/README.md explains what each figure means.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report.h"
#include "scenario.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: regulars-bench SCENARIO [flags]      load a server on 127.0.0.0/8\n"
        "       regulars-bench report DIR [--machine TEXT]\n"
        "                                            writes DIR/report.md, DIR/chart.svg\n"
        "                                            from the result files in DIR\n"
        "\n"
        "scenarios (the server must run with --bench, except `read --no-seed`):\n"
        "  read         GET /v1/me with random users' tokens         (closed loop unless --rate)\n"
        "  purchase     durable POST /v1/purchases, unique Idempotency-Keys, friends hold live\n"
        "               shares at the buyer's merchant                (closed loop unless --rate)\n"
        "  mix          90 %% reads, 10 %% purchases                  (closed loop unless --rate)\n"
        "  push         N users on /v1/stream, purchases at --rate; latency from each purchase's\n"
        "               send to each of its notifications\n"
        "  connections  hold N idle WebSockets; the server's RSS per connection (from /proc)\n"
        "  seed         create the data set and save it to --seed-file\n"
        "  fetch        print the body of GET --path as the first seeded user\n"
        "\n"
        "flags:\n"
        "  --url URL             server, http://127.0.0.1:8080 (127.0.0.0/8 only)\n"
        "  --duration S          seconds measured [10]\n"
        "  --warmup S            seconds run before measuring [2]\n"
        "  --connections N       HTTP connections [64]; push: WebSockets [10000];\n"
        "                        connections: WebSockets [100000]\n"
        "  --http-connections N  push: connections sending purchases [64]\n"
        "  --rate R              open loop at R requests/s, latency from the scheduled time\n"
        "                        (coordinated omission corrected); push: purchases/s [1000]\n"
        "  --pipeline D          requests in flight per connection, closed loop [1]\n"
        "  --users N             users to seed [10000; push: --connections; connections:\n"
        "                        --connections up to 100000]\n"
        "  --merchants N         merchants to seed [100]\n"
        "  --friends N           friends per user, average [20]\n"
        "  --seed N              seed of the data set [1]\n"
        "  --seed-file PATH      reuse this data set (ndjson from /bench/seed) or save it there\n"
        "  --sharers N           users who share a purchase before a write scenario\n"
        "                        [a quarter of the users, at most 2500]\n"
        "  --group N             neighbours on the friend ring who buy at one merchant [8]\n"
        "  --read-pct P          mix: percentage of reads [90]\n"
        "  --path P              read/fetch: path to GET [/v1/me]\n"
        "  --no-seed             read: no data set (for a baseline server); token \"bench\"\n"
        "  --label TEXT          what is measured, for the report [regularsd]\n"
        "  --id ID               result id, for the report [the scenario]\n"
        "  --json PATH           write the result as JSON to PATH\n"
        "  --server-pid PID      the server's process (else found from the listening port)\n"
        "  --timeout-ms MS       a request unanswered this long is an error [5000]\n"
        "  --src-addrs K         bind to 127.0.0.1..127.0.0.K [as many as the port range needs]\n"
        "  --ws-window N         WebSocket handshakes in flight at once [256]\n"
        "  --grace S             push: wait for late notifications [2]\n"
        "  --hold S              connections: hold them this long [--duration]\n"
        "  --quiet               no progress line\n");
}

static int parse_url(struct bench_opts *o, const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    char host[40];
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, p, n);
    host[n] = '\0';
    int port = 80;
    if (p[n] == ':')
        port = atoi(p + n + 1);
    if (port <= 0 || port > 65535)
        return -1;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    memset(&o->target, 0, sizeof(o->target));
    o->target.sin_family = AF_INET;
    o->target.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &o->target.sin_addr) != 1)
        return -1;
    if ((ntohl(o->target.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "regulars-bench: %s is not on the loopback (127.0.0.0/8)\n", host);
        return -1;
    }
    snprintf(o->host, sizeof(o->host), "%s:%d", host, port);
    o->url = url;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * The human table
 * ---------------------------------------------------------------------------------------- */

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void fmt_us(char *out, size_t n, double us)
{
    if (us < 1000)
        snprintf(out, n, "%.0f us", us);
    else if (us < 100000)
        snprintf(out, n, "%.2f ms", us / 1000);
    else
        snprintf(out, n, "%.0f ms", us / 1000);
}

static void print_lat_row(const char *name, json_t *count, double rps, json_t *lat)
{
    char c[5][16];
    const char *keys[5] = {"p50", "p90", "p99", "p999", "max"};
    for (int i = 0; i < 5; i++)
        fmt_us(c[i], sizeof(c[i]), num(lat, keys[i]));
    printf("  %-10s %12.0f %12.1f %10s %10s %10s %10s %10s\n", name, json_number_value(count), rps,
           c[0], c[1], c[2], c[3], c[4]);
}

static void print_human(json_t *res)
{
    const char *scen = json_string_value(json_object_get(res, "scenario"));
    if (!scen || strcmp(scen, "seed") == 0 || strcmp(scen, "fetch") == 0)
        return;
    printf("\nregulars-bench %s: %s at %s\n", scen,
           json_string_value(json_object_get(res, "label")),
           json_string_value(json_object_get(res, "target")));
    json_t *cn = json_object_get(res, "connections");
    if (json_is_object(cn)) {
        printf("  WebSockets: %.0f wanted, %.0f opened in %.1f s (%.0f/s), %.0f held after "
               "%.0f s, %.0f failed, %.0f closed by the server\n",
               num(cn, "wanted"), num(cn, "opened"), num(cn, "connect_s"), num(cn, "connect_rate"),
               num(cn, "held"), num(res, "duration_s"), num(cn, "failed"),
               num(cn, "closed_by_server"));
        double before = num(cn, "server_rss_before_kib"), after = num(cn, "server_rss_after_kib");
        if (before > 0)
            printf("  server RSS: %.1f MiB before, %.1f MiB with them open: %.0f bytes "
                   "(%.2f KiB) per connection\n",
                   before / 1024, after / 1024, num(cn, "server_bytes_per_connection"),
                   num(cn, "server_bytes_per_connection") / 1024);
        char a[16], b[16];
        json_t *hs = json_object_get(cn, "handshake_latency_us");
        fmt_us(a, sizeof(a), num(hs, "p50"));
        fmt_us(b, sizeof(b), num(hs, "p99"));
        printf("  handshake latency: p50 %s, p99 %s\n\n", a, b);
        return;
    }
    const char *mode = json_string_value(json_object_get(res, "mode"));
    printf("  %s loop, %.0f connections", mode ? mode : "?", num(res, "connections"));
    if (json_object_get(res, "rate"))
        printf(", %.0f requests/s scheduled", num(res, "rate"));
    else if (num(res, "pipeline") > 1)
        printf(", pipeline %.0f", num(res, "pipeline"));
    printf(", %.1f s measured after %.1f s warm-up\n", num(res, "duration_s"),
           num(res, "warmup_s"));
    printf("  %-10s %12s %12s %10s %10s %10s %10s %10s\n", "kind", "requests", "req/s", "p50",
           "p90", "p99", "p99.9", "max");
    print_lat_row("all", json_object_get(res, "requests"), num(res, "throughput"),
                  json_object_get(res, "latency_us"));
    json_t *kinds = json_object_get(res, "kinds");
    if (json_object_size(kinds) > 1) {
        const char *k;
        json_t *v;
        json_object_foreach(kinds, k, v)
        {
            print_lat_row(k, json_object_get(v, "requests"), num(v, "throughput"),
                          json_object_get(v, "latency_us"));
        }
    }
    json_t *push = json_object_get(res, "push");
    if (json_is_object(push)) {
        json_t *nl = json_object_get(push, "notify_latency_us");
        print_lat_row("notify", json_object_get(nl, "count"), 0, nl);
        printf("  %.0f WebSockets open; notifications: %.0f expected, %.0f received, %.0f "
               "missing; %.0f of %.0f purchases referred\n",
               num(push, "websockets_open"), num(push, "notifications_expected"),
               num(push, "notifications_received"), num(push, "missing"), num(push, "referred"),
               num(push, "purchases"));
    }
    json_t *att = json_object_get(res, "attribution");
    if (json_is_object(att))
        printf("  attribution: %.0f of %.0f purchases credited a friend's share (%.0f %%)\n",
               num(att, "referred"), num(att, "purchases"), 100 * num(att, "referred_share"));
    json_t *io = json_object_get(res, "commit_io");
    if (json_is_object(io))
        printf("  disk: %.1f pages (4 KiB) written by the commit thread per purchase\n",
               num(io, "pages_per_purchase"));
    json_t *e = json_object_get(res, "errors");
    printf("  errors %.0f (4xx %.0f, 5xx %.0f, connect %.0f, io %.0f, timeout %.0f, "
           "unsent %.0f)\n",
           num(res, "errors_total"), num(e, "status_4xx"), num(e, "status_5xx"), num(e, "connect"),
           num(e, "io"), num(e, "timeout"), num(e, "unsent"));
    const char *first = json_string_value(json_object_get(res, "first_error"));
    if (first)
        printf("  first error: %s\n", first);
    double gen = num(json_object_get(res, "generator"), "cpu_cores");
    printf("  CPU: server %.2f cores, generator %.2f cores%s\n\n",
           num(json_object_get(res, "server"), "cpu_cores"), gen,
           gen > 0.9 ? " (the generator was busy: the figure may be its limit)" : "");
}

/* ------------------------------------------------------------------------------------------
 * Flags
 * ---------------------------------------------------------------------------------------- */

enum {
    OPT_URL = 256,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_CONNS,
    OPT_HTTP_CONNS,
    OPT_RATE,
    OPT_PIPELINE,
    OPT_USERS,
    OPT_MERCHANTS,
    OPT_FRIENDS,
    OPT_SEED,
    OPT_SEED_FILE,
    OPT_SHARERS,
    OPT_GROUP,
    OPT_READ_PCT,
    OPT_PATH,
    OPT_NO_SEED,
    OPT_LABEL,
    OPT_ID,
    OPT_JSON,
    OPT_SERVER_PID,
    OPT_TIMEOUT,
    OPT_SRC_ADDRS,
    OPT_WS_WINDOW,
    OPT_GRACE,
    OPT_HOLD,
    OPT_QUIET,
    OPT_MACHINE,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"connections", required_argument, NULL, OPT_CONNS},
    {"http-connections", required_argument, NULL, OPT_HTTP_CONNS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"users", required_argument, NULL, OPT_USERS},
    {"merchants", required_argument, NULL, OPT_MERCHANTS},
    {"friends", required_argument, NULL, OPT_FRIENDS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"seed-file", required_argument, NULL, OPT_SEED_FILE},
    {"sharers", required_argument, NULL, OPT_SHARERS},
    {"group", required_argument, NULL, OPT_GROUP},
    {"read-pct", required_argument, NULL, OPT_READ_PCT},
    {"path", required_argument, NULL, OPT_PATH},
    {"no-seed", no_argument, NULL, OPT_NO_SEED},
    {"label", required_argument, NULL, OPT_LABEL},
    {"id", required_argument, NULL, OPT_ID},
    {"json", required_argument, NULL, OPT_JSON},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"src-addrs", required_argument, NULL, OPT_SRC_ADDRS},
    {"ws-window", required_argument, NULL, OPT_WS_WINDOW},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"machine", required_argument, NULL, OPT_MACHINE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* A non-negative number, or exits with a message. */
static double number(const char *flag, const char *v, double max)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < 0 || d > max) {
        fprintf(stderr, "regulars-bench: --%s wants a number from 0 to %.0f, not \"%s\"\n", flag,
                max, v);
        exit(2);
    }
    return d;
}

static const char *scenarios[] = {"read", "purchase", "mix",    "push", "connections",
                                  "seed", "fetch",    "report", NULL};

int main(int argc, char **argv)
{
    struct bench_opts o = {0};
    const char *url = "http://127.0.0.1:8080";
    const char *machine = NULL;
    long conns = -1, users = -1;
    double hold = -1;
    o.duration_s = 10;
    o.warmup_s = 2;
    o.http_conns = 64;
    o.pipeline = 1;
    o.merchants = 100;
    o.friends = 20;
    o.seed = 1;
    o.sharers = UINT32_MAX;
    o.group = 8;
    o.read_pct = 90;
    o.path = "/v1/me";
    o.timeout_ms = 5000;
    o.ws_window = 256;
    o.grace_s = 2;
    o.rate = -1;

    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_URL:
            url = optarg;
            break;
        case OPT_DURATION:
            o.duration_s = number("duration", optarg, 86400);
            break;
        case OPT_WARMUP:
            o.warmup_s = number("warmup", optarg, 3600);
            break;
        case OPT_CONNS:
            conns = (long)number("connections", optarg, 5000000);
            break;
        case OPT_HTTP_CONNS:
            o.http_conns = (unsigned)number("http-connections", optarg, 10000);
            break;
        case OPT_RATE:
            o.rate = number("rate", optarg, 1e8);
            break;
        case OPT_PIPELINE:
            o.pipeline = (unsigned)number("pipeline", optarg, 64);
            break;
        case OPT_USERS:
            users = (long)number("users", optarg, 1000000);
            break;
        case OPT_MERCHANTS:
            o.merchants = (unsigned)number("merchants", optarg, 10000);
            break;
        case OPT_FRIENDS:
            o.friends = (unsigned)number("friends", optarg, 200);
            break;
        case OPT_SEED:
            o.seed = (uint64_t)number("seed", optarg, 1e15);
            break;
        case OPT_SEED_FILE:
            o.seed_file = optarg;
            break;
        case OPT_SHARERS:
            o.sharers = (unsigned)number("sharers", optarg, 1000000);
            break;
        case OPT_GROUP:
            o.group = (unsigned)number("group", optarg, 1000);
            break;
        case OPT_READ_PCT:
            o.read_pct = (unsigned)number("read-pct", optarg, 100);
            break;
        case OPT_PATH:
            o.path = optarg;
            break;
        case OPT_NO_SEED:
            o.no_seed = 1;
            break;
        case OPT_LABEL:
            o.label = optarg;
            break;
        case OPT_ID:
            o.id = optarg;
            break;
        case OPT_JSON:
            o.json_out = optarg;
            break;
        case OPT_SERVER_PID:
            o.server_pid = (int)number("server-pid", optarg, 1 << 30);
            break;
        case OPT_TIMEOUT:
            o.timeout_ms = (unsigned)number("timeout-ms", optarg, 3600000);
            break;
        case OPT_SRC_ADDRS:
            o.src_addrs = (unsigned)number("src-addrs", optarg, 250);
            break;
        case OPT_WS_WINDOW:
            o.ws_window = (unsigned)number("ws-window", optarg, 100000);
            break;
        case OPT_GRACE:
            o.grace_s = number("grace", optarg, 3600);
            break;
        case OPT_HOLD:
            hold = number("hold", optarg, 86400);
            break;
        case OPT_QUIET:
            o.quiet = 1;
            break;
        case OPT_MACHINE:
            machine = optarg;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("regulars-bench %s\n", REGULARS_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    o.scenario = argv[optind];
    int known = 0;
    for (int i = 0; scenarios[i]; i++)
        known |= strcmp(o.scenario, scenarios[i]) == 0;
    if (!known || argc - optind > (strcmp(o.scenario, "report") == 0 ? 2 : 1)) {
        fprintf(stderr, "regulars-bench: unknown scenario or extra argument \"%s\"\n",
                argv[argc - 1]);
        usage(stderr);
        return 2;
    }
    if (strcmp(o.scenario, "report") == 0) {
        if (argc - optind != 2) {
            fprintf(stderr, "regulars-bench: report DIR\n");
            return 2;
        }
        return report_write(argv[optind + 1], machine) ? 1 : 0;
    }
    if (parse_url(&o, url)) {
        fprintf(stderr, "regulars-bench: bad --url \"%s\" (want http://127.0.0.x:PORT)\n", url);
        return 2;
    }

    /* Defaults that depend on the scenario. */
    int push = strcmp(o.scenario, "push") == 0;
    int crowd = strcmp(o.scenario, "connections") == 0;
    o.conns = conns >= 0 ? (unsigned)conns : push ? 10000 : crowd ? 100000 : 64;
    if (o.conns == 0) {
        fprintf(stderr, "regulars-bench: --connections must be at least 1\n");
        return 2;
    }
    if (users >= 0)
        o.users = (unsigned)users;
    else if (push)
        o.users = o.conns > 10000 ? o.conns : 10000;
    else if (crowd)
        o.users = o.conns < 100000 ? o.conns : 100000;
    else
        o.users = 10000;
    if (push && o.rate < 0)
        o.rate = 1000;
    if (o.rate < 0)
        o.rate = 0;
    if (push && o.rate == 0) {
        fprintf(stderr, "regulars-bench: push needs --rate > 0\n");
        return 2;
    }
    o.hold_s = hold >= 0 ? hold : o.duration_s;
    if (o.group == 0)
        o.group = 1;

    /* A closed socket shows up as an error return, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    json_t *res = scenario_run(&o);
    if (!res)
        return 1;
    print_human(res);
    int rc = 0;
    if (o.json_out && json_dump_file(res, o.json_out, JSON_INDENT(2) | JSON_SORT_KEYS)) {
        fprintf(stderr, "regulars-bench: cannot write %s\n", o.json_out);
        rc = 1;
    }
    json_decref(res);
    return rc;
}
