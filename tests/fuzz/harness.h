/*
 * What every fuzz target shares: one regularsd server per process with no socket
 * (server_init_detached), over a temporary LMDB under /tmp that is seeded once with two
 * users, a merchant, a reward, two purchases and a share, and given fixed secrets that the
 * seed corpora use. Requests go through conn_feed_detached: bytes -> HTTP -> router ->
 * handler -> commit pipeline -> answer, exactly as read from a socket.
 *
 * Every answer is checked (fuzz_check_answers): well-formed status lines, JSON bodies that
 * parse, the {"error":{"code","message"}} shape on errors, and never a 500. A broken rule
 * aborts, which libFuzzer reports as a finding.
 *
 * The same code runs under libFuzzer (clang, -DREGULARS_FUZZ=ON) and in the replay
 * executables (any compiler; replay_main.c), which run the corpora and tests/fuzz/regress/
 * as ordinary ctest entries.
 */
#ifndef REGULARS_FUZZ_HARNESS_H
#define REGULARS_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/buf.h"
#include "regulars/server.h"

/* Fixed secrets of the seeded principals (stored hashed like any other). */
#define FUZZ_USER1_TOKEN  "ut_fuzz1"
#define FUZZ_USER2_TOKEN  "ut_fuzz2"
#define FUZZ_MERCHANT_KEY "mk_fuzz1"

/* The seeded records' API ids (deterministic: ids.h's permutation has fixed keys). */
struct fuzz_ids {
    char user1[16], user2[16]; /* friends; user1 has points */
    char merchant[16];         /* FUZZ_MERCHANT_KEY's */
    char reward[16];           /* a reward of merchant, cost 10 */
    char purchase1[16];        /* user1's purchase at merchant, shared */
    char purchase2[16];        /* user1's purchase at merchant, not refunded yet */
    char share[16];            /* user1's share of purchase1 */
    uint64_t user1_n;          /* user1's internal id (for the WebSocket recipient) */
};

/** The server of this process, created and seeded on the first call (bench: with the
 *  /bench endpoints). Aborts when it cannot be set up. */
struct server *fuzz_server(int bench);
/** The seeded ids (after fuzz_server). */
const struct fuzz_ids *fuzz_ids(void);
/** Feeds data to a fresh detached connection, checks what was answered. Returns
 *  conn_feed_detached's result (1: the server closed the connection). */
int fuzz_feed(const char *data, size_t len);
/** Like fuzz_feed, keeping the answer bytes in out (appended). */
int fuzz_feed_out(const char *data, size_t len, struct buf *out);
/** Checks a connection's output (see the file comment); aborts with a message when broken. */
void fuzz_check_answers(const char *data, size_t len);

#endif
