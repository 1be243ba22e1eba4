/*
 * A merchant's rules (API.md, "Merchants"): ranges, defaults and validation. The ranges are
 * the API's contract; a value outside them is answered 422 naming the field.
 */
#ifndef REGULARS_RULES_H
#define REGULARS_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "regulars/model.h"

/* buyer's points = floor(amount x bp / 10000) */
#define RULES_EARN_RATE_BP_MIN     0
#define RULES_EARN_RATE_BP_MAX     10000
#define RULES_EARN_RATE_BP_DEFAULT 100
/* points to the sharer per credited friend */
#define RULES_REFERRAL_BONUS_MIN     0
#define RULES_REFERRAL_BONUS_MAX     1000000
#define RULES_REFERRAL_BONUS_DEFAULT 100
/* extra points to the friend on a credited purchase */
#define RULES_FRIEND_BONUS_MIN     0
#define RULES_FRIEND_BONUS_MAX     1000000
#define RULES_FRIEND_BONUS_DEFAULT 50
/* how long a share can credit friends, seconds */
#define RULES_CREDIT_WINDOW_S_MIN     60
#define RULES_CREDIT_WINDOW_S_MAX     2592000
#define RULES_CREDIT_WINDOW_S_DEFAULT 86400
/* friends one share can credit */
#define RULES_MAX_REFERRALS_MIN     1
#define RULES_MAX_REFERRALS_MAX     1000
#define RULES_MAX_REFERRALS_DEFAULT 20
/* an offer's discount_pct */
#define RULES_DISCOUNT_PCT_MIN 1
#define RULES_DISCOUNT_PCT_MAX 90

/* The rule field names as API.md spells them, in struct order. */
#define RULES_NFIELDS 5
extern const char *const rules_fields[RULES_NFIELDS];

/** Fills r with the defaults of API.md's table. */
void rules_defaults(struct rg_rules *r);

/** Checks value for field: one of rules_fields or "discount_pct". Returns 0 when within the
 *  range, RG_EINVAL when outside it or when field is unknown. */
int rules_check(const char *field, int64_t value);

/** Checks value (rules_check) and, when valid, sets that rule in r (PATCH semantics: one
 *  rule replaced). "discount_pct" is not a rule: RG_EINVAL. Returns 0 or RG_EINVAL. */
int rules_set(struct rg_rules *r, const char *field, int64_t value);

/** Reads rule field of r into *value. Returns 0 or RG_EINVAL for an unknown field. */
int rules_get(const struct rg_rules *r, const char *field, int64_t *value);

#endif
