// Referral abuse (issue: "prove it keeps points safe", item 9). Pass criteria, each a test:
// - a user's own share never credits them;
// - a ring of friends sharing and buying from one another earns exactly what the rules allow
//   (each share credits each friend once, within the cap) and no more;
// - a refund reverses every award of the purchase, and the credit stays counted (rule 5);
// - GET /v1/merchants/me/alerts lists the ring's reciprocal pairs (bursts: tests/unit/test_alerts.c);
// - every balance equals its ledger sum afterwards.
import assert from 'node:assert/strict';
import { startServer, createUser, test } from './lib.mjs';

async function setup(srv, rules) {
    const m = await srv.api('POST', '/v1/merchants', {
        body: { name: 'Ring Cafe', lat: 37.5, lon: 127.0, rules },
    });
    assert.equal(m.status, 201, m.text);
    return { id: m.json.merchant.id, key: m.json.api_key };
}

async function befriend(srv, a, b) {
    assert.equal((await srv.api('PUT', `/v1/friends/${b.id}`, { token: a.token })).status, 200);
    const r = await srv.api('PUT', `/v1/friends/${a.id}`, { token: b.token });
    assert.equal(r.json.status, 'friends');
}

async function buy(srv, m, user, amount = 10000) {
    const r = await srv.api('POST', '/v1/purchases', { token: m.key, body: { user_id: user.id, amount } });
    assert.equal(r.status, 201, r.text);
    return r.json;
}

async function share(srv, user, purchaseId) {
    const r = await srv.api('POST', '/v1/shares', {
        token: user.token,
        body: { purchase_id: purchaseId, channel: 'link' },
    });
    assert.equal(r.status, 201, r.text);
    return r.json.share;
}

async function balanceMatchesLedger(srv, user) {
    const me = await srv.api('GET', '/v1/me', { token: user.token });
    let sum = 0;
    let before = '';
    for (;;) {
        const page = await srv.api('GET', `/v1/me/ledger?limit=200${before}`, { token: user.token });
        for (const e of page.json.entries) sum += e.points;
        if (!page.json.next) break;
        before = `&before=${page.json.next}`;
    }
    assert.equal(me.json.balance, sum, `balance of ${user.id}`);
    return sum;
}

test('own share never credits its sharer', async () => {
    const srv = await startServer(['--bench']);
    const m = await setup(srv, { earn_rate_bp: 0, referral_bonus: 100, friend_bonus: 50 });
    const a = await createUser(srv, { name: 'A' });
    const p = await buy(srv, m, a);
    await share(srv, a, p.purchase.id);
    const again = await buy(srv, m, a);
    assert.equal(again.purchase.referral, null);
    assert.deepEqual(again.awards, []);
    assert.equal(await balanceMatchesLedger(srv, a), 0);
    assert.equal(await srv.stop(), 0);
});

test('a ring earns exactly what the rules allow, and the alerts see it', async () => {
    const srv = await startServer(['--bench']);
    // Only referral rewards, a cap of 2 friends per share.
    const m = await setup(srv, {
        earn_rate_bp: 0, referral_bonus: 100, friend_bonus: 10, max_referrals_per_share: 2,
    });
    const ring = [];
    for (const name of ['R1', 'R2', 'R3', 'R4']) ring.push(await createUser(srv, { name }));
    for (let i = 0; i < ring.length; i++)
        for (let j = i + 1; j < ring.length; j++) await befriend(srv, ring[i], ring[j]);

    // Everyone buys and shares once, then everyone buys three more times from the others.
    let credited = 0;
    for (const u of ring) {
        const first = await buy(srv, m, u); // may already be credited by an earlier share
        if (first.purchase.referral) credited++;
        await share(srv, u, first.purchase.id);
    }
    for (let round = 0; round < 3; round++)
        for (const u of ring) {
            const p = await buy(srv, m, u);
            if (p.purchase.referral) credited++;
        }
    // 4 shares, each capped at 2 friends: at most 8 credits, and each (share, friend) once.
    assert.equal(credited, 8);
    const shares = [];
    for (const u of ring) {
        const r = await srv.api('GET', '/v1/me/shares', { token: u.token });
        shares.push(...r.json.shares);
    }
    assert.equal(shares.reduce((s, x) => s + x.referrals, 0), 8);
    assert.ok(shares.every((s) => s.referrals <= 2));
    let total = 0;
    for (const u of ring) total += await balanceMatchesLedger(srv, u);
    assert.equal(total, 8 * (100 + 10));

    const alerts = await srv.api('GET', '/v1/merchants/me/alerts', { token: m.key });
    assert.equal(alerts.status, 200);
    const pairs = alerts.json.alerts.filter((a) => a.kind === 'reciprocal_pair');
    assert.ok(pairs.length >= 1, JSON.stringify(alerts.json));
    // Each buyer was credited by at most two shares here: below the burst threshold of 3.
    assert.equal(alerts.json.alerts.filter((a) => a.kind === 'burst_buyer').length, 0);
    assert.equal(await srv.stop(), 0);
});

test('a refund reverses every award and the credit stays counted', async () => {
    const srv = await startServer(['--bench']);
    const m = await setup(srv, {
        earn_rate_bp: 1000, referral_bonus: 100, friend_bonus: 50, max_referrals_per_share: 1,
    });
    const a = await createUser(srv, { name: 'A' });
    const b = await createUser(srv, { name: 'B' });
    const c = await createUser(srv, { name: 'C' });
    await befriend(srv, a, b);
    await befriend(srv, a, c);
    const sh = await share(srv, a, (await buy(srv, m, a, 1000)).purchase.id);
    const pb = await buy(srv, m, b, 5000);
    assert.equal(pb.purchase.referral.share_id, sh.id);
    assert.equal(pb.awards.length, 3);
    const refund = await srv.api('POST', `/v1/purchases/${pb.purchase.id}/refund`, { token: m.key });
    assert.equal(refund.status, 200);
    assert.deepEqual(
        refund.json.reversals.map((r) => [r.user_id, r.points]).sort(),
        pb.awards.map((w) => [w.user_id, -w.points]).sort(),
    );
    // The cap of 1 was used by B's (refunded) purchase: C is not credited.
    const pc = await buy(srv, m, c, 5000);
    assert.equal(pc.purchase.referral, null);
    assert.equal(await balanceMatchesLedger(srv, a), 100);
    assert.equal(await balanceMatchesLedger(srv, b), 0);
    assert.equal(await balanceMatchesLedger(srv, c), 500);
    const twice = await srv.api('POST', `/v1/purchases/${pb.purchase.id}/refund`, { token: m.key });
    assert.equal(twice.status, 409);
    assert.equal(twice.json.error.code, 'already_refunded');
    assert.equal(await srv.stop(), 0);
});
