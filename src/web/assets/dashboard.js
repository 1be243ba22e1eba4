// The merchant dashboard: live feed, numbers, charts, customers and self-service settings.
// Everything comes from the public API (API.md) and the /v1/stream WebSocket.
import {
    $, $$, h, fill, money, num, pct, points, timeEl, tickTimes, session, takeSecretFromHash,
    client, Stream, toast, showFieldError, clearErrors, busy, nameCache, tabs, duration, ApiError,
} from './lib.js';
import { hourlyChart, buildCascade, cascadeChart, ambassadorsChart } from './charts.js';

const FEED_MAX = 80;
const HOUR = 3600 * 1000;

const st = {
    api: null,
    stream: null,
    me: null, // the merchant
    currency: 'KRW',
    stats: { 1: null, 30: null },
    hours: [], // [{at, direct, referred}]
    edges: new Map(), // "sharer|buyer" -> {sharer, buyer, purchases, revenue}
    feed: new Map(), // purchase or share id -> {at, el}
    customers: { sort: 'recent', next: null, loaded: false },
    users: null,
    shares: null,
};

// ---------------------------------------------------------------------------------------
// Start: deep link, stored key, or the sign-in form

function init() {
    const fromHash = takeSecretFromHash('key');
    if (fromHash) session.set('merchantKey', fromHash);
    const key = session.get('merchantKey');
    $('#signin-form').addEventListener('submit', onSignin);
    $('#create-form').addEventListener('submit', onCreate);
    $('#signout').addEventListener('click', signOut);
    setInterval(tickTimes, 30000);
    if (key) start(key);
    else showSignin();
}

function showSignin(message) {
    $('#board').hidden = true;
    $('#signout').hidden = true;
    $('#live').hidden = true;
    $('#store-name').textContent = '';
    $('#signin').hidden = false;
    if (message) $('#key-err').textContent = message;
    $('#key').focus();
}

async function onSignin(e) {
    e.preventDefault();
    const key = $('#key').value.trim();
    clearErrors(e.target);
    if (!key) {
        $('#key-err').textContent = 'Enter your merchant key.';
        $('#key').setAttribute('aria-invalid', 'true');
        return;
    }
    await busy(e.target, () => start(key));
}

async function onCreate(e) {
    e.preventDefault();
    const f = e.target;
    const body = {
        name: f.name.value.trim(),
        category: f.category.value.trim(),
        address: f.address.value.trim(),
        lat: numOrText(f.lat.value),
        lon: numOrText(f.lon.value),
    };
    await busy(f, async () => {
        try {
            const r = await client(null).post('/v1/merchants', body);
            clearErrors(f);
            const link = `${location.origin}/dashboard#key=${encodeURIComponent(r.api_key)}`;
            fill($('#created'),
                h('p', {}, h('strong', {}, `${r.merchant.name} is created.`),
                    ' Keep this key somewhere safe: it is shown only once.'),
                h('p', {}, h('code', { class: 'secret' }, r.api_key)),
                h('p', {}, 'Bookmark to sign in: ', h('a', { href: link }, 'dashboard link')));
            $('#created').hidden = false;
            $('#key').value = r.api_key;
        } catch (err) {
            showFieldError(f, err);
        }
    });
}

function signOut() {
    session.set('merchantKey', null);
    if (st.stream) st.stream.stop();
    location.assign('/dashboard');
}

