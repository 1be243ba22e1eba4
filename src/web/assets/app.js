// The customer web app (phone-first): sign-up, wallet and ledger, nearby stores with offers
// and rewards, my purchases with Share, friends, and live notifications over /v1/stream.
import {
    $, $$, h, fill, money, num, points, timeEl, tickTimes, session, takeSecretFromHash, client,
    Stream, toast, showFieldError, clearErrors, busy, nameCache, tabs, duration, ago, newKey, remaining,
} from './lib.js';

// Places a person may type instead of sharing their location (no geocoder: the binary works
// offline). Seoul neighbourhoods, where the --demo city is.
const PLACES = [
    ['Hongdae', 37.5563, 126.9236], ['Yeonnam-dong', 37.5627, 126.9255], ['Mangwon-dong', 37.5556, 126.9015],
    ['Sinchon', 37.5598, 126.9425], ['Seongsu-dong', 37.5445, 127.0557], ['Itaewon', 37.5345, 126.9946],
    ['Hannam-dong', 37.5340, 127.0026], ['Gangnam', 37.4979, 127.0276], ['Garosu-gil', 37.5205, 127.0230],
    ['Myeongdong', 37.5636, 126.9827], ['Insadong', 37.5740, 126.9850], ['Bukchon', 37.5826, 126.9836],
    ['Euljiro', 37.5660, 126.9910], ['Seoul Station', 37.5547, 126.9707], ['Yeouido', 37.5219, 126.9245],
];
const RADIUS_M = 3000;

const st = {
    api: null,
    token: null,
    me: null,
    balance: 0,
    stream: null,
    merchants: null, // id -> merchant (public profile)
    users: null, // id -> {id, name}
    ledgerNext: null,
    shares: new Map(), // purchase id -> share
    purchases: new Map(), // purchase id -> purchase
    friends: { friends: [], incoming: [], outgoing: [] },
    place: null, // {label, lat, lon}
    stale: new Set(),
};

// ---------------------------------------------------------------------------------------
// Start

let showTab;
function init() {
    const fromHash = takeSecretFromHash('token');
    if (fromHash) session.set('userToken', fromHash);
    $('#signup-form').addEventListener('submit', onSignup);
    $('#token-form').addEventListener('submit', onTokenSignin);
    $('#signout').addEventListener('click', signOut);
    $('#copy-link').addEventListener('click', () =>
        copy(`${location.origin}/app#token=${encodeURIComponent(st.token)}`, 'Sign-in link copied.'));
    showTab = tabs($('#nav'), onTab);
    setupStores();
    setupFriends();
    setupShare();
    $('#cash-form').addEventListener('submit', redeemCash);
    $('#ledger-more').addEventListener('click', () => loadLedger(false));
    setInterval(tickTimes, 30000);
    const token = session.get('userToken');
    if (token) start(token);
    else showWelcome();
}

function showWelcome(message) {
    $('#home').hidden = true;
    $('#nav').hidden = true;
    $('#balance-chip').hidden = true;
    $('#live').hidden = true;
    $('#welcome').hidden = false;
    if (message) $('#u-token-err').textContent = message;
}

async function onSignup(e) {
    e.preventDefault();
    const f = e.target;
    const body = { name: f.name.value.trim() };
    if (f.handle.value.trim()) body.handle = f.handle.value.trim().toLowerCase();
    if (f.phone.value.trim()) body.phone = f.phone.value.replace(/[\s-]/g, '');
    await busy(f, async () => {
        clearErrors(f);
        try {
            const r = await client(null).post('/v1/users', body);
            await start(r.token);
            toast('Your wallet is ready. Your sign-in link is under Friends.', { title: `Welcome, ${r.user.name}` });
        } catch (err) {
            // 409 handle_taken / phone_taken name no field: put them next to theirs.
            if (err.code === 'handle_taken') err.field = 'handle', err.detail = 'This handle is taken. Try another.';
            if (err.code === 'phone_taken') err.field = 'phone', err.detail = 'This phone number already has an account.';
            showFieldError(f, err);
        }
    });
}

