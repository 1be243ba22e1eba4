/*
 * lmdb-ceiling: the disk's durable ceiling for LMDB, the number regularsd's group commit is
 * measured against. A bare commit loop on one environment, with LMDB's default (full) sync
 * like `regularsd --sync full`:
 *   unbatched  one put per write transaction: what a server without group commit could do;
 *   batched    --batch puts per transaction to consecutive keys: what one fsync can carry
 *              when the pages it writes lie side by side;
 *   scattered  --scatter puts per transaction to random keys of a filled tree: nearly one
 *              page each, spread over the file, as a purchase's puts into a dozen B-trees
 *              are. The slope between this and unbatched is the disk's price of one more
 *              scattered page in a durable commit, which is what bounds regularsd's durable
 *              writes (bench/README.md).
 * Keys are 8-byte big-endian integers over a bounded key space (so the file stays small);
 * values are --value-size bytes. Pages per commit come from the bytes this process wrote
 * (/proc/self/io). Prints a table and, with --json, a result file for `regulars-bench report`.
 *
 *   lmdb-ceiling --dir DIR [--duration S] [--batch N] [--scatter K] [--value-size B]
 *                [--json PATH]
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>

#include "hist.h"

#define KEY_SPACE 100000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static json_t *lat_json(const struct hist *h)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)h->count, "p50",
                     hist_quantile(h, 0.50) / 1e3, "p90", hist_quantile(h, 0.90) / 1e3, "p99",
                     hist_quantile(h, 0.99) / 1e3, "p999", hist_quantile(h, 0.999) / 1e3, "max",
                     (double)h->max / 1e3, "mean", hist_mean(h) / 1e3);
}

/* Bytes this process has written with write system calls (wchar in /proc/self/io): here
 * nothing but LMDB's data pages and meta pages. -1 when unreadable. */
static long long self_wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "wchar: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Commits for `secs` seconds with `batch` puts each: to consecutive keys, or with scattered
 * set to keys drawn at random from the whole (filled) key space, so that nearly every put
 * dirties a page of its own, the way a purchase's puts land in a dozen B-trees. Returns the
 * result object (with the pages written per commit) or NULL. */
static json_t *run(MDB_env *env, MDB_dbi dbi, unsigned batch, int scattered, size_t vsize,
                   double secs, uint64_t *counter)
{
    struct hist *h = malloc(sizeof(*h));
    unsigned char *val = malloc(vsize ? vsize : 1);
    if (!h || !val) {
        free(h);
        free(val);
        return NULL;
    }
    hist_init(h);
    for (size_t i = 0; i < vsize; i++)
        val[i] = (unsigned char)rand();
    uint64_t commits = 0, puts = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
    long long w0 = self_wchar();
    int rc = 0;
    while (now_ns() < end) {
        uint64_t a = now_ns();
        MDB_txn *txn;
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
            break;
        for (unsigned i = 0; i < batch && rc == 0; i++) {
            uint64_t k = scattered ? rng_next() % KEY_SPACE : (*counter)++ % KEY_SPACE;
            unsigned char kb[8];
            for (int j = 0; j < 8; j++)
                kb[j] = (unsigned char)(k >> (56 - 8 * j));
            MDB_val key = {sizeof(kb), kb}, data = {vsize, val};
            rc = mdb_put(txn, dbi, &key, &data, 0);
        }
        if (rc) {
            mdb_txn_abort(txn);
            break;
        }
        if ((rc = mdb_txn_commit(txn)))
            break;
        hist_record(h, now_ns() - a);
        commits++;
        puts += batch;
    }
    double dt = (double)(now_ns() - t0) / 1e9;
    long long w1 = self_wchar();
    json_t *res = NULL;
    if (rc)
        fprintf(stderr, "lmdb-ceiling: %s\n", mdb_strerror(rc));
    else
        res = json_pack("{s:i,s:b,s:I,s:f,s:f,s:f,s:f,s:o}", "puts_per_commit", (int)batch,
                        "scattered", scattered, "commits", (json_int_t)commits, "seconds", dt,
                        "commits_per_s", commits / dt, "puts_per_s", puts / dt, "pages_per_commit",
                        w0 >= 0 && w1 >= w0 && commits ? (double)(w1 - w0) / 4096.0 / commits : 0.0,
                        "latency_us", lat_json(h));
    free(h);
    free(val);
    return res;
}

