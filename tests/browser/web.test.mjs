// The dashboard and the app in a real browser (Debian's Chromium, driven by playwright-core)
// against the real regularsd: sign-in by deep link and by form, live purchases in the feed,
// rules edited in the page and read back from the API, validation errors next to their
// field, friends' purchases notified in the app with the new balance, missed events replayed
// on reconnect, share pages, assets and caching, accessibility basics, and --demo.
//
//   cd tests/browser && npm ci && REGULARSD=../../build/regularsd node --test
//
// Screenshots go to tests/browser/artifacts/ (REGULARS_ARTIFACTS overrides).
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { test, startServer, createUser, eventually, sleep, freshDir } from '../e2e/lib.mjs';
import { SKIP, launch, openPage, shot, unlabelledControls, lowContrast, overflowsX } from './browser.mjs';

if (SKIP) console.log(`# SKIP: ${SKIP}`);

let srv, browser;
const uniq = Date.now().toString(36);

before(async () => {
    srv = await startServer(['--bench']);
    if (!SKIP) browser = await launch();
});
after(async () => {
    if (browser) await browser.close();
});

async function createMerchant(fields = {}) {
    const r = await srv.api('POST', '/v1/merchants', {
        body: {
            name: 'Soup Corner', category: 'restaurant', address: 'Yeonnam-dong, Mapo-gu, Seoul',
            lat: 37.5627, lon: 126.9255, ...fields,
        },
    });
    assert.equal(r.status, 201, r.text);
    return { id: r.json.merchant.id, key: r.json.api_key, merchant: r.json.merchant };
}

async function purchase(m, userId, amount) {
    const r = await srv.api('POST', '/v1/purchases', { token: m.key, body: { user_id: userId, amount } });
    assert.equal(r.status, 201, r.text);
    return r.json.purchase;
}

async function befriend(a, b) {
    assert.equal((await srv.api('PUT', `/v1/friends/${b.id}`, { token: a.token })).status, 200);
    const r = await srv.api('PUT', `/v1/friends/${a.id}`, { token: b.token });
    assert.equal(r.json.status, 'friends');
}

const text = (page, sel) => page.locator(sel).first().innerText();

function noProblems(page) {
    assert.deepEqual(page.problems, [], 'console errors or uncaught exceptions in the page');
}

// ---------------------------------------------------------------------------------------

