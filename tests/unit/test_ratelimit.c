#include "regulars/ratelimit.h"
#include "test.h"

TEST(off_allows_everything)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 0);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ(ratelimit_take(&rl, "a", 1, 0), 0);
    ratelimit_fini(&rl);
}

TEST(burst_then_refuse_then_refill)
{
    struct ratelimit rl;
    ASSERT_EQ(ratelimit_init(&rl, 10), 0);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(ratelimit_take(&rl, "a", 1, 1000), 0);
    ASSERT(ratelimit_take(&rl, "a", 1, 1000) >= 1);
    /* 100 ms later one token is back, not two. */
    ASSERT_EQ(ratelimit_take(&rl, "a", 1, 1100), 0);
    ASSERT(ratelimit_take(&rl, "a", 1, 1100) >= 1);
    ratelimit_fini(&rl);
}

TEST(keys_are_independent)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 1);
    ASSERT_EQ(ratelimit_take(&rl, "a", 1, 5), 0);
    ASSERT(ratelimit_take(&rl, "a", 1, 5) >= 1);
    ASSERT_EQ(ratelimit_take(&rl, "b", 1, 5), 0);
    ratelimit_fini(&rl);
}

TEST(many_keys_stay_bounded)
{
    struct ratelimit rl;
    ratelimit_init(&rl, 5);
    char key[16];
    for (int i = 0; i < 200000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        ASSERT_EQ(ratelimit_take(&rl, key, (size_t)n, (uint64_t)i), 0);
    }
    ratelimit_fini(&rl);
}
