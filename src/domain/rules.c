/*
 * Merchant rules: one table drives defaults, range checks and field access, so that a new
 * rule is one line here (and one field in model.h).
 */
#include <stddef.h>
#include <string.h>

#include "regulars/error.h"
#include "regulars/rules.h"

struct rule_def {
    const char *name;
    size_t offset; /* of the uint32_t field in struct rg_rules */
    int64_t min, max, def;
};

static const struct rule_def defs[RULES_NFIELDS] = {
    {"earn_rate_bp", offsetof(struct rg_rules, earn_rate_bp), RULES_EARN_RATE_BP_MIN,
     RULES_EARN_RATE_BP_MAX, RULES_EARN_RATE_BP_DEFAULT},
    {"referral_bonus", offsetof(struct rg_rules, referral_bonus), RULES_REFERRAL_BONUS_MIN,
     RULES_REFERRAL_BONUS_MAX, RULES_REFERRAL_BONUS_DEFAULT},
    {"friend_bonus", offsetof(struct rg_rules, friend_bonus), RULES_FRIEND_BONUS_MIN,
     RULES_FRIEND_BONUS_MAX, RULES_FRIEND_BONUS_DEFAULT},
    {"credit_window_s", offsetof(struct rg_rules, credit_window_s), RULES_CREDIT_WINDOW_S_MIN,
     RULES_CREDIT_WINDOW_S_MAX, RULES_CREDIT_WINDOW_S_DEFAULT},
    {"max_referrals_per_share", offsetof(struct rg_rules, max_referrals_per_share),
     RULES_MAX_REFERRALS_MIN, RULES_MAX_REFERRALS_MAX, RULES_MAX_REFERRALS_DEFAULT},
};

const char *const rules_fields[RULES_NFIELDS] = {
    "earn_rate_bp", "referral_bonus", "friend_bonus", "credit_window_s", "max_referrals_per_share",
};

static const struct rule_def *find(const char *field)
{
    for (size_t i = 0; i < RULES_NFIELDS; i++)
        if (strcmp(defs[i].name, field) == 0)
            return &defs[i];
    return NULL;
}

static uint32_t *field_ptr(struct rg_rules *r, const struct rule_def *d)
{
    return (uint32_t *)((char *)r + d->offset);
}

void rules_defaults(struct rg_rules *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < RULES_NFIELDS; i++)
        *field_ptr(r, &defs[i]) = (uint32_t)defs[i].def;
}

int rules_check(const char *field, int64_t value)
{
    if (strcmp(field, "discount_pct") == 0)
        return value >= RULES_DISCOUNT_PCT_MIN && value <= RULES_DISCOUNT_PCT_MAX ? 0 : RG_EINVAL;
    const struct rule_def *d = find(field);
    if (!d || value < d->min || value > d->max)
        return RG_EINVAL;
    return 0;
}

int rules_set(struct rg_rules *r, const char *field, int64_t value)
{
    const struct rule_def *d = find(field);
    if (!d || value < d->min || value > d->max)
        return RG_EINVAL;
    *field_ptr(r, d) = (uint32_t)value;
    return 0;
}

int rules_get(const struct rg_rules *r, const char *field, int64_t *value)
{
    const struct rule_def *d = find(field);
    if (!d)
        return RG_EINVAL;
    *value = *(const uint32_t *)((const char *)r + d->offset);
    return 0;
}
