/*
 * Domain events: what a write did that someone should hear about. Domain functions append
 * them to a caller-owned struct dom_events inside the writer's txn; the API layer turns each
 * into a stream frame (API.md, "Stream": points.earned, friend.request, ...), reading names
 * from the txn, and stores it in the outbox in the same txn. So events carry ids, not names.
 */
#ifndef REGULARS_EVENTS_H
#define REGULARS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

enum ev_type {
    EV_POINTS_EARNED,   /* points.earned: kind, points, balance, purchase/merchant/friend/share */
    EV_POINTS_REVERSED, /* points.reversed: points (< 0), balance, purchase, merchant,
                           reversed_kind */
    EV_POINTS_REDEEMED, /* points.redeemed: points (< 0), balance, redemption, kind, reward */
    EV_FRIEND_REQUEST,  /* friend.request: friend_id is the asker */
    EV_FRIEND_ACCEPTED, /* friend.accepted: friend_id is the one who accepted */
    EV_PURCHASE,        /* merchant's purchase: purchase_id, user_id (buyer) */
    EV_REFUND,          /* merchant's refund: purchase_id */
    EV_SHARE,           /* merchant's share: share_id, user_id (sharer) */
};

struct dom_event {
    enum ev_type type;
    uint64_t recipient; /* store_recipient(kind, id) of who receives it */
    int64_t at;         /* ms, the `now` of the write */
    /* The ids the event names; 0 when it names none of that kind. */
    uint64_t user_id;       /* the user concerned: recipient of a user event, buyer, sharer */
    uint64_t friend_id;     /* the other user: asker / accepter, award's friend */
    uint64_t merchant_id;   /* purchase's merchant */
    uint64_t purchase_id;   /* award's, reversal's, purchase's or refund's purchase */
    uint64_t share_id;      /* crediting share of an award, or the new share */
    uint64_t redemption_id; /* points.redeemed */
    uint64_t reward_id;     /* points.redeemed of a reward */
    uint32_t kind;          /* enum rg_ledger_kind, or enum rg_redemption_kind for redeemed */
    uint32_t reversed_kind; /* EV_POINTS_REVERSED: the ledger kind reversed */
    int64_t points;         /* signed points of the entry */
    int64_t balance;        /* the recipient's balance after it */
};

#define DOM_MAX_EVENTS 16

/* The events of one command, in order. Caller storage; zero n to reset. */
struct dom_events {
    size_t n;
    struct dom_event ev[DOM_MAX_EVENTS];
};

/** Appends a copy of ev. Returns 0, or RG_ETOOBIG when DOM_MAX_EVENTS are already there. */
int dom_events_add(struct dom_events *e, const struct dom_event *ev);

#endif
