/* Tests for users, secrets and utf8: creation, uniqueness, lookups, hashing, validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regulars/error.h"
#include "regulars/secrets.h"
#include "regulars/store.h"
#include "regulars/users.h"
#include "regulars/utf8.h"
#include "test.h"

/* A fresh store with one open write txn, as the writer thread would hand it to a command. */
struct fx {
    char *dir;
    struct store st;
    struct store_tx tx;
};

static int fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->dir = test_tmpdir();
    if (store_open(&f->st, f->dir, (size_t)32 << 20, STORE_SYNC_NONE))
        return -1;
    f->tx.st = &f->st;
    return mdb_txn_begin(f->st.env, NULL, 0, &f->tx.txn) ? -1 : 0;
}

static void fx_close(struct fx *f)
{
    char path[4096];
    if (f->tx.txn)
        mdb_txn_abort(f->tx.txn);
    f->tx.txn = NULL;
    store_close(&f->st);
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f->dir);
}

static int make_user(struct fx *f, const char *name, const char *handle, const char *phone,
                     const char *token, int64_t now, struct rg_user *out)
{
    unsigned char h[32];
    secrets_hash(token, strlen(token), h);
    struct users_new u = {.name = name, .handle = handle, .phone = phone, .secret_hash = h};
    return users_create(&f->tx, &u, now, out);
}

/* ---- users ---- */

TEST(user_create_writes_user_account_and_secret)
{
    struct fx f;
    struct rg_user u, got;
    struct rg_account a;
    struct rg_secret s;
    unsigned char h[32];

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(make_user(&f, "Ji-woo 지우", "jiwoo", "+821012345678", "ut_one", 1000, &u), 0);
    ASSERT_EQ(u.id, 1);
    ASSERT_EQ(u.created_at, 1000);
    ASSERT_STREQ(u.name, "Ji-woo 지우");
    ASSERT_STREQ(u.handle, "jiwoo");
    ASSERT_STREQ(u.phone, "+821012345678");

    ASSERT_EQ(users_get(&f.tx, 1, &got), 0);
    ASSERT_MEMEQ(&got, sizeof(got), &u, sizeof(u));
    ASSERT_EQ(users_exists(&f.tx, 1), 0);

    ASSERT_EQ(users_account(&f.tx, 1, &a), 0);
    ASSERT_EQ(a.balance, 0);
    ASSERT_EQ(a.friends, 0);
    ASSERT_EQ(a.entries, 0);

    secrets_hash("ut_one", 6, h);
    ASSERT_EQ(secrets_lookup(&f.tx, h, &s), 0);
    ASSERT_EQ(s.kind, RG_KIND_USER);
    ASSERT_EQ(s.id, 1);

    /* Without handle or phone; "" counts as none. Ids keep counting. */
    ASSERT_EQ(make_user(&f, "Bo", NULL, NULL, "ut_two", 2000, &u), 0);
    ASSERT_EQ(u.id, 2);
    ASSERT_STREQ(u.handle, "");
    ASSERT_STREQ(u.phone, "");
    ASSERT_EQ(make_user(&f, "Cy", "", "", "ut_three", 3000, &u), 0);
    ASSERT_EQ(u.id, 3);
    fx_close(&f);
}

TEST(user_create_refuses_taken_handle_and_phone)
{
    struct fx f;
    struct rg_user u;
    uint64_t id;

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(make_user(&f, "A", "alice", "+15551234567", "t1", 1, &u), 0);
    ASSERT_EQ(make_user(&f, "B", "alice", NULL, "t2", 2, &u), RG_E_HANDLE_TAKEN);
    ASSERT_EQ(make_user(&f, "B", NULL, "+15551234567", "t2", 2, &u), RG_E_PHONE_TAKEN);
    /* Both taken: the handle is reported (checked first). */
    ASSERT_EQ(make_user(&f, "B", "alice", "+15551234567", "t2", 2, &u), RG_E_HANDLE_TAKEN);
    /* A refused request burns no id and leaves no index entry behind. */
    ASSERT_EQ(make_user(&f, "B", "bob", "+15557654321", "t2", 2, &u), 0);
    ASSERT_EQ(u.id, 2);
    ASSERT_EQ(users_by_handle(&f.tx, "alice", &id), 0);
    ASSERT_EQ(id, 1);
    ASSERT_EQ(users_by_phone(&f.tx, "+15551234567", &id), 0);
    ASSERT_EQ(id, 1);
    /* A field too long for its record is refused before anything is written. */
    char longname[300];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ASSERT_EQ(make_user(&f, longname, NULL, NULL, "t3", 3, &u), RG_EINVAL);
    ASSERT_EQ(make_user(&f, "C", NULL, NULL, "t3", 3, &u), 0);
    ASSERT_EQ(u.id, 3);
    fx_close(&f);
}