async function onTokenSignin(e) {
    e.preventDefault();
    const t = e.target.token.value.trim();
    clearErrors(e.target);
    if (!t) {
        $('#u-token-err').textContent = 'Paste your token (it starts with ut_).';
        return;
    }
    await busy(e.target, () => start(t));
}

function signOut() {
    session.set('userToken', null);
    if (st.stream) st.stream.stop();
    location.assign('/app');
}

async function start(token) {
    const api = client(token, {
        onUnauthorized: () => {
            session.set('userToken', null);
            if (st.stream) st.stream.stop();
            showWelcome('This sign-in is not valid (any more). Sign up or paste your token.');
        },
    });
    let me;
    try {
        me = await api.get('/v1/me');
    } catch (err) {
        if (err.status === 403) {
            session.set('userToken', null);
            showWelcome('That is a merchant key: it opens the dashboard at /dashboard.');
        } else if (err.status !== 401) {
            showWelcome(err.message);
        }
        return;
    }
    session.set('userToken', token);
    st.api = api;
    st.token = token;
    st.me = me.user;
    st.merchants = nameCache((id) => api.get(`/v1/merchants/${encodeURIComponent(id)}`).then((r) => r.merchant));
    st.users = nameCache((id) => api.get(`/v1/users/${encodeURIComponent(id)}`).then((r) => r.user));
    setBalance(me.balance, false);
    $('#welcome').hidden = true;
    $('#home').hidden = false;
    $('#nav').hidden = false;
    $('#balance-chip').hidden = false;
    $('#live').hidden = false;
    $('#hello-name').textContent = `${st.me.name}${st.me.handle ? ` · @${st.me.handle}` : ''}`;
    $('#me-line').textContent = `${st.me.name}${st.me.handle ? ` (@${st.me.handle})` : ' — no handle, so friends cannot find you by one'}`;
    st.stream = new Stream(token, { onEvent, onStatus, onReset: () => location.reload() });
    st.stream.start();
    const tab = ['wallet', 'stores', 'purchases', 'friends'].includes(location.hash.slice(1)) ? location.hash.slice(1) : 'wallet';
    showTab(tab);
    await Promise.all([loadLedger(true), loadFriends()]);
    onTab(tab);
}

function onStatus(s) {
    const el = $('#live');
    el.dataset.state = s;
    el.title = s === 'live' ? 'Live' : 'Reconnecting…';
    $('.live-text', el).textContent = s === 'live' ? 'Live updates on' : 'Reconnecting';
}

function onTab(name) {
    history.replaceState(null, '', name === 'wallet' ? location.pathname : `#${name}`);
    if (name === 'wallet' && st.stale.delete('ledger')) loadLedger(true);
    if (name === 'purchases') loadPurchases();
    if (name === 'friends' && st.stale.delete('friends')) loadFriends();
    if (name === 'stores' && !st.place) restorePlace();
}

// ---------------------------------------------------------------------------------------
// Balance, live events and notifications

function setBalance(b, flash = true) {
    st.balance = b;
    for (const el of $$('[data-balance]')) {
        el.textContent = num(b);
        if (flash) {
            el.classList.remove('flash');
            void el.offsetWidth; // restart the animation
            el.classList.add('flash');
        }
    }
    updateRedeemButtons();
}

function onEvent(ev) {
    const d = ev.data || {};
    switch (ev.type) {
    case 'points.earned': {
        setBalance(d.balance);
        const store = d.merchant?.name || 'a store';
        const friend = d.friend?.name;
        if (d.kind === 'referral') {
            notify(`${friend || 'A friend'} bought at ${store} thanks to your share.`, `${points(d.points)} points`, 'referral');
        } else if (d.kind === 'friend_bonus') {
            notify(`Friend bonus at ${store}: ${friend || 'a friend'} shared it with you.`, `${points(d.points)} points`, 'bonus');
        } else {
            notify(`You earned points at ${store}.`, `${points(d.points)} points`, 'earn');
        }
        stale('ledger');
        stale('purchases');
        break;
    }
    case 'points.reversed':
        setBalance(d.balance);
        notify(`A purchase at ${d.merchant?.name || 'a store'} was refunded.`, `${points(d.points)} points`, 'reversal');
        stale('ledger');
        stale('purchases');
        break;
    case 'points.redeemed':
        setBalance(d.balance);
        stale('ledger');
        break;
    case 'friend.request':
        notify(`${d.from?.name || 'Someone'} wants to be your friend.`, 'Friend request', 'friend');
        stale('friends');
        break;
    case 'friend.accepted':
        notify(`${d.friend?.name || 'Someone'} accepted your friend request.`, 'New friend', 'friend');
        stale('friends');
        break;
    default:
        break;
    }
}

