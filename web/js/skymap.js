// SPDX-License-Identifier: AGPL-3.0-or-later
//
// skymap.js -- the all-sky chart: the sky above the observer seen looking up,
// zenith at the centre, horizon at the rim, north up and east on the left (as a
// chart held overhead). Only bodies above the horizon are drawn. The rings and
// compass letters are static SVG in index.html; this draws the bodies.

import { isUp } from './table.js';
import { title } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const HORIZON_R = 100; // SVG units from the zenith to the horizon
const RADIUS = { sun: 6.5, moon: 6 };

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
    const r = RADIUS[name] ?? 3.8;
    g.append(svg('circle', { r, class: 'body-dot', 'data-body': name }),
             svg('text', { y: 3.5 }));
    g.querySelector('text').textContent = title(name);
    g.append(svg('title', {}));
    return g;
}

/**
 * Draw the bodies of `snapshot` that are up into the SVG group `layer`, and describe
 * them in `svgRoot`'s accessible label. Returns how many are up.
 */
export function renderSky(svgRoot, layer, snapshot) {
    const marks = new Map([...layer.children].map((g) => [g.dataset.body, g]));
    const up = snapshot.bodies.filter((b) => isUp(b) && Number.isFinite(b.az) && Number.isFinite(b.alt));
    for (const b of up) {
        const g = marks.get(b.name) ?? layer.appendChild(createMark(b.name));
        marks.delete(b.name);
        const [x, y] = project(b.az, b.alt);
        g.setAttribute('transform', `translate(${x.toFixed(2)} ${y.toFixed(2)})`);
        // Labels go right of the dot, or left of it near the chart's right edge.
        const text = g.querySelector('text');
        const left = x > 55;
        const gap = (RADIUS[b.name] ?? 3.8) + 3;
        text.setAttribute('x', left ? -gap : gap);
        text.setAttribute('text-anchor', left ? 'end' : 'start');
        g.querySelector('title').textContent =
            `${title(b.name)}: azimuth ${b.az.toFixed(1)}\u00b0, altitude ${b.alt.toFixed(1)}\u00b0`;
    }
    for (const g of marks.values()) g.remove();
    const names = up.map((b) => title(b.name));
    svgRoot.setAttribute('aria-label', names.length
        ? `Sky chart. Above the horizon: ${names.join(', ')}.`
        : 'Sky chart. No body is above the horizon.');
    return up.length;
}
