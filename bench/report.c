/*
 * The bench report: see report.h. Written with jansson for reading and plain text for
 * writing: a reader can open report.md anywhere and chart.svg in any browser.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bbuf.h"
#include "report.h"

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The results in dir, in file name order (the suite numbers its files). */
static json_t *load_results(const char *dir, json_t **meta)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        json_t *o = json_load_file(path, 0, NULL);
        if (strcmp(names[i], "meta.json") == 0) {
            if (meta)
                *meta = o;
            else
                json_decref(o);
        } else if (json_is_object(o) && json_object_get(o, "scenario")) {
            json_array_append_new(arr, o);
        } else {
            json_decref(o);
        }
        free(names[i]);
    }
    free(names);
    return arr;
}

static json_t *by_id(json_t *results, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(results, i, o)
    {
        const char *s = json_string_value(json_object_get(o, "id"));
        if (s && strcmp(s, id) == 0)
            return o;
    }
    return NULL;
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static double lat(json_t *o, const char *k)
{
    return num(json_object_get(o, "latency_us"), k);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Other processes used more than this share of a core next to the server or the generator:
 * the figure was measured on a busy machine and understates what the server can do. */
#define REPORT_OTHER_LOAD_MAX 0.15

static double other_load(json_t *o, const char *who)
{
    return num(json_object_get(o, who), "other_load");
}

static int disturbed(json_t *o)
{
    return o && (other_load(o, "server") > REPORT_OTHER_LOAD_MAX ||
                 other_load(o, "generator") > REPORT_OTHER_LOAD_MAX);
}

/* ------------------------------------------------------------------------------------------
 * Formatting
 * ---------------------------------------------------------------------------------------- */

/* 1234567 -> "1,234,567" */
static void fmt_int(char *out, size_t n, double v)
{
    char raw[32];
    snprintf(raw, sizeof(raw), "%.0f", v < 0 ? -v : v);
    size_t l = strlen(raw), o = 0;
    if (v < 0 && o + 1 < n)
        out[o++] = '-';
    for (size_t i = 0; i < l && o + 2 < n; i++) {
        if (i && (l - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = raw[i];
    }
    out[o] = '\0';
}

static void fmt_us(char *out, size_t n, double us)
{
    if (us <= 0)
        snprintf(out, n, "-");
    else if (us < 1000)
        snprintf(out, n, "%.0f µs", us);
    else if (us < 10000)
        snprintf(out, n, "%.2f ms", us / 1000);
    else if (us < 1000000)
        snprintf(out, n, "%.1f ms", us / 1000);
    else
        snprintf(out, n, "%.2f s", us / 1e6);
}

/* "85.2k" */
static void fmt_short(char *out, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(out, n, "%.0fk", v / 1e3);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
}

static const char *verdict(int ok)
{
    return ok ? "met" : "**not met**";
}

/* The verdict, with a warning when a result it rests on was measured on a busy machine. */
static const char *verdict2(int ok, json_t *a, json_t *b)
{
    if (disturbed(a) || disturbed(b))
        return ok ? "met (busy machine: see CPU)" : "**not met** (busy machine: see CPU)";
    return verdict(ok);
}

/* ------------------------------------------------------------------------------------------
 * Targets
 * ---------------------------------------------------------------------------------------- */

void report_targets(struct bbuf *out, json_t *results)
{
    char a[32], b[32], c[32];
    bbuf_adds(out, "| claim | target | measured in this run | |\n|---|---|---|---|\n");

    json_t *rd = by_id(results, "read"), *ng = by_id(results, "read-nginx");
    if (rd && ng && num(ng, "throughput") > 0) {
        double r = num(rd, "throughput") / num(ng, "throughput");
        fmt_int(a, sizeof(a), num(rd, "throughput"));
        fmt_int(b, sizeof(b), num(ng, "throughput"));
        bbuf_printf(out,
                    "| `GET /v1/me` vs nginx `return 200` with the same bytes (1 worker, one "
                    "core each) | ≥ 0.8× | **%.2f×** (%s vs %s req/s) | %s |\n",
                    r, a, b, verdict2(r >= 0.8, rd, ng));
    } else {
        bbuf_adds(out, "| `GET /v1/me` vs nginx | ≥ 0.8× | not measured | |\n");
    }

    json_t *pf = by_id(results, "purchase"), *pn = by_id(results, "purchase-nosync");
    if (pf && pn && num(pn, "throughput") > 0) {
        double r = num(pf, "throughput") / num(pn, "throughput");
        fmt_int(a, sizeof(a), num(pf, "throughput"));
        fmt_int(b, sizeof(b), num(pn, "throughput"));
        bbuf_printf(out,
                    "| durable purchases vs the same server with `--sync none` | ≥ 0.6× | "
                    "**%.2f×** (%s vs %s purchases/s) | %s |\n",
                    r, a, b, verdict2(r >= 0.6, pf, pn));
    } else {
        bbuf_adds(out, "| durable purchases vs `--sync none` | ≥ 0.6× | not measured | |\n");
    }

    json_t *ph = by_id(results, "purchase-half");
    if (ph) {
        fmt_us(a, sizeof(a), lat(ph, "p99"));
        fmt_int(b, sizeof(b), num(ph, "rate"));
        int ok = lat(ph, "p99") > 0 && lat(ph, "p99") < 10000 && num(ph, "errors_total") == 0;
        bbuf_printf(out,
                    "| durable purchase p99 at half the maximum rate (open loop, from the "
                    "scheduled send) | < 10 ms | **%s** at %s/s | %s |\n",
                    a, b, verdict2(ok, ph, NULL));
    } else {
        bbuf_adds(out, "| purchase p99 at half the maximum rate | < 10 ms | not measured | |\n");
    }

    json_t *pu = by_id(results, "push");
    json_t *pp = json_object_get(pu, "push");
    if (pu && pp) {
        json_t *nl = json_object_get(pp, "notify_latency_us");
        fmt_us(a, sizeof(a), num(nl, "p99"));
        fmt_int(b, sizeof(b), num(pp, "purchase_rate"));
        fmt_int(c, sizeof(c), num(pp, "websockets_open"));
        int ok = num(nl, "p99") > 0 && num(nl, "p99") < 5000 && num(pp, "missing") == 0;
        int full = num(pp, "purchase_rate") >= 1000 && num(pp, "websockets_open") >= 10000;
        bbuf_printf(out,
                    "| push: purchase sent → notification received, p99 | < 5 ms at 1,000 "
                    "purchases/s, 10,000 users | **%s** at %s/s, %s users online, %.0f "
                    "missing | %s |\n",
                    a, b, c, num(pp, "missing"),
                    full ? verdict2(ok, pu, NULL) : "n/a (smaller run)");
    } else {
        bbuf_adds(out, "| push p99 | < 5 ms | not measured | |\n");
    }

    json_t *cn = json_object_get(by_id(results, "connections"), "connections");
    if (cn) {
        fmt_int(a, sizeof(a), num(cn, "held"));
        fmt_int(b, sizeof(b), num(cn, "wanted"));
        bbuf_printf(out, "| idle WebSockets held | 100,000 | **%s** of %s | %s |\n", a, b,
                    num(cn, "wanted") < 100000 ? "n/a (smaller run)"
                                               : verdict(num(cn, "held") >= 100000));
        double per = num(cn, "server_bytes_per_connection");
        if (per > 0)
            bbuf_printf(out,
                        "| server memory per idle WebSocket (RSS growth / connections) | ≤ 8 "
                        "KiB | **%.2f KiB** | %s |\n",
                        per / 1024, verdict(per <= 8192));
        else
            bbuf_adds(out, "| server memory per idle WebSocket | ≤ 8 KiB | not measured | |\n");
    } else {
        bbuf_adds(out, "| idle WebSockets held | 100,000 | not measured | |\n");
    }
}

/* ------------------------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------------------------- */

static void load_desc(char *out, size_t n, json_t *o)
{
    const char *mode = str(o, "mode");
    char r[32];
    if (strcmp(mode, "open") == 0) {
        fmt_int(r, sizeof(r), num(o, "rate"));
        snprintf(out, n, "open, %s/s, %.0f conns", r, num(o, "connections"));
    } else if (strcmp(mode, "closed") == 0) {
        snprintf(out, n, "closed, %.0f conns%s", num(o, "connections"),
                 num(o, "pipeline") > 1 ? ", pipelined" : "");
    } else {
        snprintf(out, n, "%s", mode);
    }
}

static void results_table(struct bbuf *out, json_t *results)
{
    bbuf_adds(out, "| id | scenario | server | load | throughput | p50 | p90 | p99 | p99.9 | "
                   "max | errors | CPU server / generator | others on those CPUs |\n"
                   "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    size_t i;
    json_t *o;
    json_array_foreach(results, i, o)
    {
        const char *scen = str(o, "scenario");
        if (strcmp(scen, "lmdb_ceiling") == 0)
            continue;
        char load[64], tp[32], p[5][24];
        const char *keys[5] = {"p50", "p90", "p99", "p999", "max"};
        json_t *latency = json_object_get(o, "latency_us");
        json_t *cn = json_object_get(o, "connections");
        if (json_is_object(cn)) {
            snprintf(load, sizeof(load), "hold %.0f s", num(o, "duration_s"));
            fmt_int(tp, sizeof(tp), num(cn, "held"));
            strcat(tp, " held");
            latency = json_object_get(cn, "handshake_latency_us");
        } else {
            load_desc(load, sizeof(load), o);
            fmt_int(tp, sizeof(tp), num(o, "throughput"));
            strcat(tp, "/s");
        }
        for (int k = 0; k < 5; k++)
            fmt_us(p[k], sizeof(p[k]), num(latency, keys[k]));
        double scpu = num(json_object_get(o, "server"), "cpu_cores");
        double gcpu = num(json_object_get(o, "generator"), "cpu_cores");
        char cpu[32] = "-";
        if (scpu > 0 || gcpu > 0)
            snprintf(cpu, sizeof(cpu), "%.0f %% / %.0f %%", 100 * scpu, 100 * gcpu);
        char others[48] = "-";
        if (json_object_get(json_object_get(o, "server"), "other_load"))
            snprintf(others, sizeof(others), "%s%.0f %% / %.0f %%%s", disturbed(o) ? "**" : "",
                     100 * other_load(o, "server"), 100 * other_load(o, "generator"),
                     disturbed(o) ? "**" : "");
        bbuf_printf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n",
                    str(o, "id"), scen, str(o, "label"), load, tp, p[0], p[1], p[2], p[3], p[4],
                    num(o, "errors_total"), cpu, others);
        json_t *pp = json_object_get(o, "push");
        if (json_is_object(pp)) {
            json_t *nl = json_object_get(pp, "notify_latency_us");
            for (int k = 0; k < 5; k++)
                fmt_us(p[k], sizeof(p[k]), num(nl, keys[k]));
            char cnt[32];
            fmt_int(cnt, sizeof(cnt), num(nl, "count"));
            bbuf_printf(out,
                        "| ↳ push | notification | %s | %.0f users online | %s events | %s | "
                        "%s | %s | %s | %s | %.0f missing | | |\n",
                        str(o, "label"), num(pp, "websockets_open"), cnt, p[0], p[1], p[2], p[3],
                        p[4], num(pp, "missing"));
        }
        json_t *kinds = json_object_get(o, "kinds");
        if (json_object_size(kinds) > 1) {
            const char *kn;
            json_t *kv;
            json_object_foreach(kinds, kn, kv)
            {
                json_t *kl = json_object_get(kv, "latency_us");
                for (int k = 0; k < 5; k++)
                    fmt_us(p[k], sizeof(p[k]), num(kl, keys[k]));
                fmt_int(tp, sizeof(tp), num(kv, "throughput"));
                bbuf_printf(out, "| ↳ %s | | | | %s/s | %s | %s | %s | %s | %s | | | |\n", kn, tp,
                            p[0], p[1], p[2], p[3], p[4]);
            }
        }
    }
}

static void lmdb_table(struct bbuf *out, json_t *results)
{
    json_t *lm = by_id(results, "lmdb");
    if (!lm)
        return;
    bbuf_adds(out,
              "\n### The disk's durable ceiling (bare LMDB commit loop, `bench/lmdb_ceiling.c`)\n\n"
              "| commit loop | puts per commit | pages per commit | commits/s | puts/s | "
              "commit p50 | commit p99 |\n|---|---:|---:|---:|---:|---:|---:|\n");
    const char *modes[3] = {"unbatched", "batched", "scattered"};
    const char *what[3] = {"unbatched", "batched, consecutive keys", "batched, random keys"};
    for (int i = 0; i < 3; i++) {
        json_t *m = json_object_get(lm, modes[i]);
        if (!m)
            continue;
        char c[32], p[32], a[24], b[24];
        fmt_int(c, sizeof(c), num(m, "commits_per_s"));
        fmt_int(p, sizeof(p), num(m, "puts_per_s"));
        fmt_us(a, sizeof(a), lat(m, "p50"));
        fmt_us(b, sizeof(b), lat(m, "p99"));
        bbuf_printf(out, "| %s | %.0f | %.1f | %s | %s | %s | %s |\n", what[i],
                    num(m, "puts_per_commit"), num(m, "pages_per_commit"), c, p, a, b);
    }
    /* What bounds durable purchases: the pages each one makes a commit sync, at the disk's
     * price of a scattered page. */
    double per_page = num(lm, "us_per_scattered_page");
    json_t *pf = by_id(results, "purchase");
    json_t *io = pf ? json_object_get(pf, "commit_io") : NULL;
    double pages = io ? num(io, "pages_per_purchase") : 0;
    if (per_page > 0)
        bbuf_printf(out,
                    "\nOne more scattered page in a durable commit costs %.1f µs on this disk "
                    "(the slope from the first row to the last).",
                    per_page);
    if (pf && pages > 0 && per_page > 0) {
        double ceiling = 1e6 / (pages * per_page);
        char c[32], t[32];
        fmt_int(c, sizeof(c), ceiling);
        fmt_int(t, sizeof(t), num(pf, "throughput"));
        bbuf_printf(out,
                    " A durable purchase wrote %.1f pages (the commit thread's bytes / 4 KiB, "
                    "from /proc): syncing them costs %.0f µs, a ceiling of about %s "
                    "purchases/s before any CPU is spent; `purchase` reached %s/s (%.2f× of "
                    "it). Fewer pages per purchase, not more batching, is what would raise it.\n",
                    pages, pages * per_page, c, t, num(pf, "throughput") / ceiling);
    } else if (per_page > 0) {
        bbuf_adds(out, "\n");
    }
}

/* ------------------------------------------------------------------------------------------
 * Machine
 * ---------------------------------------------------------------------------------------- */

static void machine_lines(struct bbuf *out, const char *extra, json_t *meta)
{
    char model[256] = "unknown CPU", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                snprintf(model, sizeof(model), "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        fclose(f);
    }
    long mem_kib = 0;
    if ((f = fopen("/proc/meminfo", "r"))) {
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "MemTotal: %ld kB", &mem_kib) == 1)
                break;
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    bbuf_printf(out, "- CPU: %s, %ld cores online; memory %.1f GiB; Linux %s (%s)\n", model,
                sysconf(_SC_NPROCESSORS_ONLN), mem_kib / 1048576.0, u.release, u.machine);
    if (extra && *extra)
        bbuf_printf(out, "- %s\n", extra);
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v)
    {
        if (json_is_string(v))
            bbuf_printf(out, "- %s: %s\n", k, json_string_value(v));
    }
}

/* ------------------------------------------------------------------------------------------
 * Chart
 * ---------------------------------------------------------------------------------------- */

/* Log-scale position of v in [lo, hi] over width w. */
static double logx(double v, double lo, double hi, double w)
{
    if (v <= lo)
        return 0;
    if (v >= hi)
        return w;
    return w * log(v / lo) / log(hi / lo);
}

static void svg_text(struct bbuf *out, double x, double y, const char *anchor, const char *cls,
                     const char *text)
{
    bbuf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor,
                cls);
    for (const char *p = text; *p; p++) {
        if (*p == '<')
            bbuf_adds(out, "&lt;");
        else if (*p == '>')
            bbuf_adds(out, "&gt;");
        else if (*p == '&')
            bbuf_adds(out, "&amp;");
        else
            bbuf_add(out, p, 1);
    }
    bbuf_adds(out, "</text>\n");
}

/* Percentile j's marker (0 p50 circle, 1 p90 diamond, 2 p99 triangle, 3 p99.9 square). */
static void svg_mark(struct bbuf *out, int j, double x, double cy)
{
    switch (j) {
    case 0:
        bbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#2f6fd0\"/>\n", x, cy);
        break;
    case 1:
        bbuf_printf(out, "<path d=\"M%.1f %.1fl4.5 4.5-4.5 4.5-4.5-4.5z\" fill=\"#7b4fc9\"/>\n", x,
                    cy - 4.5);
        break;
    case 2:
        bbuf_printf(out, "<path d=\"M%.1f %.1fl5 8.5h-10z\" fill=\"#d0452f\"/>\n", x, cy - 5);
        break;
    default:
        bbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#222\"/>\n",
                    x - 4, cy - 4);
        break;
    }
}

