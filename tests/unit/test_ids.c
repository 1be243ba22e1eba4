#include "regulars/error.h"
#include "regulars/ids.h"
#include "test.h"

TEST(round_trip)
{
    char s[IDS_LEN + 1];
    uint64_t samples[] = {1, 2, 3, 1000, 123456789, (UINT64_C(1) << 56) - 1};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        uint64_t back = 0;
        ids_format(IDS_USER, samples[i], s);
        ASSERT_EQ(strlen(s), IDS_LEN);
        ASSERT_EQ(s[0], 'u');
        ASSERT_EQ(ids_parse(IDS_USER, s, strlen(s), &back), 0);
        ASSERT_EQ(back, samples[i]);
    }
}

TEST(consecutive_ids_look_unrelated)
{
    char a[IDS_LEN + 1], b[IDS_LEN + 1];
    ids_format(IDS_PURCHASE, 41, a);
    ids_format(IDS_PURCHASE, 42, b);
    int same = 0;
    for (int i = 2; i < IDS_LEN; i++)
        same += a[i] == b[i];
    ASSERT(same < 8);
}

TEST(kind_is_checked)
{
    char s[IDS_LEN + 1];
    uint64_t id;
    ids_format(IDS_USER, 7, s);
    ASSERT_EQ(ids_parse(IDS_MERCHANT, s, strlen(s), &id), RG_ENOTFOUND);
}

TEST(malformed_is_not_found)
{
    uint64_t id;
    char s[IDS_LEN + 1];
    ids_format(IDS_USER, 7, s);
    ASSERT_EQ(ids_parse(IDS_USER, s, strlen(s) - 1, &id), RG_ENOTFOUND);
    ASSERT_EQ(ids_parse(IDS_USER, "u_", 2, &id), RG_ENOTFOUND);
    s[5] = 'i'; /* not in the alphabet */
    ASSERT_EQ(ids_parse(IDS_USER, s, strlen(s), &id), RG_ENOTFOUND);
    ASSERT_EQ(ids_parse(IDS_USER, "u_0000000000000", 15, &id), RG_ENOTFOUND);
    ASSERT_EQ(ids_parse(IDS_USER, "u_zzzzzzzzzzzzz", 15, &id), RG_ENOTFOUND);
}

TEST(kinds_do_not_share_suffixes)
{
    char u[IDS_LEN + 1], p[IDS_LEN + 1];
    ids_format(IDS_USER, 1, u);
    ids_format(IDS_PURCHASE, 1, p);
    ASSERT(strcmp(u + 2, p + 2) != 0);
}
