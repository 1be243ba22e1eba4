// Malformed HTTP at the server level (robustness issue, item 2): a table of raw requests sent
// over real sockets to regularsd, each with the answer it must get.
//
// Pass criterion, per case: the server answers with the stated status (400 unless stated)
// and the JSON error shape {"error":{"code","message"}}, says "Connection: close", closes the
// connection, and answers nothing after it. For the whole table: no request smuggled behind a
// case ever reaches a handler. Every case carries such a request, `POST /v1/users` creating
// a user with a handle unique to the case; afterwards the metrics show no request routed to
// /v1/users at all, and creating each of those handles gets 201 (409 would mean the smuggled
// request ran).
//
// The parser's own unit tests (tests/unit/test_http.c) cover the same shapes byte by byte;
// this is the whole server: conn.c's read loop, pipelining and closing.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { parseResponses, startServer, test } from './lib.mjs';

let srv;
const tag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(-8);
const handles = []; // every handle a smuggled request would have created

before(async () => {
    srv = await startServer();
});

after(async () => {
    const code = await srv?.stop();
    assert.equal(code, 0, 'the server exits 0 on SIGTERM (no sanitizer report)');
});

/** A complete `POST /v1/users` that would create a user with a fresh handle. */
function smuggled() {
    const handle = `sm_${tag}_${handles.length}`;
    handles.push(handle);
    const body = JSON.stringify({ name: 'Smuggled', handle });
    return (
        'POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
}

const GET_OK = 'GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n';
const CHUNKED = 'POST /v1/users HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n';

// [name, bytes (a function: each call makes a fresh smuggled request), expectation].
// expectation: {status (default 400), code (default "bad_request"), before: [statuses of
// answers correctly given first]}.
const cases = [
    // CVE-2023-30589: llhttp 8.1 takes "\rx" as a line break, so a front end and this server
    // would disagree on the framing.
    ['CVE-2023-30589: bare CR inside a header value', () => {
        const body = `0\r\n\r\n${smuggled()}`;
        return `POST /v1/users HTTP/1.1\r\nHost: test\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n` +
            `Content-Length: ${body.length}\r\n\r\n${body}`;
    }],
    ['bare CR in the request line', () => `GET /healthz HTTP/1.1\rHost: test\r\n\r\n${smuggled()}`],
    ['bare LF line endings', () => `GET /healthz HTTP/1.1\nHost: test\n\n${smuggled()}`],
    ['obs-fold (space) hiding Transfer-Encoding', () =>
        `POST /v1/users HTTP/1.1\r\nHost: test\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n` +
        `Content-Length: 5\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['obs-fold (tab)', () => `GET /healthz HTTP/1.1\r\nHost: test\r\nX-A: b\r\n\tc\r\n\r\n${smuggled()}`],
    ['white space before the colon (Host : x)', () => `GET /healthz HTTP/1.1\r\nHost : test\r\n\r\n${smuggled()}`],
    ['white space before the colon (Transfer-Encoding)', () =>
        `POST /v1/users HTTP/1.1\r\nHost: test\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n` +
        `0\r\n\r\n${smuggled()}`],
    ['missing Host in HTTP/1.1', () => `GET /healthz HTTP/1.1\r\n\r\n${smuggled()}`],
    ['duplicate Host', () => `GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${smuggled()}`],
    ['duplicate Host, other case', () => `GET /healthz HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n${smuggled()}`],
    ['Content-Length with Transfer-Encoding (CL.TE)', () =>
        `POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `0\r\n\r\n${smuggled()}`],
    ['Transfer-Encoding with Content-Length (TE.CL)', () => {
        const s = smuggled();
        return `POST /v1/users HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n` +
            `Content-Length: ${s.length + 5}\r\n\r\n0\r\n\r\n${s}`;
    }],
    ['duplicate Content-Length, same value', () =>
        `POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}${smuggled()}`],
    ['duplicate Content-Length, different values', () => {
        const s = smuggled();
        return `POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n` +
            `Content-Length: ${s.length}\r\n\r\n${s}`;
    }],
    ['Content-Length as a list', () => `POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Length: 2, 2\r\n\r\n{}${smuggled()}`],
    ['Content-Length with a sign', () => `POST /v1/users HTTP/1.1\r\nHost: test\r\nContent-Length: +2\r\n\r\n{}${smuggled()}`],
    ['Transfer-Encoding other than chunked', () => `${CHUNKED.replace('chunked', 'gzip, chunked')}0\r\n\r\n${smuggled()}`],
    ['Transfer-Encoding twice', () =>
        `${CHUNKED.replace('\r\n\r\n', '\r\nTransfer-Encoding: chunked\r\n\r\n')}0\r\n\r\n${smuggled()}`],
    ['bad chunk size: not hex', () => `${CHUNKED}zz\r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['bad chunk size: 0x prefix', () => `${CHUNKED}0x5\r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['bad chunk size: negative', () => `${CHUNKED}-5\r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['bad chunk size: white space after', () => `${CHUNKED}5 \r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['bad chunk size: empty', () => `${CHUNKED}\r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['bad chunk size: overflowing 64 bits', () => `${CHUNKED}10000000000000005\r\nhello\r\n0\r\n\r\n${smuggled()}`],
    ['chunk data longer than its size', () => `${CHUNKED}2\r\n{}XX\r\n0\r\n\r\n${smuggled()}`],
    ['huge chunk extension (300 bytes)', () => `${CHUNKED}2;x=${'a'.repeat(300)}\r\n{}\r\n0\r\n\r\n${smuggled()}`],
    ['obs-fold in a trailer (the body is a valid user: must not be created)', () => {
        const h = `sm_${tag}_${handles.length}`;
        handles.push(h);
        const body = JSON.stringify({ name: 'Trailer', handle: h });
        return `${CHUNKED}${body.length.toString(16)}\r\n${body}\r\n0\r\nT: a\r\n b\r\n\r\n${smuggled()}`;
    }],
    ['request line over the limit', () => `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: test\r\n\r\n${smuggled()}`,
        { status: 431, code: 'headers_too_large' }],
    ['NUL byte in a header value', () => `GET /healthz HTTP/1.1\r\nHost: test\r\nX: a\0b\r\n\r\n${smuggled()}`],
    ['NUL byte in the target', () => `GET /heal\0thz HTTP/1.1\r\nHost: test\r\n\r\n${smuggled()}`],
    ['NUL byte in the method', () => `G\0T /healthz HTTP/1.1\r\nHost: test\r\n\r\n${smuggled()}`],
    ['non-ASCII in the method', () => Buffer.concat([
        Buffer.from([0x47, 0xc3, 0x89, 0x54]), // "GÉT" in UTF-8
        Buffer.from(` /healthz HTTP/1.1\r\nHost: test\r\n\r\n${smuggled()}`),
    ])],
    ['unsupported HTTP version', () => `GET /healthz HTTP/1.2\r\nHost: test\r\n\r\n${smuggled()}`],
    // Pipelined smuggling attempts.
    ['GET with a Content-Length body (CL.0)', () => {
        const s = smuggled();
        return `GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: ${s.length}\r\n\r\n${s}`;
    }],
    ['GET with a chunked body', () => `GET /healthz HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['upgrade request with a body', () => {
        const s = smuggled();
        return `POST /v1/stream HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Content-Length: ${s.length}\r\n\r\n${s}`;
    }],
    ['a good request, then a bad one: the first is answered, nothing after the second',
        () => `${GET_OK}GET /healthz HTTP/1.1\r\nHost : test\r\n\r\n${smuggled()}`, { before: [200] }],
    ['Connection: close, then a request: the second is never read',
        () => `GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n${smuggled()}`,
        { status: 200, code: null }],
    ['HTTP/1.0 without keep-alive, then a request',
        () => `GET /healthz HTTP/1.0\r\n\r\n${smuggled()}`, { status: 200, code: null }],
];

for (const [name, make, expect = {}] of cases) {
    test(`malformed: ${name}`, async () => {
        const status = expect.status ?? 400;
        const code = expect.code === undefined ? 'bad_request' : expect.code;
        const first = expect.before ?? [];
        const r = await srv.raw(make(), { timeoutMs: 3000 });
        const { responses } = parseResponses(r.data);
        assert.deepEqual(responses.map((x) => x.status), [...first, status],
            `answers to ${JSON.stringify(name)}: ${r.text.slice(0, 400)}`);
        const last = responses[responses.length - 1];
        assert.equal(last.headers.connection, 'close', 'Connection: close');
        if (code !== null) {
            assert.match(last.headers['content-type'] || '', /^application\/json/);
            assert.equal(typeof last.json?.error, 'object', `error shape in ${last.body}`);
            assert.equal(last.json.error.code, code, last.body);
            assert.equal(typeof last.json.error.message, 'string');
            assert.ok(last.json.error.message.length > 0, 'a message');
        }
        assert.ok(r.closed, 'the server closed the connection');
    });
}

test('no smuggled request reached a handler', async () => {
    assert.ok(handles.length >= cases.length, 'every case carried a smuggled request');
    const routedToUsers = async () => {
        const m = await srv.api('GET', '/metrics');
        assert.equal(m.status, 200);
        const lines = m.text.split('\n').filter((l) => /^regulars_http_requests_total\{[^}]*route="\/v1\/users"/.test(l));
        return { lines, total: lines.reduce((n, l) => n + Number(l.split(' ').pop()), 0) };
    };
    const seen = await routedToUsers();
    assert.equal(seen.total, 0, `requests routed to /v1/users:\n${seen.lines.join('\n')}`);
    for (const handle of handles) {
        const r = await srv.api('POST', '/v1/users', { body: { name: 'Real', handle } });
        assert.equal(r.status, 201, `handle ${handle} was free (${r.status} ${r.text})`);
    }
    // The counter does count these routes (so the 0 above is not a series that never exists).
    assert.ok((await routedToUsers()).total >= handles.length, 'POST /v1/users is counted');
});
