// API.md "Friends": PUT asks or accepts (idempotent), DELETE ends or withdraws, GET lists
// friends / incoming / outgoing; self -> 422, unknown -> 404; friendship and attribution.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { assertError, assertInvalid, expectStatus, scenario, startBench } from './apilib.mjs';

let srv;
before(async () => {
    srv = await startBench();
});
after(async () => {
    assert.equal(await srv?.stop(), 0, 'the shared server exits 0 on SIGTERM (under ASan: no leak)');
});
const S = () => srv;

const put = (sc, from, to) => sc.api('PUT', `/v1/friends/${to.id}`, { token: from.token });
const del = (sc, from, to) => sc.api('DELETE', `/v1/friends/${to.id}`, { token: from.token });
const list = async (sc, u) => expectStatus(await sc.api('GET', '/v1/friends', { token: u.token }), 200, 'GET /v1/friends');
const friendsCount = async (sc, u) => expectStatus(await sc.api('GET', '/v1/me', { token: u.token }), 200).friends;

scenario('PUT asks (pending), the other PUT accepts (friends); both idempotent', S, async (sc) => {
    const a = await sc.user('Ann');
    const b = await sc.user('Bob');
    const r1 = expectStatus(await put(sc, a, b), 200, 'ask');
    assert.deepEqual(r1, { status: 'pending' });
    assert.deepEqual(expectStatus(await put(sc, a, b), 200, 'ask again'), { status: 'pending' });
    assert.equal(await friendsCount(sc, a), 0, 'an ask is not a friendship');
    assert.equal(await friendsCount(sc, b), 0);

    const la = await list(sc, a);
    assert.deepEqual(la.friends, []);
    assert.deepEqual(la.incoming, []);
    assert.equal(la.outgoing.length, 1);
    assert.equal(la.outgoing[0].user.id, b.id);
    assert.equal(la.outgoing[0].user.name, 'Bob');
    assert.ok(Number.isInteger(la.outgoing[0].at) && la.outgoing[0].at > 1e12, 'outgoing.at in ms');
    const lb = await list(sc, b);
    assert.deepEqual(lb.friends, []);
    assert.deepEqual(lb.outgoing, []);
    assert.equal(lb.incoming.length, 1);
    assert.equal(lb.incoming[0].user.id, a.id);
    assert.equal(lb.incoming[0].at, la.outgoing[0].at, 'one ask, one time');

    assert.deepEqual(expectStatus(await put(sc, b, a), 200, 'accept'), { status: 'friends' });
    assert.deepEqual(expectStatus(await put(sc, b, a), 200, 'accept again'), { status: 'friends' });
    assert.deepEqual(expectStatus(await put(sc, a, b), 200, 'ask a friend'), { status: 'friends' });
    assert.equal(await friendsCount(sc, a), 1);
    assert.equal(await friendsCount(sc, b), 1);

    for (const [me, other] of [[a, b], [b, a]]) {
        const l = await list(sc, me);
        assert.deepEqual(l.incoming, [], 'the ask is gone');
        assert.deepEqual(l.outgoing, []);
        assert.equal(l.friends.length, 1);
        assert.equal(l.friends[0].user.id, other.id);
        assert.equal(l.friends[0].user.name, other.name);
        assert.ok('handle' in l.friends[0].user);
        assert.ok(Number.isInteger(l.friends[0].since) && l.friends[0].since >= la.outgoing[0].at);
    }
});

scenario('two users asking each other become friends', S, async (sc) => {
    const a = await sc.user('A');
    const b = await sc.user('B');
    await sc.friends(a, b); // a asks, b asks back
    assert.equal(await friendsCount(sc, a), 1);
    assert.equal((await list(sc, b)).friends[0].user.id, a.id);
});

scenario('PUT/DELETE yourself -> 422 invalid; unknown or garbage id -> 404 not_found', S, async (sc) => {
    const a = await sc.user('Solo');
    assertInvalid(await put(sc, a, a), 'user_id', 'PUT self');
    assertInvalid(await del(sc, a, a), 'user_id', 'DELETE self');
    assertError(await sc.api('PUT', '/v1/friends/u_zzzzzzzzzzzzz', { token: a.token }), 404, 'not_found', 'unknown');
    assertError(await sc.api('PUT', '/v1/friends/zzz', { token: a.token }), 404, 'not_found', 'garbage');
    const m = await sc.merchant();
    assertError(await sc.api('PUT', `/v1/friends/${m.id}`, { token: a.token }), 404, 'not_found', 'a merchant id');
    const l = await list(sc, a);
    assert.deepEqual(l, { friends: [], incoming: [], outgoing: [] });
    assert.equal(await friendsCount(sc, a), 0);
});

scenario('DELETE ends a friendship -> 204, on both sides; again -> 204', S, async (sc) => {
    const a = await sc.user('A');
    const b = await sc.user('B');
    const c = await sc.user('C');
    await sc.friends(a, b);
    await sc.friends(a, c);
    assert.equal(await friendsCount(sc, a), 2);
    const r = await del(sc, b, a);
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '', '204 has no body');
    assert.equal(await friendsCount(sc, a), 1);
    assert.equal(await friendsCount(sc, b), 0);
    assert.deepEqual((await list(sc, a)).friends.map((f) => f.user.id), [c.id]);
    assert.deepEqual(await list(sc, b), { friends: [], incoming: [], outgoing: [] });
    assert.equal((await del(sc, b, a)).status, 204, 'again: still 204');
    assert.equal((await del(sc, a, b)).status, 204, 'from the other side');
    assert.equal(await friendsCount(sc, a), 1);
    // Asking again starts over with a pending ask.
    assert.deepEqual(expectStatus(await put(sc, b, a), 200), { status: 'pending' });
});

