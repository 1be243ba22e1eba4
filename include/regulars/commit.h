/*
 * The commit pipeline: group commit on one writer thread.
 *
 * The loop thread submits commands; the writer thread takes every command queued since its
 * last commit, runs each in its own nested txn of one write txn (a command whose run fails
 * is aborted alone; the others stay), commits once (durably under --sync full), then hands
 * the whole batch back to the loop thread, which calls each command's done callback. So a
 * 2xx is only ever sent, and an event only ever published, after the data is on disk.
 *
 * When the map is full (MDB_MAP_FULL anywhere in the batch) the batch is aborted, the map is
 * doubled (store_grow) and the same batch runs again: run() must therefore reset whatever it
 * produced at its start. When the commit itself fails (disk full, I/O error) every command
 * of the batch completes with that error (RG_ENOSPC / RG_EIO) and nothing of it is written.
 *
 * Ownership: a command is caller storage (usually embedded in a larger request struct) and
 * belongs to the pipeline from commit_submit until its done callback returns.
 */
#ifndef REGULARS_COMMIT_H
#define REGULARS_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "regulars/store.h"

struct commit_cmd;

/* Runs on the writer thread inside a nested write txn. Returns 0 to keep its writes or a
 * negative rg_err to abort them (the command then completes with that status). */
typedef int (*commit_run_fn)(struct store_tx *tx, struct commit_cmd *cmd);
/* Runs on the loop thread once the batch is durable (status 0) or has failed (status < 0:
 * run's own error, or RG_ENOSPC / RG_EIO / RG_EBUSY for the batch). */
typedef void (*commit_done_fn)(struct commit_cmd *cmd, int status);

struct commit_cmd {
    commit_run_fn run;        /* required */
    commit_done_fn done;      /* required */
    void *data;               /* the caller's, untouched by the pipeline */
    int status;               /* set by the pipeline before done is called */
    uint64_t submitted_ns;    /* set by commit_submit (uv_hrtime) */
    struct commit_cmd *next;  /* queue link, owned by the pipeline */
};

/* Counters for /metrics, updated by the pipeline; read on the loop thread. */
struct commit_stats {
    uint64_t batches;           /* commits done */
    uint64_t commands;          /* commands completed */
    uint64_t failed_batches;    /* commits that failed as a whole */
    uint64_t map_grows;         /* times the map was doubled */
    uint64_t batch_size_buckets[8]; /* batches of size <=1, <=2, <=4, ..., <=64, >64 */
    uint64_t commit_us_buckets[8];  /* commit latency <=100us, <=250, <=500, <=1ms, <=2.5,
                                       <=5, <=10, >10ms */
    double commit_us_sum;       /* sum of commit latencies in microseconds */
    size_t depth;               /* commands queued, not yet taken by the writer */
};

struct commit;

/** Starts the writer thread. loop is the thread that will receive done callbacks;
 *  max_depth bounds the queue (commands waiting to be taken). Returns NULL on failure. */
struct commit *commit_new(uv_loop_t *loop, struct store *st, size_t max_depth);
/** Queues cmd. Returns 0, or RG_EBUSY when max_depth commands are already waiting or the
 *  pipeline is stopping (cmd's done is then not called). Loop thread only. */
int commit_submit(struct commit *c, struct commit_cmd *cmd);
/** Stops taking new commands, lets the batch in flight and everything already queued
 *  commit, delivers their done callbacks (by running the loop's async handle), and joins
 *  the thread. Loop thread only; safe to call twice. */
void commit_stop(struct commit *c);
/** Closes the uv handle (the loop must run once more to finish closing) and frees c once
 *  closed. Call after commit_stop. */
void commit_free(struct commit *c);
/** A snapshot of the counters. */
void commit_get_stats(struct commit *c, struct commit_stats *out);

#endif
