/* Tests for commit: group commit, per-command failure, ordering, back-pressure, map growth,
 * stop, batch failure, and a throughput report (printed, not asserted). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regulars/commit.h"
#include "regulars/error.h"
#include "regulars/store.h"
#include "test.h"

/* ---- fixture ---- */

struct fx {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes run_until so that a lost callback times out instead of hanging */
    struct store st;
    struct commit *c;
    char *dir;
};

/* Shared by the commands of one test. sem_* let a "gate" command hold the writer. */
struct ctx {
    int done_count;
    sem_t started; /* posted by a gate command when its run begins */
    sem_t release; /* a gate command's run waits for this */
    /* for the closed-loop throughput run */
    struct commit *c;
    struct tcmd *cmds;
    int n, next;
};

struct tcmd {
    struct commit_cmd cmd;
    struct ctx *ctx;
    uint64_t key; /* the command puts key -> vlen bytes of pattern into DB_PURCHASES */
    size_t vlen;
    int fail;     /* after writing, return RG_EINVAL */
    int gate;     /* block in run until ctx->release */
    int counter;  /* read-modify-write a shared counter and take an id */
    int resubmit; /* done submits the next command of ctx->cmds (throughput window) */
    int stop;     /* done calls commit_stop(ctx->c) */
    /* written by the writer thread, read on the loop after done */
    int runs;    /* calls of run, including reruns after a map grow */
    uint64_t id; /* from store_next_id when counter is set */
    /* written on the loop by done */
    int done_calls;
    int status;
    int order; /* index among all done callbacks of the test */
};

static void fill(unsigned char *buf, size_t n, uint64_t key)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(key * 31 + i);
}

static void counter_key(struct skey *k)
{
    skey_reset(k);
    skey_bytes(k, "test:counter", 12);
}

static int tcmd_run(struct store_tx *tx, struct commit_cmd *cmd)
{
    struct tcmd *t = cmd->data;
    t->runs++;
    t->id = 0; /* reset our outputs: run may run again after a map grow */
    if (t->gate) {
        sem_post(&t->ctx->started);
        sem_wait(&t->ctx->release);
    }
    unsigned char val[4096];
    size_t n = t->vlen < sizeof(val) ? t->vlen : sizeof(val);
    fill(val, n, t->key);
    struct skey k;
    skey_make1(&k, t->key);
    int rc = store_put(tx, DB_PURCHASES, &k, val, n, 0);
    if (rc)
        return rc;
    if (t->counter) {
        struct skey ck;
        counter_key(&ck);
        unsigned char cur[8] = {0};
        rc = store_get_rec(tx, DB_META, &ck, cur, 8);
        if (rc && rc != RG_ENOTFOUND)
            return rc;
        struct skey v;
        skey_make1(&v, store_be64(cur) + 1);
        if ((rc = store_put(tx, DB_META, &ck, v.b, 8, 0)))
            return rc;
        if ((rc = store_next_id(tx, "test", &t->id)))
            return rc;
    }
    return t->fail ? RG_EINVAL : 0;
}

static void tcmd_done(struct commit_cmd *cmd, int status)
{
    struct tcmd *t = cmd->data;
    struct ctx *ctx = t->ctx;
    t->done_calls++;
    t->status = status;
    if (cmd->status != status)
        t->status = 12345; /* the pipeline must set cmd->status before done */
    t->order = ctx->done_count++;
    if (t->stop)
        commit_stop(ctx->c);
    if (t->resubmit && ctx->next < ctx->n) {
        struct tcmd *nx = &ctx->cmds[ctx->next++];
        if (commit_submit(ctx->c, &nx->cmd))
            nx->status = 54321;
    }
}

static struct tcmd *tcmds_new(struct ctx *ctx, int n, size_t vlen)
{
    struct tcmd *t = calloc((size_t)n, sizeof(*t));
    for (int i = 0; i < n; i++) {
        t[i].cmd.run = tcmd_run;
        t[i].cmd.done = tcmd_done;
        t[i].cmd.data = &t[i];
        t[i].ctx = ctx;
        t[i].key = (uint64_t)i + 1000;
        t[i].vlen = vlen;
        t[i].order = -1;
    }
    return t;
}