TEST(user_lookups)
{
    struct fx f;
    struct rg_user u;
    struct rg_account a;
    uint64_t id = 0;

    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(make_user(&f, "A", "ann", "+15550000001", "t1", 1, &u), 0);
    ASSERT_EQ(make_user(&f, "B", "ben", "+15550000002", "t2", 2, &u), 0);
    ASSERT_EQ(users_by_handle(&f.tx, "ben", &id), 0);
    ASSERT_EQ(id, 2);
    ASSERT_EQ(users_by_phone(&f.tx, "+15550000001", &id), 0);
    ASSERT_EQ(id, 1);
    ASSERT_EQ(users_by_handle(&f.tx, "nobody", &id), RG_ENOTFOUND);
    ASSERT_EQ(users_by_handle(&f.tx, "", &id), RG_ENOTFOUND);
    ASSERT_EQ(users_by_phone(&f.tx, "+15550000003", &id), RG_ENOTFOUND);
    ASSERT_EQ(users_by_phone(&f.tx, NULL, &id), RG_ENOTFOUND);
    ASSERT_EQ(users_get(&f.tx, 3, &u), RG_ENOTFOUND);
    ASSERT_EQ(users_exists(&f.tx, 3), RG_ENOTFOUND);
    ASSERT_EQ(users_account(&f.tx, 3, &a), RG_ENOTFOUND);

    ASSERT_EQ(users_account(&f.tx, 2, &a), 0);
    a.balance = -42;
    a.friends = 7;
    a.entries = 3;
    ASSERT_EQ(users_put_account(&f.tx, 2, &a), 0);
    memset(&a, 0, sizeof(a));
    ASSERT_EQ(users_account(&f.tx, 2, &a), 0);
    ASSERT_EQ(a.balance, -42);
    ASSERT_EQ(a.friends, 7);
    ASSERT_EQ(a.entries, 3);
    ASSERT_EQ(users_account(&f.tx, 1, &a), 0);
    ASSERT_EQ(a.balance, 0);

    /* Visible to a later read txn once committed. */
    ASSERT_EQ(mdb_txn_commit(f.tx.txn), 0);
    f.tx.txn = NULL;
    struct store_tx rd;
    ASSERT_EQ(store_read_begin(&f.st, &rd), 0);
    ASSERT_EQ(users_get(&rd, 2, &u), 0);
    ASSERT_STREQ(u.handle, "ben");
    store_read_end(&rd);
    fx_close(&f);
}

/* ---- secrets ---- */

TEST(secrets_hash_is_sha256)
{
    unsigned char h[32];
    secrets_hash("abc", 3, h);
    ASSERT_MEMEQ(h, 32,
                 "\xba\x78\x16\xbf\x8f\x01\xcf\xea\x41\x41\x40\xde\x5d\xae\x22\x23"
                 "\xb0\x03\x61\xa3\x96\x17\x7a\x9c\xb4\x10\xff\x61\xf2\x00\x15\xad",
                 32);
    secrets_hash("", 0, h);
    ASSERT_MEMEQ(h, 32,
                 "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24"
                 "\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55",
                 32);
}

