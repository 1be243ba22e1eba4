/* Full map and full disk through the commit pipeline, with real domain writes (purchases,
 * their ledger entries and their outbox events), not synthetic puts.
 *
 * - A store opened with a 64 KiB map takes a few thousand purchases: every one succeeds, the
 *   map doubles as needed, and after a reopen the data and the grown map are still there. A
 *   4 KiB map, too small even for the named databases, grows while the store opens.
 * - On a full filesystem (a 1 MiB tmpfs mounted by the test; needs root) a batch that cannot
 *   be written fails as a whole with RG_ENOSPC (the API's 503), both when the disk has a few
 *   pages left (LMDB's short write, which it reports as EIO) and when it has none; nothing of
 *   a failed command is written (counts, ledgers and outbox sequences unchanged), reads keep
 *   working, and once space returns the same writes succeed. Where mounting is not permitted
 *   the test says so and uses RLIMIT_FSIZE instead, which proves the same "whole batch or
 *   nothing, then recovery" but not the ENOSPC mapping (the failure is then EFBIG -> RG_EIO).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "regulars/buf.h"
#include "regulars/commit.h"
#include "regulars/error.h"
#include "regulars/events.h"
#include "regulars/ledger.h"
#include "regulars/merchants.h"
#include "regulars/model.h"
#include "regulars/outbox.h"
#include "regulars/purchases.h"
#include "regulars/store.h"
#include "regulars/users.h"
#include "test.h"

#define T0     INT64_C(1700000000000)
#define NUSERS 8

/* ---- fixture: a store, the pipeline, and a loop to receive done callbacks ---- */

struct ffx {
    uv_loop_t loop;
    uv_timer_t tick; /* wakes the loop so that a lost callback times out instead of hanging */
    struct store st;
    struct commit *c;
    char *path; /* the data folder */
    int done;   /* done callbacks so far */
    uint64_t merchant;
    uint64_t users[NUSERS];
};

/* One command: OP_SETUP creates the users and the merchant, OP_PURCHASE records a purchase and
 * stores its events in the outbox (as api/write.c does), all in the command's nested txn. */
enum { OP_SETUP, OP_PURCHASE };

struct fcmd {
    struct commit_cmd cmd;
    struct ffx *f;
    int op;
    uint64_t buyer;
    int64_t amount, now;
    /* outputs, reset at each run (a map grow reruns the batch) */
    uint64_t purchase_id;
    /* set by done */
    int status;
    int done_calls;
};

static int setup_run(struct store_tx *tx, struct fcmd *c)
{
    struct ffx *f = c->f;
    unsigned char hash[32];
    int rc;
    for (int i = 0; i < NUSERS; i++) {
        memset(hash, 0x5a, sizeof(hash));
        hash[0] = (unsigned char)i;
        struct users_new nu = {.name = "Buyer", .secret_hash = hash};
        struct rg_user u;
        if ((rc = users_create(tx, &nu, T0, &u)))
            return rc;
        f->users[i] = u.id;
    }
    memset(hash, 0xa5, sizeof(hash));
    struct merchants_new nm = {.name = "Cafe", .lat = 37.5, .lon = 127.0, .secret_hash = hash};
    struct rg_merchant *m = malloc(sizeof(*m));
    if (!m)
        return RG_ENOMEM;
    rc = merchants_create(tx, &nm, T0, m);
    f->merchant = m->id;
    free(m);
    return rc;
}

static int purchase_run(struct store_tx *tx, struct fcmd *c)
{
    struct dom_events ev = {0};
    struct rg_purchase p;
    int rc = purchases_record(tx, c->f->merchant, c->buyer, c->amount, c->now, &p, &ev);
    if (rc)
        return rc;
    struct buf frame;
    buf_init(&frame);
    for (size_t i = 0; i < ev.n && !rc; i++) {
        char data[64];
        int n = snprintf(data, sizeof(data), "{\"points\":%lld}", (long long)ev.ev[i].points);
        uint64_t seq;
        rc = outbox_append(tx, ev.ev[i].recipient, "t", ev.ev[i].at, data, (size_t)n, &frame, &seq);
    }
    buf_fini(&frame);
    if (rc == 0)
        c->purchase_id = p.id;
    return rc;
}

static int fcmd_run(struct store_tx *tx, struct commit_cmd *cmd)
{
    struct fcmd *c = cmd->data;
    c->purchase_id = 0;
    return c->op == OP_SETUP ? setup_run(tx, c) : purchase_run(tx, c);
}