/** Marks a list out of date: reloaded now if its tab is open, else when it is opened. */
const staleTimers = {};
function stale(what) {
    const visible = { ledger: '#p-wallet', purchases: '#p-purchases', friends: '#p-friends' }[what];
    if (what === 'friends') {
        clearTimeout(staleTimers.f);
        staleTimers.f = setTimeout(loadFriends, 300); // the badge counts incoming asks
        return;
    }
    if (!$(visible).hidden) {
        clearTimeout(staleTimers[what]);
        staleTimers[what] = setTimeout(() => (what === 'ledger' ? loadLedger(true) : loadPurchases()), 400);
    } else {
        st.stale.add(what);
    }
}

/** A notification: a toast, and the latest few kept on the wallet. */
function notify(text, title, kind) {
    toast(text, { title, kind: 'live', ms: 7000 });
    const note = h('div', { class: `note note-${kind} new` },
        h('strong', {}, title), h('span', {}, ` ${text}`), timeEl(Date.now()));
    const notes = $('#notes');
    notes.prepend(note);
    while (notes.children.length > 3) notes.lastElementChild.remove();
    setTimeout(() => note.classList.remove('new'), 2500);
}

// ---------------------------------------------------------------------------------------
// Wallet: ledger (GET /v1/me/ledger) and cash redemption

async function loadLedger(reset) {
    let url = '/v1/me/ledger?limit=30';
    if (!reset && st.ledgerNext) url += `&before=${encodeURIComponent(st.ledgerNext)}`;
    let r;
    try {
        [r] = await Promise.all([st.api.get(url), reset ? refreshBalance() : null]);
    } catch (err) {
        if (err.status !== 401) toast(err.message, { kind: 'error' });
        return;
    }
    st.ledgerNext = r.next;
    const list = $('#ledger');
    if (reset) list.replaceChildren();
    for (const e of r.entries) list.append(ledgerRow(e));
    if (!list.children.length) list.append(h('li', { class: 'muted empty' }, 'Nothing yet: your first purchase at a store shows here.'));
    $('#ledger-more').hidden = !r.next;
}

async function refreshBalance() {
    const me = await st.api.get('/v1/me');
    setBalance(me.balance, false);
}

const REVERSED = { purchase: 'points of a purchase', referral: 'a referral bonus', friend_bonus: 'a friend bonus' };

function ledgerRow(e) {
    const reason = h('span', { class: 'reason' }, '…');
    const li = h('li', { class: `entry entry-${e.kind}` },
        h('div', {}, reason, h('div', {}, timeEl(e.created_at))),
        h('span', { class: `pts ${e.points < 0 ? 'neg' : ''}` }, points(e.points)));
    Promise.all([st.merchants.get(e.merchant_id), st.users.get(e.friend_id)]).then(([m, f]) => {
        const store = m?.name || 'a store';
        const friend = f?.name || 'a friend';
        reason.textContent = {
            purchase: `Purchase at ${store}`,
            referral: `${friend} bought at ${store} with your share`,
            friend_bonus: `Friend bonus: ${friend}'s share of ${store}`,
            redemption: e.merchant_id ? `Reward redeemed at ${store}` : 'Redeemed as cash',
            reversal: `Refund at ${store}: ${REVERSED[e.reversed_kind] || 'points'} taken back`,
        }[e.kind] || e.kind;
    });
    return li;
}