static void ctx_init(struct ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    sem_init(&ctx->started, 0, 0);
    sem_init(&ctx->release, 0, 0);
}

static void ctx_fini(struct ctx *ctx)
{
    sem_destroy(&ctx->started);
    sem_destroy(&ctx->release);
}

static void on_tick(uv_timer_t *t)
{
}

static int fx_init(struct fx *f, size_t map, enum store_sync sync, size_t depth)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    if (uv_loop_init(&f->loop) || uv_timer_init(&f->loop, &f->tick))
        return -1;
    if (store_open(&f->st, f->dir, map, sync))
        return -1;
    f->c = commit_new(&f->loop, &f->st, depth);
    return f->c ? 0 : -1;
}

static void fx_fini(struct fx *f)
{
    if (f->c) {
        commit_stop(f->c);
        commit_free(f->c);
    }
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT); /* finishes the closes; nothing else is alive */
    uv_loop_close(&f->loop);
    store_close(&f->st);
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->dir);
}

/* Runs the loop until ctx has seen n done callbacks; 0 on success, -1 after 30 s. */
static int run_until(struct fx *f, struct ctx *ctx, int n)
{
    uint64_t deadline = uv_hrtime() + UINT64_C(30000000000);
    uv_timer_start(&f->tick, on_tick, 100, 100);
    while (ctx->done_count < n && uv_hrtime() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return ctx->done_count >= n ? 0 : -1;
}

/* The stored value's length for key, or RG_ENOTFOUND; RG_EIO if its bytes are wrong. */
static long stored_len(struct fx *f, uint64_t key)
{
    struct store_tx rd;
    if (store_read_begin(&f->st, &rd))
        return RG_EIO;
    struct skey k;
    skey_make1(&k, key);
    MDB_val v;
    long rc = store_get(&rd, DB_PURCHASES, &k, &v);
    if (rc == 0) {
        unsigned char want[4096];
        fill(want, v.mv_size, key);
        rc = memcmp(want, v.mv_data, v.mv_size) ? RG_EIO : (long)v.mv_size;
    }
    store_read_end(&rd);
    return rc;
}

static uint64_t stored_counter(struct fx *f)
{
    struct store_tx rd;
    if (store_read_begin(&f->st, &rd))
        return UINT64_MAX;
    struct skey k;
    counter_key(&k);
    unsigned char v[8];
    uint64_t n = store_get_rec(&rd, DB_META, &k, v, 8) ? UINT64_MAX : store_be64(v);
    store_read_end(&rd);
    return n;
}

static uint64_t sum(const uint64_t *a, int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s;
}

/* ---- tests ---- */

TEST(group_commit_batches_many_commands)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_FULL, 2000), 0);
    enum { N = 1000 };
    struct tcmd *t = tcmds_new(&ctx, N, 16);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);

    struct commit_stats s;
    commit_get_stats(f.c, &s);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].status, 0);
        ASSERT_EQ(t[i].done_calls, 1);
        ASSERT(t[i].cmd.submitted_ns > 0);
        ASSERT_EQ(stored_len(&f, t[i].key), 16);
    }
    printf("1000 commands at once: %llu batches\n", (unsigned long long)s.batches);
    ASSERT_EQ(s.commands, N);
    ASSERT(s.batches >= 1);
    ASSERT(s.batches <= N / 10); /* group commit: far fewer batches than commands */
    ASSERT_EQ(s.failed_batches, 0);
    ASSERT_EQ(s.map_grows, 0);
    ASSERT_EQ(s.depth, 0);
    ASSERT_EQ(sum(s.batch_size_buckets, 8), s.batches);
    ASSERT_EQ(sum(s.commit_us_buckets, 8), s.batches);
    ASSERT(s.batch_size_buckets[7] >= 1); /* so some batch had more than 64 commands */
    ASSERT(s.commit_us_sum > 0);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

