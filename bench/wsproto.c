/* RFC 6455 client pieces: see wsproto.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "wsproto.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void wsproto_key(char out[WS_KEY_LEN + 1])
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        /* The key only has to be unpredictable to proxies; a weak one does no harm here. */
        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (unsigned char)rand();
    }
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
}

void wsproto_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char cat[128];
    int n = snprintf(cat, sizeof(cat), "%s%s", key, ws_guid);
    if (n < 0 || (size_t)n >= sizeof(cat))
        n = (int)sizeof(cat) - 1;
    SHA1((const unsigned char *)cat, (size_t)n, md);
    EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
}

void wsproto_request(struct bbuf *out, const char *host, const char *path, const char *key)
{
    bbuf_printf(out,
                "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                path, host, key);
}

void wsproto_frame(struct bbuf *out, int opcode, const void *payload, size_t n, uint32_t mask)
{
    unsigned char h[14];
    size_t hl = 0;
    h[hl++] = (unsigned char)(0x80 | (opcode & 0x0f));
    if (n < 126) {
        h[hl++] = (unsigned char)(0x80 | n);
    } else if (n <= 0xffff) {
        h[hl++] = 0x80 | 126;
        h[hl++] = (unsigned char)(n >> 8);
        h[hl++] = (unsigned char)n;
    } else {
        h[hl++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            h[hl++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    unsigned char mk[4] = {(unsigned char)(mask >> 24), (unsigned char)(mask >> 16),
                           (unsigned char)(mask >> 8), (unsigned char)mask};
    memcpy(h + hl, mk, 4);
    hl += 4;
    bbuf_add(out, h, hl);
    size_t at = out->len;
    bbuf_add(out, payload, n);
    for (size_t i = 0; i < n; i++)
        out->data[at + i] ^= (char)mk[i & 3];
}

void wsrx_init(struct wsrx *w)
{
    memset(w, 0, sizeof(*w));
    bbuf_init(&w->payload);
    wsrx_next(w);
}

void wsrx_fini(struct wsrx *w)
{
    bbuf_fini(&w->payload);
}

void wsrx_next(struct wsrx *w)
{
    w->state = WSRX_HEAD;
    w->hdr_len = 0;
    w->fin = w->opcode = w->masked = 0;
    w->mask = 0;
    w->len = w->got = 0;
    bbuf_reset(&w->payload);
}

/* Bytes the header needs in total, given what is known so far (at least 2). */
static size_t head_need(const struct wsrx *w)
{
    if (w->hdr_len < 2)
        return 2;
    size_t need = 2;
    unsigned l7 = w->hdr[1] & 0x7f;
    need += l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
    need += (w->hdr[1] & 0x80) ? 4 : 0;
    return need;
}

/* The header is complete: decode it. */
static int head_done(struct wsrx *w)
{
    if (w->hdr[0] & 0x70)
        return -1; /* no extension was negotiated, so RSV bits must be 0 */
    w->fin = !!(w->hdr[0] & 0x80);
    w->opcode = w->hdr[0] & 0x0f;
    w->masked = !!(w->hdr[1] & 0x80);
    unsigned l7 = w->hdr[1] & 0x7f;
    size_t at = 2;
    if (l7 == 126) {
        w->len = ((uint64_t)w->hdr[2] << 8) | w->hdr[3];
        at = 4;
    } else if (l7 == 127) {
        w->len = 0;
        for (int i = 0; i < 8; i++)
            w->len = (w->len << 8) | w->hdr[2 + i];
        at = 10;
    } else {
        w->len = l7;
    }
    if (w->masked)
        w->mask = ((uint32_t)w->hdr[at] << 24) | ((uint32_t)w->hdr[at + 1] << 16) |
                  ((uint32_t)w->hdr[at + 2] << 8) | w->hdr[at + 3];
    if (w->len > WS_MAX_PAYLOAD)
        return -1;
    if ((w->opcode & 0x8) && (!w->fin || w->len > 125))
        return -1;
    w->state = w->len ? WSRX_PAYLOAD : WSRX_DONE;
    return 0;
}

ssize_t wsrx_feed(struct wsrx *w, const char *p, size_t n)
{
    size_t used = 0;
    while (used < n && w->state != WSRX_DONE) {
        if (w->state == WSRX_HEAD) {
            w->hdr[w->hdr_len++] = (unsigned char)p[used++];
            if (w->hdr_len == head_need(w) && head_done(w))
                return -1;
            continue;
        }
        size_t take = n - used;
        if (take > w->len - w->got)
            take = (size_t)(w->len - w->got);
        size_t at = w->payload.len;
        bbuf_add(&w->payload, p + used, take);
        if (w->masked) {
            for (size_t i = 0; i < take; i++)
                w->payload.data[at + i] ^= (char)(w->mask >> (8 * (3 - ((w->got + i) & 3))));
        }
        w->got += take;
        used += take;
        if (w->got == w->len)
            w->state = WSRX_DONE;
    }
    return (ssize_t)used;
}
