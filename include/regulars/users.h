/*
 * Users: creation, lookups by id / handle / phone, and the per-user account numbers
 * (balance, friends count). Pure functions over a store txn; writes run on the commit
 * pipeline's writer thread inside the caller's txn, reads on any txn.
 *
 * Layouts (store.h): DB_USERS u64 -> rg_user; DB_USER_HANDLE handle -> u64 (8 bytes BE);
 * DB_USER_PHONE phone -> u64 (8 bytes BE); DB_ACCOUNTS u64 -> rg_account.
 */
#ifndef REGULARS_USERS_H
#define REGULARS_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"
#include "regulars/store.h"

#define USERS_NAME_MIN         1  /* code points */
#define USERS_NAME_MAX         64 /* code points */
#define USERS_HANDLE_MIN       3  /* bytes of [a-z0-9_] */
#define USERS_HANDLE_MAX       32
#define USERS_PHONE_DIGITS_MIN 8
#define USERS_PHONE_DIGITS_MAX 15

struct users_new {
    const char *name;                 /* required, already validated (users_valid_name) */
    const char *handle;               /* NULL or "" when none; validated */
    const char *phone;                /* NULL or "" when none; validated, E.164 */
    const unsigned char *secret_hash; /* 32 bytes: SHA-256 of the user's token */
};

/** Creates a user with id store_next_id("user"), created_at = now, a zero account and its
 *  secret (kind RG_KIND_USER), and copies it to *out.
 *  Cost: gets: 1 handle + 1 phone (when given) + 1 (id sequence); puts: 1 sequence + user
 *  + account + secret + 1 handle + 1 phone (when given).
 *  Returns 0, RG_E_HANDLE_TAKEN, RG_E_PHONE_TAKEN, RG_EINVAL (a string too long for its
 *  field) or a store error. On error the caller aborts the txn (some puts may be done). */
int users_create(struct store_tx *tx, const struct users_new *u, int64_t now, struct rg_user *out);

/** Reads user id into *out. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int users_get(struct store_tx *tx, uint64_t id, struct rg_user *out);
/** Returns 0 when user id exists, RG_ENOTFOUND when not. Cost: 1 get, nothing copied. */
int users_exists(struct store_tx *tx, uint64_t id);

/** Reads user id's account. Cost: 1 get. Returns 0, RG_ENOTFOUND or a store error. */
int users_account(struct store_tx *tx, uint64_t id, struct rg_account *out);
/** Writes user id's account. Cost: 1 put. Writer thread. */
int users_put_account(struct store_tx *tx, uint64_t id, const struct rg_account *a);

/** Finds the user registered with phone (exact E.164 string). Cost: 1 get.
 *  Returns 0 and *id, RG_ENOTFOUND or a store error. */
int users_by_phone(struct store_tx *tx, const char *phone, uint64_t *id);
/** Finds the user with handle. Cost: 1 get. Returns 0 and *id, RG_ENOTFOUND or an error. */
int users_by_handle(struct store_tx *tx, const char *handle, uint64_t *id);

/* Validation of request fields (pure; len in bytes, the string may hold NULs). */
/** 1..64 code points of valid UTF-8 without control characters. */
bool users_valid_name(const char *s, size_t len);
/** [a-z0-9_]{3,32}. */
bool users_valid_handle(const char *s, size_t len);
/** E.164: '+', then 8..15 digits, the first not 0. */
bool users_valid_phone(const char *s, size_t len);

#endif