TEST(failing_command_fails_alone)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_NONE, 1000), 0);
    enum { N = 100 };
    struct tcmd *t = tcmds_new(&ctx, N, 100);
    /* Hold the writer so that all 100 land in one batch with the failures inside it. */
    t[0].gate = 1;
    t[1].fail = 1;
    t[37].fail = 1;
    t[N - 1].fail = 1;
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started);
    for (int i = 1; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    sem_post(&ctx.release);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);

    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].done_calls, 1);
        if (t[i].fail) {
            ASSERT_EQ(t[i].status, RG_EINVAL);
            ASSERT_EQ(stored_len(&f, t[i].key), RG_ENOTFOUND);
        } else {
            ASSERT_EQ(t[i].status, 0);
            ASSERT_EQ(stored_len(&f, t[i].key), 100);
        }
    }
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.batches, 2); /* [gate] and the other 99 */
    ASSERT_EQ(s.failed_batches, 0);
    ASSERT_EQ(s.commands, N);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

TEST(done_callbacks_in_submission_order)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_NONE, 1000), 0);
    enum { N = 301 };
    struct tcmd *t = tcmds_new(&ctx, N, 8);
    /* Batches [0] [1..150] [151..300], made certain by two gates. */
    t[0].gate = 1;
    t[150].gate = 1;
    for (int i = 3; i < N; i += 7)
        t[i].fail = 1;
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started);
    for (int i = 1; i <= 150; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    sem_post(&ctx.release);
    sem_wait(&ctx.started); /* t[150] now holds the writer */
    for (int i = 151; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    sem_post(&ctx.release);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);

    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].order, i);
        ASSERT_EQ(t[i].status, t[i].fail ? RG_EINVAL : 0);
    }
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.batches, 3);
    ASSERT_EQ(s.batch_size_buckets[0], 1); /* the first gate alone */
    ASSERT_EQ(s.batch_size_buckets[7], 2); /* 150 each */
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

TEST(queue_depth_limit_returns_ebusy)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    enum { DEPTH = 8 };
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_NONE, DEPTH), 0);
    struct tcmd *t = tcmds_new(&ctx, DEPTH + 2, 8);
    t[0].gate = 1;
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started); /* taken by the writer: it no longer counts */
    for (int i = 1; i <= DEPTH; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.depth, DEPTH);
    ASSERT_EQ(commit_submit(f.c, &t[DEPTH + 1].cmd), RG_EBUSY);
    sem_post(&ctx.release);
    ASSERT_EQ(run_until(&f, &ctx, DEPTH + 1), 0);
    ASSERT_EQ(t[DEPTH + 1].done_calls, 0); /* a refused command is not called back */
    ASSERT_EQ(stored_len(&f, t[DEPTH + 1].key), RG_ENOTFOUND);
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.depth, 0);

    /* Room again: the refused command goes through now. */
    ASSERT_EQ(commit_submit(f.c, &t[DEPTH + 1].cmd), 0);
    ASSERT_EQ(run_until(&f, &ctx, DEPTH + 2), 0);
    ASSERT_EQ(t[DEPTH + 1].status, 0);
    ASSERT_EQ(stored_len(&f, t[DEPTH + 1].key), 8);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

/* store_open keeps LMDB's 1 MiB default for a new env; shrink it to make growth happen. */
static int shrink_map(struct fx *f, size_t size)
{
    if (mdb_env_set_mapsize(f->st.env, size))
        return -1;
    MDB_envinfo info;
    mdb_env_info(f->st.env, &info);
    f->st.map_size = info.me_mapsize;
    return 0;
}

TEST(tiny_map_grows_and_all_succeed)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 64 << 10, STORE_SYNC_NONE, 1000), 0);
    ASSERT_EQ(shrink_map(&f, 64 << 10), 0);
    size_t initial = f.st.map_size;
    ASSERT(initial <= 128 << 10);
    enum { N = 400 };
    struct tcmd *t = tcmds_new(&ctx, N, 3000); /* ~1.2 MB of values, one page each */
    for (int i = 0; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].status, 0);
        ASSERT_EQ(stored_len(&f, t[i].key), 3000);
    }
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    printf("map %zu KiB -> %zu KiB in %llu grows\n", initial >> 10, f.st.map_size >> 10,
           (unsigned long long)s.map_grows);
    ASSERT(s.map_grows > 0);
    ASSERT(f.st.map_size >= initial << s.map_grows);
    ASSERT(f.st.map_size >= (size_t)N * 4096);
    ASSERT_EQ(s.failed_batches, 0);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