async function start(key) {
    const api = client(key, {
        onUnauthorized: () => {
            session.set('merchantKey', null);
            if (st.stream) st.stream.stop();
            showSignin('This merchant key is not valid (any more). Sign in again.');
        },
    });
    let me;
    try {
        me = (await api.get('/v1/merchants/me')).merchant;
    } catch (err) {
        if (err.status === 403) {
            session.set('merchantKey', null);
            showSignin('That is not a merchant key (a customer token opens the app at /app).');
        } else if (err.status !== 401) {
            showSignin(err.message);
        }
        return;
    }
    session.set('merchantKey', key);
    st.api = api;
    st.me = me;
    st.currency = me.currency || 'KRW';
    st.users = nameCache((id) => api.get(`/v1/users/${encodeURIComponent(id)}`).then((r) => r.user));
    st.shares = nameCache((id) => api.get(`/v1/shares/${encodeURIComponent(id)}`).then((r) => r.share));

    $('#signin').hidden = true;
    $('#board').hidden = false;
    $('#signout').hidden = false;
    $('#live').hidden = false;
    $('#key').value = '';
    showStoreName();
    setupTabs();
    setupSettings();

    // Open the stream first: anything recorded after its hello arrives live, and the
    // snapshots below cover what came before (the feed drops duplicates by id).
    st.stream = new Stream(key, { onEvent, onStatus, onReset: () => location.reload() });
    st.stream.start();
    await Promise.all([loadStats(), loadActivity(), loadFeed()]);
}

function showStoreName() {
    $('#store-name').textContent = st.me.name;
    document.title = `${st.me.name} · regulars`;
}

function onStatus(s) {
    const el = $('#live');
    el.dataset.state = s;
    $('.live-text', el).textContent = s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…';
}

// ---------------------------------------------------------------------------------------
// Tabs

let showTab;
function setupTabs() {
    const names = ['overview', 'customers', 'settings'];
    showTab = tabs($('.tabs'), (name) => {
        history.replaceState(null, '', name === 'overview' ? location.pathname : `#${name}`);
        onTab(name);
    });
    const initial = names.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'overview';
    showTab(initial);
    onTab(initial);
}

function onTab(name) {
    if (name === 'customers' && !st.customers.loaded) loadCustomers(true);
}

// ---------------------------------------------------------------------------------------
// Numbers (GET /v1/merchants/me/stats)

async function loadStats() {
    try {
        const [d1, d30] = await Promise.all([
            st.api.get('/v1/merchants/me/stats?days=1'),
            st.api.get('/v1/merchants/me/stats?days=30'),
        ]);
        st.stats[1] = d1;
        st.stats[30] = d30;
        renderKpis();
        renderAmbassadors();
    } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 401) toast(`Stats: ${err.message}`, { kind: 'error' });
    }
}

function renderKpis() {
    const a = st.stats[1], b = st.stats[30], c = st.currency;
    const cards = [
        ['Purchases', num(a.purchases), num(b.purchases)],
        ['Revenue', money(a.revenue, c), money(b.revenue, c)],
        ['Customers', num(a.customers), num(b.customers),
            `${num(a.new_customers)} new · ${num(a.returning_customers)} returning`,
            `${num(b.new_customers)} new · ${num(b.returning_customers)} returning`],
        ['Regulars', num(a.regulars), num(b.regulars), '3+ visits in the period', `repeat rate ${pct(b.repeat_rate)}`],
        ['Referred revenue', money(a.referred_revenue, c), money(b.referred_revenue, c),
            `${num(a.referred_purchases)} purchases`, `${num(b.referred_purchases)} purchases`],
        ['Share conversion', pct(a.share_conversion), pct(b.share_conversion),
            `${num(a.shares)} shares`, `${num(b.shares)} shares`],
    ];
    fill($('#kpis'), cards.map(([label, today, month, todayNote, monthNote]) =>
        h('section', { class: 'kpi', 'aria-label': label },
            h('h2', { class: 'kpi-label' }, label),
            h('p', { class: 'kpi-today' }, h('span', { class: 'kpi-value' }, today),
                h('span', { class: 'kpi-period' }, 'last 24 h')),
            todayNote ? h('p', { class: 'kpi-note' }, todayNote) : null,
            h('p', { class: 'kpi-month' }, h('span', { class: 'kpi-period' }, '30 days '), h('strong', {}, month),
                monthNote ? h('span', { class: 'kpi-note' }, ` · ${monthNote}`) : null))));
}

function renderAmbassadors() {
    const list = st.stats[30]?.top_ambassadors || [];
    const svg = ambassadorsChart(list, st.currency);
    fill($('#ambassadors'), svg || h('p', { class: 'muted empty' },
        'No ambassadors yet. When a customer shares a purchase and a friend buys within the credit window, they show here.'));
}