async function redeemCash(e) {
    e.preventDefault();
    const f = e.target;
    const raw = f.cash_points.value.trim();
    const n = Number(raw);
    await busy(f, async () => {
        clearErrors(f);
        try {
            const r = await st.api.post('/v1/redemptions', { cash_points: Number.isFinite(n) && raw !== '' ? n : raw },
                { idempotencyKey: newKey() });
            setBalance(r.balance);
            f.reset();
            toast(`${num(r.redemption.points)} points redeemed as cash.`, { title: 'Redeemed' });
            loadLedger(true);
        } catch (err) {
            if (err.code === 'insufficient_points') err.field = 'cash_points', err.detail = `You have ${num(st.balance)} points.`;
            showFieldError(f, err);
        }
    });
}

// ---------------------------------------------------------------------------------------
// Stores nearby (GET /v1/merchants?lat&lon) with offers and rewards; redeem a reward

function setupStores() {
    fill($('#places'), PLACES.map(([name]) => h('option', { value: name })));
    $('#place-form').addEventListener('submit', (e) => {
        e.preventDefault();
        const text = $('#place').value.trim();
        const p = parsePlace(text);
        clearErrors(e.target);
        if (!p) {
            $('#place-err').textContent = 'Pick a neighbourhood from the list (e.g. Hongdae) or type coordinates like 37.55, 126.92.';
            $('#place').setAttribute('aria-invalid', 'true');
            return;
        }
        setPlace(p);
    });
    $('#locate').addEventListener('click', locate);
}

function parsePlace(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*[, ]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
    if (m) {
        const lat = Number(m[1]), lon = Number(m[2]);
        if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180) return { label: `${lat}, ${lon}`, lat, lon };
        return null;
    }
    const t = text.toLowerCase().replace(/[\s-]/g, '');
    if (!t) return null;
    const hit = PLACES.find(([n]) => n.toLowerCase().replace(/[\s-]/g, '') === t)
        || PLACES.find(([n]) => n.toLowerCase().replace(/[\s-]/g, '').startsWith(t));
    return hit ? { label: hit[0], lat: hit[1], lon: hit[2] } : null;
}

function restorePlace() {
    try {
        const p = JSON.parse(session.get('place') || 'null');
        if (p && Number.isFinite(p.lat) && Number.isFinite(p.lon)) {
            $('#place').value = p.label;
            setPlace(p);
            return;
        }
    } catch {
        /* ignore */
    }
    $('#place-now').textContent = 'Use your location, or type where you are.';
}

function locate() {
    if (!navigator.geolocation) {
        $('#place-now').textContent = 'This browser cannot tell your location: type a place instead.';
        return;
    }
    $('#place-now').textContent = 'Finding you…';
    navigator.geolocation.getCurrentPosition(
        (pos) => setPlace({ label: 'your location', lat: pos.coords.latitude, lon: pos.coords.longitude }),
        () => ($('#place-now').textContent = 'Your location is not available: type a place instead.'),
        { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 });
}

async function setPlace(p) {
    st.place = p;
    session.set('place', JSON.stringify(p));
    $('#place-now').textContent = `Searching near ${p.label}…`;
    let r;
    try {
        r = await st.api.get(`/v1/merchants?lat=${p.lat}&lon=${p.lon}&radius_m=${RADIUS_M}&limit=30`);
    } catch (err) {
        $('#place-now').textContent = err.message;
        return;
    }
    $('#place-now').textContent = r.merchants.length
        ? `${r.merchants.length} store${r.merchants.length === 1 ? '' : 's'} within ${RADIUS_M / 1000} km of ${p.label}.`
        : `No store within ${RADIUS_M / 1000} km of ${p.label} yet.`;
    fill($('#stores'), r.merchants.map(storeCard));
    updateRedeemButtons();
}

function distance(m) {
    return m < 1000 ? `${Math.round(m / 10) * 10} m` : `${(m / 1000).toFixed(1)} km`;
}

