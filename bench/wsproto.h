/*
 * The client side of RFC 6455 for the load generator, without sockets: the upgrade request,
 * the Sec-WebSocket-Accept check, masked client frames, and an incremental frame reader.
 * struct wsrx: wsrx_init() on caller storage, wsrx_fini() frees its payload buffer.
 */
#ifndef BENCH_WSPROTO_H
#define BENCH_WSPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bbuf.h"

#define WS_OP_CONT   0x0
#define WS_OP_TEXT   0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE  0x8
#define WS_OP_PING   0x9
#define WS_OP_PONG   0xA

#define WS_KEY_LEN     24          /* base64 of 16 bytes */
#define WS_ACCEPT_LEN  28          /* base64 of a SHA-1 */
#define WS_MAX_PAYLOAD (16u << 20) /* a frame larger than 16 MiB is an error */

/** Writes a fresh random Sec-WebSocket-Key into out (WS_KEY_LEN chars + NUL). */
void wsproto_key(char out[WS_KEY_LEN + 1]);
/** Writes the Sec-WebSocket-Accept a server must answer for key (WS_ACCEPT_LEN + NUL). */
void wsproto_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);
/** Appends a GET upgrade request for path (with its query) to out. */
void wsproto_request(struct bbuf *out, const char *host, const char *path, const char *key);
/** Appends one masked client frame (FIN set) carrying n bytes of payload. */
void wsproto_frame(struct bbuf *out, int opcode, const void *payload, size_t n, uint32_t mask);

enum wsrx_state {
    WSRX_HEAD,    /* reading the 2..14 header bytes */
    WSRX_PAYLOAD, /* reading payload bytes */
    WSRX_DONE,    /* a frame is complete; wsrx_next() before the next */
};

struct wsrx {
    enum wsrx_state state; /* where the reader is */
    unsigned char hdr[14]; /* header bytes so far */
    size_t hdr_len;        /* bytes in hdr */
    int fin;               /* FIN bit of the frame */
    int opcode;            /* opcode of the frame */
    int masked;            /* the frame was masked (servers must not, we still unmask) */
    uint32_t mask;         /* the masking key when masked */
    uint64_t len;          /* payload length */
    uint64_t got;          /* payload bytes read */
    struct bbuf payload;   /* the frame's payload, unmasked */
};

/** Prepares w for the first frame. */
void wsrx_init(struct wsrx *w);
/** Frees w's payload buffer. */
void wsrx_fini(struct wsrx *w);
/** Prepares w for the next frame (keeps the buffer's storage). */
void wsrx_next(struct wsrx *w);
/** Feeds n bytes. Returns bytes used (less than n when a frame completed inside them), or -1
 *  on a malformed frame (reserved bits, a too-long payload, a fragmented control frame).
 *  w->state == WSRX_DONE tells that a frame is complete. */
ssize_t wsrx_feed(struct wsrx *w, const char *p, size_t n);

#endif