TEST(secrets_put_and_lookup)
{
    struct fx f;
    struct rg_secret s;
    unsigned char h1[32], h2[32], h3[32];

    ASSERT_EQ(fx_open(&f), 0);
    secrets_hash("mk_key", 6, h1);
    secrets_hash("ut_token", 8, h2);
    secrets_hash("ut_tokeN", 8, h3);
    ASSERT_EQ(secrets_put(&f.tx, h1, RG_KIND_MERCHANT, 7), 0);
    ASSERT_EQ(secrets_put(&f.tx, h2, RG_KIND_USER, 9), 0);
    ASSERT_EQ(secrets_put(&f.tx, h1, RG_KIND_USER, 8), RG_EEXIST);

    ASSERT_EQ(secrets_lookup(&f.tx, h1, &s), 0);
    ASSERT_EQ(s.kind, RG_KIND_MERCHANT);
    ASSERT_EQ(s.id, 7);
    ASSERT_MEMEQ(s.hash, 32, h1, 32);
    ASSERT_EQ(secrets_lookup(&f.tx, h2, &s), 0);
    ASSERT_EQ(s.kind, RG_KIND_USER);
    ASSERT_EQ(s.id, 9);
    ASSERT_EQ(secrets_lookup(&f.tx, h3, &s), RG_EUNAUTHORIZED);
    fx_close(&f);
}

TEST(secrets_generate_format)
{
    char a[SECRETS_MAX], b[SECRETS_MAX];
    ASSERT_EQ(secrets_generate(SECRETS_PREFIX_USER, a, sizeof(a)), 0);
    ASSERT_EQ(secrets_generate(SECRETS_PREFIX_USER, b, sizeof(b)), 0);
    ASSERT_EQ(strlen(a), 3 + SECRETS_RANDOM_CHARS);
    ASSERT(strncmp(a, "ut_", 3) == 0);
    for (size_t i = 3; a[i]; i++) {
        char c = a[i];
        ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_');
    }
    ASSERT(strcmp(a, b) != 0);
    ASSERT_EQ(secrets_generate(SECRETS_PREFIX_MERCHANT, a, sizeof(a)), 0);
    ASSERT(strncmp(a, "mk_", 3) == 0);
    /* Exactly enough room works; one byte less does not. */
    ASSERT_EQ(secrets_generate("mk_", a, 3 + SECRETS_RANDOM_CHARS + 1), 0);
    ASSERT_EQ(secrets_generate("mk_", a, 3 + SECRETS_RANDOM_CHARS), RG_ETOOBIG);
    ASSERT_EQ(secrets_generate("123456789", a, sizeof(a)), RG_ETOOBIG);
}

/* ---- validation ---- */

struct vcase {
    const char *s;
    size_t len; /* 0: strlen(s) */
    int ok;
};

static size_t vlen(const struct vcase *c)
{
    return c->len ? c->len : strlen(c->s);
}

