#include "regulars/error.h"

const char *rg_strerror(int err)
{
    switch (err) {
    case RG_OK: return "ok";
    case RG_ENOMEM: return "out of memory";
    case RG_EINVAL: return "invalid argument";
    case RG_ENOTFOUND: return "not found";
    case RG_EEXIST: return "already exists";
    case RG_EBUSY: return "busy";
    case RG_EIO: return "i/o error";
    case RG_ENOSPC: return "no space left";
    case RG_EFORBIDDEN: return "forbidden";
    case RG_EUNAUTHORIZED: return "unauthorized";
    case RG_ETOOBIG: return "too big";
    case RG_EMETHOD: return "method not allowed";
    case RG_EPROTO: return "protocol error";
    case RG_E_HANDLE_TAKEN: return "handle taken";
    case RG_E_PHONE_TAKEN: return "phone taken";
    case RG_E_ALREADY_REFUNDED: return "already refunded";
    case RG_E_REFUNDED: return "refunded";
    case RG_E_ALREADY_SHARED: return "already shared";
    case RG_E_INSUFFICIENT: return "insufficient points";
    case RG_E_IDEM_MISMATCH: return "idempotency key reused with another request";
    case RG_E_SELF: return "not allowed on oneself";
    }
    return "unknown error";
}
