/*
 * jsontext must write exactly what json_dumps(JSON_COMPACT [| JSON_SORT_KEYS]) writes: the
 * idempotency hash of a request body is taken over the sorted form, and clients were
 * promised jansson's output. Each case compares the two encoders byte for byte.
 */
#include <math.h>

#include "regulars/api.h"
#include "regulars/error.h"
#include "regulars/jsontext.h"
#include "test.h"

/* Returns 1 when both encoders agree on v (printing both when they do not). Steals v. */
static int same_as_jansson(json_t *v, unsigned flags)
{
    size_t jflags =
        JSON_COMPACT | JSON_ENCODE_ANY | ((flags & JSONTEXT_SORT_KEYS) ? JSON_SORT_KEYS : 0);
    char *want = json_dumps(v, jflags);
    struct buf got;
    buf_init(&got);
    int rc = jsontext_dump(&got, v, flags);
    int ok = want && rc == 0 && got.len == strlen(want) && memcmp(got.data, want, got.len) == 0;
    if (!ok)
        fprintf(stderr, "jansson: %s\njsontext (rc %d): %s\n", want ? want : "(null)", rc,
                got.data ? got.data : "");
    free(want);
    buf_fini(&got);
    json_decref(v);
    return ok;
}

TEST(scalars_match_jansson)
{
    ASSERT(same_as_jansson(json_integer(0), 0));
    ASSERT(same_as_jansson(json_integer(-1), 0));
    ASSERT(same_as_jansson(json_integer(INT64_MAX), 0));
    ASSERT(same_as_jansson(json_integer(INT64_MIN), 0));
    ASSERT(same_as_jansson(json_true(), 0));
    ASSERT(same_as_jansson(json_false(), 0));
    ASSERT(same_as_jansson(json_null(), 0));
    double reals[] = {0.0,     -0.0,
                      1.0,     -1.5,
                      0.1,     1.0 / 3.0,
                      37.5665, 126.978,
                      1e20,    1e21,
                      1e-7,    123456789012345678.0,
                      5e-324,  1.7976931348623157e308,
                      0.5};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
        ASSERT(same_as_jansson(json_real(reals[i]), 0));
}

TEST(strings_escape_like_jansson)
{
    const char *cases[] = {
        "",
        "plain",
        "quote \" and backslash \\",
        "slash / stays",
        "tab\tnew\nline\rcr\bbs\fff",
        "\x01\x02\x1f\x7f",
        "Seoul 서울 café ☕ 😀",
        "ends with a backslash \\",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT(same_as_jansson(json_string(cases[i]), 0));
    /* A NUL inside a string (json_stringn) is escaped, not a terminator. */
    ASSERT(same_as_jansson(json_stringn("a\0b", 3), 0));
}

TEST(invalid_utf8_is_refused_and_leaves_nothing)
{
    struct buf b;
    buf_init(&b);
    ASSERT_EQ(buf_puts(&b, "keep"), 0);
    ASSERT_EQ(jsontext_string(&b, "bad \xc3\x28", 6), RG_EINVAL);
    ASSERT_STREQ(b.data, "keep");
    ASSERT_EQ(b.err, RG_EINVAL); /* sticky, for writers that check once at the end */
    buf_reset(&b);
    ASSERT_EQ(b.err, 0);
    ASSERT_EQ(buf_puts(&b, "keep"), 0);
    json_t *o = json_pack("{s:i}", "a", 1);
    json_object_set_new(o, "b", json_stringn_nocheck("\xff", 1));
    ASSERT_EQ(jsontext_dump(&b, o, 0), RG_EINVAL);
    ASSERT_STREQ(b.data, "keep");
    json_decref(o);
    buf_fini(&b);
}

TEST(objects_keep_insertion_order_or_sort)
{
    const char *text = "{\"zeta\":1,\"alpha\":[1,2,{\"b\":null,\"a\":true}],\"mid\":{},"
                       "\"arr\":[],\"alp\":\"x\",\"\":0}";
    json_t *v = json_loads(text, 0, NULL);
    ASSERT(v);
    ASSERT(same_as_jansson(json_incref(v), 0));
    ASSERT(same_as_jansson(json_incref(v), JSONTEXT_SORT_KEYS));
    json_decref(v);
}

/* Random trees: every shape and value kind jansson can hold, nested, in both orders. */
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    return test_xorshift(&rng);
}

static json_t *random_value(int depth)
{
    static const char *words[] = {"id", "name", "a\"q", "\\", "\n", "ü", "k", "key with space"};
    switch (next() % (depth > 3 ? 5 : 7)) {
    case 0:
        return json_integer((json_int_t)next());
    case 1:
        return json_real((double)(int64_t)next() / (double)(next() % 100000 + 1));
    case 2:
        return json_string(words[next() % 8]);
    case 3:
        return json_null();
    case 4:
        return next() & 1 ? json_true() : json_false();
    case 5: {
        json_t *a = json_array();
        for (int i = (int)(next() % 5); i > 0; i--)
            json_array_append_new(a, random_value(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = (int)(next() % 6); i > 0; i--)
            json_object_set_new(o, words[next() % 8], random_value(depth + 1));
        return o;
    }
    }
}

TEST(random_trees_match_jansson)
{
    for (int i = 0; i < 2000; i++) {
        json_t *v = random_value(0);
        ASSERT(same_as_jansson(json_incref(v), 0));
        ASSERT(same_as_jansson(v, JSONTEXT_SORT_KEYS));
    }
}

/* The hand-written text of a user (GET /v1/me) is the object api_user_json builds. */
TEST(user_text_matches_user_json)
{
    struct rg_user users[2] = {
        {.id = 42, .created_at = 1764800000123, .name = "Annika \"A\" Kim", .handle = "annika"},
        {.id = (UINT64_C(1) << 56) - 1, .created_at = 0, .name = "서울 ☕", .handle = ""},
    };
    for (int i = 0; i < 2; i++)
        for (int full = 0; full <= 1; full++) {
            json_t *j = api_user_json(&users[i], full);
            char *want = json_dumps(j, JSON_COMPACT);
            json_decref(j);
            struct buf b;
            buf_init(&b);
            ASSERT_EQ(api_user_text(&b, &users[i], full), 0);
            ASSERT_STREQ(b.data, want);
            free(want);
            buf_fini(&b);
        }
}