// Stats are recomputed by the server; many events in a burst ask once.
let statsTimer = null;
function refreshStatsSoon() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 800);
}

// ---------------------------------------------------------------------------------------
// Charts (GET /v1/merchants/me/activity): purchases per hour and referral edges

async function loadActivity() {
    try {
        const r = await st.api.get(`/v1/merchants/me/activity?days=30&tz=${-new Date().getTimezoneOffset()}`);
        st.hours = r.hours;
        st.edges = new Map(r.edges.map((e) => [`${e.sharer.id}|${e.buyer.id}`, e]));
        for (const e of r.edges) {
            st.users.set(e.sharer.id, e.sharer);
            st.users.set(e.buyer.id, e.buyer);
        }
        renderHourly();
        renderCascade();
    } catch (err) {
        if (err.status !== 401) toast(`Charts: ${err.message}`, { kind: 'error' });
    }
}

function renderHourly() {
    fill($('#hourly'), hourlyChart(st.hours));
}

let cascadeTimer = null;
function renderCascadeSoon() {
    if (!cascadeTimer) cascadeTimer = setTimeout(() => ((cascadeTimer = null), renderCascade()), 1500);
}

function renderCascade() {
    const roots = buildCascade([...st.edges.values()]);
    const svg = cascadeChart(roots, st.currency);
    fill($('#cascade'), svg || h('p', { class: 'muted empty' },
        'Nobody has brought a friend yet in the last 30 days. Shares that bring friends show up here as a tree.'));
}

/** Counts a live purchase into the hour buckets (adding hours as time passes). */
function countHour(p) {
    if (!st.hours.length) return;
    let last = st.hours[st.hours.length - 1];
    while (p.created_at >= last.at + HOUR) {
        last = { at: last.at + HOUR, direct: 0, referred: 0 };
        st.hours.push(last);
        st.hours.shift();
    }
    const b = st.hours.find((x) => p.created_at >= x.at && p.created_at < x.at + HOUR);
    if (!b) return;
    if (p.referral) b.referred++;
    else b.direct++;
    renderHourly();
}

function countEdge(p, buyer, sharer) {
    if (!p.referral || !sharer) return;
    const k = `${sharer.id}|${buyer.id}`;
    const e = st.edges.get(k) || { sharer, buyer, purchases: 0, revenue: 0 };
    e.purchases++;
    e.revenue += p.amount;
    st.edges.set(k, e);
    renderCascadeSoon();
}

let activityTimer = null;
function refreshActivitySoon() {
    clearTimeout(activityTimer);
    activityTimer = setTimeout(loadActivity, 1000);
}

// ---------------------------------------------------------------------------------------
// Live feed

async function loadFeed() {
    try {
        const r = await st.api.get('/v1/merchants/me/purchases?limit=40');
        for (const p of r.purchases) if (p.buyer) st.users.set(p.buyer.id, p.buyer);
        // Who brought the referred buyers, and with what words: fetched all at once.
        const refs = await Promise.all(r.purchases.map((p) => (p.referral
            ? Promise.all([st.users.get(p.referral.sharer_id), st.shares.get(p.referral.share_id)])
            : [null, null])));
        r.purchases.forEach((p, i) => {
            if (!st.feed.has(p.id)) addPurchase(p, p.buyer, p.awards || [], refs[i][1], refs[i][0], false);
        });
        updateFeedCount();
    } catch (err) {
        if (err.status !== 401) toast(`Feed: ${err.message}`, { kind: 'error' });
    }
}

