/*
 * The commit pipeline: one writer thread that group-commits commands submitted by the loop.
 *
 * Batching. The loop thread appends commands to a FIFO (mutex + condvar, intrusive `next`
 * link, at most max_depth waiting). The writer sleeps on the condvar until the FIFO is not
 * empty, then takes *every* queued command at once: that is the batch. It begins one write
 * txn, and for each command a nested txn under it, and calls run(). While the batch runs and
 * commits (the fsync under --sync full is the slow part), the loop keeps queueing, so the next
 * batch is as large as the load is high: one fsync is shared by everyone who arrived during
 * the previous one. The writer never sleeps on a timer or polls; it only waits when idle.
 *
 * Failure rules.
 *   - run() < 0: its nested txn is aborted, so none of its writes stay; the command completes
 *     with run's status; the other commands of the batch are unaffected.
 *   - MDB_MAP_FULL anywhere (a write inside run, seen through store_tx.map_full, or a nested
 *     or the outer commit): the whole batch txn is aborted, the map is doubled (store_grow)
 *     and the same batch runs again from scratch. That is why run() must reset its own
 *     outputs at its start. The map stops growing at COMMIT_MAP_MAX; past it the batch fails
 *     with RG_ENOSPC.
 *   - The outer commit fails (ENOSPC/EDQUOT on a full disk, EIO, ...): LMDB aborts the txn, so
 *     nothing of the batch is written, and every command of the batch completes with
 *     RG_ENOSPC (disk full, including a short write on a disk left without room: disk_full)
 *     or RG_EIO (anything else). The writer then goes on with the next batch, which
 *     succeeds once the disk has room again.
 *   - A run() that ignores a failed LMDB call and returns 0 leaves its nested txn in LMDB's
 *     error state; committing it poisons the parent, so the whole batch fails with RG_EIO.
 *     That is a bug in the command, and failing loudly is the safe outcome.
 *
 * Thread handoff. A finished batch (with each cmd->status set) is appended, in order, to a
 * second list under the same mutex, and the writer calls uv_async_send. Sends coalesce, so the
 * async callback on the loop thread takes the whole list and calls each command's done() in
 * submission order (batches finish in the order they were taken, and a batch keeps its
 * order). A command is never touched by the pipeline after its done() is called, because
 * done() may free it.
 *
 * Stopping. commit_stop sets `stopping` (new submits get RG_EBUSY), wakes the writer, which
 * runs everything already queued before it exits, joins it, and then delivers the remaining
 * done callbacks directly on the calling (loop) thread rather than waiting for the async.
 * The loop must not hold a read txn across commit_stop: a map grow in the last batches waits
 * for it (store_grow), and the join would then wait forever.
 *
 * Stats. `batches` counts every batch taken, failed ones included (`failed_batches` is the
 * subset); the latency histogram measures the first mdb_txn_begin to the final commit of a
 * batch, map growth and reruns included, since that is what its commands waited for.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "regulars/commit.h"
#include "regulars/error.h"
#include "regulars/log.h"

/* Past this the map does not grow any further: the batch fails with RG_ENOSPC. */
#define COMMIT_MAP_MAX ((size_t)1 << 40)

/* A commit that failed with EIO while the data's filesystem has less room than this failed
 * because the disk is full (see disk_full). */
#define COMMIT_DISK_LOW ((uint64_t)64 << 10)

/* batch_try's result when the batch must be retried with a bigger map (never an rg_err). */
#define BATCH_MAP_FULL 1

struct commit {
    uv_loop_t *loop;
    struct store *st;
    size_t max_depth;
    uv_async_t async; /* writer -> loop: "the done list is not empty" */
    pthread_t thread;
    int thread_started;            /* pthread_create succeeded */
    int thread_joined;             /* commit_stop joined it */
    struct commit_cmd *ready_head; /* loop thread only: being delivered by deliver() */
    struct commit_cmd *ready_tail;

    pthread_mutex_t mu;      /* guards everything below */
    pthread_cond_t work;     /* signalled when the queue gains a command or on stop */
    struct commit_cmd *head; /* queued commands, oldest first */
    struct commit_cmd *tail;
    struct commit_cmd *done_head; /* finished commands awaiting their done callback */
    struct commit_cmd *done_tail;
    int stopping;
    struct commit_stats stats; /* stats.depth counts the queue */
};

/* ---- writer thread ---- */