scenario('DELETE withdraws an ask (asker) or declines it (asked) -> 204', S, async (sc) => {
    const a = await sc.user('A');
    const b = await sc.user('B');
    const c = await sc.user('C');
    expectStatus(await put(sc, a, b), 200);
    expectStatus(await put(sc, a, c), 200);
    assert.equal((await del(sc, a, b)).status, 204, 'withdraw');
    assert.deepEqual((await list(sc, b)).incoming, [], 'b has no incoming ask');
    assert.deepEqual((await list(sc, a)).outgoing.map((o) => o.user.id), [c.id]);
    assert.equal((await del(sc, c, a)).status, 204, 'decline');
    assert.deepEqual((await list(sc, a)).outgoing, []);
    assert.deepEqual((await list(sc, c)).incoming, []);
    // A withdrawn ask does not turn a later PUT into an accept.
    assert.deepEqual(expectStatus(await put(sc, b, a), 200), { status: 'pending' });
    assert.equal(await friendsCount(sc, a), 0);
});

scenario('GET /v1/friends lists every friend (not paginated)', S, async (sc) => {
    const hub = await sc.user('Hub');
    const others = await sc.someUsers(55, 'F');
    for (const o of others) await sc.friends(hub, o);
    const l = await list(sc, hub);
    assert.ok(!('next' in l) || l.next === null, 'not paginated');
    assert.equal(l.friends.length, 55, 'all 55 in one answer (more than a page of 50)');
    assert.deepEqual(new Set(l.friends.map((f) => f.user.id)), new Set(others.map((o) => o.id)));
    assert.equal(await friendsCount(sc, hub), 55);
});

scenario('friends endpoints need a user token: none -> 401, merchant key -> 403', S, async (sc) => {
    const a = await sc.user('A');
    const b = await sc.user('B');
    const m = await sc.merchant();
    assertError(await sc.api('GET', '/v1/friends'), 401, 'unauthorized');
    assertError(await sc.api('GET', '/v1/friends', { token: 'nope' }), 401, 'unauthorized');
    assertError(await sc.api('GET', '/v1/friends', { token: m.key }), 403, 'forbidden');
    assertError(await sc.api('PUT', `/v1/friends/${b.id}`), 401, 'unauthorized');
    assertError(await sc.api('PUT', `/v1/friends/${b.id}`, { token: m.key }), 403, 'forbidden');
    assertError(await sc.api('DELETE', `/v1/friends/${b.id}`, { token: m.key }), 403, 'forbidden');
    assert.deepEqual(await list(sc, b), { friends: [], incoming: [], outgoing: [] }, 'nothing changed');
    assert.deepEqual(await list(sc, a), { friends: [], incoming: [], outgoing: [] });
});

scenario('an ended friendship credits no more; a new one does', S, async (sc) => {
    const a = await sc.user('Sharer');
    const b = await sc.user('Friend');
    const m = await sc.merchant();
    await sc.friends(a, b);
    await sc.buyAndShare(m, a, 10000);
    assert.equal((await del(sc, a, b)).status, 204);
    const p1 = await sc.buy(m, b, 1000);
    assert.equal(p1.purchase.referral, null, 'not friends at t: no referral');
    await sc.friends(b, a);
    const p2 = await sc.buy(m, b, 1000);
    assert.notEqual(p2.purchase.referral, null, 'friends again: credited');
    assert.equal(p2.purchase.referral.sharer_id, a.id);
    assert.equal(await sc.balance(a), 100 + 100);
});

scenario('a pending ask is not a friendship for attribution', S, async (sc) => {
    const a = await sc.user('Sharer');
    const b = await sc.user('Asked');
    const m = await sc.merchant();
    await sc.buyAndShare(m, a, 10000);
    expectStatus(await put(sc, a, b), 200);
    const p = await sc.buy(m, b, 1000);
    assert.equal(p.purchase.referral, null);
    assert.deepEqual(p.awards, [{ user_id: b.id, kind: 'purchase', points: 10 }]);
});

scenario('two users asking each other at once end as friends, counted once', S, async (sc) => {
    for (let i = 0; i < 5; i++) {
        const a = await sc.user(`A${i}`);
        const b = await sc.user(`B${i}`);
        const [ra, rb] = await Promise.all([put(sc, a, b), put(sc, b, a)]);
        expectStatus(ra, 200);
        expectStatus(rb, 200);
        assert.deepEqual([ra.json.status, rb.json.status].sort(), ['friends', 'pending']);
        assert.equal(await friendsCount(sc, a), 1);
        assert.equal(await friendsCount(sc, b), 1);
        const la = await list(sc, a);
        assert.deepEqual(la.incoming, []);
        assert.deepEqual(la.outgoing, []);
    }
});
