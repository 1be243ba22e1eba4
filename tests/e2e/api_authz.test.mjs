// The authorisation table of API.md: every endpoint x {no secret, bad secret, another user's
// token, another merchant's key, the right principal}. Missing/unknown secret -> 401; a valid
// secret of the wrong kind, or for something its holder does not own -> 403, or 404 where 403
// would reveal that the thing exists. After every request that is not the owner's, the
// owners' state (user U's and merchant M's views, purchases P and P2) is unchanged.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { test, wsConnect } from './lib.mjs';
import {
    checkLedgers,
    expectStatus,
    makeFriends,
    makeMerchant,
    makeUser,
    purchase,
    snapshot,
    startBench,
} from './apilib.mjs';

let srv;
const c = {}; // the cast: U (owner user), X (another user), Y (a friend target), M (owner merchant), N (another merchant)

before(async () => {
    srv = await startBench();
    c.U = await makeUser(srv, 'Owner U');
    c.X = await makeUser(srv, 'Other X');
    c.Y = await makeUser(srv, 'Target Y');
    c.M = await makeMerchant(srv, { name: 'Owner M', rules: { earn_rate_bp: 10000 } });
    c.N = await makeMerchant(srv, { name: 'Other N' });
    c.P = (await purchase(srv, c.M, c.U, 500)).purchase; // U's purchase at M, never shared
    c.P2 = (await purchase(srv, c.M, c.U, 300)).purchase; // refunded by M at the end of its row
    c.RW = expectStatus(await srv.api('POST', '/v1/merchants/me/rewards', { token: c.M.key, body: { title: 'Gift', cost: 5 } }), 201).reward;
    await makeFriends(srv, c.U, c.X);
});

after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});

const BAD_SECRET = 'ut_this-is-not-a-secret-of-anyone';

/** The owners' state: what no one else may change. */
const victims = () =>
    snapshot(srv, {
        users: [c.U],
        merchants: [c.M],
        purchases: [
            { id: c.P.id, token: c.M.key },
            { id: c.P2.id, token: c.M.key },
        ],
    });

/**
 * One row of the table. expect: {none, bad, user (X's token), merchant (N's key), right}:
 * a status, or null when that column does not apply (public endpoints take no secret).
 * right: the principal ('U' or 'M') whose request is the owner's. extra: more
 * [label, token, status] cells. check(r, who): more assertions on an answer.
 * mayChange: columns allowed to change the owners' state (a legitimate action on them).
 */
