/*
 * The persistent records. Each is a fixed-size packed struct stored verbatim as an LMDB
 * value (see store.h for which database holds which). Strings are NUL-terminated UTF-8 in
 * fixed arrays sized for the API's limits in code points x 4 bytes. Ids are internal u64s
 * (sequential per kind, so id order is creation order); ids.h turns them into the API's
 * opaque strings. Times are milliseconds since the Unix epoch.
 */
#ifndef REGULARS_MODEL_H
#define REGULARS_MODEL_H

#include <stdint.h>

#define RG_NAME_MAX 257     /* 64 code points */
#define RG_HANDLE_MAX 33    /* [a-z0-9_]{3,32} */
#define RG_PHONE_MAX 17     /* E.164: + and up to 15 digits */
#define RG_TITLE_MAX 481    /* 120 code points */
#define RG_CATEGORY_MAX 129 /* 32 code points */
#define RG_ADDRESS_MAX 801  /* 200 code points */
#define RG_MESSAGE_MAX 1121 /* 280 code points */
#define RG_MAX_OFFERS 16
#define RG_MAX_AWARDS 3     /* purchase, referral, friend_bonus */

/* Principal kinds, also the top byte of an outbox recipient key. */
enum rg_kind { RG_KIND_USER = 1, RG_KIND_MERCHANT = 2 };

struct rg_user {
    uint64_t id;
    int64_t created_at;
    char name[RG_NAME_MAX];
    char handle[RG_HANDLE_MAX]; /* "" when none */
    char phone[RG_PHONE_MAX];   /* "" when none */
};

/* The mutable per-user numbers, kept apart from rg_user so that awards rewrite 32 bytes. */
struct rg_account {
    int64_t balance;  /* always the sum of the user's ledger entries */
    uint32_t friends; /* accepted friendships */
    uint32_t reserved;
    uint64_t entries; /* ledger entries written */
};

struct rg_rules {
    uint32_t earn_rate_bp;            /* 0..10000 */
    uint32_t referral_bonus;          /* 0..1000000 */
    uint32_t friend_bonus;            /* 0..1000000 */
    uint32_t credit_window_s;         /* 60..2592000 */
    uint32_t max_referrals_per_share; /* 1..1000 */
};

struct rg_offer {
    char title[RG_TITLE_MAX];
    uint32_t discount_pct; /* 1..90 */
    int64_t ends_at;       /* 0 when open-ended */
};

struct rg_merchant {
    uint64_t id;
    int64_t created_at;
    char name[RG_NAME_MAX];
    char category[RG_CATEGORY_MAX];
    char address[RG_ADDRESS_MAX];
    double lat, lon;
    char currency[4]; /* ISO 4217 */
    struct rg_rules rules;
    uint32_t noffers;
    struct rg_offer offers[RG_MAX_OFFERS];
};

struct rg_reward {
    uint64_t id;
    uint64_t merchant_id;
    int64_t cost; /* points > 0 */
    int64_t created_at;
    char title[RG_TITLE_MAX];
};

/* Ledger entry kinds, as the API names them. */
enum rg_ledger_kind {
    RG_LK_PURCHASE = 1,
    RG_LK_REFERRAL = 2,
    RG_LK_FRIEND_BONUS = 3,
    RG_LK_REDEMPTION = 4,
    RG_LK_REVERSAL = 5,
};

struct rg_award {
    uint64_t user_id;
    uint32_t kind; /* enum rg_ledger_kind: purchase, referral or friend_bonus */
    uint32_t reserved;
    int64_t points;
};

struct rg_purchase {
    uint64_t id;
    uint64_t user_id;
    uint64_t merchant_id;
    int64_t amount;
    int64_t created_at;
    int64_t refunded_at; /* 0 when not refunded */
    uint64_t share_id;   /* crediting share, 0 when not referred */
    uint64_t sharer_id;  /* that share's user, 0 when not referred */
    uint64_t shared_as;  /* the share made of this purchase, 0 when none */
    char currency[4];    /* the merchant's currency when recorded (it may change later) */
    uint32_t nawards;
    uint32_t reserved;
    struct rg_award awards[RG_MAX_AWARDS]; /* awards > 0 points only, in the order written */
};

enum rg_channel { RG_CH_POST = 1, RG_CH_CHECKIN = 2, RG_CH_LINK = 3 };

struct rg_share {
    uint64_t id;
    uint64_t user_id;
    uint64_t merchant_id;
    uint64_t purchase_id;
    int64_t created_at;
    int64_t expires_at; /* created_at + credit_window_s at creation */
    uint32_t channel;   /* enum rg_channel */
    uint32_t referrals; /* friends credited so far (never decremented) */
    char message[RG_MESSAGE_MAX];
};

struct rg_ledger_entry {
    uint64_t id;
    uint32_t kind;          /* enum rg_ledger_kind */
    uint32_t reversed_kind; /* for RG_LK_REVERSAL: the kind it reverses */
    int64_t points;
    int64_t balance_after;
    int64_t created_at;
    uint64_t purchase_id; /* 0 when none, likewise below */
    uint64_t merchant_id;
    uint64_t share_id;
    uint64_t friend_id;
    uint64_t redemption_id;
};

enum rg_redemption_kind { RG_RK_REWARD = 1, RG_RK_CASH = 2 };

struct rg_redemption {
    uint64_t id;
    uint64_t user_id;
    uint32_t kind; /* enum rg_redemption_kind */
    uint32_t reserved;
    int64_t points;     /* positive: points taken from the balance */
    uint64_t reward_id; /* 0 for cash */
    int64_t created_at;
};

/* A friendship edge, stored both ways in DB_FRIENDS. */
struct rg_friend_edge {
    int64_t since;
};

/* A pending ask, stored both ways in DB_FRIEND_REQS. */
enum rg_req_dir { RG_REQ_OUT = 1, RG_REQ_IN = 2 };
struct rg_friend_req {
    uint32_t dir; /* enum rg_req_dir, from the key's first user's side */
    uint32_t reserved;
    int64_t at;
};

/* A secret's record, keyed by SHA-256 of the secret. */
struct rg_secret {
    uint32_t kind; /* enum rg_kind */
    uint32_t reserved;
    uint64_t id;
    unsigned char hash[32]; /* repeated so that the match is checked in constant time */
};

#endif