test('dashboard: deep link signs in and leaves the address bar; purchases appear live in the feed', { skip: SKIP }, async () => {
    const m = await createMerchant();
    const annika = await createUser(srv, { name: 'Annika Lindqvist' });
    const minji = await createUser(srv, { name: 'Minji Kim' });
    await befriend(annika, minji);

    const page = await openPage(browser);
    await page.goto(`${srv.url}/dashboard#key=${m.key}`);
    await page.locator('#store-name', { hasText: 'Soup Corner' }).waitFor();
    assert.ok(!page.url().includes('key='), `the key stays in the address bar: ${page.url()}`);
    assert.equal(await page.evaluate(() => localStorage.getItem('regulars.merchantKey')), m.key);
    await page.locator('#live[data-state="live"]').waitFor();
    await page.locator('#feed-empty').waitFor();

    // A purchase made through the API shows in the feed: buyer, amount, points.
    const p1 = await purchase(m, annika.id, 6500);
    const item = page.locator(`#feed li[data-id="${p1.id}"]`);
    await item.waitFor({ timeout: 5000 });
    const t1 = await item.innerText();
    assert.match(t1, /Annika Lindqvist/);
    assert.match(t1, /₩6,500/);
    assert.match(t1, /\+65 pts/);

    // A referred purchase names who brought the buyer, the share's channel and message.
    const share = await srv.api('POST', '/v1/shares', {
        token: annika.token, body: { purchase_id: p1.id, channel: 'post', message: 'great soup' },
    });
    assert.equal(share.status, 201, share.text);
    await page.locator('#feed li.fi-share', { hasText: 'great soup' }).waitFor();
    const p2 = await purchase(m, minji.id, 9000);
    const ref = page.locator(`#feed li[data-id="${p2.id}"]`);
    await ref.waitFor();
    const t2 = await ref.innerText();
    assert.match(t2, /Minji Kim/);
    assert.match(t2, /brought by\s+Annika Lindqvist\s+via a post/);
    assert.match(t2, /great soup/);
    assert.match(t2, /\+100 pts to them/); // the referral bonus
    assert.match(t2, /\+140 pts/); // 90 for the purchase + 50 friend bonus

    // The numbers follow: 2 purchases, ₩15,500, 1 referred, share conversion 100%.
    await eventually(async () => (await text(page, '.kpi:nth-child(1) .kpi-value')) === '2', { what: 'purchases KPI' });
    assert.equal(await text(page, '.kpi:nth-child(2) .kpi-value'), '₩15,500');
    assert.equal(await text(page, '.kpi:nth-child(6) .kpi-value'), '100%');
    // Charts: this hour has one direct and one referred purchase; the cascade has the edge.
    await page.locator('#hourly svg .referred').waitFor();
    await page.locator('#cascade svg text', { hasText: 'Minji Kim' }).waitFor();
    await page.locator('#ambassadors svg text', { hasText: 'Annika Lindqvist' }).waitFor();

    // A refund is marked on the purchase and listed.
    assert.equal((await srv.api('POST', `/v1/purchases/${p1.id}/refund`, { token: m.key })).status, 200);
    await page.locator(`#feed li[data-id="${p1.id}"].refunded`).waitFor();
    await page.locator('#feed li.fi-refund').waitFor();

    await shot(page, 'dashboard-feed');
    noProblems(page);
    await page.context_.close();
});