/* Whether the filesystem holding the data file has (next to) no room left. LMDB reports a
 * short write as EIO, not ENOSPC (mdb_page_flush: "TODO: Use which error code?"), and on a
 * filling disk that is the usual case: a batch's pages are written in runs, and the run that
 * crosses the end of the file is written only as far as the disk has room. Such a commit
 * failed because the disk is full, and says so (RG_ENOSPC: 503, retry later) rather than
 * RG_EIO (500). Nothing of the batch is referenced by a meta page either way. */
static int disk_full(struct store *st)
{
    const char *path;
    struct statvfs sv;
    if (mdb_env_get_path(st->env, &path) || statvfs(path, &sv) != 0)
        return 0;
    return (uint64_t)sv.f_bavail * sv.f_frsize < COMMIT_DISK_LOW;
}

/* Runs the batch once in one write txn. Sets each cmd->status to 0 or run's error and
 * returns 0 when the batch committed, BATCH_MAP_FULL when it must rerun on a bigger map, or
 * the rg_err that failed it as a whole (nothing written). */
static int batch_try(struct commit *c, struct commit_cmd *batch)
{
    MDB_env *env = c->st->env;
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc)
        return store_err(rc);

    for (struct commit_cmd *cmd = batch; cmd; cmd = cmd->next) {
        MDB_txn *nested;
        if ((rc = mdb_txn_begin(env, txn, 0, &nested))) {
            /* Only an out-of-memory or an already failed parent gets here; either way the
             * batch cannot commit. */
            mdb_txn_abort(txn);
            return store_err(rc);
        }
        struct store_tx tx = {.txn = nested, .st = c->st, .map_full = 0};
        int status = cmd->run(&tx, cmd);
        /* Checked before status: a run that got RG_ENOSPC from a full map did not fail. */
        if (tx.map_full) {
            mdb_txn_abort(nested);
            mdb_txn_abort(txn);
            return BATCH_MAP_FULL;
        }
        if (status < 0) {
            mdb_txn_abort(nested);
            cmd->status = status;
            continue;
        }
        rc = mdb_txn_commit(nested);
        if (rc == MDB_MAP_FULL) {
            mdb_txn_abort(txn);
            return BATCH_MAP_FULL;
        }
        /* A failed nested commit has been aborted by LMDB; the parent goes on. */
        cmd->status = store_err(rc);
    }

    rc = mdb_txn_commit(txn);
    if (rc == MDB_MAP_FULL)
        return BATCH_MAP_FULL;
    if (rc == 0)
        return 0;
    int err = store_err(rc);
    if (err == RG_EIO && disk_full(c->st)) {
        log_error("commit: batch commit failed: %s (the disk is full)", mdb_strerror(rc));
        return RG_ENOSPC;
    }
    log_error("commit: batch commit failed: %s", mdb_strerror(rc));
    return err;
}

/* Runs the batch to completion, growing the map as needed. Returns 0 or the batch's error
 * (RG_ENOSPC or RG_EIO); *grows counts the map doublings. */
static int batch_run(struct commit *c, struct commit_cmd *batch, unsigned *grows)
{
    for (;;) {
        for (struct commit_cmd *cmd = batch; cmd; cmd = cmd->next)
            cmd->status = 0;
        int rc = batch_try(c, batch);
        if (rc != BATCH_MAP_FULL)
            return rc == 0 ? 0 : rc == RG_ENOSPC ? RG_ENOSPC : RG_EIO;
        if (c->st->map_size > COMMIT_MAP_MAX / 2) {
            log_error("commit: map is full at %zu MiB and may not grow further",
                      c->st->map_size >> 20);
            return RG_ENOSPC;
        }
        /* No txn of ours is open here, as mdb_env_set_mapsize requires. */
        if ((rc = store_grow(c->st)))
            return rc == RG_ENOSPC ? RG_ENOSPC : RG_EIO;
        (*grows)++;
    }
}

static unsigned size_bucket(size_t n)
{
    unsigned b = 0;
    for (size_t lim = 1; b < 7 && n > lim; lim <<= 1)
        b++;
    return b;
}

static unsigned latency_bucket(double us)
{
    static const double lims[7] = {100, 250, 500, 1000, 2500, 5000, 10000};
    unsigned b = 0;
    while (b < 7 && us > lims[b])
        b++;
    return b;
}