const ROWS = [
    // Users
    { m: 'POST', p: (c) => '/v1/users', body: () => ({ name: 'New' }), expect: { none: 201, bad: null, user: null, merchant: null, right: 201 }, right: null },
    {
        m: 'GET', p: (c) => '/v1/me', expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U',
        check: (r, who) => who === 'user' && assert.equal(r.json.user.id, c.X.id, "X's token shows X, not U"),
    },
    { m: 'GET', p: (c) => `/v1/users/${c.U.id}`, expect: { none: 401, bad: 401, user: 200, merchant: 200, right: 200 }, right: 'U' },
    {
        m: 'GET', p: (c) => '/v1/me/ledger', expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U',
        check: (r, who) => who === 'user' && assert.ok(!r.json.entries.some((e) => e.purchase_id === c.P.id), "X does not see U's entries"),
    },
    {
        m: 'GET', p: (c) => '/v1/me/purchases', expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U',
        check: (r, who) => who === 'user' && assert.deepEqual(r.json.purchases, [], "X does not see U's purchases"),
    },
    { m: 'GET', p: (c) => '/v1/me/shares', expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U' },
    // Friends
    { m: 'GET', p: (c) => '/v1/friends', expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U' },
    { m: 'PUT', p: (c) => `/v1/friends/${c.Y.id}`, expect: { none: 401, bad: 401, user: 200, merchant: 403, right: 200 }, right: 'U' },
    { m: 'DELETE', p: (c) => `/v1/friends/${c.Y.id}`, expect: { none: 401, bad: 401, user: 204, merchant: 403, right: 204 }, right: 'U' },
    // Merchants
    { m: 'POST', p: (c) => '/v1/merchants', body: () => ({ name: 'New M', lat: 1, lon: 1 }), expect: { none: 201, bad: null, user: null, merchant: null, right: 201 }, right: null },
    { m: 'GET', p: (c) => `/v1/merchants/${c.M.id}`, expect: { none: 200, bad: null, user: 200, merchant: 200, right: 200 }, right: null },
    { m: 'GET', p: (c) => '/v1/merchants?lat=37.5&lon=127', expect: { none: 200, bad: null, user: 200, merchant: 200, right: 200 }, right: null },
    {
        m: 'GET', p: (c) => '/v1/merchants/me', expect: { none: 401, bad: 401, user: 403, merchant: 200, right: 200 }, right: 'M',
        check: (r, who) => who === 'merchant' && assert.equal(r.json.merchant.id, c.N.id, "N's key shows N"),
    },
    { m: 'PATCH', p: (c) => '/v1/merchants/me', body: () => ({ name: 'Renamed', rules: { earn_rate_bp: 10000 } }), expect: { none: 401, bad: 401, user: 403, merchant: 200, right: 200 }, right: 'M' },
    { m: 'POST', p: (c) => '/v1/merchants/me/rewards', body: () => ({ title: 'Cake', cost: 9 }), expect: { none: 401, bad: 401, user: 403, merchant: 201, right: 201 }, right: 'M' },
    {
        m: 'GET', p: (c) => '/v1/merchants/me/purchases', expect: { none: 401, bad: 401, user: 403, merchant: 200, right: 200 }, right: 'M',
        check: (r, who) => who === 'merchant' && assert.ok(!r.json.purchases.some((p) => p.id === c.P.id), "N does not see M's purchases"),
    },
    { m: 'GET', p: (c) => '/v1/merchants/me/stats', expect: { none: 401, bad: 401, user: 403, merchant: 200, right: 200 }, right: 'M' },
    {
        m: 'GET', p: (c) => '/v1/merchants/me/customers', expect: { none: 401, bad: 401, user: 403, merchant: 200, right: 200 }, right: 'M',
        check: (r, who) => who === 'merchant' && assert.deepEqual(r.json.customers, [], "N has no customers; M's are not shown"),
    },
    // Purchases
    {
        m: 'POST', p: (c) => '/v1/purchases', body: () => ({ user_id: c.U.id, amount: 100 }),
        expect: { none: 401, bad: 401, user: 403, merchant: 201, right: 201 }, right: 'M', mayChange: ['merchant'],
    },
    {
        m: 'GET', p: (c) => `/v1/purchases/${c.P.id}`, expect: { none: 401, bad: 401, user: 404, merchant: 404, right: 200 }, right: 'M',
        extra: [['its buyer U', () => c.U.token, 200]],
    },
    {
        m: 'POST', p: (c) => `/v1/purchases/${c.P2.id}/refund`, expect: { none: 401, bad: 401, user: 403, merchant: 404, right: 200 }, right: 'M',
        extra: [['its buyer U', () => c.U.token, 403]],
    },
    // Shares
    {
        m: 'POST', p: (c) => '/v1/shares', body: () => ({ purchase_id: c.P.id, channel: 'post' }),
        expect: { none: 401, bad: 401, user: 403, merchant: 403, right: 201 }, right: 'U',
        extra: [['its merchant M', () => c.M.key, 403]],
    },
    // Redemptions: X has no points -> 409, and X's own wallet is the only one touched
    { m: 'POST', p: (c) => '/v1/redemptions', body: () => ({ cash_points: 1 }), expect: { none: 401, bad: 401, user: 409, merchant: 403, right: 201 }, right: 'U' },
    // Operations
    { m: 'GET', p: (c) => '/healthz', expect: { none: 200, bad: null, user: 200, merchant: 200, right: 200 }, right: null },
    { m: 'GET', p: (c) => '/metrics', expect: { none: 200, bad: null, user: 200, merchant: 200, right: 200 }, right: null },
];

const tokenOf = {
    none: () => undefined,
    bad: () => BAD_SECRET,
    user: () => c.X.token,
    merchant: () => c.N.key,
    right: (row) => (row.right === 'U' ? c.U.token : row.right === 'M' ? c.M.key : undefined),
};

for (const row of ROWS) {
    const fake = { U: { id: '{U}' }, X: { id: '{X}' }, Y: { id: '{Y}' }, M: { id: '{M}' }, N: { id: '{N}' }, P: { id: '{P}' }, P2: { id: '{P2}' } };
    test(`authz: ${row.m} ${row.p(fake)}`, async () => {
        const cells = [];
        for (const col of ['none', 'bad', 'user', 'merchant']) {
            if (row.expect[col] !== null) cells.push([col, tokenOf[col], row.expect[col]]);
        }
        for (const [label, tok, st] of row.extra ?? []) cells.push([label, tok, st]);
        cells.push(['right', () => tokenOf.right(row), row.expect.right]);
        for (const [col, tok, want] of cells) {
            const mayChange = col === 'right' || row.right === null || (row.mayChange ?? []).includes(col);
            const before_ = mayChange ? null : await victims();
            const r = await srv.api(row.m, row.p(c), { token: tok(), body: row.body?.() });
            assert.equal(r.status, want, `${row.m} ${row.p(c)} as ${col}: ${r.status} ${r.text}`);
            if (want >= 400) {
                assert.equal(typeof r.json?.error?.code, 'string', `error shape: ${r.text}`);
                const code = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found' }[want];
                if (code) assert.equal(r.json.error.code, code, `${col}: ${r.text}`);
            }
            row.check?.(r, col);
            if (before_) assert.deepEqual(await victims(), before_, `${row.m} ${row.p(c)} as ${col} changed nothing of U, M, P, P2`);
        }
    });
}

test('authz: GET /v1/stream (any principal; none or bad -> 401, no upgrade)', async () => {
    for (const [what, opts] of [
        ['none', {}],
        ['bad', { token: BAD_SECRET }],
    ]) {
        await assert.rejects(wsConnect(srv.wsUrl, opts), (e) => {
            assert.equal(e.status, 401, `${what}: ${e.message}`);
            return true;
        });
    }
    for (const [what, token] of [
        ['user X', c.X.token],
        ['merchant N', c.N.key],
        ['user U', c.U.token],
        ['merchant M', c.M.key],
    ]) {
        const ws = await wsConnect(srv.wsUrl, { token });
        const hello = await ws.next();
        assert.equal(hello.type, 'hello', what);
        ws.close();
    }
});

test('authz: a purchase id of another merchant is 404 exactly like a missing one', async () => {
    const gone = await srv.api('GET', '/v1/purchases/p_zzzzzzzzzzzzz', { token: c.N.key });
    const other = await srv.api('GET', `/v1/purchases/${c.P.id}`, { token: c.N.key });
    assert.equal(gone.status, 404);
    assert.equal(other.status, 404);
    assert.deepEqual(other.json.error.code, gone.json.error.code);
    const goneU = await srv.api('GET', '/v1/purchases/p_zzzzzzzzzzzzz', { token: c.X.token });
    const otherU = await srv.api('GET', `/v1/purchases/${c.P.id}`, { token: c.X.token });
    assert.equal(otherU.status, 404);
    assert.deepEqual(otherU.json.error.code, goneU.json.error.code);
    const rGone = await srv.api('POST', '/v1/purchases/p_zzzzzzzzzzzzz/refund', { token: c.N.key });
    const rOther = await srv.api('POST', `/v1/purchases/${c.P.id}/refund`, { token: c.N.key });
    assert.equal(rOther.status, 404);
    assert.equal(rOther.json.error.code, rGone.json.error.code);
});

test('authz: a secret in the query string is not accepted outside the stream', async () => {
    const before_ = await victims();
    for (const [m, p, tok, body] of [
        ['GET', '/v1/me', c.U.token],
        ['GET', '/v1/merchants/me', c.M.key],
        ['POST', '/v1/purchases', c.M.key, { user_id: c.U.id, amount: 1 }],
        ['POST', '/v1/redemptions', c.U.token, { cash_points: 1 }],
    ]) {
        const r = await srv.api(m, `${p}?token=${encodeURIComponent(tok)}`, { body });
        assert.equal(r.status, 401, `${m} ${p}?token=: ${r.text}`);
    }
    assert.deepEqual(await victims(), before_);
});

test('authz: after the whole table, every user\'s balance equals their ledger sum', async () => {
    await checkLedgers(srv, [c.U, c.X, c.Y]);
});