function storeCard(m) {
    st.merchants.set(m.id, m);
    const now = Date.now();
    const offers = (m.offers || []).filter((o) => !o.ends_at || o.ends_at > now);
    const map = `https://www.openstreetmap.org/?mlat=${m.lat}&mlon=${m.lon}#map=18/${m.lat}/${m.lon}`;
    return h('li', { class: 'store card' },
        h('div', { class: 'store-head' },
            h('h2', {}, m.name),
            h('span', { class: 'muted small' }, [m.category, distance(m.distance_m)].filter(Boolean).join(' · '))),
        m.address ? h('p', { class: 'small' }, m.address, ' · ', h('a', { href: map, target: '_blank', rel: 'noopener' }, 'map')) : null,
        h('p', { class: 'small muted' }, `Earn ${(m.rules.earn_rate_bp / 100).toLocaleString()}% in points · `,
            `share and get ${num(m.rules.referral_bonus)} points per friend who buys within ${duration(m.rules.credit_window_s)}`),
        offers.length ? h('ul', { class: 'offers-list', 'aria-label': `Offers at ${m.name}` }, offers.map((o) =>
            h('li', { class: 'offer-chip' }, h('strong', {}, `${o.discount_pct}% off`), ` ${o.title}`,
                o.ends_at ? h('span', { class: 'muted small' }, ` · until ${new Date(o.ends_at).toLocaleDateString()}`) : null))) : null,
        (m.rewards || []).length ? h('ul', { class: 'rewards-list', 'aria-label': `Rewards at ${m.name}` }, m.rewards.map((rw) =>
            h('li', {},
                h('span', {}, rw.title),
                h('button', {
                    type: 'button', class: 'btn btn-small redeem', dataset: { cost: rw.cost },
                    'aria-label': `Redeem ${rw.title} for ${num(rw.cost)} points`,
                    onclick: (e) => redeemReward(e.currentTarget, m, rw),
                }, `${num(rw.cost)} pts`)))) : null);
}

function updateRedeemButtons() {
    for (const b of $$('button.redeem')) {
        const short = Number(b.dataset.cost) > st.balance;
        b.disabled = short;
        b.title = short ? `You need ${num(Number(b.dataset.cost) - st.balance)} more points` : '';
    }
}

async function redeemReward(btn, m, rw) {
    if (!confirm(`Redeem “${rw.title}” at ${m.name} for ${num(rw.cost)} points?`)) return;
    btn.disabled = true;
    try {
        const r = await st.api.post('/v1/redemptions', { reward_id: rw.id }, { idempotencyKey: newKey() });
        setBalance(r.balance);
        toast(`Show this at the counter: “${rw.title}” at ${m.name}.`, { title: 'Redeemed', ms: 10000 });
        stale('ledger');
    } catch (err) {
        toast(err.code === 'insufficient_points' ? 'Not enough points yet.' : err.message, { kind: 'error' });
    } finally {
        updateRedeemButtons();
    }
}

// ---------------------------------------------------------------------------------------
// My purchases (GET /v1/me/purchases, GET /v1/me/shares) and sharing (POST /v1/shares)

async function loadPurchases() {
    st.stale.delete('purchases');
    let pr, sh;
    try {
        [pr, sh] = await Promise.all([st.api.get('/v1/me/purchases?limit=50'), st.api.get('/v1/me/shares?limit=200')]);
    } catch (err) {
        if (err.status !== 401) toast(err.message, { kind: 'error' });
        return;
    }
    st.shares = new Map(sh.shares.map((s) => [s.purchase_id, s]));
    st.purchases = new Map(pr.purchases.map((p) => [p.id, p]));
    fill($('#purchases'), pr.purchases.map(purchaseRow));
    $('#purchases-empty').hidden = pr.purchases.length > 0;
}

