// The server's core: operations endpoints, HTTP/1.1 framing and limits, users and the /v1/me
// read, the WebSocket stream handshake, shutdown and restart. Drives the real regularsd.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
    createUser,
    countResponses,
    eventually,
    parseResponses,
    raw,
    rawConnect,
    sleep,
    startServer,
    test,
    wsConnect,
} from './lib.mjs';

let srv; // shared server with default limits

before(async () => {
    srv = await startServer();
});

after(async () => {
    const code = await srv?.stop();
    assert.equal(code, 0, 'the shared server exits 0 on SIGTERM');
});

const GET = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
const uniq = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const handle = (p = 'u') => `${p}_${uniq()}`.slice(0, 32);

function assertError(r, status, code) {
    assert.equal(r.status, status, `status of ${r.text}`);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    assert.equal(typeof r.json?.error, 'object', `error object in ${r.text}`);
    if (code !== undefined) assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, 'string', r.text);
    assert.ok(r.json.error.message.length > 0, 'error message is not empty');
}

// ---------------------------------------------------------------------------------------
// Operations

test('GET /healthz -> 200 {"status":"ok"}', async () => {
    const r = await srv.api('GET', '/healthz');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
});

test('GET /metrics exposes the Prometheus series', async () => {
    await createUser(srv, { name: 'Metrics Probe' }); // at least one commit batch
    const r = await srv.api('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /^text\/plain/);
    for (const name of [
        'regulars_http_requests_total',
        'regulars_http_request_duration_seconds_bucket',
        'regulars_connections_open',
        'regulars_ws_connections_open',
        'regulars_commit_batch_size_bucket',
        'regulars_commit_queue_depth',
        'regulars_lmdb_map_used_bytes',
    ]) {
        assert.match(r.text, new RegExp(`^${name}(\\{[^}]*\\})? [0-9.eE+-]+$`, 'm'), `series ${name}`);
    }
});

test('unknown path -> 404 not_found error shape', async () => {
    const r = await srv.api('GET', '/v1/no-such-thing');
    assertError(r, 404, 'not_found');
    assert.deepEqual(Object.keys(r.json), ['error']);
});

test('wrong method -> 405 method_not_allowed with Allow', async () => {
    const r = await srv.api('DELETE', '/healthz');
    assertError(r, 405, 'method_not_allowed');
    assert.match(r.headers.get('allow') || '', /\bGET\b/);
    const r2 = await srv.api('PUT', '/v1/users', { body: { name: 'x' } });
    assertError(r2, 405, 'method_not_allowed');
    assert.match(r2.headers.get('allow') || '', /\bPOST\b/);
});

// ---------------------------------------------------------------------------------------
// HTTP/1.1 framing

test('keep-alive: two requests on one connection are both answered', async () => {
    const c = await rawConnect(srv.port);
    try {
        c.write(GET('/healthz'));
        assert.ok(await c.waitFor((t) => countResponses(t) >= 1), `first answer: ${c.text}`);
        c.write(GET('/healthz'));
        assert.ok(await c.waitFor((t) => countResponses(t) >= 2), `second answer: ${c.text}`);
        const { responses } = parseResponses(c.data);
        assert.deepEqual(responses.map((r) => r.status), [200, 200]);
        assert.deepEqual(responses[1].json, { status: 'ok' });
        assert.equal(c.closed, false, 'the connection stays open');
    } finally {
        c.destroy();
    }
});

test('pipelining: three requests in one write are answered in order', async () => {
    const r = await srv.raw(GET('/healthz') + GET('/v1/nope') + GET('/v1/me'), {
        until: (t) => countResponses(t) >= 3,
    });
    assert.deepEqual(r.responses.map((x) => x.status), [200, 404, 401], r.text);
    assert.deepEqual(r.responses[0].json, { status: 'ok' });
    assert.equal(r.responses[1].json?.error?.code, 'not_found');
    assert.equal(r.responses[2].json?.error?.code, 'unauthorized');
});

test('chunked request body to POST /v1/users', async () => {
    const body = JSON.stringify({ name: 'Chunky', handle: handle('chunk') });
    const a = body.slice(0, 10);
    const b = body.slice(10);
    const req =
        'POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n' +
        `${Buffer.byteLength(a).toString(16)}\r\n${a}\r\n` +
        `${Buffer.byteLength(b).toString(16)}\r\n${b}\r\n0\r\n\r\n`;
    const r = await srv.raw([req.slice(0, 90), req.slice(90)], { until: (t) => countResponses(t) >= 1 });
    assert.equal(r.responses[0]?.status, 201, r.text);
    assert.equal(r.responses[0].json.user.name, 'Chunky');
    assert.equal(typeof r.responses[0].json.token, 'string');
});

test('HEAD /healthz has headers but no body', async () => {
    // A GET follows on the same connection: its status line must come right after the HEAD's
    // header block, which proves that no body bytes were sent for the HEAD.
    const req = `HEAD /healthz HTTP/1.1\r\nHost: test\r\n\r\n${GET('/healthz')}`;
    const r = await srv.raw(req, { until: (t) => countResponses(t, { headMethods: [true] }) >= 2 });
    const end = r.text.indexOf('\r\n\r\n');
    assert.ok(end > 0, r.text);
    assert.match(r.text, /^HTTP\/1\.1 200 /);
    assert.match(r.text.slice(end + 4), /^HTTP\/1\.1 200 /, `nothing between the HEAD answer and the GET's: ${r.text}`);
    const [head, get] = parseResponses(r.data, { headMethods: [true] }).responses;
    assert.match(head.headers['content-type'] || '', /^application\/json/);
    if ('content-length' in head.headers) {
        assert.equal(head.headers['content-length'], get.headers['content-length']);
    }
    assert.deepEqual(get.json, { status: 'ok' });
});

test('Expect: 100-continue gets 100 Continue before the final answer', async () => {
    const body = JSON.stringify({ name: 'Patient' });
    const c = await rawConnect(srv.port);
    try {
        c.write(
            'POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
                `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
        );
        assert.ok(await c.waitFor((t) => t.includes('\r\n\r\n')), `an interim answer: ${c.text}`);
        assert.match(c.text, /^HTTP\/1\.1 100 Continue\r\n/);
        c.write(body);
        assert.ok(await c.waitFor((t) => countResponses(t) >= 1), c.text);
        const rs = parseResponses(c.data).responses;
        assert.deepEqual(rs.map((x) => x.status), [100, 201]);
        assert.equal(rs[1].json.user.name, 'Patient');
    } finally {
        c.destroy();
    }
});

test('Connection: close is answered, then the server closes', async () => {
    const r = await srv.raw(GET('/healthz', 'Connection: close\r\n'), { timeoutMs: 3000 });
    assert.equal(r.responses[0]?.status, 200, r.text);
    assert.ok(r.closed, 'the server closed the connection');
    assert.equal(countResponses(r.text), 1, r.text);
});

// ---------------------------------------------------------------------------------------
// Limits

test('request headers over 8 KiB -> 431 headers_too_large', async () => {
    const r = await srv.raw(GET('/healthz', `X-Big: ${'a'.repeat(9000)}\r\n`), {
        until: (t) => countResponses(t) >= 1,
    });
    assert.equal(r.responses[0]?.status, 431, r.text);
    assert.equal(r.responses[0].json?.error?.code, 'headers_too_large');
});

test('Content-Length over the body limit -> 413 without reading the body', async () => {
    // Only the head is sent: the answer must come without waiting for 10 MB of body.
    const r = await srv.raw(
        'POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
            'Content-Length: 10000000\r\n\r\n',
        { until: (t) => countResponses(t) >= 1, timeoutMs: 3000 },
    );
    assert.equal(r.responses[0]?.status, 413, r.text);
    assert.equal(r.responses[0].json?.error?.code, 'payload_too_large');
});

test('a client that stalls inside the headers gets 408 and is closed', async () => {
    const s = await startServer(['--header-timeout-ms', '300']);
    try {
        const r = await s.raw('GET /healthz HTTP/1.1\r\nHost: te', { timeoutMs: 5000 });
        assert.equal(r.responses[0]?.status, 408, r.text);
        assert.equal(r.responses[0].json?.error?.code, 'request_timeout');
        assert.ok(r.closed, 'closed after the 408');
        assert.ok(r.ms >= 250, `not before the timeout (${r.ms} ms)`);
    } finally {
        assert.equal(await s.stop(), 0);
    }
});

test('an idle keep-alive connection is closed after --idle-timeout-ms', async () => {
    const s = await startServer(['--idle-timeout-ms', '300']);
    try {
        const c = await rawConnect(s.port);
        try {
            c.write(GET('/healthz'));
            assert.ok(await c.waitFor((t) => countResponses(t) >= 1), c.text);
            const answered = Date.now();
            assert.ok(await c.waitClosed(5000), 'closed by the server within 5 s');
            assert.ok(c.closedAt - answered >= 200, `kept open a while (${c.closedAt - answered} ms)`);
            assert.equal(countResponses(c.text), 1, `nothing else sent: ${c.text}`);
        } finally {
            c.destroy();
        }
    } finally {
        assert.equal(await s.stop(), 0);
    }
});

test('--max-conns 3: a 4th connection gets 503 unavailable and is closed', async () => {
    const s = await startServer(['--max-conns', '3']);
    const open = [];
    try {
        // Three connections, each proven accepted by a full exchange, kept open.
        for (let i = 0; i < 3; i++) {
            const c = await rawConnect(s.port);
            open.push(c);
            c.write(GET('/healthz'));
            assert.ok(await c.waitFor((t) => countResponses(t) >= 1), `conn ${i}: ${c.text}`);
            assert.equal(parseResponses(c.data).responses[0].status, 200);
        }
        const c4 = await rawConnect(s.port);
        open.push(c4);
        // The server may answer at once or only after a request: give it a request if it waits.
        if (!(await c4.waitFor((t) => t.length > 0, 1000))) c4.write(GET('/healthz'));
        assert.ok(await c4.waitClosed(5000), `4th connection closed: ${c4.text}`);
        const r4 = parseResponses(c4.data).responses[0];
        assert.equal(r4?.status, 503, c4.text);
        assert.equal(r4.json?.error?.code, 'unavailable');

        // A slot frees when one of the three goes away.
        open[0].destroy();
        await eventually(
            async () => {
                const r = await s.raw(GET('/healthz', 'Connection: close\r\n'), { timeoutMs: 2000 });
                return r.responses[0]?.status === 200;
            },
            { timeoutMs: 5000, intervalMs: 100, what: 'a new connection after one closed' },
        );
    } finally {
        for (const c of open) c.destroy();
        assert.equal(await s.stop(), 0);
    }
});

test('--queue-depth 1: a burst of writes gets 201s and 503 unavailable, nothing else', async () => {
    const s = await startServer(['--queue-depth', '1']);
    try {
        const counts = { 201: 0, 503: 0 };
        // Bursts of 200 concurrent writes; one is almost always enough, more make it certain.
        for (let round = 0; round < 5 && counts[503] === 0; round++) {
            const rs = await Promise.all(
                Array.from({ length: 200 }, (_, i) =>
                    s.api('POST', '/v1/users', { body: { name: `Burst ${round}-${i}` } }),
                ),
            );
            for (const r of rs) {
                assert.ok(r.status === 201 || r.status === 503, `status ${r.status}: ${r.text}`);
                if (r.status === 503) assertError(r, 503, 'unavailable');
                else assert.equal(typeof r.json?.user?.id, 'string');
                counts[r.status]++;
            }
        }
        assert.ok(counts[201] >= 1, `some writes succeed (${JSON.stringify(counts)})`);
        assert.ok(counts[503] >= 1, `some writes are refused (${JSON.stringify(counts)})`);
    } finally {
        assert.equal(await s.stop(), 0);
    }
});

// ---------------------------------------------------------------------------------------
// Users

test('POST /v1/users -> 201 with the user and a token', async () => {
    const h = handle('ann');
    const before = Date.now();
    const r = await srv.api('POST', '/v1/users', { body: { name: 'Ann Lee', handle: h } });
    assert.equal(r.status, 201, r.text);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    const { user, token } = r.json;
    assert.equal(typeof user.id, 'string');
    assert.ok(user.id.length > 0);
    assert.equal(user.name, 'Ann Lee');
    assert.equal(user.handle, h);
    assert.ok(Number.isInteger(user.created_at), 'created_at is an integer');
    assert.ok(Math.abs(user.created_at - before) < 60000, `created_at ${user.created_at} is ms now`);
    assert.equal(typeof token, 'string');
    assert.ok(token.length >= 16, 'token is long enough to be a secret');
    // Two users never share an id or a token.
    const other = await createUser(srv, { name: 'Ann Lee' });
    assert.notEqual(other.id, user.id);
    assert.notEqual(other.token, token);
});

test('POST /v1/users with a body that is not JSON -> 400 bad_json', async () => {
    assertError(await srv.api('POST', '/v1/users', { body: '{"name": "x"' }), 400, 'bad_json');
    assertError(await srv.api('POST', '/v1/users', { body: 'nope' }), 400, 'bad_json');
});

test('POST /v1/users with duplicate keys -> 400', async () => {
    const r = await srv.api('POST', '/v1/users', { body: '{"name": "a", "name": "b"}' });
    assertError(r, 400);
    assert.ok(['bad_json', 'bad_request'].includes(r.json.error.code), r.text);
});

test('POST /v1/users without name -> 422 invalid naming the field', async () => {
    const r = await srv.api('POST', '/v1/users', { body: { handle: handle('noname') } });
    assertError(r, 422, 'invalid');
    assert.match(r.json.error.message, /name/);
});

test('POST /v1/users with name or handle out of range -> 422 invalid', async () => {
    for (const body of [{ name: '' }, { name: 'x'.repeat(65) }, { name: 42 }]) {
        const r = await srv.api('POST', '/v1/users', { body });
        assertError(r, 422, 'invalid');
        assert.match(r.json.error.message, /name/, JSON.stringify(body));
    }
    for (const h of ['ab', 'Has_Upper', 'x'.repeat(33), 'sp ace']) {
        const r = await srv.api('POST', '/v1/users', { body: { name: 'Ok', handle: h } });
        assertError(r, 422, 'invalid');
        assert.match(r.json.error.message, /handle/, h);
    }
    const ok = await srv.api('POST', '/v1/users', { body: { name: 'x'.repeat(64) } });
    assert.equal(ok.status, 201, `64 characters is allowed: ${ok.text}`);
});

test('POST /v1/users with a taken handle -> 409 handle_taken', async () => {
    const h = handle('dup');
    await createUser(srv, { name: 'First', handle: h });
    assertError(await srv.api('POST', '/v1/users', { body: { name: 'Second', handle: h } }), 409, 'handle_taken');
});

test('GET /v1/me with the token -> the user, balance 0, friends 0', async () => {
    const u = await createUser(srv, { name: 'Me Myself', handle: handle('me') });
    const r = await srv.api('GET', '/v1/me', { token: u.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.user.id, u.id);
    assert.equal(r.json.user.name, 'Me Myself');
    assert.equal(r.json.user.handle, u.user.handle);
    assert.equal(r.json.user.created_at, u.user.created_at);
    assert.equal(r.json.balance, 0);
    assert.equal(r.json.friends, 0);
});

test('GET /v1/me without a token -> 401 unauthorized', async () => {
    assertError(await srv.api('GET', '/v1/me'), 401, 'unauthorized');
});

test('GET /v1/me with a bad token -> 401 unauthorized', async () => {
    assertError(await srv.api('GET', '/v1/me', { token: 'not-a-real-token' }), 401, 'unauthorized');
    const u = await createUser(srv);
    assertError(await srv.api('GET', '/v1/me', { token: u.token + 'x' }), 401, 'unauthorized');
    assertError(await srv.api('GET', '/v1/me', { headers: { Authorization: u.token } }), 401, 'unauthorized');
});

// ---------------------------------------------------------------------------------------
// WebSocket stream

test('WebSocket /v1/stream without a token -> HTTP 401, no upgrade', async () => {
    await assert.rejects(wsConnect(srv.wsUrl), (e) => e.status === 401);
    await assert.rejects(wsConnect(srv.wsUrl, { token: 'bogus' }), (e) => e.status === 401);
});

function assertHello(m) {
    assert.equal(typeof m, 'object', `a JSON frame: ${m}`);
    assert.deepEqual(Object.keys(m).sort(), ['at', 'data', 'seq', 'type']);
    assert.equal(m.seq, 0);
    assert.equal(m.type, 'hello');
    assert.ok(Number.isInteger(m.at) && Math.abs(m.at - Date.now()) < 60000, `at ${m.at}`);
    assert.deepEqual(m.data, { last_seq: 0 });
}

test('WebSocket with ?token= -> hello frame', async () => {
    const u = await createUser(srv);
    const ws = await wsConnect(srv.wsUrl, { token: u.token });
    try {
        assertHello(await ws.next());
    } finally {
        await ws.close();
    }
});

test('WebSocket with an Authorization header -> hello frame', async () => {
    const u = await createUser(srv);
    const ws = await wsConnect(srv.wsUrl, { headers: { Authorization: `Bearer ${u.token}` } });
    try {
        assertHello(await ws.next());
    } finally {
        await ws.close();
    }
});

test('WebSocket ping from the client gets a pong', async () => {
    const u = await createUser(srv);
    const ws = await wsConnect(srv.wsUrl, { token: u.token });
    try {
        await ws.next(); // hello
        assert.equal(await ws.pong(3000, 'are-you-there'), 'are-you-there');
    } finally {
        await ws.close();
    }
});

// ---------------------------------------------------------------------------------------
// Lifecycle

test('SIGTERM with a WebSocket open: the client sees 1001 and the server exits 0', async () => {
    const s = await startServer();
    const u = await createUser(s);
    const ws = await wsConnect(s.wsUrl, { token: u.token });
    await ws.next(); // hello
    const code = await s.stop('SIGTERM');
    const info = await Promise.race([ws.closed, sleep(5000).then(() => null)]);
    assert.ok(info, 'the WebSocket closed');
    assert.equal(info.code, 1001, `close code ${info.code} ${info.reason}`);
    assert.equal(code, 0, 'exit code');
});

test('restart on the same --data keeps users and tokens', async () => {
    const s1 = await startServer();
    const u = await createUser(s1, { name: 'Durable', handle: handle('dur') });
    assert.equal(await s1.stop(), 0);

    const s2 = await startServer([], { data: s1.data });
    try {
        const r = await s2.api('GET', '/v1/me', { token: u.token });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.user.id, u.id);
        assert.equal(r.json.user.name, 'Durable');
        assert.equal(r.json.user.handle, u.user.handle);
        // The handle is still taken after the restart.
        const again = await s2.api('POST', '/v1/users', { body: { name: 'Copy', handle: u.user.handle } });
        assertError(again, 409, 'handle_taken');
    } finally {
        assert.equal(await s2.stop(), 0);
    }
});
