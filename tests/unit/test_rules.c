/* Tests for rules: defaults and every range edge of every field. */
#include <string.h>

#include "regulars/error.h"
#include "regulars/rules.h"
#include "test.h"

TEST(defaults_match_api_table)
{
    struct rg_rules r;
    memset(&r, 0xff, sizeof(r));
    rules_defaults(&r);
    ASSERT_EQ(r.earn_rate_bp, 100);
    ASSERT_EQ(r.referral_bonus, 100);
    ASSERT_EQ(r.friend_bonus, 50);
    ASSERT_EQ(r.credit_window_s, 86400);
    ASSERT_EQ(r.max_referrals_per_share, 20);
}

static const struct {
    const char *field;
    int64_t min, max;
} ranges[] = {
    {"earn_rate_bp", 0, 10000},           {"referral_bonus", 0, 1000000},
    {"friend_bonus", 0, 1000000},         {"credit_window_s", 60, 2592000},
    {"max_referrals_per_share", 1, 1000}, {"discount_pct", 1, 90},
};

TEST(check_range_edges)
{
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        const char *f = ranges[i].field;
        int64_t lo = ranges[i].min, hi = ranges[i].max;
        if (rules_check(f, lo - 1) != RG_EINVAL)
            TEST_FAIL_("%s: min-1 (%lld) accepted", f, (long long)(lo - 1));
        if (rules_check(f, lo) != 0)
            TEST_FAIL_("%s: min (%lld) refused", f, (long long)lo);
        if (rules_check(f, hi) != 0)
            TEST_FAIL_("%s: max (%lld) refused", f, (long long)hi);
        if (rules_check(f, hi + 1) != RG_EINVAL)
            TEST_FAIL_("%s: max+1 (%lld) accepted", f, (long long)(hi + 1));
        /* Far outside, including values a uint32_t cast would wrap into range. */
        ASSERT_EQ(rules_check(f, INT64_MIN), RG_EINVAL);
        ASSERT_EQ(rules_check(f, INT64_MAX), RG_EINVAL);
        ASSERT_EQ(rules_check(f, (int64_t)UINT32_MAX + 1 + lo), RG_EINVAL);
    }
    ASSERT_EQ(rules_check("earn_rate", 100), RG_EINVAL);
    ASSERT_EQ(rules_check("", 0), RG_EINVAL);
}

TEST(set_and_get_one_rule)
{
    struct rg_rules r, before;
    int64_t v = -1;
    rules_defaults(&r);
    before = r;

    ASSERT_EQ(rules_set(&r, "friend_bonus", 0), 0);
    ASSERT_EQ(r.friend_bonus, 0);
    ASSERT_EQ(r.earn_rate_bp, before.earn_rate_bp);
    ASSERT_EQ(r.referral_bonus, before.referral_bonus);
    ASSERT_EQ(r.credit_window_s, before.credit_window_s);
    ASSERT_EQ(r.max_referrals_per_share, before.max_referrals_per_share);

    ASSERT_EQ(rules_set(&r, "credit_window_s", 59), RG_EINVAL);
    ASSERT_EQ(r.credit_window_s, 86400); /* unchanged */
    ASSERT_EQ(rules_set(&r, "credit_window_s", 2592000), 0);
    ASSERT_EQ(r.credit_window_s, 2592000);
    ASSERT_EQ(rules_set(&r, "discount_pct", 10), RG_EINVAL);
    ASSERT_EQ(rules_set(&r, "nope", 10), RG_EINVAL);

    ASSERT_EQ(rules_get(&r, "credit_window_s", &v), 0);
    ASSERT_EQ(v, 2592000);
    ASSERT_EQ(rules_get(&r, "nope", &v), RG_EINVAL);

    /* rules_fields names every rule, each readable and settable. */
    for (size_t i = 0; i < RULES_NFIELDS; i++) {
        ASSERT_EQ(rules_set(&r, rules_fields[i], 1 + (int64_t)i * 61), 0);
        ASSERT_EQ(rules_get(&r, rules_fields[i], &v), 0);
        ASSERT_EQ(v, 1 + (int64_t)i * 61);
    }
    ASSERT_EQ(r.earn_rate_bp, 1);
    ASSERT_EQ(r.referral_bonus, 62);
    ASSERT_EQ(r.friend_bonus, 123);
    ASSERT_EQ(r.credit_window_s, 184);
    ASSERT_EQ(r.max_referrals_per_share, 245);
}