struct row {
    char label[96];    /* left column */
    double value;      /* bar value */
    char unit[24];     /* bar unit */
    const char *color; /* bar color */
    json_t *latency;   /* percentiles (µs), may be NULL */
};

void report_chart(struct bbuf *out, json_t *results)
{
    struct row rows[64];
    int n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(results, i, o)
    {
        const char *scen = str(o, "scenario");
        if (n >= 60)
            break;
        if (strcmp(scen, "lmdb_ceiling") == 0) {
            const char *modes[2] = {"unbatched", "batched"};
            for (int k = 0; k < 2; k++) {
                json_t *m = json_object_get(o, modes[k]);
                if (!m)
                    continue;
                struct row *r = &rows[n++];
                snprintf(r->label, sizeof(r->label), "LMDB commit loop, %s", modes[k]);
                r->value = num(m, "commits_per_s");
                snprintf(r->unit, sizeof(r->unit), "commits/s");
                r->color = "#d08c2f";
                r->latency = json_object_get(m, "latency_us");
            }
            continue;
        }
        struct row *r = &rows[n++];
        snprintf(r->label, sizeof(r->label), "%s · %s", str(o, "id"), str(o, "label"));
        json_t *cn = json_object_get(o, "connections");
        if (json_is_object(cn)) {
            r->value = num(cn, "held");
            snprintf(r->unit, sizeof(r->unit), "held");
            r->color = "#8a8f98";
            r->latency = json_object_get(cn, "handshake_latency_us");
            continue;
        }
        r->value = num(o, "throughput");
        snprintf(r->unit, sizeof(r->unit), "req/s");
        r->color =
            strstr(r->label, "nginx") || strstr(r->label, "sync none") ? "#9fb7d9" : "#2f6fd0";
        r->latency = json_object_get(o, "latency_us");
        json_t *pp = json_object_get(o, "push");
        if (json_is_object(pp) && n < 63) {
            struct row *q = &rows[n++];
            snprintf(q->label, sizeof(q->label), "%s · notification", str(o, "id"));
            q->value = num(json_object_get(pp, "notify_latency_us"), "count") /
                       (num(o, "duration_s") > 0 ? num(o, "duration_s") : 1);
            snprintf(q->unit, sizeof(q->unit), "events/s");
            q->color = "#3a9d5d";
            q->latency = json_object_get(pp, "notify_latency_us");
        }
    }

    const double W = 1000, left = 250, tw = 280, gap = 60, lw = W - left - tw - gap - 80;
    const double top = 70, rh = 26, H = top + rh * n + 50;
    double vmax = 10, lmin = 1e9, lmax = 10;
    for (int k = 0; k < n; k++) {
        if (rows[k].value > vmax)
            vmax = rows[k].value;
        const char *keys[5] = {"p50", "p90", "p99", "p999", "max"};
        for (int j = 0; j < 5; j++) {
            double v = num(rows[k].latency, keys[j]);
            if (v > 0 && v < lmin)
                lmin = v;
            if (v > lmax)
                lmax = v;
        }
    }
    double vlo = 10, vhi = pow(10, ceil(log10(vmax)));
    double llo = pow(10, floor(log10(lmin < lmax ? lmin : 10))), lhi = pow(10, ceil(log10(lmax)));
    if (lhi <= llo)
        lhi = llo * 10;

    bbuf_printf(out,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n",
                W, H, W, H);
    bbuf_adds(out, "<style>.t{font-size:16px;font-weight:bold}.l{font-size:12px}"
                   ".s{font-size:11px;fill:#555}.v{font-size:11px;fill:#222}"
                   ".w{font-size:11px;fill:#fff}</style>\n"
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    svg_text(out, 10, 24, "start", "t", "regulars bench: throughput and latency per scenario");
    svg_text(out, left, 50, "start", "s", "throughput (log scale)");
    svg_text(out, left + tw + gap, 50, "start", "s", "latency (log scale):");
    double lx = left + tw + gap + 112;
    const char *names[4] = {"p50", "p90", "p99", "p99.9"};
    for (int j = 0; j < 4; j++) {
        svg_mark(out, j, lx + 8 + 52 * j, 46);
        svg_text(out, lx + 16 + 52 * j, 50, "start", "s", names[j]);
    }
    bbuf_printf(out, "<line x1=\"%.1f\" y1=\"41\" x2=\"%.1f\" y2=\"51\" stroke=\"#999\"/>\n",
                lx + 8 + 52 * 4, lx + 8 + 52 * 4);
    svg_text(out, lx + 14 + 52 * 4, 50, "start", "s", "max");

    /* Grid lines at powers of ten. */
    for (double v = vlo; v <= vhi * 1.001; v *= 10) {
        double x = left + logx(v, vlo, vhi, tw);
        char t[16];
        fmt_short(t, sizeof(t), v);
        bbuf_printf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#e3e3e3\"/>\n",
                    x, top - 6, x, top + rh * n);
        svg_text(out, x, top + rh * n + 16, "middle", "s", t);
    }
    for (double v = llo; v <= lhi * 1.001; v *= 10) {
        double x = left + tw + gap + logx(v, llo, lhi, lw);
        char t[24];
        fmt_us(t, sizeof(t), v);
        bbuf_printf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#e3e3e3\"/>\n",
                    x, top - 6, x, top + rh * n);
        svg_text(out, x, top + rh * n + 16, "middle", "s", t);
    }
    for (int k = 0; k < n; k++) {
        struct row *r = &rows[k];
        double y = top + rh * k;
        if (k % 2)
            bbuf_printf(out,
                        "<rect x=\"0\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" "
                        "fill=\"#f7f7f7\"/>\n",
                        y - 4, W, rh);
        svg_text(out, left - 10, y + 13, "end", "l", r->label);
        double bw = logx(r->value, vlo, vhi, tw);
        bbuf_printf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" "
                    "fill=\"%s\"/>\n",
                    left, y, bw < 1 ? 1 : bw, r->color);
        char t[48], v[16];
        fmt_short(v, sizeof(v), r->value);
        snprintf(t, sizeof(t), "%s %s", v, r->unit);
        if (bw > tw - 90)
            svg_text(out, left + bw - 4, y + 12, "end", strcmp(r->color, "#9fb7d9") ? "w" : "v", t);
        else
            svg_text(out, left + bw + 4, y + 12, "start", "v", t);
        if (!r->latency)
            continue;
        double x0 = left + tw + gap, cy = y + 8;
        double xs[5];
        const char *keys[5] = {"p50", "p90", "p99", "p999", "max"};
        for (int j = 0; j < 5; j++)
            xs[j] = x0 + logx(num(r->latency, keys[j]), llo, lhi, lw);
        if (num(r->latency, "p50") <= 0)
            continue;
        bbuf_printf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#999\"/>\n",
                    xs[0], cy, xs[4], cy);
        bbuf_printf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"#999\"/>\n",
                    xs[4], cy - 5, xs[4], cy + 5);
        for (int j = 0; j < 4; j++)
            svg_mark(out, j, xs[j], cy);
        char p99[24], t99[32];
        fmt_us(p99, sizeof(p99), num(r->latency, "p99"));
        snprintf(t99, sizeof(t99), "p99 %s", p99);
        svg_text(out, xs[4] + 8 > W - 78 ? W - 78 : xs[4] + 8, y + 12, "start", "v", t99);
    }
    bbuf_adds(out, "</svg>\n");
}

