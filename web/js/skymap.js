// SPDX-License-Identifier: AGPL-3.0-or-later
//
// skymap.js -- the all-sky chart and the list of bodies below the horizon.
//
// The chart is a polar plot of the observer's sky seen LOOKING UP, as a planisphere
// held overhead: zenith at the centre, horizon at the rim, altitude linear in the
// radius (rings at 30° and 60°), north at the top and therefore EAST ON THE LEFT,
// west on the right. Azimuth counts from north through east. The rings and compass
// letters are static SVG in index.html; this file draws one mark per body whose
// apparent altitude is above 0° (`alt` > 0, refraction included), sized by visual
// magnitude when the server sends it (brighter is bigger), the Moon with its phase
// turned towards the Sun. Labels go where they do not collide. The dome is tinted
// by day, twilight or night. Every other body is listed apart with its next rise.
//
// The chart may be turned south up (setSouthUp: everything rotated by 180°, for
// looking up facing north: west then on the left). Every mark is a button (a
// focusable group with role=button, its name and position as its label, and an
// invisible disc of a finger's size around it): the page opens the body's card.

import * as f from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const HORIZON_R = 100;   // SVG units from the zenith to the horizon
const CHAR_W = 5.2;      // label width per character at the chart's font size
const LABEL_H = 9;
const DEG = Math.PI / 180;
// Mark radii (SVG units) without a magnitude: the Sun and the Moon as discs, the
// bright planets a little larger than the faint ones.
const DEFAULT_R = { sun: 7.5, moon: 7, venus: 4.6, jupiter: 4.3, mars: 3.6, saturn: 3.6,
                    mercury: 3.3, uranus: 2.4, neptune: 2.2, pluto: 2 };
// Brighter bodies first: they get the best label spots.
const PRIORITY = ['sun', 'moon', 'venus', 'jupiter', 'mars', 'saturn', 'mercury',
                  'uranus', 'neptune', 'pluto'];

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

function svg(tag, attrs = {}) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
}

/** Whether the chart draws `body`: its apparent altitude is above the horizon. */
export function isOnChart(body) {
    return isNum(body.alt) && isNum(body.az) && body.alt > 0;
}

let southUp = false;

/** Turn the chart: south at the top (true) or north (false). */
export function setSouthUp(on) {
    southUp = Boolean(on);
}

/** Whether the chart is turned south up. */
export function isSouthUp() {
    return southUp;
}

/**
 * Chart coordinates of an azimuth/altitude pair (degrees): north up, east left (or
 * turned by 180° when south up). Altitudes below 0 land outside the horizon circle.
 */
export function project(azDeg, altDeg) {
    const r = HORIZON_R * (90 - altDeg) / 90;
    const k = southUp ? -1 : 1;
    return [-k * r * Math.sin(azDeg * DEG), -k * r * Math.cos(azDeg * DEG)];
}

// Where the compass letters go, north up; south up swaps N with S and E with W.
const CARDINALS = { N: [0, -106], S: [0, 116], E: [-110, 4], W: [110, 4] };
const OPPOSITE = { N: 'S', S: 'N', E: 'W', W: 'E' };

/** Put the chart's compass letters for the orientation, and say it on `svgRoot`. */
export function orientChart(svgRoot) {
    svgRoot.dataset.orientation = southUp ? 'south' : 'north';
    for (const t of svgRoot.querySelectorAll('.cardinal')) {
        const dir = t.dataset.dir;
        const [x, y] = CARDINALS[southUp ? OPPOSITE[dir] : dir];
        t.setAttribute('x', String(x));
        t.setAttribute('y', String(y));
    }
}

/**
 * The mark's radius: from the visual magnitude when known (each magnitude brighter
 * adds half a unit, between 1.7 for the faintest and 8 for the Sun and the Moon),
 * else a default for the body.
 */
export function markRadius(body) {
    if (isNum(body.magnitude)) return Math.min(8, Math.max(1.7, 3.6 - 0.5 * body.magnitude));
    return DEFAULT_R[body.name] ?? 3;
}

/**
 * The direction on the chart (an angle in degrees, clockwise from +x, SVG style) in
 * which `from` sees `to` along the great circle joining them: where the Moon's lit
 * limb faces the Sun.
 */