TEST(valid_name_table)
{
    char max64[64 * 3 + 1], over65[65 * 3 + 1], ascii64[65], ascii65[66];
    for (int i = 0; i < 65; i++)
        memcpy(over65 + i * 3, "\xea\xb0\x80", 3); /* U+AC00 */
    over65[65 * 3] = '\0';
    memcpy(max64, over65, 64 * 3);
    max64[64 * 3] = '\0';
    memset(ascii65, 'a', 65);
    ascii65[65] = '\0';
    memcpy(ascii64, ascii65, 64);
    ascii64[64] = '\0';
    const struct vcase cases[] = {
        {"A", 0, 1},
        {"Ji-woo Park", 0, 1},
        {max64, 0, 1},
        {over65, 0, 0},
        {ascii64, 0, 1},
        {ascii65, 0, 0},
        {"\xf0\x9f\x98\x80 emoji", 0, 1},
        {"tab\there", 0, 0},
        {"new\nline", 0, 0},
        {"del\x7f", 0, 0},
        {"c1 \xc2\x85", 0, 0}, /* U+0085 NEL */
        {"nul\0mid", 7, 0},
        {"bad \xff", 0, 0},
        {"overlong \xc0\xaf", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (users_valid_name(cases[i].s, vlen(&cases[i])) != cases[i].ok)
            TEST_FAIL_("users_valid_name case %zu (\"%s\") != %d", i, cases[i].s, cases[i].ok);
    ASSERT(!users_valid_name("", 0));
}

TEST(valid_handle_table)
{
    const struct vcase cases[] = {
        {"abc", 0, 1},
        {"ab", 0, 0},
        {"a_1", 0, 1},
        {"___", 0, 1},
        {"abcdefghijklmnopqrstuvwxyz012345", 0, 1},  /* 32 */
        {"abcdefghijklmnopqrstuvwxyz0123456", 0, 0}, /* 33 */
        {"Abc", 0, 0},
        {"ab-c", 0, 0},
        {"ab c", 0, 0},
        {"ab.c", 0, 0},
        {"abc\0d", 5, 0},
        {"caf\xc3\xa9", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (users_valid_handle(cases[i].s, vlen(&cases[i])) != cases[i].ok)
            TEST_FAIL_("users_valid_handle case %zu (\"%s\") != %d", i, cases[i].s, cases[i].ok);
    ASSERT(!users_valid_handle("", 0));
}

TEST(valid_phone_table)
{
    const struct vcase cases[] = {
        {"+12345678", 0, 1},         /* 8 digits */
        {"+1234567", 0, 0},          /* 7 */
        {"+123456789012345", 0, 1},  /* 15 */
        {"+1234567890123456", 0, 0}, /* 16 */
        {"+821012345678", 0, 1},
        {"+01234567890", 0, 0}, /* leading 0 */
        {"821012345678", 0, 0}, /* no + */
        {"++821012345678", 0, 0},
        {"+82 1012345678", 0, 0},
        {"+82-10-1234-5678", 0, 0},
        {"+8210123456a8", 0, 0},
        {"+82101234\0"
         "5678",
         13, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (users_valid_phone(cases[i].s, vlen(&cases[i])) != cases[i].ok)
            TEST_FAIL_("users_valid_phone case %zu (\"%s\") != %d", i, cases[i].s, cases[i].ok);
    ASSERT(!users_valid_phone("", 0));
    ASSERT(!users_valid_phone("+", 1));
}

TEST(utf8_count_table)
{
    static const struct {
        const char *s;
        size_t len;
        long count;
    } cases[] = {
        {"", 0, 0},
        {"abc", 3, 3},
        {"\0", 1, 1},
        {"\xc2\x80", 2, 1},         /* U+0080, smallest 2-byte */
        {"\xdf\xbf", 2, 1},         /* U+07FF */
        {"\xe0\xa0\x80", 3, 1},     /* U+0800 */
        {"\xef\xbf\xbf", 3, 1},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, 1}, /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, 1}, /* U+10FFFF */
        {"a\xea\xb0\x80z", 5, 3},
        {"\xc0\x80", 2, -1},         /* overlong NUL */
        {"\xc1\xbf", 2, -1},         /* overlong */
        {"\xe0\x9f\xbf", 3, -1},     /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 4, -1}, /* overlong 4-byte */
        {"\xed\xa0\x80", 3, -1},     /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, -1},     /* surrogate U+DFFF */
        {"\xed\x9f\xbf", 3, 1},      /* U+D7FF is fine */
        {"\xf4\x90\x80\x80", 4, -1}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, -1},
        {"\xff", 1, -1},
        {"\x80", 1, -1},         /* lone continuation */
        {"\xe2\x82", 2, -1},     /* truncated */
        {"\xe2\x28\xa1", 3, -1}, /* bad continuation */
        {"\xf0\x9f\x98", 3, -1}, /* truncated 4-byte */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long got = utf8_count(cases[i].s, cases[i].len);
        if (got != cases[i].count)
            TEST_FAIL_("utf8_count case %zu: %ld != %ld", i, got, cases[i].count);
    }
    uint32_t cp = 0;
    ASSERT_EQ(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    ASSERT_EQ(cp, 0x1F600);
    ASSERT_EQ(utf8_decode("\xea\xb0\x80", 3, &cp), 3);
    ASSERT_EQ(cp, 0xAC00);
    ASSERT_EQ(utf8_decode("\xea\xb0\x80", 2, &cp), -1);

    ASSERT(utf8_is_text("a\nb", 3, 1, 10, UTF8_ALLOW_NEWLINE));
    ASSERT(!utf8_is_text("a\nb", 3, 1, 10, 0));
    ASSERT(!utf8_is_text("a\rb", 3, 1, 10, UTF8_ALLOW_NEWLINE));
    ASSERT(utf8_is_text("", 0, 0, 10, 0));
    ASSERT(!utf8_is_text("abc", 3, 4, 10, 0));
    ASSERT(utf8_is_text("abc", 3, 3, 3, 0));
    ASSERT(!utf8_is_text("abcd", 4, 3, 3, 0));
}
