// Charts of the dashboard, drawn as SVG by hand: purchases per hour (direct / referred),
// the word-of-mouth cascade (who brought whom) and the top ambassadors.
import { s, h, moneyShort, money, num } from './lib.js';

/** Round "nice" step for an axis covering 0..max with about n ticks. */
function niceStep(max, n = 4) {
    if (max <= 0) return 1;
    const raw = max / n;
    const p = 10 ** Math.floor(Math.log10(raw));
    const f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

// ---------------------------------------------------------------------------------------
// Purchases per hour

/**
 * buckets: [{at (hour start, ms), direct, referred}] oldest first. Returns an <svg>.
 */
export function hourlyChart(buckets) {
    const W = 720, H = 220, L = 34, R = 8, T = 10, B = 26;
    const iw = W - L - R, ih = H - T - B;
    const max = Math.max(1, ...buckets.map((b) => b.direct + b.referred));
    const step = Math.max(1, niceStep(max));
    const top = Math.ceil(max / step) * step;
    const y = (v) => T + ih - (v / top) * ih;
    const bw = iw / Math.max(1, buckets.length);
    const totalD = buckets.reduce((a, b) => a + b.direct, 0);
    const totalR = buckets.reduce((a, b) => a + b.referred, 0);
    const svg = s('svg', {
        viewBox: `0 0 ${W} ${H}`, class: 'chart chart-hourly', role: 'img',
        'aria-label': `Purchases per hour over the last ${buckets.length} hours: ${totalD} direct, ${totalR} referred.`,
    });
    for (let v = 0; v <= top; v += step) {
        svg.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
            s('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, String(v)));
    }
    buckets.forEach((b, i) => {
        const x = L + i * bw + bw * 0.15, w = bw * 0.7;
        const hour = new Date(b.at).getHours();
        const g = s('g', { class: 'bar' },
            s('title', {}, `${String(hour).padStart(2, '0')}:00–${String((hour + 1) % 24).padStart(2, '0')}:00 — ` +
                `${b.direct} direct, ${b.referred} referred`));
        if (b.direct) g.append(s('rect', { x, width: w, y: y(b.direct), height: y(0) - y(b.direct), class: 'direct' }));
        if (b.referred) {
            g.append(s('rect', {
                x, width: w, y: y(b.direct + b.referred), height: y(b.direct) - y(b.direct + b.referred),
                class: 'referred',
            }));
        }
        // An invisible full-height target so that the tooltip shows anywhere in the column.
        g.append(s('rect', { x: L + i * bw, width: bw, y: T, height: ih, class: 'hit' }));
        svg.append(g);
        if (i % 3 === 0 || i === buckets.length - 1) {
            svg.append(s('text', { x: x + w / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' },
                `${String(hour).padStart(2, '0')}h`));
        }
    });
    svg.append(s('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'baseline' }));
    return svg;
}

// ---------------------------------------------------------------------------------------
// Word-of-mouth cascade

const MAX_ROOTS = 6, MAX_CHILDREN = 6, MAX_DEPTH = 6;

/**
 * Builds the forest of who brought whom from referral edges
 * [{sharer: {id, name}, buyer: {id, name}, purchases, revenue}]. A user brought by two
 * sharers appears under both; a user already expanded elsewhere, or an edge back to an
 * ancestor (a cycle), is a leaf. Each node's `branch` is the revenue of its own edge plus
 * every branch below it. Returns roots sorted by branch revenue.
 */
export function buildCascade(edges) {
    const out = new Map(), names = new Map(), brought = new Set();
    for (const e of edges) {
        names.set(e.sharer.id, e.sharer.name);
        names.set(e.buyer.id, e.buyer.name);
        if (e.sharer.id === e.buyer.id) continue;
        if (!out.has(e.sharer.id)) out.set(e.sharer.id, []);
        out.get(e.sharer.id).push(e);
        brought.add(e.buyer.id);
    }
    let rootIds = [...out.keys()].filter((id) => !brought.has(id));
    const expanded = new Set();
    const build = (id, edge, path, depth) => {
        const node = {
            id, name: names.get(id) || 'someone', revenue: edge ? edge.revenue : 0,
            purchases: edge ? edge.purchases : 0, children: [], repeat: false,
        };
        if (expanded.has(id) || path.has(id) || depth >= MAX_DEPTH) {
            node.repeat = out.has(id);
        } else {
            expanded.add(id);
            path.add(id);
            for (const e of out.get(id) || []) {
                if (path.has(e.buyer.id)) continue; // a cycle: the edge back is not drawn
                node.children.push(build(e.buyer.id, e, path, depth + 1));
            }
            path.delete(id);
        }
        node.children.sort((a, b) => b.branch - a.branch);
        node.branch = node.revenue + node.children.reduce((a, c) => a + c.branch, 0);
        return node;
    };
    const roots = rootIds.map((id) => build(id, null, new Set(), 0));
    // Sharers only reachable through a cycle have no root yet.
    for (const id of out.keys()) if (!expanded.has(id)) roots.push(build(id, null, new Set(), 0));
    roots.sort((a, b) => b.branch - a.branch);
    return roots;
}

/** Draws the forest from buildCascade as a left-to-right tree. Returns an <svg> (or null). */
export function cascadeChart(roots, currency) {
    if (!roots.length) return null;
    const rowH = 30, colW = 165, padL = 12, padT = 16;
    // Prune to what fits on a screen, with "+k more" leaves.
    const prune = (n) => {
        const kids = n.children.slice(0, MAX_CHILDREN).map(prune);
        const rest = n.children.slice(MAX_CHILDREN);
        if (rest.length) {
            kids.push({
                more: rest.length, branch: rest.reduce((a, c) => a + c.branch, 0), children: [],
                name: `+${rest.length} more`,
            });
        }
        return { ...n, children: kids };
    };
    const shown = roots.slice(0, MAX_ROOTS).map(prune);
    let leaf = 0, depthMax = 0;
    const place = (n, d) => {
        n.depth = d;
        depthMax = Math.max(depthMax, d);
        if (!n.children.length) n.y = leaf++;
        else {
            n.children.forEach((c) => place(c, d + 1));
            n.y = (n.children[0].y + n.children[n.children.length - 1].y) / 2;
        }
    };
    shown.forEach((r) => {
        place(r, 0);
        leaf += 0.5; // a gap between trees
    });
    const W = padL + (depthMax + 1) * colW, H = padT * 2 + Math.max(1, leaf - 0.5) * rowH;
    const maxBranch = Math.max(1, ...shown.map((r) => r.branch));
    const px = (n) => padL + n.depth * colW + 6, py = (n) => padT + n.y * rowH + rowH / 2 - 8;
    const svg = s('svg', {
        viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart chart-cascade', role: 'img',
        'aria-label': `Word-of-mouth cascade: ${roots.length} people started chains of referrals; ` +
            shown.map((r) => `${r.name}'s branch brought ${money(r.branch, currency)}`).join('; ') + '.',
    });
    const edgesG = s('g', { class: 'edges' }), nodesG = s('g', { class: 'nodes' });
    const draw = (n) => {
        for (const c of n.children) {
            const x1 = px(n), y1 = py(n), x2 = px(c), y2 = py(c), mx = (x1 + x2) / 2;
            edgesG.append(s('path', {
                d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
                'stroke-width': (1 + 5 * Math.sqrt(c.branch / maxBranch)).toFixed(1),
                class: c.more ? 'edge more' : 'edge',
            }));
            draw(c);
        }
        const label = n.more ? n.name : n.name + (n.repeat ? ' ↺' : '');
        const sub = n.depth === 0
            ? `branch ${moneyShort(n.branch, currency)}`
            : `${moneyShort(n.branch, currency)}${n.more ? '' : ` · ${n.purchases} buy${n.purchases === 1 ? '' : 's'}`}`;
        nodesG.append(s('g', { class: n.depth === 0 ? 'node root' : n.more ? 'node more' : 'node' },
            s('title', {}, n.more
                ? `${n.more} more people brought ${money(n.branch, currency)}`
                : `${n.name}: ${n.depth === 0 ? 'started this branch' : `${n.purchases} referred purchase(s), ${money(n.revenue, currency)}`}; ` +
                  `branch total ${money(n.branch, currency)}` + (n.repeat ? ' (their own branch is drawn elsewhere)' : '')),
            s('circle', { cx: px(n), cy: py(n), r: n.depth === 0 ? 7 : 5 }),
            s('text', { x: px(n) + 11, y: py(n) - 1, class: 'name' }, label),
            s('text', { x: px(n) + 11, y: py(n) + 12, class: 'sub' }, sub)));
    };
    shown.forEach(draw);
    svg.append(edgesG, nodesG);
    return svg;
}

// ---------------------------------------------------------------------------------------
// Top ambassadors

/** list: stats.top_ambassadors. Returns an <svg> or null. */
export function ambassadorsChart(list, currency) {
    if (!list.length) return null;
    const rowH = 30, L = 150, R = 150, W = 820, T = 4;
    const H = T * 2 + list.length * rowH;
    const max = Math.max(1, ...list.map((a) => a.cascade_revenue));
    const bw = (v) => Math.max(2, ((W - L - R) * v) / max);
    const svg = s('svg', {
        viewBox: `0 0 ${W} ${H}`, class: 'chart chart-ambassadors', role: 'img',
        'aria-label': 'Top ambassadors: ' + list.map((a) =>
            `${a.user.name}, ${a.referrals} referrals, ${money(a.cascade_revenue, currency)} cascade revenue`).join('; '),
    });
    list.forEach((a, i) => {
        const y = T + i * rowH;
        svg.append(s('g', { class: 'amb' },
            s('title', {}, `${a.user.name}: ${a.referrals} referred purchase(s) worth ${money(a.referred_revenue, currency)}; ` +
                `with the friends they brought who brought others, ${money(a.cascade_revenue, currency)}`),
            s('text', { x: L - 10, y: y + 19, 'text-anchor': 'end', class: 'name' },
                a.user.name.length > 20 ? a.user.name.slice(0, 19) + '…' : a.user.name),
            s('rect', { x: L, y: y + 6, width: bw(a.cascade_revenue), height: 18, rx: 3, class: 'cascade' }),
            s('rect', { x: L, y: y + 6, width: bw(a.referred_revenue), height: 18, rx: 3, class: 'direct-ref' }),
            s('text', { x: L + bw(a.cascade_revenue) + 8, y: y + 19, class: 'value' },
                `${moneyShort(a.cascade_revenue, currency)} · ${num(a.referrals)} ref.`)));
    });
    return svg;
}

/** A legend: [[class, label], ...] -> <ul>. */
export function legend(items) {
    return h('ul', { class: 'legend' }, items.map(([cls, label]) =>
        h('li', {}, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), label)));
}