static void *writer_main(void *arg)
{
    struct commit *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->head && !c->stopping)
            pthread_cond_wait(&c->work, &c->mu);
        if (!c->head)
            break; /* stopping, and everything queued has been run */

        struct commit_cmd *batch = c->head, *last = c->tail;
        size_t n = c->stats.depth;
        c->head = c->tail = NULL;
        c->stats.depth = 0;
        pthread_mutex_unlock(&c->mu);

        unsigned grows = 0;
        uint64_t t0 = uv_hrtime();
        int rc = batch_run(c, batch, &grows);
        double us = (double)(uv_hrtime() - t0) / 1e3;
        if (rc)
            for (struct commit_cmd *cmd = batch; cmd; cmd = cmd->next)
                cmd->status = rc;

        pthread_mutex_lock(&c->mu);
        c->stats.batches++;
        c->stats.commands += n;
        c->stats.failed_batches += rc != 0;
        c->stats.map_grows += grows;
        c->stats.batch_size_buckets[size_bucket(n)]++;
        c->stats.commit_us_buckets[latency_bucket(us)]++;
        c->stats.commit_us_sum += us;
        if (c->done_tail)
            c->done_tail->next = batch;
        else
            c->done_head = batch;
        c->done_tail = last;
        pthread_mutex_unlock(&c->mu);
        /* Safe outside the mutex: the handle is closed only after this thread is joined. */
        uv_async_send(&c->async);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- loop thread ---- */

/* Calls the done callback of every finished command, in order. The commands move from the
 * shared done list to the loop's own ready list first, so that a done() that reenters
 * (commit_stop delivers too) continues the same list instead of overtaking it. */
static void deliver(struct commit *c)
{
    pthread_mutex_lock(&c->mu);
    struct commit_cmd *head = c->done_head, *tail = c->done_tail;
    c->done_head = c->done_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    if (head) {
        /* Reads from here on must see these commits (their answers go out now). */
        store_read_commit(c->st);
        if (c->ready_tail)
            c->ready_tail->next = head;
        else
            c->ready_head = head;
        c->ready_tail = tail;
    }
    while (c->ready_head) {
        /* done() may free cmd: unlink it first. */
        struct commit_cmd *cmd = c->ready_head;
        c->ready_head = cmd->next;
        if (!c->ready_head)
            c->ready_tail = NULL;
        cmd->next = NULL;
        cmd->done(cmd, cmd->status);
    }
}

static void on_async(uv_async_t *handle)
{
    deliver(handle->data);
}

static void on_close(uv_handle_t *handle)
{
    struct commit *c = handle->data;
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct commit *commit_new(uv_loop_t *loop, struct store *st, size_t max_depth)
{
    struct commit *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->st = st;
    c->max_depth = max_depth;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    if (uv_async_init(loop, &c->async, on_async)) {
        pthread_cond_destroy(&c->work);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    c->async.data = c;

    /* Signals belong to the loop thread (libuv's handlers); the writer blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&c->thread, NULL, writer_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        log_error("commit: cannot start the writer thread: %s", strerror(rc));
        uv_close((uv_handle_t *)&c->async, on_close); /* frees c */
        return NULL;
    }
    c->thread_started = 1;
    pthread_setname_np(c->thread, "rg-commit");
    return c;
}

int commit_submit(struct commit *c, struct commit_cmd *cmd)
{
    cmd->next = NULL;
    cmd->status = 0;
    cmd->submitted_ns = uv_hrtime();
    pthread_mutex_lock(&c->mu);
    if (c->stopping || c->stats.depth >= c->max_depth) {
        pthread_mutex_unlock(&c->mu);
        return RG_EBUSY;
    }
    if (c->tail)
        c->tail->next = cmd;
    else
        c->head = cmd;
    c->tail = cmd;
    c->stats.depth++;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void commit_stop(struct commit *c)
{
    pthread_mutex_lock(&c->mu);
    c->stopping = 1;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    if (c->thread_started && !c->thread_joined) {
        pthread_join(c->thread, NULL);
        c->thread_joined = 1;
    }
    /* The async may still be pending; its callback then finds the list empty. */
    deliver(c);
}

void commit_free(struct commit *c)
{
    if (!c)
        return;
    commit_stop(c); /* a no-op when already stopped; the thread must be gone before free */
    uv_close((uv_handle_t *)&c->async, on_close);
}

void commit_get_stats(struct commit *c, struct commit_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}