static void fcmd_done(struct commit_cmd *cmd, int status)
{
    struct fcmd *c = cmd->data;
    c->status = status;
    c->done_calls++;
    c->f->done++;
}

static void on_tick(uv_timer_t *t)
{
}

static int ffx_open(struct ffx *f, const char *path, size_t map)
{
    memset(f, 0, sizeof(*f));
    f->path = strdup(path);
    if (uv_loop_init(&f->loop) || uv_timer_init(&f->loop, &f->tick))
        return -1;
    if (store_open(&f->st, path, map, STORE_SYNC_FULL))
        return -1;
    f->c = commit_new(&f->loop, &f->st, 100000);
    return f->c ? 0 : -1;
}

static void ffx_close(struct ffx *f)
{
    if (f->c) {
        commit_stop(f->c);
        commit_free(f->c);
    }
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    store_close(&f->st);
    free(f->path);
}

static void remove_store(const char *path)
{
    char p[4400];
    snprintf(p, sizeof(p), "%s/data.mdb", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", path);
    unlink(p);
    rmdir(path);
}

/* Submits cmds[0..n) at once and runs the loop until all are done. 0, or -1 after 60 s. */
static int submit_all(struct ffx *f, struct fcmd *cmds, int n)
{
    int want = f->done + n;
    for (int i = 0; i < n; i++) {
        cmds[i].f = f;
        cmds[i].cmd.run = fcmd_run;
        cmds[i].cmd.done = fcmd_done;
        cmds[i].cmd.data = &cmds[i];
        if (commit_submit(f->c, &cmds[i].cmd))
            return -1;
    }
    uint64_t deadline = uv_hrtime() + UINT64_C(60000000000);
    uv_timer_start(&f->tick, on_tick, 100, 100);
    while (f->done < want && uv_hrtime() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->tick);
    return f->done >= want ? 0 : -1;
}

static int setup(struct ffx *f)
{
    struct fcmd s = {.op = OP_SETUP};
    if (submit_all(f, &s, 1) || s.status)
        return -1;
    return 0;
}

/* n purchases by the fixture's users in turn, amounts 1000 + i, at T0 + base + i. */
static struct fcmd *purchases_new(struct ffx *f, int n, int base)
{
    struct fcmd *c = calloc((size_t)n, sizeof(*c));
    for (int i = 0; i < n; i++) {
        c[i].op = OP_PURCHASE;
        c[i].buyer = f->users[(base + i) % NUSERS];
        c[i].amount = 1000 + base + i;
        c[i].now = T0 + base + i;
    }
    return c;
}

/* ---- what the store holds ---- */

struct snap {
    uint64_t purchases;     /* records in DB_PURCHASES */
    uint64_t last_purchase; /* the "purchase" id sequence */
    uint64_t entries;       /* ledger entries over all users (account counters) */
    uint64_t ledger_rows;   /* records in DB_LEDGER */
    int64_t balances;       /* sum of all balances */
    uint64_t merchant_head; /* the merchant's last outbox seq */
    uint64_t user_heads;    /* sum of the users' last outbox seqs */
    uint64_t outbox_rows;   /* records in DB_OUTBOX */
    int consistent;         /* every invariant below held */
};

static uint64_t db_entries(struct store_tx *tx, enum store_db db)
{
    MDB_stat ms;
    return mdb_stat(tx->txn, tx->st->dbi[db], &ms) ? UINT64_MAX : ms.ms_entries;
}

/* Reads the store in a read txn (the loop thread's, as the server's reads do) and checks:
 * each balance equals its ledger sum; each recipient's outbox holds its last min(head,
 * OUTBOX_KEEP) seqs without a gap; the merchant got one event per purchase, the buyers one per
 * ledger entry; no purchase id was skipped. Returns 0 or -1. */
static int snapshot(struct ffx *f, struct snap *s)
{
    struct store_tx tx;
    memset(s, 0, sizeof(*s));
    s->consistent = 1;
    if (store_read_begin(&f->st, &tx))
        return -1;
    s->purchases = db_entries(&tx, DB_PURCHASES);
    s->ledger_rows = db_entries(&tx, DB_LEDGER);
    s->outbox_rows = db_entries(&tx, DB_OUTBOX);
    struct skey k;
    MDB_val v;
    skey_reset(&k);
    skey_bytes(&k, "seq:purchase", 12);
    if (store_get(&tx, DB_META, &k, &v) == 0)
        s->last_purchase = store_be64(v.mv_data);
    for (int i = 0; i < NUSERS; i++) {
        struct rg_account a;
        int64_t sum = 0;
        uint64_t head = 0;
        if (users_account(&tx, f->users[i], &a) || ledger_sum(&tx, f->users[i], &sum) ||
            outbox_last_seq(&tx, store_recipient(RG_KIND_USER, f->users[i]), &head))
            goto fail;
        if (sum != a.balance) {
            fprintf(stderr, "user %d: balance %lld != ledger sum %lld\n", i, (long long)a.balance,
                    (long long)sum);
            s->consistent = 0;
        }
        s->entries += a.entries;
        s->balances += a.balance;
        s->user_heads += head;
    }
    if (outbox_last_seq(&tx, store_recipient(RG_KIND_MERCHANT, f->merchant), &s->merchant_head))
        goto fail;

    /* Every recipient's stored seqs end at its head without a gap, and hold at least its last
     * min(head, OUTBOX_KEEP) and fewer than OUTBOX_KEEP + OUTBOX_PRUNE. */
    MDB_cursor *cur;
    if (store_cursor(&tx, DB_OUTBOX, &cur))
        goto fail;
    uint64_t rcp = UINT64_MAX, expect = 0, kept = 0;
    MDB_val ck, cv;
    for (int rc = mdb_cursor_get(cur, &ck, &cv, MDB_FIRST); rc == 0 && s->consistent;
         rc = mdb_cursor_get(cur, &ck, &cv, MDB_NEXT)) {
        uint64_t r = store_be64(ck.mv_data), seq = store_be64((char *)ck.mv_data + 8);
        if (r != rcp) {
            uint64_t head;
            if (outbox_last_seq(&tx, r, &head))
                break;
            rcp = r;
            expect = seq;
            uint64_t n = head - seq + 1, least = head < OUTBOX_KEEP ? head : OUTBOX_KEEP;
            if (seq > head || n < least || n >= OUTBOX_KEEP + OUTBOX_PRUNE) {
                fprintf(stderr, "outbox %llx: holds %llu..%llu\n", (unsigned long long)r,
                        (unsigned long long)seq, (unsigned long long)head);
                s->consistent = 0;
            }
            kept += n;
        }
        if (seq != expect++) {
            fprintf(stderr, "outbox %llx: seq %llu, expected %llu\n", (unsigned long long)r,
                    (unsigned long long)seq, (unsigned long long)expect - 1);
            s->consistent = 0;
        }
    }
    mdb_cursor_close(cur);
    if (s->merchant_head != s->purchases || s->last_purchase != s->purchases ||
        s->ledger_rows != s->entries || s->user_heads != s->entries || s->outbox_rows != kept) {
        fprintf(stderr,
                "counts: purchases %llu (seq %llu), merchant events %llu, ledger rows %llu, "
                "entries %llu, user events %llu, outbox rows %llu\n",
                (unsigned long long)s->purchases, (unsigned long long)s->last_purchase,
                (unsigned long long)s->merchant_head, (unsigned long long)s->ledger_rows,
                (unsigned long long)s->entries, (unsigned long long)s->user_heads,
                (unsigned long long)s->outbox_rows);
        s->consistent = 0;
    }
    store_read_end(&tx);
    return 0;
fail:
    store_read_end(&tx);
    return -1;
}

/* ---- tests ---- */

TEST(tiny_map_grows_under_thousands_of_purchases)
{
    char *dir = test_tmpdir();
    struct ffx f;
    enum { N = 3000, WINDOW = 150 };
    ASSERT_EQ(ffx_open(&f, dir, 64 << 10), 0);
    ASSERT_EQ(f.st.map_size, 64 << 10);
    ASSERT_EQ(setup(&f), 0);
    struct fcmd *c = purchases_new(&f, N, 0);
    /* Windows of WINDOW commands: batches of many purchases, as under load. */
    for (int i = 0; i < N; i += WINDOW)
        ASSERT_EQ(submit_all(&f, c + i, WINDOW), 0);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(c[i].done_calls, 1);
        ASSERT_EQ(c[i].status, 0);
        ASSERT(c[i].purchase_id != 0);
    }
    struct commit_stats cs;
    commit_get_stats(f.c, &cs);
    ASSERT(cs.map_grows >= 4); /* 64 KiB could never hold this */
    ASSERT_EQ(cs.failed_batches, 0);
    size_t grown = f.st.map_size;
    ASSERT(grown >= ((size_t)64 << 10) << cs.map_grows);
    ASSERT(store_used_bytes(&f.st) <= grown);

    struct snap s;
    ASSERT_EQ(snapshot(&f, &s), 0);
    ASSERT(s.consistent);
    ASSERT_EQ(s.purchases, N);
    ASSERT_EQ(s.merchant_head, N);
    ASSERT_EQ(s.entries, N); /* one purchase award each: no shares, no referrals */
    ASSERT_EQ(s.user_heads, N);

    /* Reopened with the same tiny --map-size: the grown map and every record are there, and
     * writes go on. */
    uint64_t merchant = f.merchant, users[NUSERS];
    memcpy(users, f.users, sizeof(users));
    ffx_close(&f);
    ASSERT_EQ(ffx_open(&f, dir, 64 << 10), 0);
    ASSERT_EQ(f.st.map_size, grown);
    f.merchant = merchant;
    memcpy(f.users, users, sizeof(users));
    struct fcmd *more = purchases_new(&f, 100, N);
    ASSERT_EQ(submit_all(&f, more, 100), 0);
    for (int i = 0; i < 100; i++)
        ASSERT_EQ(more[i].status, 0);
    free(more);
    struct snap s2;
    ASSERT_EQ(snapshot(&f, &s2), 0);
    ASSERT(s2.consistent);
    ASSERT_EQ(s2.purchases, N + 100);
    ffx_close(&f);
    remove_store(dir);
    free(c);
    free(dir);
}