function chartBearing(from, to) {
    const a1 = from.alt * DEG;
    const a2 = to.alt * DEG;
    const dAz = (to.az - from.az) * DEG;
    // Bearing measured from "towards the zenith" through "towards larger azimuth".
    const b = Math.atan2(Math.sin(dAz) * Math.cos(a2),
                         Math.cos(a1) * Math.sin(a2) - Math.sin(a1) * Math.cos(a2) * Math.cos(dAz));
    const az = from.az * DEG;
    const up = [Math.sin(az), Math.cos(az)];      // towards the centre of the chart
    const along = [-Math.cos(az), Math.sin(az)];  // towards larger azimuth
    const dx = Math.cos(b) * up[0] + Math.sin(b) * along[0];
    const dy = Math.cos(b) * up[1] + Math.sin(b) * along[1];
    return Math.atan2(dy, dx) / DEG + (southUp ? 180 : 0);
}

/**
 * The lit part of a disc of radius `r` lit from +x, for an illuminated fraction
 * `k` (0..1): the bright limb's half circle, closed by the terminator's half ellipse.
 */
function litPath(r, k) {
    const rx = Math.abs(1 - 2 * k) * r;
    const sweep = k > 0.5 ? 1 : 0;
    const R = r.toFixed(2);
    return `M0 ${-R}A${R} ${R} 0 0 1 0 ${R}A${rx.toFixed(2)} ${R} 0 0 ${sweep} 0 ${-R}Z`;
}

// The invisible disc around each mark that takes taps and clicks: at least 44 px
// across on a phone's chart (about 340 px for 244 units).
const HIT_R = 16.5;

function createMark(name) {
    const g = svg('g', { class: 'sky-body', 'data-body': name, tabindex: '0', role: 'button' });
    const disc = svg('g', { class: 'disc' });
    const hit = svg('circle', { class: 'hit', r: String(HIT_R) });
    const label = svg('text', { 'aria-hidden': 'true' });
    label.textContent = f.title(name);
    g.append(hit, disc, label);
    return g;
}

/** (Re)draw the disc of a mark: a plain dot, or the Moon's phase when known. */
function drawDisc(g, body, r, sun) {
    const disc = g.querySelector('.disc');
    const phase = body.name === 'moon' && isNum(body.phase) ? Math.min(1, Math.max(0, body.phase)) : null;
    const key = phase === null ? `dot ${r.toFixed(2)}`
        : `moon ${r.toFixed(2)} ${phase.toFixed(3)} ${sun ? chartBearing(body, sun).toFixed(0) : ''}`;
    if (disc.dataset.key === key) return;
    disc.dataset.key = key;
    disc.replaceChildren();
    if (phase === null) {
        disc.append(svg('circle', { r: r.toFixed(2), class: 'body-dot', 'data-body': body.name }));
        return;
    }
    const angle = sun ? chartBearing(body, sun) : 0;
    disc.append(svg('circle', { r: r.toFixed(2), class: 'moon-dark' }),
                svg('path', { d: litPath(r, phase), class: 'body-dot moon-lit', 'data-body': 'moon',
                              transform: `rotate(${angle.toFixed(1)})` }),
                svg('circle', { r: r.toFixed(2), class: 'moon-rim' }));
}

/** Fill the SVG group `group` with azimuth ticks on the horizon every 10°, longer every 30°. */
export function drawTicks(group) {
    let d = '';
    for (let az = 0; az < 360; az += 10) {
        if (az % 90 === 0) continue; // the cross lines mark N, E, S, W
        const [x0, y0] = project(az, 0);
        const [x1, y1] = project(az, az % 30 === 0 ? 5 : 2.5);
        d += `M${x0.toFixed(2)} ${y0.toFixed(2)}L${x1.toFixed(2)} ${y1.toFixed(2)}`;
    }
    group.replaceChildren(svg('path', { d }));
}

// The chart's fixed text (index.html): ring labels and compass letters, as boxes.
const FIXED_TEXT = [
    { x0: 1, x1: 15, y0: -75, y1: -66 }, { x0: 1, x1: 15, y0: -42, y1: -33 },
    { x0: -6, x1: 6, y0: -115, y1: -103 }, { x0: -6, x1: 6, y0: 107, y1: 118 },
    { x0: -116, x1: -104, y0: -5, y1: 6 }, { x0: 104, x1: 116, y0: -5, y1: 6 },
];

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Place each label beside its dot (right, left, above, below, the four diagonals,
 * then a little farther above or below: the first spot that overlaps no dot, no
 * fixed text of the chart and no label placed before it), or hide it if none is free.
 */