test('dashboard: sign-in form, rules saved from the page are what the API returns, errors show next to their field', { skip: SKIP }, async () => {
    const m = await createMerchant({ name: 'Hongdae Roasters', category: 'café' });
    const u = await createUser(srv, { name: 'Seoyeon Park' });
    await purchase(m, u.id, 5500);

    const page = await openPage(browser);
    await page.goto(`${srv.url}/dashboard`);
    await page.locator('#signin-form').waitFor();
    // A customer token is refused with a message, then the merchant key by keyboard.
    page.allowHttp(403);
    await page.fill('#key', u.token);
    await page.press('#key', 'Enter');
    await page.locator('#key-err', { hasText: 'not a merchant key' }).waitFor();
    await page.fill('#key', m.key);
    await page.press('#key', 'Enter');
    await page.locator('#board').waitFor();
    await page.locator('#store-name', { hasText: 'Hongdae Roasters' }).waitFor();

    // Tabs work with the arrow keys.
    await page.focus('#t-overview');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#t-customers', 'aria-selected'), 'true');
    await page.locator('#customers tbody tr', { hasText: 'Seoyeon Park' }).waitFor();
    await page.click('#customers th[data-sort="visits"] button');
    await page.locator('#customers th[data-sort="visits"][aria-sort="descending"]').waitFor();
    await page.focus('#t-customers');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#t-settings', 'aria-selected'), 'true');
    assert.ok(await page.isVisible('#rules-form'));

    // Save rules; the API returns them.
    await page.fill('#r-earn', '250');
    await page.fill('#r-ref', '300');
    await page.fill('#r-window', '2');
    await page.selectOption('#r-window-unit', '86400');
    await page.fill('#r-cap', '7');
    await page.click('#rules-form button[type=submit]');
    await page.locator('#rules-form .saved', { hasText: 'Saved' }).waitFor();
    let me = (await srv.api('GET', '/v1/merchants/me', { token: m.key })).json.merchant;
    assert.deepEqual(me.rules, {
        earn_rate_bp: 250, referral_bonus: 300, friend_bonus: 50, credit_window_s: 172800,
        max_referrals_per_share: 7,
    });

    // An invalid rule: the API's message is shown next to the field, nothing changes.
    page.allowHttp(422);
    await page.fill('#r-earn', '20000');
    await page.click('#rules-form button[type=submit]');
    await page.locator('#r-earn-err', { hasText: 'between 0 and 10000' }).waitFor();
    assert.equal(await page.getAttribute('#r-earn', 'aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'r-earn');
    await shot(page, 'dashboard-rules-error');
    me = (await srv.api('GET', '/v1/merchants/me', { token: m.key })).json.merchant;
    assert.equal(me.rules.earn_rate_bp, 250);

    // A credit window below a minute is refused by the API, next to the window field.
    await page.fill('#r-earn', '250');
    await page.fill('#r-window', '30');
    await page.selectOption('#r-window-unit', '60');
    await page.fill('#r-window', '0.5');
    await page.click('#rules-form button[type=submit]');
    await page.locator('#r-window-err', { hasText: 'between 60 and 2592000' }).waitFor();
    assert.equal(await text(page, '#r-earn-err').catch(() => ''), '');

    // Offers: an out-of-range discount is shown on its row; a good one is saved.
    await page.click('#offer-add');
    await page.fill('#offers li:nth-child(1) [name=title]', 'Morning americano');
    await page.fill('#offers li:nth-child(1) [name=discount_pct]', '95');
    await page.click('#offers-form button[type=submit]');
    await page.locator('#offers li:nth-child(1) .field-error', { hasText: 'between 1 and 90' }).waitFor();
    await page.fill('#offers li:nth-child(1) [name=discount_pct]', '20');
    await page.click('#offers-form button[type=submit]');
    await page.locator('#offers-form .saved', { hasText: 'Saved' }).waitFor();
    me = (await srv.api('GET', '/v1/merchants/me', { token: m.key })).json.merchant;
    assert.deepEqual(me.offers, [{ title: 'Morning americano', discount_pct: 20 }]);

    // Rewards and store info.
    await page.fill('#w-title', 'Free americano');
    await page.fill('#w-cost', '1500');
    await page.click('#reward-form button[type=submit]');
    await page.locator('#rewards li', { hasText: 'Free americano' }).waitFor();
    await page.fill('#s-name', 'Hongdae Roasters & Co');
    await page.click('#store-form button[type=submit]');
    await page.locator('#store-name', { hasText: 'Hongdae Roasters & Co' }).waitFor();
    me = (await srv.api('GET', '/v1/merchants/me', { token: m.key })).json.merchant;
    assert.equal(me.name, 'Hongdae Roasters & Co');
    assert.equal(me.rewards[0].title, 'Free americano');

    assert.deepEqual(await unlabelledControls(page), []);
    assert.deepEqual(await lowContrast(page), []);
    await shot(page, 'dashboard-settings');
    await page.click('#t-overview');
    assert.deepEqual(await lowContrast(page), []);
    noProblems(page);
    await page.context_.close();
});

test('app: sign-up, friends by handle, a friend\'s purchase notifies with the new balance, missed events replay, redeem nearby', { skip: SKIP }, async () => {
    const m = await createMerchant();
    await srv.api('POST', '/v1/merchants/me/rewards', { token: m.key, body: { title: 'Free soup', cost: 150 } });
    const minji = await createUser(srv, { name: 'Minji Kim', handle: `minji_${uniq}` });

    const page = await openPage(browser, { width: 375, height: 812, isMobile: true, hasTouch: true });
    page.on('dialog', (d) => d.accept());
    await page.goto(`${srv.url}/app`);
    await page.locator('#signup-form').waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    assert.deepEqual(await lowContrast(page), []);
    assert.equal(await overflowsX(page), false);
    await shot(page, 'app-signup');

    // A taken handle is shown next to the handle field.
    page.allowHttp(409);
    await page.fill('#u-name', 'Annika Lindqvist');
    await page.fill('#u-handle', `minji_${uniq}`);
    await page.click('#signup-form button[type=submit]');
    await page.locator('#u-handle-err', { hasText: 'taken' }).waitFor();
    await page.fill('#u-handle', `annika_${uniq}`);
    await page.click('#signup-form button[type=submit]');
    await page.locator('#home').waitFor();
    assert.equal(await text(page, '#balance'), '0');
    const token = await page.evaluate(() => localStorage.getItem('regulars.userToken'));
    const annika = { token, id: (await srv.api('GET', '/v1/me', { token })).json.user.id };
    await page.locator('#live[data-state="live"]').waitFor();

    // Friends: find Minji by handle and ask; she accepts; the app hears it.
    await page.click('#t-friends');
    page.allowHttp(404);
    await page.fill('#find-handle', 'nobody_here');
    await page.click('#find-form button[type=submit]');
    await page.locator('#find-err', { hasText: 'Nobody has the handle' }).waitFor();
    await page.fill('#find-handle', `@minji_${uniq}`);
    await page.click('#find-form button[type=submit]');
    await page.click('#found button:has-text("Add friend")');
    await page.locator('#outgoing li', { hasText: 'Minji Kim' }).waitFor();
    const acc = await srv.api('PUT', `/v1/friends/${annika.id}`, { token: minji.token });
    assert.equal(acc.json.status, 'friends');
    await page.locator('.toast', { hasText: 'Minji Kim accepted your friend request' }).waitFor();
    await page.locator('#friends li', { hasText: 'Minji Kim' }).waitFor();
    await shot(page, 'app-friends');

    // Annika buys; the app shows the points without a reload.
    const p = await purchase(m, annika.id, 10000);
    await page.locator('.toast', { hasText: 'You earned points at Soup Corner' }).waitFor();
    assert.equal(await text(page, '#balance-chip .balance'), '100');

    // She shares it from My purchases, as a link with a message.
    await page.click('#t-purchases');
    await page.click(`#purchases li[data-id="${p.id}"] .share-btn`);
    await page.check('#share-form input[value="link"]');
    await page.fill('#share-message', 'great soup');
    await page.click('#share-form button[type=submit]');
    await page.locator('#share-link', { hasText: '/s/s_' }).waitFor();
    const shareUrl = await page.getAttribute('#share-link', 'href');
    await shot(page, 'app-share', { fullPage: false });
    await page.click('#share-close');
    await page.locator(`#purchases li[data-id="${p.id}"] .shared`).waitFor();

    // Minji buys there within the window: Annika is notified, naming her and the store,
    // and the balance changes in place.
    await page.click('#t-wallet');
    await purchase(m, minji.id, 8000);
    await page.locator('.toast', { hasText: 'Minji Kim bought at Soup Corner thanks to your share' }).waitFor();
    assert.equal(await text(page, '#balance'), '200');
    assert.equal(await text(page, '#balance-chip .balance'), '200');
    await page.locator('#notes .note', { hasText: 'thanks to your share' }).waitFor();
    await page.locator('#ledger li', { hasText: 'Minji Kim bought at Soup Corner with your share' }).waitFor();
    await shot(page, 'app-notification', { fullPage: false });

    // Events missed while the stream was down are replayed on reconnect (since=).
    await page.evaluate(() => globalThis.regulars.streams.at(-1).stop());
    await purchase(m, annika.id, 5000);
    await sleep(300);
    assert.equal(await text(page, '#balance'), '200');
    await page.evaluate(() => globalThis.regulars.streams.at(-1).start());
    await eventually(async () => (await text(page, '#balance')) === '250', { what: 'replayed balance' });
    await page.locator('.toast', { hasText: 'You earned points at Soup Corner' }).first().waitFor();

    // Nearby by the browser's location, then by a typed place; redeem a reward.
    await page.context_.grantPermissions(['geolocation']);
    await page.context_.setGeolocation({ latitude: 37.5630, longitude: 126.9250 });
    await page.click('#t-stores');
    await page.click('#locate');
    // Other tests made stores here too: this one is the one with the reward.
    const card = page.locator('#stores > li', { hasText: 'Free soup' });
    await card.waitFor();
    assert.match(await card.innerText(), /Soup Corner/);
    await page.fill('#place', 'Yeonnam');
    await page.click('#place-form button[type=submit]');
    await page.locator('#place-now', { hasText: 'Yeonnam-dong' }).waitFor();
    page.allowHttp(422);
    await page.fill('#place', 'Atlantis');
    await page.click('#place-form button[type=submit]');
    await page.locator('#place-err', { hasText: 'neighbourhood' }).waitFor();
    await card.locator('button.redeem').click();
    await page.locator('.toast', { hasText: 'Free soup' }).waitFor();
    assert.equal(await text(page, '#balance-chip .balance'), '100');
    await shot(page, 'app-stores');

    for (const tab of ['wallet', 'stores', 'purchases', 'friends']) {
        await page.click(`#t-${tab}`);
        assert.equal(await overflowsX(page), false, `the ${tab} tab overflows 375 px`);
        assert.deepEqual(await lowContrast(page), [], `contrast on the ${tab} tab`);
    }
    assert.deepEqual(await unlabelledControls(page), []);
    await page.click('#t-wallet');
    await shot(page, 'app-wallet');
    noProblems(page);
    await page.context_.close();

    // The share page of that share: what a friend sees.
    const sp = await openPage(browser, { width: 375, height: 812 });
    await sp.goto(shareUrl);
    await sp.locator('h1', { hasText: 'recommends' }).waitFor();
    assert.match(await text(sp, 'h1'), /Annika Lindqvist recommends Soup Corner: “?great soup”?/);
    assert.match(await text(sp, '.deadline'), /have \d+ (hours|days) left/);
    await shot(sp, 'share-page');
    assert.deepEqual(await lowContrast(sp), []);
    noProblems(sp);
    await sp.context_.close();
});

test('app: a deep link signs in and is removed from the address bar; a merchant key is refused', { skip: SKIP }, async () => {
    const u = await createUser(srv, { name: 'Joon Park' });
    const m = await createMerchant({ name: 'Seongsu Brew Lab' });
    const page = await openPage(browser, { width: 375, height: 812 });
    await page.goto(`${srv.url}/app#token=${u.token}`);
    await page.locator('#hello-name', { hasText: 'Joon Park' }).waitFor();
    assert.ok(!page.url().includes('token='), page.url());
    await page.click('#t-friends');
    await page.click('#signout');
    await page.locator('#welcome').waitFor();
    page.allowHttp(403);
    await page.fill('#u-token', m.key);
    await page.click('#token-form button[type=submit]');
    await page.locator('#u-token-err', { hasText: 'merchant key' }).waitFor();
    noProblems(page);
    await page.context_.close();
});

test('share pages: Open Graph and Twitter tags, escaped text, offers, map link; unknown shares are a 404 page', async () => {
    const m = await createMerchant({ name: 'Soup <Corner> & "Co"' });
    await srv.api('PATCH', '/v1/merchants/me', {
        token: m.key, body: { offers: [{ title: 'Second bowl <b>half</b> price', discount_pct: 50 }] },
    });
    const u = await createUser(srv, { name: "Annika O'Neil" });
    const p = await purchase(m, u.id, 12000);
    const sh = await srv.api('POST', '/v1/shares', {
        token: u.token, body: { purchase_id: p.id, channel: 'checkin', message: 'great soup <script>alert(1)</script>' },
    });
    const r = await srv.api('GET', `/s/${sh.json.share.id}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.match(r.headers.get('content-security-policy'), /default-src 'self'/);
    const html = r.text;
    assert.ok(!html.includes('<script>alert'), 'the message is escaped');
    assert.ok(!html.includes('<b>half'), 'offers are escaped');
    assert.ok(html.includes('<meta property="og:title" content="Annika O&#39;Neil recommends Soup &lt;Corner&gt; &amp; &quot;Co&quot;">'), html);
    assert.match(html, /<meta property="og:description" content="“great soup &lt;script&gt;alert\(1\)&lt;\/script&gt;” — Soup &lt;Corner&gt;/);
    assert.match(html, /<meta property="og:url" content="http:\/\/127\.0\.0\.1:\d+\/s\/s_/);
    assert.match(html, /<meta name="twitter:card" content="summary">/);
    assert.match(html, /<meta name="twitter:title" content="Annika O&#39;Neil recommends/);
    assert.match(html, /openstreetmap\.org\/\?mlat=37\.562700&amp;mlon=126\.925500/);
    assert.match(html, /50% off<\/strong> Second bowl &lt;b&gt;half&lt;\/b&gt; price/);
    assert.match(html, /have <strong>2[34] hours<\/strong> left/);

    // The window closes: the page says so.
    await srv.api('POST', '/bench/clock', { body: { advance_s: 2 * 86400 } });
    const later = await srv.api('GET', `/s/${sh.json.share.id}`);
    assert.match(later.text, /window has closed/);

    for (const bad of ['/s/s_aaaaaaaaaaaaa', '/s/nope', `/s/${p.id}`]) {
        const nf = await srv.api('GET', bad);
        assert.equal(nf.status, 404, bad);
        assert.match(nf.headers.get('content-type'), /^text\/html/);
        assert.match(nf.text, /This share does not exist/);
    }
    // The JSON twin for the pages.
    const j = await srv.api('GET', `/v1/shares/${sh.json.share.id}`);
    assert.equal(j.status, 200);
    assert.equal(j.json.user.name, "Annika O'Neil");
    assert.equal(j.json.merchant.name, 'Soup <Corner> & "Co"');
    assert.equal(j.json.share.channel, 'checkin');
});

test('pages and assets: content types, ETag, 304, no-cache, HEAD; GET /v1/users?handle=', async () => {
    for (const [p, type] of [['/', 'text/html'], ['/dashboard', 'text/html'], ['/app', 'text/html'],
        ['/assets/app.js', 'text/javascript'], ['/assets/style.css', 'text/css'],
        ['/assets/icon.svg', 'image/svg+xml'], ['/favicon.ico', 'image/svg+xml']]) {
        const r = await srv.api('GET', p);
        assert.equal(r.status, 200, p);
        assert.ok(r.headers.get('content-type').startsWith(type), `${p}: ${r.headers.get('content-type')}`);
        const etag = r.headers.get('etag');
        assert.match(etag, /^"[0-9a-f]{16}"$/, p);
        assert.equal(r.headers.get('cache-control'), 'no-cache', p);
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
        const again = await srv.api('GET', p, { headers: { 'If-None-Match': `W/"nope", ${etag}` } });
        assert.equal(again.status, 304, p);
        assert.equal(again.text, '');
        assert.equal(again.headers.get('etag'), etag);
        const other = await srv.api('GET', p, { headers: { 'If-None-Match': '"0000000000000000"' } });
        assert.equal(other.status, 200, p);
    }
    const head = await srv.api('HEAD', '/dashboard');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await srv.api('GET', '/assets/nope.js')).status, 404);
    assert.equal((await srv.api('GET', '/assets/../dashboard.html')).status, 404);

    const u = await createUser(srv, { name: 'Hana Seo', handle: `hana_${uniq}` });
    let r = await srv.api('GET', `/v1/users?handle=hana_${uniq}`, { token: u.token });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.user, { id: u.id, name: 'Hana Seo', handle: `hana_${uniq}` });
    r = await srv.api('GET', '/v1/users?handle=nobody_at_all', { token: u.token });
    assert.equal(r.status, 404);
    r = await srv.api('GET', '/v1/users?handle=No!', { token: u.token });
    assert.equal(r.status, 422);
    r = await srv.api('GET', `/v1/users?handle=hana_${uniq}`);
    assert.equal(r.status, 401);
});

test('--demo: seeds a city, prints working links (the same after a restart), and keeps it moving', async () => {
    const data = freshDir('regulars-demo-');
    let demo = await startServer(['--demo'], { data });
    const links = async (s) => {
        await eventually(() => s.stdoutLines.filter((l) => /#(key|token)=/.test(l)).length >= 6,
            { timeoutMs: 60000, what: 'demo links on stdout' });
        return s.stdoutLines.filter((l) => /#(key|token)=/.test(l)).map((l) => l.trim().split(/\s+/).at(-1));
    };
    const first = await links(demo);
    const dash = first.find((l) => l.includes('/dashboard#key=mk_'));
    const app = first.find((l) => l.includes('/app#token=ut_'));
    assert.ok(dash && app, first.join('\n'));
    assert.ok(dash.startsWith(`${demo.url}/dashboard#key=`), dash);

    // The links work, and the city has a history.
    const key = new URL(dash).hash.replace('#key=', '');
    const stats = await demo.api('GET', '/v1/merchants/me/stats?days=30', { token: key });
    assert.equal(stats.status, 200);
    assert.ok(stats.json.purchases > 50, `30-day purchases: ${stats.json.purchases}`);
    assert.ok(stats.json.referred_purchases > 0 && stats.json.top_ambassadors.length > 0);
    const token = new URL(app).hash.replace('#token=', '');
    const me = await demo.api('GET', '/v1/me', { token });
    assert.equal(me.json.user.name, 'Annika Lindqvist');

    // The simulation commits something every second or two.
    const commits = async () => {
        const t = (await demo.api('GET', '/metrics')).text;
        return Number(/^regulars_commit_duration_seconds_count (\d+)/m.exec(t)?.[1] ?? NaN);
    };
    const c0 = await commits();
    await eventually(async () => (await commits()) >= c0 + 2, { timeoutMs: 15000, what: 'simulated writes' });

    if (browser) {
        const page = await openPage(browser);
        await page.goto(dash);
        await page.locator('#store-name', { hasText: 'Soup Corner' }).waitFor();
        await page.locator('#feed li').nth(5).waitFor();
        await page.locator('#cascade svg').waitFor();
        await page.locator('#ambassadors svg').waitFor();
        // The simulation keeps buying (and now and then refunding) while the page loads, so
        // the page's figure is compared with the API's at the same moment, until they agree.
        let month, api;
        await eventually(async () => {
            month = Number((await text(page, '.kpi:nth-child(1) .kpi-month strong')).replace(/,/g, ''));
            api = (await demo.api('GET', '/v1/merchants/me/stats?days=30', { token: key })).json.purchases;
            return month === api;
        }, { timeoutMs: 15000, what: "the dashboard's 30-day purchases matching the API's" })
            .catch((e) => { throw new Error(`${e.message}: dashboard ${month}, API ${api}`); });
        await sleep(2000);
        await shot(page, 'dashboard-demo');
        noProblems(page);

        const ap = await openPage(browser, { width: 375, height: 812 });
        await ap.goto(app);
        await ap.locator('#hello-name', { hasText: 'Annika' }).waitFor();
        await ap.locator('#ledger li.entry').nth(2).waitFor();
        assert.ok(Number((await text(ap, '#balance')).replace(/,/g, '')) > 0);
        await shot(ap, 'app-demo', { fullPage: false });
        noProblems(ap);
        await page.context_.close();
        await ap.context_.close();
    }

    // A restart finds the city again and prints the same links (with the new port).
    assert.equal(await demo.stop(), 0);
    demo = await startServer(['--demo'], { data });
    const second = await links(demo);
    const strip = (l) => l.replace(/^http:\/\/[^/]+/, '');
    assert.deepEqual(second.map(strip), first.map(strip));
    const again = await demo.api('GET', '/v1/merchants/me', { token: new URL(second[0]).hash.replace('#key=', '') });
    assert.equal(again.status, 200);
    assert.equal(again.json.merchant.name, 'Soup Corner');
    assert.equal(await demo.stop(), 0);
});

test('the server exits with 0 after all of this (under ASan: no leak)', async () => {
    if (browser) await browser.close();
    browser = null;
    assert.equal(await srv.stop(), 0);
});