/* How the test makes the disk full: a tmpfs of its own (root), else RLIMIT_FSIZE. */
struct fullness {
    int tmpfs;      /* 1: mounted tmpfs at mnt */
    char mnt[4096]; /* the mount point (tmpfs) or the data folder's parent */
    char filler[4200];
    struct rlimit old;
};

static int fullness_init(struct fullness *fl, char *base)
{
    memset(fl, 0, sizeof(*fl));
    snprintf(fl->mnt, sizeof(fl->mnt), "%s/mnt", base);
    if (mkdir(fl->mnt, 0700))
        return -1;
    if (mount("tmpfs", fl->mnt, "tmpfs", 0, "size=1m,mode=0700") == 0) {
        fl->tmpfs = 1;
    } else {
        fprintf(stderr,
                "NOTE: cannot mount a tmpfs (%s): testing with RLIMIT_FSIZE instead; this "
                "proves whole-batch failure and recovery, not the ENOSPC (503) mapping\n",
                strerror(errno));
    }
    snprintf(fl->filler, sizeof(fl->filler), "%s/filler", fl->mnt);
    getrlimit(RLIMIT_FSIZE, &fl->old);
    return 0;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) ? -1 : sb.st_size;
}

/* Fills the disk leaving `room` bytes (tmpfs: a filler file written until ENOSPC, then cut
 * back by room; else: the data file may grow by room bytes at most). */