function placeLabels(items) {
    // A dot's box is a little smaller than the dot: a label may graze a round dot's corner.
    const taken = items.map(({ x, y, r }) => ({ x0: x - 0.8 * r, x1: x + 0.8 * r,
                                                y0: y - 0.8 * r, y1: y + 0.8 * r }));
    taken.push(...FIXED_TEXT);
    for (const it of items) {
        const w = it.name.length * CHAR_W;
        const gap = it.r + 2.5;
        const spots = [
            { dx: gap, dy: 3, anchor: 'start', box: [gap, gap + w, -LABEL_H / 2, LABEL_H / 2] },
            { dx: -gap, dy: 3, anchor: 'end', box: [-gap - w, -gap, -LABEL_H / 2, LABEL_H / 2] },
            { dx: 0, dy: -gap - 1.5, anchor: 'middle', box: [-w / 2, w / 2, -gap - LABEL_H, -gap] },
            { dx: 0, dy: gap + 7, anchor: 'middle', box: [-w / 2, w / 2, gap, gap + LABEL_H] },
            { dx: it.r, dy: -it.r - 1.5, anchor: 'start', box: [it.r, it.r + w, -it.r - LABEL_H, -it.r] },
            { dx: -it.r, dy: -it.r - 1.5, anchor: 'end', box: [-it.r - w, -it.r, -it.r - LABEL_H, -it.r] },
            { dx: it.r, dy: it.r + 7, anchor: 'start', box: [it.r, it.r + w, it.r, it.r + LABEL_H] },
            { dx: -it.r, dy: it.r + 7, anchor: 'end', box: [-it.r - w, -it.r, it.r, it.r + LABEL_H] },
            { dx: 0, dy: -gap - 7.5, anchor: 'middle', box: [-w / 2, w / 2, -gap - 6 - LABEL_H, -gap - 6] },
            { dx: 0, dy: gap + 13, anchor: 'middle', box: [-w / 2, w / 2, gap + 6, gap + 6 + LABEL_H] },
        ];
        const text = it.g.querySelector('text');
        const free = spots.find((s) => {
            const b = { x0: it.x + s.box[0], x1: it.x + s.box[1], y0: it.y + s.box[2], y1: it.y + s.box[3] };
            if (b.x0 < -120 || b.x1 > 120) return false;
            if (taken.some((t) => overlaps(t, b))) return false;
            taken.push(b);
            return true;
        });
        text.setAttribute('display', free ? 'inline' : 'none');
        if (free) {
            text.setAttribute('x', free.dx);
            text.setAttribute('y', free.dy);
            text.setAttribute('text-anchor', free.anchor);
        }
    }
}

function describe(b) {
    const parts = [`${f.title(b.name)}: azimuth ${b.az.toFixed(1)}\u00b0 ${f.compass(b.az)}, ` +
                   `altitude ${b.alt.toFixed(1)}\u00b0`];
    if (isNum(b.magnitude)) parts.push(`magnitude ${f.magnitude(b.magnitude)}`);
    if (isNum(b.phase) && b.name !== 'sun') parts.push(`${f.phase(b.phase)} lit`);
    const con = b.constellation_name ?? b.constellation;
    if (typeof con === 'string' && con) parts.push(`in ${con}`);
    return parts.join(', ');
}

/**
 * Draw the bodies of `snapshot` above the horizon into the SVG group `layer`, tint
 * the chart `svgRoot` for day or night and describe it in its accessible label.
 * Each mark is a `g.sky-body[data-body]` carrying data-az/data-alt. Returns how
 * many bodies are drawn.
 */