TEST(rerun_after_grow_has_no_duplicate_effects)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 64 << 10, STORE_SYNC_NONE, 1000), 0);
    ASSERT_EQ(shrink_map(&f, 64 << 10), 0);
    enum { N = 300, BAD = 100 };
    struct tcmd *t = tcmds_new(&ctx, N, 3000);
    for (int i = 0; i < N; i++)
        t[i].counter = 1;
    t[BAD].fail = 1; /* its counter increment and id must vanish too */
    for (int i = 0; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);

    int runs = 0;
    uint64_t want_id = 1;
    for (int i = 0; i < N; i++) {
        runs += t[i].runs;
        if (i == BAD) {
            ASSERT_EQ(t[i].status, RG_EINVAL);
            continue;
        }
        ASSERT_EQ(t[i].status, 0);
        /* Ids follow submission order without gaps or repeats, across reruns. */
        ASSERT_EQ(t[i].id, want_id);
        want_id++;
    }
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    printf("%d runs for %d commands, %llu grows\n", runs, N, (unsigned long long)s.map_grows);
    ASSERT(s.map_grows > 0);
    ASSERT(runs > N); /* some commands really ran twice */
    ASSERT_EQ(stored_counter(&f), N - 1);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

static void *release_later(void *arg)
{
    struct ctx *ctx = arg;
    usleep(50 * 1000);
    sem_post(&ctx->release);
    return NULL;
}

TEST(stop_drains_queued_commands)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_FULL, 1000), 0);
    enum { N = 201 };
    struct tcmd *t = tcmds_new(&ctx, N, 32);
    t[0].gate = 1;
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started);
    for (int i = 1; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.depth, N - 1); /* all still queued behind the gate */

    /* The gate opens only once commit_stop is already waiting. */
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, release_later, &ctx), 0);
    commit_stop(f.c);
    pthread_join(th, NULL);
    /* Every done callback has run, synchronously, without running the loop. */
    ASSERT_EQ(ctx.done_count, N);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].status, 0);
        ASSERT_EQ(t[i].order, i);
        ASSERT_EQ(stored_len(&f, t[i].key), 32);
    }
    struct tcmd *late = tcmds_new(&ctx, 1, 8);
    ASSERT_EQ(commit_submit(f.c, &late->cmd), RG_EBUSY);
    commit_stop(f.c); /* safe twice */
    ASSERT_EQ(late->done_calls, 0);
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.commands, N);
    fx_fini(&f);
    free(late);
    free(t);
    ctx_fini(&ctx);
}

/* commit_stop from inside a done callback (a shutdown decided in a response) still delivers
 * everything, once each, in order. */
TEST(stop_inside_done_keeps_order)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_NONE, 1000), 0);
    ctx.c = f.c;
    enum { N = 100 };
    struct tcmd *t = tcmds_new(&ctx, N, 8);
    /* Batches [0] [1, 2] [3..99], made certain by the gates t[0] and t[2]. t[1]'s done stops
     * the pipeline while t[2] still waits for its callback and [3..99] is queued or running. */
    t[0].gate = 1;
    t[1].stop = 1;
    t[2].gate = 1;
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started);
    ASSERT_EQ(commit_submit(f.c, &t[1].cmd), 0);
    ASSERT_EQ(commit_submit(f.c, &t[2].cmd), 0);
    sem_post(&ctx.release);
    sem_wait(&ctx.started);
    for (int i = 3; i < N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    sem_post(&ctx.release);
    ASSERT_EQ(run_until(&f, &ctx, N), 0);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].done_calls, 1);
        ASSERT_EQ(t[i].order, i);
        ASSERT_EQ(t[i].status, 0);
    }
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.batches, 3);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

static off_t file_size(const char *dir)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    return stat(path, &sb) ? -1 : sb.st_size;
}

/* A commit that cannot write (the data file may not grow: RLIMIT_FSIZE stands in for a full
 * disk) fails every command of its batch, and the next batch succeeds once writes work. */
