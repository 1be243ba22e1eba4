/*
 * One error space for the whole server. Functions return 0 on success or one of these
 * negative codes; rg_strerror() names them. Domain codes (RG_E_HANDLE_TAKEN, ...) map 1:1 to
 * the API's error codes in api/json.c.
 */
#ifndef REGULARS_ERROR_H
#define REGULARS_ERROR_H

enum rg_err {
    RG_OK = 0,
    RG_ENOMEM = -1,            /* allocation failed */
    RG_EINVAL = -2,            /* invalid argument or input */
    RG_ENOTFOUND = -3,         /* no such record */
    RG_EEXIST = -4,            /* record already exists */
    RG_EBUSY = -5,             /* queue full or server shutting down: try later */
    RG_EIO = -6,               /* storage or system I/O failure */
    RG_ENOSPC = -7,            /* disk full */
    RG_EFORBIDDEN = -8,        /* the principal may not do this */
    RG_EUNAUTHORIZED = -9,     /* missing or unknown secret */
    RG_ETOOBIG = -10,          /* over a size limit */
    RG_EMETHOD = -11,          /* path exists, method does not */
    RG_EPROTO = -12,           /* malformed protocol input */
    RG_E_HANDLE_TAKEN = -20,   /* 409 handle_taken */
    RG_E_PHONE_TAKEN = -21,    /* 409 phone_taken */
    RG_E_ALREADY_REFUNDED = -22, /* 409 already_refunded */
    RG_E_REFUNDED = -23,       /* 409 refunded (sharing a refunded purchase) */
    RG_E_ALREADY_SHARED = -24, /* 409 already_shared */
    RG_E_INSUFFICIENT = -25,   /* 409 insufficient_points */
    RG_E_IDEM_MISMATCH = -26,  /* 422 idempotency_mismatch */
    RG_E_SELF = -27,           /* 422: acting on oneself where not allowed */
};

/** Returns a static, human-readable name for an rg_err code (never NULL). */
const char *rg_strerror(int err);

#endif
