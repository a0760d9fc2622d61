// SPDX-License-Identifier: AGPL-3.0-or-later
//
// skymap.js -- the all-sky chart: the sky above the observer seen looking up,
// zenith at the centre, horizon at the rim, north up and east on the left (as a
// chart held overhead). Only bodies above the horizon are drawn. The rings and
// compass letters are static SVG in index.html; this draws the bodies, labels
// them where labels do not collide, and tints the dome by day, twilight or night.

import { isUp } from './table.js';
import { title } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const HORIZON_R = 100;   // SVG units from the zenith to the horizon
const RADIUS = { sun: 6.5, moon: 6 };
const CHAR_W = 5.2;      // label width per character at the chart's font size
const LABEL_H = 9;
// Brighter bodies first: they get the best label spots.
const PRIORITY = ['sun', 'moon', 'venus', 'jupiter', 'mars', 'saturn', 'mercury',
                  'uranus', 'neptune', 'pluto'];

function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
}

/** Chart coordinates of an azimuth/altitude pair (degrees). */
function project(azDeg, altDeg) {
    const r = HORIZON_R * (90 - Math.max(0, altDeg)) / 90;
    const a = azDeg * Math.PI / 180;
    return [-r * Math.sin(a), -r * Math.cos(a)];
}

function createMark(name) {
    const g = svg('g', { class: 'sky-body', 'data-body': name });
    g.append(svg('circle', { r: RADIUS[name] ?? 3.8, class: 'body-dot', 'data-body': name }),
             svg('text', {}), svg('title', {}));
    g.querySelector('text').textContent = title(name);
    return g;
}

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Place each label beside its dot (right, left, above, below: the first spot that
 * overlaps no dot and no label placed before it), or hide it if none is free.
 */
function placeLabels(items) {
    const taken = items.map(({ x, y, r }) => ({ x0: x - r, x1: x + r, y0: y - r, y1: y + r }));
    for (const it of items) {
        const w = it.name.length * CHAR_W;
        const gap = it.r + 2.5;
        const spots = [
            { dx: gap, dy: 3, anchor: 'start', box: [gap, gap + w, -LABEL_H / 2, LABEL_H / 2] },
            { dx: -gap, dy: 3, anchor: 'end', box: [-gap - w, -gap, -LABEL_H / 2, LABEL_H / 2] },
            { dx: 0, dy: -gap - 1.5, anchor: 'middle', box: [-w / 2, w / 2, -gap - LABEL_H, -gap] },
            { dx: 0, dy: gap + 7, anchor: 'middle', box: [-w / 2, w / 2, gap, gap + LABEL_H] },
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

/**
 * Draw the bodies of `snapshot` that are up into the SVG group `layer`, tint the
 * chart `svgRoot` for day or night and describe it in its accessible label.
 * Returns how many bodies are up.
 */
export function renderSky(svgRoot, layer, snapshot) {
    const marks = new Map([...layer.children].map((g) => [g.dataset.body, g]));
    const rank = (b) => (PRIORITY.indexOf(b.name) + PRIORITY.length + 1) % (PRIORITY.length + 1);
    const up = snapshot.bodies
        .filter((b) => isUp(b) && Number.isFinite(b.az) && Number.isFinite(b.alt))
        .sort((a, b) => rank(a) - rank(b));
    const items = up.map((b) => {
        const g = marks.get(b.name) ?? layer.appendChild(createMark(b.name));
        marks.delete(b.name);
        const [x, y] = project(b.az, b.alt);
        g.setAttribute('transform', `translate(${x.toFixed(2)} ${y.toFixed(2)})`);
        g.querySelector('title').textContent =
            `${title(b.name)}: azimuth ${b.az.toFixed(1)}\u00b0, altitude ${b.alt.toFixed(1)}\u00b0`;
        return { g, x, y, r: RADIUS[b.name] ?? 3.8, name: title(b.name) };
    });
    for (const g of marks.values()) g.remove();
    placeLabels(items);

    const sun = snapshot.bodies.find((b) => b.name === 'sun');
    svgRoot.dataset.sky = !sun ? 'night' : sun.alt > -0.833 ? 'day' : sun.alt > -12 ? 'twilight' : 'night';
    const names = items.map((it) => it.name);
    svgRoot.setAttribute('aria-label', names.length
        ? `Sky chart. Above the horizon: ${names.join(', ')}.`
        : 'Sky chart. No body is above the horizon.');
    return up.length;
}