function onEvent(ev) {
    const d = ev.data || {};
    if (ev.type === 'purchase') {
        const p = d.purchase;
        if (!p || st.feed.has(p.id)) return;
        if (d.buyer) st.users.set(d.buyer.id, d.buyer);
        if (d.sharer) st.users.set(d.sharer.id, d.sharer);
        addPurchase(p, d.buyer, d.awards || [], d.share, d.sharer, true);
        countHour(p);
        countEdge(p, d.buyer, d.sharer);
        refreshStatsSoon();
        refreshCustomersSoon();
    } else if (ev.type === 'refund') {
        const p = d.purchase;
        const item = p && st.feed.get(p.id);
        if (item) {
            item.el.classList.add('refunded');
            $('.fi-status', item.el).textContent = 'refunded';
        }
        if (p) addRefund(p, d.reversals || []);
        refreshStatsSoon();
        refreshActivitySoon();
        refreshCustomersSoon();
    } else if (ev.type === 'share') {
        if (d.share && !st.feed.has(d.share.id)) addShare(d.share, d.user);
        refreshStatsSoon();
    }
    updateFeedCount();
}

const CHANNELS = { post: 'a post', checkin: 'a check-in', link: 'a link' };

function pointsFor(awards, userId, kinds) {
    return awards.filter((a) => a.user_id === userId && kinds.includes(a.kind)).reduce((s, a) => s + a.points, 0);
}

function addPurchase(p, buyer, awards, share, sharer, live) {
    const buyerName = buyer?.name || 'A customer';
    const got = pointsFor(awards, p.user_id, ['purchase', 'friend_bonus']);
    const ref = p.referral;
    const refPts = ref ? pointsFor(awards, ref.sharer_id, ['referral']) : 0;
    const el = h('li', { class: `fi fi-purchase${ref ? ' referred' : ''}${p.refunded_at ? ' refunded' : ''}${live ? ' new' : ''}`, dataset: { id: p.id } },
        h('div', { class: 'fi-line' },
            h('span', { class: 'fi-who' }, buyerName),
            h('span', { class: 'fi-what' }, ' bought '),
            h('span', { class: 'fi-amount' }, money(p.amount, p.currency || st.currency)),
            h('span', { class: 'fi-status' }, p.refunded_at ? 'refunded' : '')),
        ref ? h('div', { class: 'fi-ref' },
            h('span', { class: 'badge badge-ref' }, 'referred'), ' brought by ',
            h('strong', {}, sharer?.name || 'a friend'),
            share ? ` via ${CHANNELS[share.channel] || share.channel}` : '',
            refPts ? h('span', { class: 'fi-refpts' }, ` · ${points(refPts)} pts to them`) : null,
            share?.message ? h('q', { class: 'fi-msg' }, share.message) : null) : null,
        h('div', { class: 'fi-meta' }, timeEl(p.created_at),
            got ? h('span', { class: 'pts', title: 'points awarded to the buyer' }, `${points(got)} pts`) : null));
    put(p.id, p.created_at, el);
}

function addRefund(p, reversals) {
    const id = `refund-${p.id}`;
    if (st.feed.has(id)) return;
    const buyer = st.users.get(p.user_id);
    const total = reversals.reduce((s, r) => s + r.points, 0);
    const el = h('li', { class: 'fi fi-refund new' },
        h('div', { class: 'fi-line' },
            h('span', { class: 'badge badge-refund' }, 'refund'), ' ',
            h('span', { class: 'fi-amount' }, money(p.amount, p.currency || st.currency)),
            h('span', { class: 'fi-what' }, ' to '), h('span', { class: 'fi-who' }, '…')),
        h('div', { class: 'fi-meta' }, timeEl(p.refunded_at || Date.now()),
            total ? h('span', { class: 'pts neg', title: 'points taken back' }, `${points(total)} pts`) : null));
    buyer.then((u) => ($('.fi-who', el).textContent = u?.name || 'a customer'));
    put(id, p.refunded_at || Date.now(), el);
}