function purchaseRow(p) {
    const share = st.shares.get(p.id);
    const mine = (p.awards || []).filter((a) => a.user_id === st.me.id).reduce((s, a) => s + a.points, 0);
    const name = h('strong', { class: 'store-name' }, '…');
    st.merchants.get(p.merchant_id).then((m) => (name.textContent = m?.name || 'a store'));
    let action;
    if (share) {
        const url = `${location.origin}/s/${share.id}`;
        const live = share.expires_at > Date.now();
        action = h('div', { class: 'shared' },
            h('span', { class: 'badge badge-ref' }, `shared as ${share.channel}`), ' ',
            h('span', { class: 'small muted' }, live
                ? `friends can use it for ${remaining(share.expires_at)} more`
                : 'window closed', ` · ${share.referrals} friend${share.referrals === 1 ? '' : 's'} came`),
            h('div', {}, h('a', { href: url, target: '_blank', rel: 'noopener', class: 'small' }, 'open link'), ' ',
                h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: () => copy(url, 'Link copied.') }, 'Copy link')));
    } else if (p.refunded_at) {
        action = h('span', { class: 'badge badge-refund' }, 'refunded');
    } else {
        action = h('button', {
            type: 'button', class: 'btn btn-primary btn-small share-btn',
            'aria-label': `Share this purchase`, onclick: () => openShare(p, name.textContent),
        }, 'Share');
    }
    return h('li', { class: `purchase card${p.refunded_at ? ' refunded' : ''}`, dataset: { id: p.id } },
        h('div', { class: 'purchase-head' }, name, h('span', { class: 'amount' }, money(p.amount, p.currency))),
        h('div', { class: 'small muted' }, timeEl(p.created_at),
            mine ? h('span', {}, ` · ${points(mine)} points`) : null,
            p.referral ? h('span', {}, ' · with a friend\'s share') : null),
        action);
}

let sharing = null;
function setupShare() {
    const dlg = $('#share-dialog');
    const msg = $('#share-message');
    msg.addEventListener('input', () => ($('#share-count').textContent = `${[...msg.value].length} / 280`));
    $('#share-cancel').addEventListener('click', () => dlg.close());
    $('#share-close').addEventListener('click', () => dlg.close());
    $('#share-copy').addEventListener('click', () => copy($('#share-link').href, 'Link copied.'));
    $('#share-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const f = e.target;
        const body = { purchase_id: sharing.id, channel: f.channel.value };
        if (msg.value.trim()) body.message = msg.value.trim();
        await busy(f, async () => {
            clearErrors(f);
            try {
                const r = await st.api.post('/v1/shares', body);
                const url = `${location.origin}/s/${r.share.id}`;
                $('#share-link').href = url;
                $('#share-link').textContent = url;
                $('#share-done-text').textContent = `Friends who buy at ${sharingName} within ` +
                    `${duration(Math.round((r.share.expires_at - r.share.created_at) / 1000))} earn you points.`;
                f.hidden = true;
                $('#share-done').hidden = false;
                $('#share-copy').focus();
                if (navigator.share && body.channel === 'link') navigator.share({ url, text: body.message }).catch(() => {});
                loadPurchases();
            } catch (err) {
                showFieldError(f, err);
            }
        });
    });
}

let sharingName = '';
function openShare(p, storeName) {
    sharing = p;
    sharingName = storeName;
    const f = $('#share-form');
    f.reset();
    clearErrors(f);
    f.hidden = false;
    $('#share-done').hidden = true;
    $('#share-count').textContent = '0 / 280';
    $('#share-what').textContent = `${storeName} · ${money(p.amount, p.currency)} · ${ago(p.created_at)}`;
    $('#share-dialog').showModal();
    $('#share-message').focus();
}

// ---------------------------------------------------------------------------------------
// Friends (GET /v1/friends, PUT/DELETE /v1/friends/{id}, GET /v1/users?handle=)

function setupFriends() {
    $('#find-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const f = e.target;
        const handle = f.handle.value.trim().replace(/^@/, '').toLowerCase();
        clearErrors(f);
        fill($('#found'));
        if (!/^[a-z0-9_]{3,32}$/.test(handle)) {
            $('#find-err').textContent = 'A handle is 3 to 32 of a–z, 0–9 and _.';
            $('#find-handle').setAttribute('aria-invalid', 'true');
            return;
        }
        await busy(f, async () => {
            try {
                const r = await st.api.get(`/v1/users?handle=${encodeURIComponent(handle)}`);
                fill($('#found'), foundCard(r.user));
            } catch (err) {
                $('#find-err').textContent = err.status === 404 ? `Nobody has the handle @${handle}.` : err.message;
            }
        });
    });
}

