// WebSocket frames (robustness issue, item 6): raw frames after the Autobahn categories,
// sent over a hand-made upgrade on a raw TCP socket, and the close code the server answers.
//
// Pass criterion, per case: the server sends a close frame with the code RFC 6455 requires
// (1002 protocol error, 1007 invalid UTF-8; 1003 and 1009 are this server's own rules from
// ws.h) and the connection then ends. Where libwebsockets 4.1 cannot do what the RFC says,
// the case asserts what it really does and its comment (DEVIATION) says how it differs, so
// a change of behaviour (an lws upgrade) shows up here.
//
// Origin: with --allowed-origin, an upgrade from any other Origin (or none) is refused with
// 403 before any handover, and one from the allowed Origin gets its 101.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before } from 'node:test';
import { createUser, rawConnect, startServer, test } from './lib.mjs';

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455's example key
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

let srv;
let user;

before(async () => {
    srv = await startServer();
    user = await createUser(srv, { name: 'Frames' });
});

after(async () => {
    const code = await srv?.stop();
    assert.equal(code, 0, 'the server exits 0 on SIGTERM (no sanitizer report)');
});

/** One client frame. rsv: the three RSV bits as a number 0..7; mask false sends it unmasked. */
function frame({ op, payload = Buffer.alloc(0), fin = true, rsv = 0, mask = true }) {
    const body = Buffer.from(payload);
    const len = body.length;
    const head = [(fin ? 0x80 : 0) | (rsv << 4) | op];
    const m = mask ? 0x80 : 0;
    let ext = Buffer.alloc(0);
    if (len < 126) {
        head.push(m | len);
    } else if (len < 65536) {
        head.push(m | 126);
        ext = Buffer.alloc(2);
        ext.writeUInt16BE(len);
    } else {
        head.push(m | 127);
        ext = Buffer.alloc(8);
        ext.writeBigUInt64BE(BigInt(len));
    }
    const key = mask ? crypto.randomBytes(4) : Buffer.alloc(0);
    if (mask) for (let i = 0; i < len; i++) body[i] ^= key[i & 3];
    return Buffer.concat([Buffer.from(head), ext, key, body]);
}

const closeFrame = (code, reason = Buffer.alloc(0)) => {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    return frame({ op: OP.close, payload: Buffer.concat([p, Buffer.from(reason)]) });
};

/** Server frames (unmasked) in buf; an incomplete tail is left out. */
function parseFrames(buf) {
    const frames = [];
    let o = 0;
    while (o + 2 <= buf.length) {
        const b0 = buf[o];
        const b1 = buf[o + 1];
        let len = b1 & 0x7f;
        let p = o + 2;
        if (len === 126) {
            if (p + 2 > buf.length) break;
            len = buf.readUInt16BE(p);
            p += 2;
        } else if (len === 127) {
            if (p + 8 > buf.length) break;
            len = Number(buf.readBigUInt64BE(p));
            p += 8;
        }
        if (b1 & 0x80) p += 4;
        if (p + len > buf.length) break;
        frames.push({ op: b0 & 0x0f, fin: !!(b0 & 0x80), masked: !!(b1 & 0x80), payload: buf.subarray(p, p + len) });
        o = p + len;
    }
    return frames;
}

/**
 * Upgrades a raw connection by hand. Resolves {c, status, head, frames()} where frames()
 * parses what the server sent after its answer's head.
 */