static double num_of(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static double mean_of(json_t *mode)
{
    return num_of(json_object_get(mode, "latency_us"), "mean");
}

/* Gives every key of the key space a value, in one commit, so that scattered puts update
 * pages all over a tree of KEY_SPACE entries. */
static int fill(MDB_env *env, MDB_dbi dbi, size_t vsize)
{
    MDB_txn *txn;
    unsigned char *val = calloc(1, vsize ? vsize : 1);
    int rc = val ? mdb_txn_begin(env, NULL, 0, &txn) : ENOMEM;
    for (uint64_t k = 0; rc == 0 && k < KEY_SPACE; k++) {
        unsigned char kb[8];
        for (int j = 0; j < 8; j++)
            kb[j] = (unsigned char)(k >> (56 - 8 * j));
        MDB_val key = {sizeof(kb), kb}, data = {vsize, val};
        if ((rc = mdb_put(txn, dbi, &key, &data, 0)))
            mdb_txn_abort(txn);
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    if (rc)
        fprintf(stderr, "lmdb-ceiling: filling the key space: %s\n", mdb_strerror(rc));
    free(val);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lmdb-ceiling --dir DIR [--duration S (5)] [--batch N (256)] "
               "[--value-size B (100)] [--scatter K (64)] [--json PATH] [--keep]\n"
               "  Measures durable LMDB commits/s on DIR's disk: one put per commit, N "
               "consecutive puts per commit, and K puts per commit at random keys of a filled "
               "tree (the price of a scattered page).\n");
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *json_out = NULL;
    double secs = 5;
    unsigned batch = 256, scatter = 64;
    size_t vsize = 100;
    int keep = 0;
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"duration", required_argument, NULL, 't'},
        {"batch", required_argument, NULL, 'b'},
        {"value-size", required_argument, NULL, 'v'},
        {"json", required_argument, NULL, 'j'},
        {"keep", no_argument, NULL, 'k'},
        {"scatter", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 't':
            secs = atof(optarg);
            break;
        case 'b':
            batch = (unsigned)atoi(optarg);
            break;
        case 'v':
            vsize = (size_t)atoi(optarg);
            break;
        case 'j':
            json_out = optarg;
            break;
        case 's':
            scatter = (unsigned)atoi(optarg);
            break;
        case 'k':
            keep = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!dir || secs <= 0 || batch < 1 || scatter < 2 || vsize > 65536) {
        usage(stderr);
        return 2;
    }
    if (mkdir(dir, 0755) && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_mapsize(env, (size_t)1 << 30);
    if (!rc)
        rc = mdb_env_open(env, dir, 0, 0644); /* default flags: fully durable commits */
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc && !(rc = mdb_dbi_open(txn, NULL, 0, &dbi)))
        rc = mdb_txn_commit(txn);
    if (rc) {
        fprintf(stderr, "lmdb-ceiling: %s: %s\n", dir, mdb_strerror(rc));
        return 1;
    }
    uint64_t counter = 0;
    fprintf(stderr,
            "lmdb-ceiling: %.0f s unbatched, %.0f s with %u puts per commit, %.0f s with %u "
            "scattered puts per commit, in %s\n",
            secs, secs, batch, secs, scatter, dir);
    json_t *un = run(env, dbi, 1, 0, vsize, secs, &counter);
    json_t *ba = run(env, dbi, batch, 0, vsize, secs, &counter);
    json_t *sc = NULL;
    if (un && ba && (rc = fill(env, dbi, vsize)) == 0)
        sc = run(env, dbi, scatter, 1, vsize, secs, &counter);
    mdb_env_close(env);
    if (!keep) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/data.mdb", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/lock.mdb", dir);
        unlink(p);
        rmdir(dir);
    }
    if (!un || !ba || !sc) {
        json_decref(un);
        json_decref(ba);
        json_decref(sc);
        return 1;
    }
    /* The disk's price of one more scattered page in a durable commit: the slope between
     * one put per commit and `scatter` puts at random places. */
    double dp = num_of(sc, "pages_per_commit") - num_of(un, "pages_per_commit");
    double dl = mean_of(sc) - mean_of(un);
    double per_page = dp > 1 ? dl / dp : 0;
    int major, minor, patch;
    mdb_version(&major, &minor, &patch);
    char label[64];
    snprintf(label, sizeof(label), "LMDB %d.%d.%d, full sync", major, minor, patch);
    json_t *res =
        json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:f}", "id", "lmdb", "scenario", "lmdb_ceiling",
                  "label", label, "dir", dir, "value_size", (int)vsize, "unbatched", un, "batched",
                  ba, "scattered", sc, "us_per_scattered_page", per_page);
    const char *names[3] = {"unbatched", "batched", "scattered"};
    printf("\nlmdb-ceiling (%s, %zu-byte values)\n  %-10s %8s %10s %12s %12s %10s %10s\n", label,
           vsize, "loop", "puts/txn", "pages/txn", "commits/s", "puts/s", "p50", "p99");
    for (int i = 0; i < 3; i++) {
        json_t *m = json_object_get(res, names[i]);
        json_t *l = json_object_get(m, "latency_us");
        printf("  %-10s %8.0f %10.1f %12.0f %12.0f %8.0f us %8.0f us\n", names[i],
               num_of(m, "puts_per_commit"), num_of(m, "pages_per_commit"),
               num_of(m, "commits_per_s"), num_of(m, "puts_per_s"), num_of(l, "p50"),
               num_of(l, "p99"));
    }
    printf("  one more scattered page in a durable commit costs %.1f us\n\n", per_page);
    rc = 0;
    if (json_out && json_dump_file(res, json_out, JSON_INDENT(2) | JSON_SORT_KEYS)) {
        fprintf(stderr, "lmdb-ceiling: cannot write %s\n", json_out);
        rc = 1;
    }
    json_decref(res);
    return rc;
}