function addShare(share, user) {
    const el = h('li', { class: 'fi fi-share new', dataset: { id: share.id } },
        h('div', { class: 'fi-line' },
            h('span', { class: 'badge badge-share' }, 'share'), ' ',
            h('span', { class: 'fi-who' }, user?.name || 'A customer'),
            h('span', { class: 'fi-what' }, ` shared their purchase as ${CHANNELS[share.channel] || share.channel}`)),
        share.message ? h('div', { class: 'fi-ref' }, h('q', { class: 'fi-msg' }, share.message)) : null,
        h('div', { class: 'fi-meta' }, timeEl(share.created_at),
            h('span', { class: 'muted' }, `friends can use it for ${duration(Math.round((share.expires_at - share.created_at) / 1000))}`)));
    put(share.id, share.created_at, el);
}

/** Inserts el in the feed in time order (newest first), keeping FEED_MAX items. */
function put(id, at, el) {
    const feed = $('#feed');
    st.feed.set(id, { at, el });
    el.dataset.at = at;
    const before = [...feed.children].find((c) => Number(c.dataset.at) < at);
    feed.insertBefore(el, before || null);
    while (feed.children.length > FEED_MAX) {
        const last = feed.lastElementChild;
        for (const [k, v] of st.feed) if (v.el === last) st.feed.delete(k);
        last.remove();
    }
    setTimeout(() => el.classList.remove('new'), 2500);
}

function updateFeedCount() {
    const n = $('#feed').children.length;
    $('#feed-count').textContent = n ? `${n} latest` : '';
    if (!n && !$('#feed-empty')) {
        $('#feed').after(h('p', { id: 'feed-empty', class: 'muted empty' }, 'Waiting for the first purchase…'));
    } else if (n) {
        $('#feed-empty')?.remove();
    }
}

// ---------------------------------------------------------------------------------------
// Customers (GET /v1/merchants/me/customers)

async function loadCustomers(reset) {
    const c = st.customers;
    if (reset) c.next = null;
    let url = `/v1/merchants/me/customers?sort=${c.sort}&limit=50`;
    if (!reset && c.next) url += `&before=${encodeURIComponent(c.next)}`;
    let r;
    try {
        r = await st.api.get(url);
    } catch (err) {
        if (err.status !== 401) toast(`Customers: ${err.message}`, { kind: 'error' });
        return;
    }
    c.loaded = true;
    c.next = r.next;
    const tbody = $('#customers tbody');
    if (reset) tbody.replaceChildren();
    for (const row of r.customers) tbody.append(customerRow(row));
    $('#customers-empty').hidden = tbody.children.length > 0;
    $('#customers-more').hidden = !r.next;
    for (const th of $$('#customers th[data-sort]')) {
        th.setAttribute('aria-sort', th.dataset.sort === c.sort ? 'descending' : 'none');
    }
}

function customerRow(c) {
    const by = h('td', {}, c.referred_by ? '…' : '—');
    if (c.referred_by) st.users.get(c.referred_by).then((u) => (by.textContent = u?.name || 'a friend'));
    return h('tr', {},
        h('th', { scope: 'row' }, h('span', { class: 'cust-name' }, c.user.name),
            c.visits >= 3 ? h('span', { class: 'badge badge-regular' }, 'regular') : null,
            c.referrals > 0 ? h('span', { class: 'badge badge-ref' }, 'referrer') : null),
        h('td', { class: 'num' }, num(c.visits)),
        h('td', { class: 'num' }, money(c.spend, st.currency)),
        h('td', {}, timeEl(c.first_at)),
        h('td', {}, timeEl(c.last_at)),
        by,
        h('td', { class: 'num' }, num(c.referrals)));
}

let customersTimer = null;
function refreshCustomersSoon() {
    if (!st.customers.loaded || $('#tab-customers').hidden) {
        st.customers.loaded = false; // reloaded when the tab is opened
        return;
    }
    clearTimeout(customersTimer);
    customersTimer = setTimeout(() => loadCustomers(true), 1500);
}

$('#customers').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-sort]');
    if (!th || !e.target.closest('button')) return;
    st.customers.sort = th.dataset.sort;
    loadCustomers(true);
});
$('#customers-more').addEventListener('click', () => loadCustomers(false));

// ---------------------------------------------------------------------------------------
// Settings: rules, store, offers, rewards (PATCH /v1/merchants/me, POST .../rewards)