export function renderSky(svgRoot, layer, snapshot) {
    const marks = new Map([...layer.children].map((g) => [g.dataset.body, g]));
    const rank = (b) => (PRIORITY.indexOf(b.name) + PRIORITY.length + 1) % (PRIORITY.length + 1);
    const sun = snapshot.bodies.find((b) => b.name === 'sun' && isNum(b.alt) && isNum(b.az));
    const up = snapshot.bodies.filter(isOnChart).sort((a, b) => rank(a) - rank(b));
    const items = up.map((b) => {
        const g = marks.get(b.name) ?? createMark(b.name);
        marks.delete(b.name);
        const r = markRadius(b);
        const [x, y] = project(b.az, b.alt);
        g.setAttribute('transform', `translate(${x.toFixed(2)} ${y.toFixed(2)})`);
        g.dataset.az = String(b.az);
        g.dataset.alt = String(b.alt);
        drawDisc(g, b, r, sun);
        const said = describe(b);
        if (g.getAttribute('aria-label') !== said) g.setAttribute('aria-label', said);
        return { g, x, y, r, name: f.title(b.name) };
    });
    for (const g of marks.values()) g.remove();
    // Paint order: faint bodies first, so the bright ones (and their labels) end on top.
    // A mark moved in the tree loses the focus: it is given back.
    const focused = layer.contains(document.activeElement) ? document.activeElement : null;
    [...items].reverse().forEach((it, i) => {
        if (layer.children[i] !== it.g) layer.insertBefore(it.g, layer.children[i] ?? null);
    });
    if (focused && focused.isConnected && document.activeElement !== focused) {
        focused.focus({ preventScroll: true });
    }
    placeLabels(items);

    svgRoot.dataset.sky = !sun ? 'night' : sun.alt > -0.833 ? 'day' : sun.alt > -12 ? 'twilight' : 'night';
    const names = items.map((it) => it.name);
    const how = southUp ? 'looking up with south at the top and east on the right'
        : 'looking up with north at the top and east on the left';
    svgRoot.setAttribute('aria-label', names.length
        ? `Sky chart, ${how}. Above the horizon: ${names.join(', ')}.`
        : `Sky chart, ${how}. No body is above the horizon.`);
    return up.length;
}

const STATUS_TEXT = { never_rises: 'does not rise today', circumpolar: 'always up' };

function parseTime(iso) {
    const t = typeof iso === 'string' ? Date.parse(iso) : NaN;
    return Number.isNaN(t) ? null : t;
}

/**
 * What to say about a body below the horizon: {when, day, sort}. `when` is the local
 * time of its next rise ("rises 19:05", with `day` "+1d" when on a later day), or a
 * phrase when it does not rise today, or else its altitude ("at −32°").
 */
export function nextRise(body, nowIso) {
    const now = parseTime(nowIso);
    const rise = parseTime(body.rise);
    if (rise !== null && (now === null || rise >= now - 60000)) {
        return { when: `rises ${f.clock(body.rise)}`, day: f.dayOffset(body.rise, nowIso), sort: rise };
    }
    if (STATUS_TEXT[body.status]) return { when: STATUS_TEXT[body.status], day: '', sort: Infinity };
    // No rise known: at least say how far below the horizon it is.
    return { when: isNum(body.alt) ? `at ${f.degrees(body.alt, 0)}` : f.DASH, day: '', sort: Infinity };
}

/**
 * List the bodies of `snapshot` that the chart does not draw in the <ul> `list`,
 * soonest rise first (then in the server's order), each with its next rise.
 * Returns how many are listed.
 */
export function renderBelow(list, snapshot) {
    const below = snapshot.bodies
        .filter((b) => !isOnChart(b))
        .map((b, i) => ({ b, i, ...nextRise(b, snapshot.time) }))
        .sort((p, q) => (p.sort - q.sort) || (p.i - q.i));
    const old = new Map([...list.children].map((li) => [li.dataset.body, li]));
    below.forEach(({ b, when, day }, i) => {
        let li = old.get(b.name);
        old.delete(b.name);
        if (!li) {
            li = document.createElement('li');
            li.dataset.body = b.name;
            const open = document.createElement('button');
            open.type = 'button';
            open.className = 'body-open below-open';
            open.dataset.body = b.name;
            const dot = document.createElement('span');
            dot.className = 'body-dot';
            dot.dataset.body = b.name;
            dot.setAttribute('aria-hidden', 'true');
            const name = document.createElement('span');
            name.className = 'below-name';
            name.textContent = f.title(b.name);
            const rise = document.createElement('span');
            rise.className = 'below-rise';
            const d = document.createElement('span');
            d.className = 'day';
            open.append(dot, name, rise, d);
            li.append(open);
        }
        if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
        const rise = li.querySelector('.below-rise');
        if (rise.textContent !== when) rise.textContent = when;
        const d = li.querySelector('.day');
        if (d.textContent !== day) d.textContent = day;
        li.title = typeof b.rise === 'string' ? new Date(b.rise).toString() : '';
    });
    for (const li of old.values()) li.remove();
    return below.length;
}