TEST(failed_commit_fails_batch_then_recovers)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    ASSERT_EQ(fx_init(&f, 16 << 20, STORE_SYNC_FULL, 1000), 0);
    enum { N = 50 };
    /* t[0] is a small gate that holds the writer so that t[1..N] form one batch;
     * t[N+1..2N] retry the same writes afterwards. */
    struct tcmd *t = tcmds_new(&ctx, 2 * N + 1, 3000);
    t[0].gate = 1;
    t[0].vlen = 8;
    for (int i = 1; i <= N; i++)
        t[N + i].key = t[i].key;

    struct rlimit old, lim;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    off_t size = file_size(f.dir);
    ASSERT(size > 0);
    ASSERT_EQ(commit_submit(f.c, &t[0].cmd), 0);
    sem_wait(&ctx.started);
    for (int i = 1; i <= N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    /* Room for the gate's few pages, not for the batch's 150 KB. */
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)size + (64 << 10);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sem_post(&ctx.release);
    int rc = run_until(&f, &ctx, N + 1);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(t[0].status, 0);
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.batches, 2);
    ASSERT_EQ(s.failed_batches, 1);
    for (int i = 1; i <= N; i++) {
        ASSERT_EQ(t[i].status, RG_EIO);
        ASSERT_EQ(stored_len(&f, t[i].key), RG_ENOTFOUND);
    }

    for (int i = N + 1; i <= 2 * N; i++)
        ASSERT_EQ(commit_submit(f.c, &t[i].cmd), 0);
    ASSERT_EQ(run_until(&f, &ctx, 2 * N + 1), 0);
    for (int i = N + 1; i <= 2 * N; i++) {
        ASSERT_EQ(t[i].status, 0);
        ASSERT_EQ(stored_len(&f, t[i].key), 3000);
    }
    commit_get_stats(f.c, &s);
    ASSERT_EQ(s.failed_batches, 1);
    ASSERT_EQ(s.commands, 2 * N + 1);
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
}

/* Commands per second for n tiny commands, `window` of them in flight at a time (a new one
 * is submitted from each done callback, like clients waiting for their answer). */
static int measure(enum store_sync sync, int n, int window, double *per_s, uint64_t *batches)
{
    struct fx f;
    struct ctx ctx;
    ctx_init(&ctx);
    if (fx_init(&f, 64 << 20, sync, (size_t)n))
        return -1;
    struct tcmd *t = tcmds_new(&ctx, n, 16);
    ctx.c = f.c;
    ctx.cmds = t;
    ctx.n = n;
    ctx.next = window < n ? window : n;
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < ctx.next; i++) {
        t[i].resubmit = 1;
        if (commit_submit(f.c, &t[i].cmd))
            return -1;
    }
    for (int i = ctx.next; i < n; i++)
        t[i].resubmit = 1;
    int rc = run_until(&f, &ctx, n);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    for (int i = 0; rc == 0 && i < n; i++)
        if (t[i].status != 0)
            rc = -1;
    struct commit_stats s;
    commit_get_stats(f.c, &s);
    *batches = s.batches;
    *per_s = n / secs;
    fx_fini(&f);
    free(t);
    ctx_fini(&ctx);
    return rc;
}

/* Under ASan/TSan every nested txn's 2 MiB dirty-list malloc is slow: measure less there
 * (the numbers mean nothing then anyway). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THROUGHPUT_N 1000
#else
#define THROUGHPUT_N 10000
#endif

TEST(throughput_report)
{
    static const struct {
        const char *name;
        enum store_sync sync;
    } modes[] = {{"full", STORE_SYNC_FULL}, {"none", STORE_SYNC_NONE}};
    static const struct {
        int n, window;
    } shapes[] = {{THROUGHPUT_N, THROUGHPUT_N}, {THROUGHPUT_N, 64}, {THROUGHPUT_N / 10, 1}};
    for (size_t m = 0; m < 2; m++) {
        for (size_t k = 0; k < 3; k++) {
            double per_s;
            uint64_t batches;
            int n = shapes[k].n, w = shapes[k].window;
            ASSERT_EQ(measure(modes[m].sync, n, w, &per_s, &batches), 0);
            printf("sync %-4s %5d commands, %5d in flight: %9.0f commands/s, %5llu batches\n",
                   modes[m].name, n, w, per_s, (unsigned long long)batches);
            /* With more than one in flight and an fsync per commit, commands must share
             * commits (without fsync the writer may keep up and commit one at a time). */
            if (w > 1 && modes[m].sync == STORE_SYNC_FULL)
                ASSERT(batches < (uint64_t)n);
            else if (w == 1)
                ASSERT_EQ(batches, n); /* one in flight: nothing to share */
        }
    }
}
