#include <stdlib.h>

#include "regulars/config.h"
#include "regulars/error.h"
#include "test.h"

TEST(defaults)
{
    struct config c;
    config_defaults(&c);
    ASSERT_STREQ(c.host, "127.0.0.1");
    ASSERT_EQ(c.port, 8080);
    ASSERT_EQ(c.max_header_bytes, 8192);
    ASSERT_EQ(c.max_body_bytes, 65536);
    ASSERT_EQ(c.sync, STORE_SYNC_FULL);
}

TEST(flags_and_sizes)
{
    struct config c;
    config_defaults(&c);
    char *argv[] = {"regularsd", "--listen", "0.0.0.0:0", "--map-size=1M", "--sync",
                    "none", "--bench", "--max-conns", "3", NULL};
    ASSERT_EQ(config_parse(&c, 9, argv), 0);
    ASSERT_STREQ(c.host, "0.0.0.0");
    ASSERT_EQ(c.port, 0);
    ASSERT_EQ(c.map_size, 1 << 20);
    ASSERT_EQ(c.sync, STORE_SYNC_NONE);
    ASSERT_EQ(c.bench, 1);
    ASSERT_EQ(c.max_conns, 3);
}

TEST(env_fallback_and_flag_wins)
{
    struct config c;
    config_defaults(&c);
    setenv("REGULARS_MAX_BODY_BYTES", "1024", 1);
    setenv("REGULARS_DATA", "/tmp/x", 1);
    char *argv[] = {"regularsd", "--data", "/tmp/y", NULL};
    ASSERT_EQ(config_parse(&c, 3, argv), 0);
    unsetenv("REGULARS_MAX_BODY_BYTES");
    unsetenv("REGULARS_DATA");
    ASSERT_EQ(c.max_body_bytes, 1024);
    ASSERT_STREQ(c.data, "/tmp/y");
}

TEST(bad_values_are_refused)
{
    struct config c;
    config_defaults(&c);
    char *a1[] = {"regularsd", "--sync", "sometimes", NULL};
    ASSERT_EQ(config_parse(&c, 3, a1), RG_EINVAL);
    char *a2[] = {"regularsd", "--listen", "nocolon", NULL};
    ASSERT_EQ(config_parse(&c, 3, a2), RG_EINVAL);
    char *a3[] = {"regularsd", "--max-conns", "-1", NULL};
    ASSERT_EQ(config_parse(&c, 3, a3), RG_EINVAL);
    char *a4[] = {"regularsd", "--what", NULL};
    ASSERT_EQ(config_parse(&c, 2, a4), RG_EINVAL);
    char *a5[] = {"regularsd", "--data", NULL};
    ASSERT_EQ(config_parse(&c, 2, a5), RG_EINVAL);
}
