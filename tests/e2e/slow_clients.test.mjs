// Slow and abusive clients (reliability item 5). Pass criteria, one test each:
// - 1,000 connections trickling a request head byte by byte do not stop a normal client from
//   being answered, and the tricklers are cut off with 408 by the header timeout;
// - a WebSocket client that stops reading is closed with 1008 once its queue passes
//   --ws-queue-bytes, while the server's memory stays flat and another client of the same
//   stream receives every event in order; reconnecting with `since` it loses nothing.
// (Past --max-conns: 503 then close is in core.test.mjs.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startServer, createUser, wsConnect, sleep, test } from './lib.mjs';

function rssKiB(pid) {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]);
}

test('1,000 trickling clients do not starve a normal one', async () => {
    const srv = await startServer(['--header-timeout-ms', '3000', '--log-level', 'warn']);
    const head = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n';
    const socks = [];
    let timedOut = 0;
    for (let i = 0; i < 1000; i++) {
        const s = net.connect({ port: srv.port, host: '127.0.0.1' });
        s.setEncoding('utf8');
        s.on('error', () => {});
        s.on('data', (d) => {
            if (d.startsWith('HTTP/1.1 408')) timedOut++;
        });
        socks.push(s);
    }
    let pos = 0;
    const trickle = setInterval(() => {
        for (const s of socks) if (!s.destroyed) s.write(head[pos % (head.length - 4)]);
        pos++;
    }, 100);
    try {
        await sleep(500);
        // A normal client is answered while all 1,000 are mid-head.
        for (let i = 0; i < 20; i++) {
            const r = await srv.api('GET', '/healthz');
            assert.equal(r.status, 200);
        }
        const u = await createUser(srv, { name: 'Normal' });
        assert.equal((await srv.api('GET', '/v1/me', { token: u.token })).status, 200);
        // The header timeout then cuts every trickler off with 408.
        const t0 = Date.now();
        while (timedOut < 1000 && Date.now() - t0 < 15000) await sleep(100);
        assert.equal(timedOut, 1000);
    } finally {
        clearInterval(trickle);
        for (const s of socks) s.destroy();
    }
    assert.equal(await srv.stop(), 0);
});

async function merchantWithBuyer(srv) {
    const m = await srv.api('POST', '/v1/merchants', {
        body: { name: 'Busy Bakery', lat: 37.5, lon: 127.0, address: 'x'.repeat(150) },
    });
    assert.equal(m.status, 201);
    const u = await createUser(srv, { name: 'Buyer' });
    return { key: m.json.api_key, buyer: u };
}

async function purchases(srv, m, count, concurrency = 16) {
    let next = 0;
    const worker = async () => {
        while (next < count) {
            next++;
            const r = await srv.api('POST', '/v1/purchases', {
                token: m.key,
                body: { user_id: m.buyer.id, amount: 1000 },
            });
            assert.equal(r.status, 201, r.text);
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
}

test('a WebSocket that stops reading is closed with 1008 and loses nothing after since', async () => {
    const srv = await startServer(['--ws-queue-bytes', '65536', '--log-level', 'warn']);
    const m = await merchantWithBuyer(srv);
    const slow = await wsConnect(srv.url + '/v1/stream', { token: m.key });
    const good = await wsConnect(srv.url + '/v1/stream', { token: m.key });
    good.closed.then((i) => (good.closedWith = i));
    assert.equal((await slow.next()).type, 'hello');
    assert.equal((await good.next()).type, 'hello');
    slow.ws._socket.pause(); // stop reading: the kernel buffers fill, then our queue

    await purchases(srv, m, 100, 32); // warm up allocators before measuring
    const rssBefore = rssKiB(srv.proc.pid);
    const N = 850; // ~1 MB of events: more than the socket buffers and our 64 KiB queue
    await purchases(srv, m, N, 32);
    const rssAfter = rssKiB(srv.proc.pid);

    // The reading client got every event, in order, without gaps.
    const total = 100 + N;
    assert.equal(good.closedWith, undefined, 'the reading client stays connected');
    for (let seq = 1; seq <= total; seq++) {
        const e = await good.next(10000);
        assert.equal(e.seq, seq);
        assert.equal(e.type, 'purchase');
    }
    // The slow one: what it had buffered, then the close with 1008.
    slow.ws._socket.resume();
    const info = await slow.closed;
    assert.equal(info.code, 1008);
    const got = slow.messages.filter((e) => e.type === 'purchase').map((e) => e.seq);
    assert.ok(got.length < total, `slow client got everything (${got.length})`);
    got.forEach((s, i) => assert.equal(s, i + 1));
    // Memory stayed flat: the server dropped the slow client rather than buffer for it.
    assert.ok(rssAfter - rssBefore < 32 * 1024, `RSS grew ${rssAfter - rssBefore} KiB`);

    // Reconnect with since: the rest, exactly once and in order.
    const last = got.length ? got[got.length - 1] : 0;
    const again = await wsConnect(srv.url + '/v1/stream', { token: m.key, since: last });
    const hello = await again.next();
    assert.equal(hello.data.last_seq, total);
    for (let seq = last + 1; seq <= total; seq++) assert.equal((await again.next(10000)).seq, seq);
    await again.close();
    await good.close();
    assert.equal(await srv.stop(), 0);
});
