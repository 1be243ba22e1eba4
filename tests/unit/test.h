/*
 * A minimal unit-test harness. Each TEST(name) registers itself at load time; the runner
 * (test_main.c) runs the one named on the command line, or all of them. Assertions print
 * file:line and both values, then fail the test.
 */
#ifndef REGULARS_TEST_H
#define REGULARS_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
extern int test_failed;

#define TEST(name)                                                                         \
    static void test_##name(void);                                                         \
    __attribute__((constructor)) static void test_register_##name(void)                   \
    {                                                                                      \
        test_register(#name, test_##name);                                                 \
    }                                                                                      \
    static void test_##name(void)

#define TEST_FAIL_(...)                                                                    \
    do {                                                                                   \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
        fprintf(stderr, __VA_ARGS__);                                                      \
        fputc('\n', stderr);                                                               \
        test_failed = 1;                                                                   \
        return;                                                                            \
    } while (0)

#define ASSERT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond))                                                                       \
            TEST_FAIL_("assertion failed: %s", #cond);                                     \
    } while (0)

#define ASSERT_EQ(a, b)                                                                    \
    do {                                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                                \
        if (a_ != b_)                                                                      \
            TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                          \
    } while (0)

#define ASSERT_STREQ(a, b)                                                                 \
    do {                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",           \
                       b_ ? b_ : "(null)");                                                \
    } while (0)

#define ASSERT_MEMEQ(a, alen, b, blen)                                                     \
    do {                                                                                   \
        size_t al_ = (alen), bl_ = (blen);                                                 \
        if (al_ != bl_ || memcmp((a), (b), al_) != 0)                                      \
            TEST_FAIL_("%s == %s: \"%.*s\" != \"%.*s\"", #a, #b, (int)al_,                 \
                       (const char *)(a), (int)bl_, (const char *)(b));                    \
    } while (0)

/* xorshift64: a repeatable pseudo-random sequence from the state *s (never 0). */
static inline uint64_t test_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A fresh empty directory under $TMPDIR for this test; caller frees the string. */
char *test_tmpdir(void);

#endif
