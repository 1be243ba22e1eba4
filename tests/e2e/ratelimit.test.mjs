// --rate-limit: requests per second per client address and per secret, over -> 429 with
// Retry-After. Loopback has many addresses (127.0.0.0/8), so binding the client to several
// of them separates the per-address bucket from the per-secret one.
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, createUser, test } from './lib.mjs';

function get(port, path, { from = '127.0.0.1', token } = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: '127.0.0.1',
                port,
                path,
                localAddress: from,
                agent: false,
                headers: token ? { Authorization: `Bearer ${token}` } : {},
            },
            (res) => {
                let body = '';
                res.on('data', (d) => (body += d));
                res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
            },
        );
        req.on('error', reject);
        req.end();
    });
}

test('per address: past the rate a client gets 429 with Retry-After, others still pass', async () => {
    const srv = await startServer(['--rate-limit', '5']);
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await get(srv.port, '/healthz', { from: '127.0.0.2' })).status);
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    const limited = await get(srv.port, '/healthz', { from: '127.0.0.2' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal(JSON.parse(limited.body).error.code, 'rate_limited');
    // Another address has its own bucket.
    assert.equal((await get(srv.port, '/healthz', { from: '127.0.0.3' })).status, 200);
    assert.equal(await srv.stop(), 0);
});

test('per secret: one token spread over many addresses is still limited', async () => {
    const srv = await startServer(['--rate-limit', '5']);
    const u = await createUser(srv, { name: 'Rate' });
    const statuses = [];
    for (let i = 0; i < 8; i++) {
        const r = await get(srv.port, '/v1/me', { from: `127.0.1.${10 + i}`, token: u.token });
        statuses.push(r.status);
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.ok(statuses.slice(5).every((s) => s === 429), `got ${statuses}`);
    assert.equal(await srv.stop(), 0);
});

test('without --rate-limit nothing is limited', async () => {
    const srv = await startServer([]);
    for (let i = 0; i < 50; i++) assert.equal((await get(srv.port, '/healthz')).status, 200);
    assert.equal(await srv.stop(), 0);
});
