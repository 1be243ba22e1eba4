/*
 * Users and their accounts. Handles and phones are unique through their own databases
 * (handle -> id, phone -> id); they are checked before an id is issued so that a refused
 * request does not burn an id, and written with MDB_NOOVERWRITE as a second guard.
 */
#include <string.h>

#include "regulars/error.h"
#include "regulars/secrets.h"
#include "regulars/users.h"
#include "regulars/utf8.h"

/* Copies s into a fixed field of size cap; RG_EINVAL when it does not fit. */
static int copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return RG_EINVAL;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static void str_key(struct skey *k, const char *s)
{
    skey_reset(k);
    skey_bytes(k, s, strlen(s));
}

/* Looks up a string index (handle or phone -> u64 id). */
static int index_get(struct store_tx *tx, enum store_db db, const char *s, uint64_t *id)
{
    struct skey k;
    MDB_val v;
    if (!s || !*s || strlen(s) > STORE_KEY_MAX)
        return RG_ENOTFOUND;
    str_key(&k, s);
    int rc = store_get(tx, db, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return RG_EIO;
    *id = store_be64(v.mv_data);
    return 0;
}

static int index_put(struct store_tx *tx, enum store_db db, const char *s, uint64_t id)
{
    struct skey k, v;
    str_key(&k, s);
    skey_make1(&v, id);
    return store_put(tx, db, &k, v.b, v.len, MDB_NOOVERWRITE);
}

int users_create(struct store_tx *tx, const struct users_new *u, int64_t now, struct rg_user *out)
{
    struct rg_user user;
    uint64_t other;
    int rc;
    int has_handle = u->handle && *u->handle, has_phone = u->phone && *u->phone;

    memset(&user, 0, sizeof(user));
    if (copy_field(user.name, sizeof(user.name), u->name) ||
        copy_field(user.handle, sizeof(user.handle), u->handle) ||
        copy_field(user.phone, sizeof(user.phone), u->phone))
        return RG_EINVAL;
    if (has_handle) {
        rc = index_get(tx, DB_USER_HANDLE, u->handle, &other);
        if (rc == 0)
            return RG_E_HANDLE_TAKEN;
        if (rc != RG_ENOTFOUND)
            return rc;
    }
    if (has_phone) {
        rc = index_get(tx, DB_USER_PHONE, u->phone, &other);
        if (rc == 0)
            return RG_E_PHONE_TAKEN;
        if (rc != RG_ENOTFOUND)
            return rc;
    }
    if ((rc = store_next_id(tx, "user", &user.id)))
        return rc;
    user.created_at = now;

    struct skey k;
    skey_make1(&k, user.id);
    if ((rc = store_put(tx, DB_USERS, &k, &user, sizeof(user), MDB_NOOVERWRITE)))
        return rc;
    struct rg_account acct;
    memset(&acct, 0, sizeof(acct));
    if ((rc = store_put(tx, DB_ACCOUNTS, &k, &acct, sizeof(acct), MDB_NOOVERWRITE)))
        return rc;
    if (has_handle && (rc = index_put(tx, DB_USER_HANDLE, u->handle, user.id)))
        return rc == RG_EEXIST ? RG_E_HANDLE_TAKEN : rc;
    if (has_phone && (rc = index_put(tx, DB_USER_PHONE, u->phone, user.id)))
        return rc == RG_EEXIST ? RG_E_PHONE_TAKEN : rc;
    if ((rc = secrets_put(tx, u->secret_hash, RG_KIND_USER, user.id)))
        return rc;
    if (out)
        *out = user;
    return 0;
}

int users_get(struct store_tx *tx, uint64_t id, struct rg_user *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_USERS, &k, out, sizeof(*out));
}

int users_exists(struct store_tx *tx, uint64_t id)
{
    struct skey k;
    MDB_val v;
    skey_make1(&k, id);
    return store_get(tx, DB_USERS, &k, &v);
}

int users_account(struct store_tx *tx, uint64_t id, struct rg_account *out)
{
    struct skey k;
    skey_make1(&k, id);
    return store_get_rec(tx, DB_ACCOUNTS, &k, out, sizeof(*out));
}

int users_put_account(struct store_tx *tx, uint64_t id, const struct rg_account *a)
{
    struct skey k;
    skey_make1(&k, id);
    return store_put(tx, DB_ACCOUNTS, &k, a, sizeof(*a), 0);
}

int users_by_phone(struct store_tx *tx, const char *phone, uint64_t *id)
{
    return index_get(tx, DB_USER_PHONE, phone, id);
}

int users_by_handle(struct store_tx *tx, const char *handle, uint64_t *id)
{
    return index_get(tx, DB_USER_HANDLE, handle, id);
}

/* ---- validation ---- */

bool users_valid_name(const char *s, size_t len)
{
    return s && utf8_is_text(s, len, USERS_NAME_MIN, USERS_NAME_MAX, 0);
}

bool users_valid_handle(const char *s, size_t len)
{
    if (!s || len < USERS_HANDLE_MIN || len > USERS_HANDLE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

bool users_valid_phone(const char *s, size_t len)
{
    if (!s || len < 1 + USERS_PHONE_DIGITS_MIN || len > 1 + USERS_PHONE_DIGITS_MAX)
        return false;
    if (s[0] != '+' || s[1] == '0')
        return false;
    for (size_t i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}