static int fullness_fill(struct fullness *fl, const char *data_dir, off_t room)
{
    if (!fl->tmpfs) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/data.mdb", data_dir);
        struct rlimit lim = fl->old;
        lim.rlim_cur = (rlim_t)(file_size(p) + room);
        signal(SIGXFSZ, SIG_IGN);
        return setrlimit(RLIMIT_FSIZE, &lim);
    }
    int fd = open(fl->filler, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return -1;
    static char chunk[4096];
    while (write(fd, chunk, sizeof(chunk)) > 0)
        ;
    int full = errno == ENOSPC;
    off_t size = lseek(fd, 0, SEEK_END);
    int rc = full && size >= room && ftruncate(fd, size - room) == 0 ? 0 : -1;
    close(fd);
    return rc;
}

static void fullness_unfill(struct fullness *fl)
{
    if (fl->tmpfs) {
        unlink(fl->filler);
    } else {
        setrlimit(RLIMIT_FSIZE, &fl->old);
        signal(SIGXFSZ, SIG_DFL);
    }
}

static void fullness_fini(struct fullness *fl)
{
    fullness_unfill(fl);
    if (fl->tmpfs)
        umount2(fl->mnt, MNT_DETACH);
    rmdir(fl->mnt);
}

/* Submits n purchases while the disk is full; each must have succeeded whole (present) or
 * failed with want (absent). Counts the failures into *failed. */