let settingsReady = false;
function setupSettings() {
    fillRules();
    fillStore();
    fillOffers();
    fillRewards();
    if (settingsReady) return;
    settingsReady = true;
    $('#rules-form').addEventListener('submit', saveRules);
    $('#store-form').addEventListener('submit', saveStore);
    $('#offers-form').addEventListener('submit', saveOffers);
    $('#offer-add').addEventListener('click', () => {
        if ($('#offers').children.length >= 16) return toast('At most 16 offers.', { kind: 'error' });
        $('#offers').append(offerRow({ title: '', discount_pct: 10 }));
        renumberOffers();
        $('#offers li:last-child input').focus();
    });
    $('#reward-form').addEventListener('submit', addReward);
    $('#r-earn').addEventListener('input', earnHint);
}

function fillRules() {
    const r = st.me.rules;
    $('#r-earn').value = r.earn_rate_bp;
    $('#r-ref').value = r.referral_bonus;
    $('#r-friend').value = r.friend_bonus;
    $('#r-cap').value = r.max_referrals_per_share;
    const w = r.credit_window_s;
    const unit = w % 86400 === 0 ? 86400 : w % 3600 === 0 ? 3600 : 60;
    $('#r-window-unit').value = String(unit);
    $('#r-window').value = String(+(w / unit).toFixed(3));
    earnHint();
}

function earnHint() {
    const bp = Number($('#r-earn').value);
    const amount = st.currency === 'KRW' || st.currency === 'JPY' ? 10000 : 1000;
    $('#r-earn-hint').textContent = Number.isInteger(bp) && bp >= 0
        ? `${(bp / 100).toLocaleString()}% of the amount: a purchase of ${money(amount, st.currency)} earns ${num(Math.floor(amount * bp / 10000))} points.`
        : '100 basis points = 1% of the amount, in points.';
}

/** A number when the text is one; else the text itself, so the API names the bad field. */
function numOrText(v) {
    const t = String(v).trim();
    if (t === '') return null;
    const n = Number(t);
    return Number.isFinite(n) ? n : t;
}

async function saved(form) {
    const s = $('.saved', form);
    if (!s) return;
    s.textContent = 'Saved.';
    setTimeout(() => (s.textContent = ''), 3000);
}

async function saveRules(e) {
    e.preventDefault();
    const f = e.target;
    const w = numOrText($('#r-window').value);
    const rules = {
        earn_rate_bp: numOrText($('#r-earn').value),
        referral_bonus: numOrText($('#r-ref').value),
        friend_bonus: numOrText($('#r-friend').value),
        credit_window_s: typeof w === 'number' ? Math.round(w * Number($('#r-window-unit').value)) : w,
        max_referrals_per_share: numOrText($('#r-cap').value),
    };
    await busy(f, async () => {
        clearErrors(f);
        try {
            st.me = (await st.api.patch('/v1/merchants/me', { rules })).merchant;
            fillRules();
            saved(f);
        } catch (err) {
            showFieldError(f, err);
        }
    });
}

function fillStore() {
    const m = st.me, f = $('#store-form');
    f.name.value = m.name;
    f.category.value = m.category || '';
    f.address.value = m.address || '';
    f.lat.value = m.lat;
    f.lon.value = m.lon;
    f.currency.value = m.currency;
}

async function saveStore(e) {
    e.preventDefault();
    const f = e.target;
    const body = {
        name: f.name.value.trim(),
        category: f.category.value.trim(),
        address: f.address.value.trim(),
        lat: numOrText(f.lat.value),
        lon: numOrText(f.lon.value),
        currency: f.currency.value.trim().toUpperCase(),
    };
    await busy(f, async () => {
        clearErrors(f);
        try {
            st.me = (await st.api.patch('/v1/merchants/me', body)).merchant;
            st.currency = st.me.currency;
            fillStore();
            showStoreName();
            saved(f);
        } catch (err) {
            showFieldError(f, err);
        }
    });
}