function foundCard(u) {
    const id = u.id;
    const rel = id === st.me.id ? 'you'
        : st.friends.friends.some((x) => x.user.id === id) ? 'friends'
        : st.friends.outgoing.some((x) => x.user.id === id) ? 'asked'
        : st.friends.incoming.some((x) => x.user.id === id) ? 'incoming' : null;
    const action = rel === 'you' ? h('span', { class: 'muted' }, 'That is you')
        : rel === 'friends' ? h('span', { class: 'badge' }, 'friends')
        : rel === 'asked' ? h('span', { class: 'badge' }, 'asked')
        : h('button', { type: 'button', class: 'btn btn-primary btn-small', onclick: () => askFriend(u) },
            rel === 'incoming' ? 'Accept' : 'Add friend');
    return h('div', { class: 'person card', role: 'status' }, personLabel(u), action);
}

function personLabel(u) {
    return h('span', { class: 'person-name' }, h('strong', {}, u.name), u.handle ? h('span', { class: 'muted small' }, ` @${u.handle}`) : null);
}

async function askFriend(u) {
    try {
        const r = await st.api.put(`/v1/friends/${encodeURIComponent(u.id)}`);
        toast(r.status === 'friends' ? `You and ${u.name} are friends now.` : `Asked ${u.name}. They will see your request.`);
        fill($('#found'));
        $('#find-handle').value = '';
        loadFriends();
    } catch (err) {
        toast(err.message, { kind: 'error' });
    }
}

async function dropFriend(u, what) {
    if (what === 'friend' && !confirm(`Remove ${u.name} from your friends?`)) return;
    try {
        await st.api.del(`/v1/friends/${encodeURIComponent(u.id)}`);
        loadFriends();
    } catch (err) {
        toast(err.message, { kind: 'error' });
    }
}

async function loadFriends() {
    let r;
    try {
        r = await st.api.get('/v1/friends');
    } catch (err) {
        if (err.status !== 401) toast(err.message, { kind: 'error' });
        return;
    }
    st.friends = r;
    fill($('#friends'), r.friends.length
        ? r.friends.map((f) => h('li', { class: 'person' }, personLabel(f.user),
            h('span', { class: 'muted small' }, `since ${new Date(f.since).toLocaleDateString()}`),
            h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Remove ${f.user.name}`, onclick: () => dropFriend(f.user, 'friend') }, 'Remove')))
        : h('li', { class: 'muted' }, 'No friends yet: find them by their handle above.'));
    fill($('#incoming'), r.incoming.map((f) => h('li', { class: 'person' }, personLabel(f.user),
        h('span', { class: 'btn-group' },
            h('button', { type: 'button', class: 'btn btn-primary btn-small', 'aria-label': `Accept ${f.user.name}`, onclick: () => askFriend(f.user) }, 'Accept'),
            h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Decline ${f.user.name}`, onclick: () => dropFriend(f.user, 'ask') }, 'Decline')))));
    fill($('#outgoing'), r.outgoing.map((f) => h('li', { class: 'person' }, personLabel(f.user),
        h('button', { type: 'button', class: 'btn btn-small btn-quiet', 'aria-label': `Cancel your request to ${f.user.name}`, onclick: () => dropFriend(f.user, 'ask') }, 'Cancel'))));
    $('#incoming-box').hidden = !r.incoming.length;
    $('#outgoing-box').hidden = !r.outgoing.length;
    const badge = $('#friends-badge');
    badge.hidden = !r.incoming.length;
    badge.textContent = r.incoming.length ? String(r.incoming.length) : '';
    badge.setAttribute('aria-label', `${r.incoming.length} friend request${r.incoming.length === 1 ? '' : 's'}`);
}

// ---------------------------------------------------------------------------------------

async function copy(text, done) {
    try {
        await navigator.clipboard.writeText(text);
        toast(done);
    } catch {
        prompt('Copy this:', text);
    }
}

init();