/* ------------------------------------------------------------------------------------------
 * The report
 * ---------------------------------------------------------------------------------------- */

static int write_file(const char *dir, const char *name, const struct bbuf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    int ok = fwrite(b->data, 1, b->len, f) == b->len;
    if (fclose(f) || !ok) {
        perror(path);
        return -1;
    }
    return 0;
}

int report_write(const char *dir, const char *machine)
{
    json_t *meta = NULL;
    json_t *results = load_results(dir, &meta);
    if (!results) {
        fprintf(stderr, "regulars-bench: cannot read %s\n", dir);
        return -1;
    }
    if (json_array_size(results) == 0) {
        fprintf(stderr, "regulars-bench: no result files in %s\n", dir);
        json_decref(results);
        json_decref(meta);
        return -1;
    }
    struct bbuf md, svg;
    bbuf_init(&md);
    bbuf_init(&svg);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    bbuf_printf(&md, "## regulars benchmark, %s\n\n", when);
    bbuf_adds(&md, "### Targets\n\nRatios against baselines measured in the same run, on the "
                   "same machine (never asserted in tests).\n\n");
    report_targets(&md, results);
    bbuf_adds(&md, "\n### Results\n\nThroughput counts 2xx answers in the measured window; "
                   "CPU is the share of one core used over the phase (a generator near 100 % "
                   "would mean the figure is the generator's, not the server's); *others* is "
                   "the CPU that other processes used on the server's and the generator's "
                   "CPUs meanwhile, from /proc/stat (in bold above 15 %: that row was "
                   "measured on a busy machine and understates the server). "
                   "Closed loop: latency from each request's send. Open loop: latency from "
                   "each request's *scheduled* send (coordinated omission corrected). Push: "
                   "the notification row is purchase sent → `points.earned` received. "
                   "Connections: latency is the WebSocket handshake.\n\n");
    results_table(&md, results);
    lmdb_table(&md, results);
    bbuf_adds(&md, "\n![throughput and latency per scenario](chart.svg)\n\n### Machine\n\n");
    machine_lines(&md, machine, meta);
    report_chart(&svg, results);
    int rc = write_file(dir, "report.md", &md) || write_file(dir, "chart.svg", &svg) ? -1 : 0;
    if (rc == 0)
        fprintf(stderr, "regulars-bench: wrote %s/report.md and %s/chart.svg\n", dir, dir);
    bbuf_fini(&md);
    bbuf_fini(&svg);
    json_decref(results);
    json_decref(meta);
    return rc;
}