static int write_while_full(struct ffx *f, int n, int base, int want, int *failed)
{
    struct fcmd *c = purchases_new(f, n, base);
    struct snap before, after;
    int rc = -1;
    if (snapshot(f, &before) || submit_all(f, c, n) || snapshot(f, &after))
        goto out;
    int ok = 0;
    *failed = 0;
    for (int i = 0; i < n; i++) {
        if (c[i].done_calls != 1)
            goto out;
        if (c[i].status == 0) {
            ok++;
        } else if (c[i].status == want) {
            (*failed)++;
        } else {
            fprintf(stderr, "purchase %d: status %s, want 0 or %s\n", i, rg_strerror(c[i].status),
                    rg_strerror(want));
            goto out;
        }
    }
    /* Nothing partial: exactly the successful purchases were added, with all their parts. */
    if (!after.consistent || after.purchases != before.purchases + (uint64_t)ok ||
        after.entries != before.entries + (uint64_t)ok ||
        after.merchant_head != before.merchant_head + (uint64_t)ok) {
        fprintf(stderr, "full disk: %d ok, purchases %llu -> %llu, entries %llu -> %llu\n", ok,
                (unsigned long long)before.purchases, (unsigned long long)after.purchases,
                (unsigned long long)before.entries, (unsigned long long)after.entries);
        goto out;
    }
    rc = 0;
out:
    free(c);
    return rc;
}

TEST(full_disk_fails_whole_batches_then_recovers)
{
    char *base = test_tmpdir();
    struct fullness fl;
    ASSERT_EQ(fullness_init(&fl, base), 0);
    char data[4200];
    snprintf(data, sizeof(data), "%s/data", fl.mnt);
    struct ffx f;
    int rc = ffx_open(&f, data, 16 << 20);
    if (rc) {
        fullness_fini(&fl);
        ASSERT_EQ(rc, 0);
    }
    int want = fl.tmpfs ? RG_ENOSPC : RG_EIO;
    int ok = setup(&f) == 0;
    struct fcmd *first = ok ? purchases_new(&f, 100, 0) : NULL;
    ok = ok && submit_all(&f, first, 100) == 0;
    for (int i = 0; ok && i < 100; i++)
        ok = first[i].status == 0;
    free(first);
    struct snap s0;
    ok = ok && snapshot(&f, &s0) == 0 && s0.consistent && s0.purchases == 100;

    /* A few pages of room: the batch's write runs past the end of the disk (a short write). */
    int failed_short = 0, failed_none = 0;
    int phase1 = ok && fullness_fill(&fl, data, 12 << 10) == 0 &&
                 write_while_full(&f, 300, 100, want, &failed_short) == 0;
    /* Reads work on the full disk. */
    struct snap s1;
    int reads = phase1 && snapshot(&f, &s1) == 0 && s1.consistent;
    fullness_unfill(&fl);

    /* No room at all. */
    int phase2 = reads && fullness_fill(&fl, data, 0) == 0 &&
                 write_while_full(&f, 300, 400, want, &failed_none) == 0;
    struct commit_stats cs;
    commit_get_stats(f.c, &cs);
    fullness_unfill(&fl);

    /* Space is back: the same kind of writes succeed, every one. */
    struct fcmd *again = purchases_new(&f, 200, 700);
    int phase3 = phase2 && submit_all(&f, again, 200) == 0;
    for (int i = 0; phase3 && i < 200; i++)
        phase3 = again[i].status == 0;
    free(again);
    struct snap s3;
    int final = phase3 && snapshot(&f, &s3) == 0;

    ffx_close(&f);
    remove_store(data);
    fullness_fini(&fl);
    rmdir(base);
    free(base);

    ASSERT(ok);
    ASSERT(phase1);
    ASSERT(failed_short > 0); /* the disk really was too full for some batch */
    ASSERT(reads);
    ASSERT(phase2);
    ASSERT(failed_none > 0);
    ASSERT(cs.failed_batches >= 2);
    ASSERT(phase3);
    ASSERT(final);
    ASSERT(s3.consistent);
    ASSERT_EQ(s3.purchases, s1.purchases + (300 - (uint64_t)failed_none) + 200);
}

/* A map too small even for the named databases (--map-size 4K) grows while the store opens,
 * and the pipeline works on it. */
TEST(map_too_small_for_the_databases_grows_at_open)
{
    char *dir = test_tmpdir();
    struct ffx f;
    ASSERT_EQ(ffx_open(&f, dir, 4 << 10), 0);
    ASSERT(f.st.map_size > (4 << 10));
    ASSERT(f.st.map_size < (1 << 20)); /* not LMDB's 1 MiB default */
    ASSERT_EQ(setup(&f), 0);
    struct fcmd *c = purchases_new(&f, 50, 0);
    ASSERT_EQ(submit_all(&f, c, 50), 0);
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(c[i].status, 0);
    struct snap s;
    ASSERT_EQ(snapshot(&f, &s), 0);
    ASSERT(s.consistent);
    ASSERT_EQ(s.purchases, 50);
    ffx_close(&f);
    remove_store(dir);
    free(c);
    free(dir);
}