async function upgrade(s, { token = user.token, headers = '' } = {}) {
    const c = await rawConnect(s.port);
    c.write(
        `GET /v1/stream?token=${token} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
    );
    await c.waitFor((t) => t.includes('\r\n\r\n'), 5000);
    const end = c.data.indexOf('\r\n\r\n');
    const head = c.data.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    return { c, status, head, frames: () => parseFrames(c.data.subarray(end + 4)) };
}

/** An upgraded connection that has received its hello frame. */
async function open() {
    const u = await upgrade(srv);
    assert.equal(u.status, 101, u.head);
    assert.match(u.head, new RegExp(`^sec-websocket-accept: ${ACCEPT.replace(/[+/]/g, '\\$&')}$`, 'im'));
    assert.ok(await u.c.waitFor(() => u.frames().length >= 1, 5000), 'hello frame');
    const hello = JSON.parse(u.frames()[0].payload.toString('utf8'));
    assert.equal(hello.type, 'hello');
    return u;
}

/**
 * Sends frames and waits for the server's close frame, or the end of the connection.
 * Resolves {close: {code, reason} | null (no close frame), frames, ended}. When a close frame
 * came, the client answers it and the connection must then end within endMs.
 */
async function sendAndClose(u, frames, endMs = 3000) {
    for (const f of frames) u.c.write(f);
    await u.c.waitFor(() => u.frames().some((f) => f.op === OP.close), 3000);
    const all = u.frames();
    const cf = all.find((f) => f.op === OP.close);
    let close = null;
    if (cf) {
        close = {
            code: cf.payload.length >= 2 ? cf.payload.readUInt16BE(0) : null,
            reason: cf.payload.subarray(2).toString('utf8'),
            length: cf.payload.length,
        };
        u.c.write(closeFrame(close.code ?? 1000));
    }
    const ended = await u.c.waitClosed(endMs);
    u.c.destroy();
    return { close, frames: all, ended };
}

// [name, frames to send, expected close code, ms within which the connection must end after
// the client answered the close]. Close codes are the RFC's unless noted.
//
// DEVIATION (RSV bits): lws sends the right 1002 but then reads nothing more, so it does not
// see the client's close reply and drops the connection only when its own close timeout
// (5 s) expires; RFC 6455 7.1.1 wants the TCP connection closed once the close handshake is
// complete. Hence the longer wait for those cases.
const RSV_END_MS = 7000;
const rfcCases = [
    ['invalid UTF-8 in a text frame -> 1007', [frame({ op: OP.text, payload: Buffer.from([0xc3, 0x28]) })], 1007],
    ['invalid UTF-8 across fragments -> 1007',
        [frame({ op: OP.text, fin: false, payload: Buffer.from([0xe2, 0x82]) }),
            frame({ op: OP.cont, payload: Buffer.from([0x41]) })], 1007],
    ['a UTF-16 surrogate encoded in UTF-8 -> 1007', [frame({ op: OP.text, payload: Buffer.from([0xed, 0xa0, 0x80]) })], 1007],
    ['reserved data opcode 0x3 -> 1002', [frame({ op: 0x3, payload: 'x' })], 1002],
    ['reserved data opcode 0x7 -> 1002', [frame({ op: 0x7 })], 1002],
    ['reserved control opcode 0xB -> 1002', [frame({ op: 0xb, payload: 'x' })], 1002],
    ['RSV1 set without an extension -> 1002', [frame({ op: OP.text, rsv: 4, payload: 'x' })], 1002, RSV_END_MS],
    ['RSV2 set -> 1002', [frame({ op: OP.text, rsv: 2, payload: 'x' })], 1002, RSV_END_MS],
    ['RSV3 set on a ping -> 1002', [frame({ op: OP.ping, rsv: 1, payload: 'x' })], 1002, RSV_END_MS],
    ['fragmented ping -> 1002', [frame({ op: OP.ping, fin: false, payload: 'p' }), frame({ op: OP.cont, payload: 'q' })], 1002],
    ['fragmented close -> 1002', [frame({ op: OP.close, fin: false, payload: Buffer.from([3, 0xe8]) })], 1002],
    ['continuation with nothing to continue -> 1002', [frame({ op: OP.cont, payload: 'x' })], 1002],
    ['a new text frame inside a fragmented message -> 1002',
        [frame({ op: OP.text, fin: false, payload: 'a' }), frame({ op: OP.text, payload: 'b' })], 1002],
    ['close code 999 -> 1002', [closeFrame(999)], 1002],
    ['close code 1004 (reserved) -> 1002', [closeFrame(1004)], 1002],
    ['close code 1005 (must not be sent) -> 1002', [closeFrame(1005)], 1002],
    ['close code 1006 (must not be sent) -> 1002', [closeFrame(1006)], 1002],
    ['close code 1015 (must not be sent) -> 1002', [closeFrame(1015)], 1002],
    ['close code 2999 (reserved for the protocol) -> 1002', [closeFrame(2999)], 1002],
    ['close 1000 is answered with 1000', [closeFrame(1000, 'bye')], 1000],
    ['close 3000 (registered range) is echoed', [closeFrame(3000)], 3000],
    ['close 4999 (private range) is echoed', [closeFrame(4999)], 4999],
    // This server's rules (ws.h): text frames only, messages up to 64 KiB.
    ['binary message -> 1003 (ours: text only)', [frame({ op: OP.binary, payload: 'hi' })], 1003],
    ['message over 64 KiB -> 1009 (ours)', [frame({ op: OP.text, payload: Buffer.alloc(70000, 0x61) })], 1009],
];

for (const [name, frames, code, endMs] of rfcCases) {
    test(`ws frames: ${name}`, async () => {
        const u = await open();
        const r = await sendAndClose(u, frames, endMs);
        assert.ok(r.close, `a close frame (got opcodes ${r.frames.map((f) => f.op).join(',')})`);
        assert.equal(r.close.code, code, `close code (reason ${JSON.stringify(r.close.reason)})`);
        assert.ok(r.ended, 'the connection ended after the close handshake');
    });
}

// ---- where libwebsockets 4.1 differs from RFC 6455 ---------------------------------------

test('ws frames: ping with a 126-byte payload (control frames are <= 125) -> connection dropped', async () => {
    // DEVIATION: RFC 6455 5.5 makes it a protocol error; 7.1.7 says the endpoint SHOULD send
    // a close frame (1002) when it fails the connection. lws drops the TCP connection
    // without a close frame. The connection still ends, which is what matters for safety.
    const u = await open();
    const r = await sendAndClose(u, [frame({ op: OP.ping, payload: Buffer.alloc(126, 0x61) })]);
    assert.equal(r.close, null, 'no close frame (lws)');
    assert.ok(r.ended, 'the connection is dropped');
    assert.ok(!r.frames.some((f) => f.op === OP.pong), 'the oversized ping is not answered');
});

test('ws frames: close with a 126-byte payload -> connection dropped', async () => {
    // DEVIATION: same as the oversized ping (RFC: 1002 expected, lws drops the connection).
    const u = await open();
    const r = await sendAndClose(u, [closeFrame(1000, Buffer.alloc(124, 0x61))]);
    assert.equal(r.close, null, 'no close frame (lws)');
    assert.ok(r.ended, 'the connection is dropped');
});

test('ws frames: close with a 1-byte payload -> echoed', async () => {
    // DEVIATION: RFC 6455 5.5.1 requires a 2-byte code first in a non-empty close body, so a
    // 1-byte body is a protocol error (Autobahn 7.3.2 expects 1002). lws echoes the 1-byte
    // body in its own close frame (itself malformed), then ends the connection.
    const u = await open();
    const r = await sendAndClose(u, [frame({ op: OP.close, payload: Buffer.from([0x03]) })]);
    assert.ok(r.close, 'a close frame');
    assert.equal(r.close.length, 1, 'with the 1-byte body echoed (lws), not 1002');
    assert.ok(r.ended, 'the connection ended');
});

test('ws frames: close reason that is not UTF-8 -> connection dropped', async () => {
    // DEVIATION: RFC 6455 7.1.6 wants the reason to be UTF-8 (Autobahn 7.5.1 expects 1007).
    // lws drops the TCP connection without a close frame.
    const u = await open();
    const r = await sendAndClose(u, [closeFrame(1000, Buffer.from([0xc3, 0x28]))]);
    assert.equal(r.close, null, 'no close frame (lws)');
    assert.ok(r.ended, 'the connection is dropped');
});

test('ws frames: close codes >= 5000 are echoed', async () => {
    // DEVIATION (informational): RFC 6455 7.4.2 defines no code >= 5000 (Autobahn 7.13.x
    // reports these as informational); lws echoes them like a valid code.
    for (const code of [5000, 65535]) {
        const u = await open();
        const r = await sendAndClose(u, [closeFrame(code)]);
        assert.equal(r.close?.code, code, `close ${code} echoed (lws)`);
        assert.ok(r.ended);
    }
});

test('ws frames: unmasked client frames are accepted', async () => {
    // DEVIATION: RFC 6455 5.1: a server MUST close the connection on an unmasked client frame
    // (1002). lws 4.1's server does not check the mask bit and exposes no way to see it
    // (LWS_CALLBACK_RECEIVE gets the payload only), so ws.c cannot enforce it either: an
    // unmasked ping is answered like a masked one and nothing is closed. Masking protects
    // intermediaries from cache poisoning by browser scripts; browsers always mask, so this
    // matters only for non-browser clients, which could send anything anyway.
    const u = await open();
    u.c.write(frame({ op: OP.text, payload: 'hi', mask: false }));
    u.c.write(frame({ op: OP.ping, payload: 'still-open', mask: false }));
    const pong = await u.c.waitFor(() => u.frames().some((f) => f.op === OP.pong), 3000);
    assert.ok(pong, 'the unmasked ping was answered');
    assert.equal(u.frames().find((f) => f.op === OP.pong).payload.toString(), 'still-open');
    assert.ok(!u.frames().some((f) => f.op === OP.close), 'no close frame');
    assert.equal(u.c.closed, false, 'still open');
    const r = await sendAndClose(u, [closeFrame(1000)]);
    assert.equal(r.close?.code, 1000);
});

// ---- sanity: the raw client itself is right -------------------------------------------------

test('ws frames: a masked ping gets its pong and a valid text message closes nothing', async () => {
    const u = await open();
    u.c.write(frame({ op: OP.text, payload: '{"hello":"server"}' }));
    u.c.write(frame({ op: OP.ping, payload: 'ping-1' }));
    assert.ok(await u.c.waitFor(() => u.frames().some((f) => f.op === OP.pong), 3000), 'pong');
    const pong = u.frames().find((f) => f.op === OP.pong);
    assert.equal(pong.payload.toString(), 'ping-1');
    assert.equal(pong.masked, false, 'server frames are not masked');
    assert.ok(!u.frames().some((f) => f.op === OP.close), 'no close frame');
    const r = await sendAndClose(u, [closeFrame(1000)]);
    assert.equal(r.close?.code, 1000);
    assert.ok(r.ended);
});

// ---- Origin ----------------------------------------------------------------------------------

test('--allowed-origin: other origins are refused with 403, the allowed one upgrades', async () => {
    const s = await startServer(['--allowed-origin', 'http://good.example']);
    const u = await createUser(s, { name: 'Origin' });
    for (const [origin, status] of [
        ['http://evil.example', 403],
        ['http://good.example.evil.example', 403],
        ['https://good.example', 403],
        ['null', 403],
        [null, 403], // no Origin at all
        ['http://good.example', 101],
    ]) {
        const r = await upgrade(s, { token: u.token, headers: origin === null ? '' : `Origin: ${origin}\r\n` });
        assert.equal(r.status, status, `Origin ${origin}: ${r.head}`);
        if (status === 403) {
            await r.c.waitFor((t) => /\r\n\r\n[\s\S]*\}\}/.test(t), 3000);
            const body = r.c.text.slice(r.c.text.indexOf('\r\n\r\n') + 4);
            assert.equal(JSON.parse(body).error.code, 'forbidden', body);
            assert.ok(await r.c.waitClosed(3000), 'closed after the refusal');
        } else {
            assert.ok(await r.c.waitFor(() => r.frames().length >= 1, 3000), 'hello after the 101');
        }
        r.c.destroy();
    }
    assert.equal(await s.stop(), 0, 'exit 0 on SIGTERM');
});