let offerSeq = 0;
function offerRow(o) {
    const n = ++offerSeq;
    const ends = o.ends_at ? new Date(o.ends_at - new Date(o.ends_at).getTimezoneOffset() * 60000).toISOString().slice(0, 10) : '';
    const li = h('li', { class: 'offer' },
        h('div', { class: 'field grow' }, h('label', { for: `o-title-${n}` }, 'Offer'),
            h('input', { id: `o-title-${n}`, name: 'title', maxlength: 120, value: o.title, placeholder: '10% off any soup before noon' })),
        h('div', { class: 'field' }, h('label', { for: `o-pct-${n}` }, 'Discount %'),
            h('input', { id: `o-pct-${n}`, name: 'discount_pct', type: 'number', inputmode: 'numeric', class: 'short', value: o.discount_pct })),
        h('div', { class: 'field' }, h('label', { for: `o-ends-${n}` }, 'Ends (optional)'),
            h('input', { id: `o-ends-${n}`, name: 'ends', type: 'date', value: ends })),
        h('button', {
            type: 'button', class: 'btn btn-quiet remove', 'aria-label': 'Remove this offer',
            onclick: () => {
                li.remove();
                renumberOffers();
            },
        }, 'Remove'));
    return li;
}

/** Points each row's inputs at the API's field names (offers[i].title ...) for errors. */
function renumberOffers() {
    $$('#offers li').forEach((li, i) => {
        $('[name=title]', li).dataset.field = `offers[${i}].title`;
        $('[name=discount_pct]', li).dataset.field = `offers[${i}].discount_pct`;
        $('[name=ends]', li).dataset.field = `offers[${i}].ends_at`;
    });
    const empty = !$('#offers').children.length;
    $('#offers').classList.toggle('is-empty', empty);
}

function fillOffers() {
    fill($('#offers'), (st.me.offers || []).map(offerRow));
    renumberOffers();
}

async function saveOffers(e) {
    e.preventDefault();
    const f = e.target;
    const offers = $$('#offers li').map((li) => {
        const o = { title: $('[name=title]', li).value.trim(), discount_pct: numOrText($('[name=discount_pct]', li).value) };
        const ends = $('[name=ends]', li).value;
        if (ends) o.ends_at = new Date(`${ends}T23:59:59`).getTime();
        return o;
    });
    clearErrors(f);
    // Checked here first so that the message lands on the right row (the API's ranges).
    for (const [i, o] of offers.entries()) {
        const chars = [...o.title].length;
        const bad = chars < 1 || chars > 120 ? [`offers[${i}].title`, 'must be 1 to 120 characters']
            : !Number.isInteger(o.discount_pct) || o.discount_pct < 1 || o.discount_pct > 90
                ? [`offers[${i}].discount_pct`, 'must be an integer between 1 and 90'] : null;
        if (bad) return showFieldError(f, new ApiError(422, 'invalid', `${bad[0]}: ${bad[1]}`));
    }
    await busy(f, async () => {
        try {
            st.me = (await st.api.patch('/v1/merchants/me', { offers })).merchant;
            fillOffers();
            saved(f);
        } catch (err) {
            showFieldError(f, err);
        }
    });
}

function fillRewards() {
    const list = st.me.rewards || [];
    fill($('#rewards'), list.length
        ? list.map((r) => h('li', {}, h('span', {}, r.title), h('span', { class: 'cost' }, `${num(r.cost)} pts`)))
        : h('li', { class: 'muted' }, 'No rewards yet.'));
}

async function addReward(e) {
    e.preventDefault();
    const f = e.target;
    const body = { title: f.title.value.trim(), cost: numOrText(f.cost.value) };
    await busy(f, async () => {
        clearErrors(f);
        try {
            const r = await st.api.post('/v1/merchants/me/rewards', body);
            st.me.rewards = [r.reward, ...(st.me.rewards || [])];
            fillRewards();
            f.reset();
            toast(`Reward “${r.reward.title}” added.`);
        } catch (err) {
            showFieldError(f, err);
        }
    });
}

init();
