/*
 * fuzz_ws_message: the WebSocket message path.
 *
 * 1. The hub's on_message callback gets the bytes as a client text message.
 * 2. The same bytes go to libwebsockets as a client's frames on a real (socketpair)
 *    connection adopted with ws_server_adopt after a valid upgrade, so lws's frame parser,
 *    UTF-8 check, fragment reassembly (ws.c on_receive) and closing run on them. Then the
 *    client goes away and the connection must be gone (hub and ws bookkeeping).
 *
 * Input format: the first byte picks the mode. Even: the rest is written as raw bytes.
 * Odd: the rest is a list of frames, each <b0><len><payload[len]> with b0 the first frame
 * byte (FIN, RSV, opcode) sent as is and len < 126; every frame is masked correctly, so
 * inputs get past the "client frames must be masked" rule and reach the message layer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "regulars/http.h"
#include "regulars/hub.h"
#include "regulars/model.h"
#include "regulars/store.h"
#include "regulars/ws.h"

#define WS_FUZZ_MAX_INPUT 16384

static const char upgrade[] = "GET /v1/stream HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";

static struct http_parser *parser;
static const struct http_request *upgrade_req;

static void setup(void)
{
    static const struct http_limits lim = {8192, 65536};
    size_t used;
    if (upgrade_req)
        return;
    parser = http_parser_new(&lim);
    if (!parser || http_parser_feed(parser, upgrade, sizeof(upgrade) - 1, &used) != HTTP_UPGRADE) {
        fprintf(stderr, "fuzz_ws_message: cannot parse the upgrade request\n");
        abort();
    }
    upgrade_req = http_parser_request(parser);
}

/* Reads whatever the server wrote (its 101, frames, the close frame), so it never blocks. */
static void drain(int fd)
{
    char b[4096];
    while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
        ;
}

/* Bytes the server side has not read yet. */
static int unread(int fd)
{
    int n = 0;
    if (ioctl(fd, FIONREAD, &n) < 0)
        return 0;
    return n;
}

static void send_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k <= 0)
            return; /* the server closed (or the buffer is full): the rest does not matter */
        p += k;
        n -= (size_t)k;
    }
}

/* Builds masked client frames from <b0><len><payload> records (see the file comment). */
static size_t build_frames(const unsigned char *in, size_t n, unsigned char *out)
{
    static const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t o = 0, i = 0;
    while (i + 2 <= n) {
        unsigned char b0 = in[i];
        size_t len = in[i + 1] % 126;
        i += 2;
        if (len > n - i)
            len = n - i;
        out[o++] = b0;
        out[o++] = (unsigned char)(0x80 | len);
        memcpy(out + o, key, 4);
        o += 4;
        for (size_t j = 0; j < len; j++)
            out[o++] = in[i + j] ^ key[j & 3];
        i += len;
    }
    return o;
}

static void run_loop(struct server *s, int turns)
{
    for (int i = 0; i < turns; i++)
        uv_run(s->loop, UV_RUN_NOWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct server *s = fuzz_server(0);
    setup();
    if (size > WS_FUZZ_MAX_INPUT)
        return -1;

    /* 1. The hub's message callback, as ws.c calls it for a complete text message. */
    struct ws_callbacks cb;
    hub_ws_callbacks(s->hub, &cb);
    cb.on_message(cb.ctx, NULL, (const char *)data, size);
    if (!size)
        return 0;

    /* 2. Through libwebsockets on a socketpair. */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    size_t before = ws_server_count(s->ws);
    uint64_t recipient = store_recipient(RG_KIND_USER, fuzz_ids()->user1_n);
    int rc = ws_server_adopt(s->ws, sv[0], upgrade_req, NULL, 0, recipient, 0);
    if (rc) {
        fprintf(stderr, "fuzz_ws_message: ws_server_adopt: %d\n", rc);
        abort();
    }
    run_loop(s, 4);
    drain(sv[1]);
    if (getenv("REGULARS_FUZZ_WS_DEBUG"))
        fprintf(stderr, "open after the handshake: %zu (before %zu)\n", ws_server_count(s->ws),
                before);

    static unsigned char frames[WS_FUZZ_MAX_INPUT / 2 * 6 + 16];
    const unsigned char *bytes = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        n = build_frames(data + 1, size - 1, frames);
        bytes = frames;
    }
    send_all(sv[1], bytes, n);
    /* Until lws has read everything (or closed), then a few turns for its close. */
    for (int i = 0; i < 2000 && unread(sv[0]) > 0; i++) {
        uv_run(s->loop, UV_RUN_NOWAIT);
        drain(sv[1]);
    }
    run_loop(s, 8);
    drain(sv[1]);

    /* The client goes away: the connection must be gone within a few loop turns. */
    close(sv[1]);
    for (int i = 0; i < 2000 && ws_server_count(s->ws) > before; i++)
        uv_run(s->loop, UV_RUN_NOWAIT);
    close(sv[0]);
    if (ws_server_count(s->ws) > before || hub_count(s->hub, recipient) != 0) {
        fprintf(stderr, "fuzz_ws_message: the connection outlived its client (%zu open)\n",
                ws_server_count(s->ws));
        abort();
    }
    return 0;
}
